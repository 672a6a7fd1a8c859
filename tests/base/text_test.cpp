// UTF-8 checks and the rule for names and descriptions; 6-decimal rounding.
#include <doctest/doctest.h>

#include <cmath>
#include <initializer_list>
#include <string>

#include "base/decimal.h"
#include "base/text.h"

using namespace gs::text;

TEST_CASE("valid_utf8 follows RFC 3629") {
  for (std::string ok : std::initializer_list<std::string>{
           "", "plain", "caf\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xEF\xBF\xBF",
           "\xF4\x8F\xBF\xBF", std::string("a\0b", 3)}) {
    CAPTURE(ok);
    CHECK(valid_utf8(ok));
  }
  for (std::string bad : std::initializer_list<std::string>{
           "\xFF", "\x80", "caf\xC3", "\xC0\xAF", "\xC1\xBF", "\xE0\x80\xAF", "\xED\xA0\x80",
           "\xF0\x80\x80\xAF", "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\xE2\x82",
           "\xE2\x28\xA1"}) {
    CAPTURE(bad);
    CHECK_FALSE(valid_utf8(bad));
  }
}

TEST_CASE("check_label: 1 to N code points, UTF-8, no control characters, not blank") {
  CHECK_FALSE(check_label("Trial Signup", 200).has_value());
  CHECK_FALSE(check_label("Anmeldungen \xC3\xBC"
                          "ber die Website",
                          200)
                  .has_value());
  CHECK_FALSE(check_label(" padded ", 200).has_value());
  // Counted in code points, not bytes: 200 three-byte characters pass, 201 do not.
  std::string euros;
  for (int i = 0; i < 200; ++i) euros += "\xE2\x82\xAC";
  CHECK_FALSE(check_label(euros, 200).has_value());
  CHECK(check_label(euros + "\xE2\x82\xAC", 200) ==
        "must be 1 to 200 characters (Unicode code points)");
  CHECK(check_label("", 200) == "must be 1 to 200 characters (Unicode code points)");
  for (std::string blank :
       std::initializer_list<std::string>{" ", "   ", "\xC2\xA0", "\xE3\x80\x80 \xE2\x80\x83"}) {
    CAPTURE(blank);
    CHECK(check_label(blank, 200) == "must not be blank");
  }
  for (std::string control : std::initializer_list<std::string>{
           "a\tb", "line\nbreak", std::string("nul\0", 4), "bell\x07", "del\x7F", "c1\xC2\x85"}) {
    CAPTURE(control);
    CHECK(check_label(control, 200) ==
          "must not contain control characters (U+0000-U+001F, U+007F-U+009F)");
  }
  CHECK(check_label("bad \xFF", 200) == "must be valid UTF-8");
}

TEST_CASE("round6 rounds as the decimal text does") {
  CHECK(gs::round6(2.5710479999999998) == 2.571048);
  CHECK(gs::round6(0.1 + 0.2) == 0.3);
  CHECK(gs::round6(0.00000051) == 0.000001);
  CHECK(gs::round6(0.0000005) ==
        0);  // the double is 4.99999999999999977e-07: its exact value rounds down
  CHECK(gs::round6(0.0000004) == 0);
  CHECK(gs::round6(-0.0000004) == 0);
  CHECK_FALSE(std::signbit(gs::round6(-0.0000004)));
  CHECK(gs::round6(1e15) == 1e15);
  CHECK(gs::round6(1e300) == 1e300);
}
