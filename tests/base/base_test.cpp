// Event-time parsing and formatting.
#include <doctest/doctest.h>

#include "base/json_depth.h"
#include "base/time.h"

using namespace gs::time;

TEST_CASE("RFC 3339 timestamps parse to UTC milliseconds") {
  CHECK(parse_rfc3339("1970-01-01T00:00:00Z") == 0);
  CHECK(parse_rfc3339("2025-03-01T12:00:00Z") == 1740830400000LL);
  CHECK(parse_rfc3339("2025-03-01T12:00:00.250Z") == 1740830400250LL);
  CHECK(parse_rfc3339("2025-03-01T12:00:00.123456789Z") == 1740830400123LL);
  CHECK(parse_rfc3339("2025-03-01T14:00:00+02:00") == 1740830400000LL);
  CHECK(parse_rfc3339("2025-03-01T07:00:00-05:00") == 1740830400000LL);
  CHECK(parse_rfc3339("2024-02-29T00:00:00Z").has_value());  // leap day
  for (const char* bad :
       {"", "2025-03-01", "2025-03-01T12:00:00", "2025-02-29T00:00:00Z", "2025-03-01T12:00Z",
        "2025-03-01T12:00:00+2:00", "2025-03-01T12:00:00Zjunk", "1969-12-31T23:59:59Z",
        "2025-03-01T12:00:00.Z", "25-03-01T12:00:00Z"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_rfc3339(bad).has_value());
  }
}

TEST_CASE("dates and formatting round-trip") {
  CHECK(parse_date("2025-03-01") == 20148);
  CHECK(format_date(20148) == "2025-03-01");
  CHECK(format_rfc3339(1740830400000LL) == "2025-03-01T12:00:00Z");
  CHECK(format_rfc3339(1740830400250LL) == "2025-03-01T12:00:00.250Z");
  CHECK_FALSE(parse_date("2025-3-1").has_value());
  CHECK(floor_div(-1, 24) == -1);
  CHECK(floor_div(23, 24) == 0);
}

TEST_CASE("JSON nesting guard counts brackets outside strings only") {
  CHECK(gs::json_depth_within(R"({"a":[1,{"b":2}]})", 3));
  CHECK_FALSE(gs::json_depth_within(R"({"a":[1,{"b":2}]})", 2));
  CHECK(gs::json_depth_within(R"({"a":"[[[[[[\"[[[["})", 1));
  CHECK_FALSE(gs::json_depth_within(std::string(65, '['), 64));
  CHECK(gs::json_depth_within(std::string(64, '[') + std::string(64, ']'), 64));
}

TEST_CASE(
    "date-times are bounded after the zone offset: whatever parses formats back to text that "
    "parses") {
  CHECK(parse_rfc3339("9999-12-31T23:59:59.999Z") == kMaxMs);
  CHECK(format_rfc3339(kMaxMs) == "9999-12-31T23:59:59.999Z");
  CHECK(parse_rfc3339("9999-12-31T23:59:59.999+05:00").has_value());
  // Year 10000 once converted to UTC.
  for (const char* bad :
       {"9999-12-31T23:00:00-05:00", "9999-12-31T23:59:59-00:01", "1970-01-01T00:30:00+01:00"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_rfc3339(bad).has_value());
  }
  for (int64_t ms : {int64_t{0}, int64_t{1740830400250}, kMaxMs - 999, kMaxMs})
    CHECK(parse_rfc3339(format_rfc3339(ms)) == ms);
}
