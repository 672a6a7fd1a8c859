// The pure parts of the HTTP API's request input and response output: the
// one body parser (where it refuses, and that its depth limit is exactly what
// the commands topic accepts once the body is wrapped in a command), and
// number formatting.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "base/json_depth.h"
#include "http/body.h"
#include "model/command.h"
#include "modules/conversion/model.h"

using gs::api::number;
using gs::api::parse_body;
using gs::api::to_text;
using nlohmann::json;
using ojson = nlohmann::ordered_json;

namespace {

// A conversion goal body whose `conditions` nest so that the body is
// `depth` levels deep: {"conditions":{"p":{"eq":{"a":...{"a":1}}}}}.
std::string body_of_depth(int depth) {
  std::string inner = "1";
  for (int i = 0; i < depth - 3; ++i) inner = R"({"a":)" + inner + "}";
  return R"({"name":"deep","eventType":"e","conditions":{"p":{"eq":)" + inner + "}}}";
}

}  // namespace

TEST_CASE("parse_body accepts JSON as json::parse does") {
  for (const char* text :
       {R"({"name":"x","n":[1,2.5,-3,true,null,{"a":"b"}]})", "[]", "7", R"("s")",
        " {\"a\" : 1e308} ", R"({"big":123456789012345678901234567890})"}) {
    CAPTURE(text);
    auto r = parse_body(text);
    REQUIRE(r.ok());
    CHECK(*r == json::parse(text));
  }
}

TEST_CASE("parse_body refuses with 400-kind errors that say where") {
  struct Case {
    std::string text, field, message;
  };
  std::vector<Case> cases = {
      {R"({"name":"a","name":"b"})", "name", "name: appears more than once"},
      {R"({"conditions":{"plan":{"eq":1,"eq":2}}})", "conditions.plan.eq",
       "conditions.plan.eq: appears more than once"},
      {R"({"target":1e400})", "target",
       "target: number is out of range (a number must be within ±1.7976931348623157e308)"},
      {R"({"target":-1e400})", "target",
       "target: number is out of range (a number must be within ±1.7976931348623157e308)"},
      {R"({"conditions":{"p":{"in":[1,2,1e999]}}})", "conditions.p.in[2]",
       "conditions.p.in[2]: number is out of range (a number must be within "
       "±1.7976931348623157e308)"},
      {"1e400", "",
       "request body: number is out of range (a number must be within ±1.7976931348623157e308)"},
      {"", "", "request body is not valid JSON: it is empty; send a JSON object"},
      {"  \n", "", "request body is not valid JSON: it is empty; send a JSON object"},
      {"{nope", "",
       "request body is not valid JSON: parse error at line 1, column 3: syntax error while "
       "parsing object key - "
       "invalid literal; last read: '{no'; expected string literal"},
      {"{\"a\":1}\n{\"b\":2}", "",
       "request body is not valid JSON: parse error at line 2, column 1: syntax error while "
       "parsing value - "
       "unexpected '{'; expected end of input"},
      {"{\"name\":\"caf\xC3\"}", "",
       "request body is not valid JSON: parse error at line 1, column 14: syntax error while "
       "parsing value - "
       "invalid string: ill-formed UTF-8 byte; last read: '\"caf\xC3\"'"},
  };
  for (auto& c : cases) {
    CAPTURE(c.text);
    auto r = parse_body(c.text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().field == c.field);
    CHECK(r.error().message == c.message);
  }
}

TEST_CASE(
    "parse_body's depth limit is the commands topic's, less the envelope, at the exact boundary") {
  using namespace gs::model;
  static_assert(kMaxRequestDepth == kMaxCommandDepth - kCommandEnvelopeDepth);
  CHECK(kMaxRequestDepth == gs::kMaxJsonDepth);

  auto at_limit = body_of_depth(kMaxRequestDepth);
  REQUIRE(gs::json_depth_within(at_limit, kMaxRequestDepth));
  REQUIRE_FALSE(gs::json_depth_within(at_limit, kMaxRequestDepth - 1));
  auto ok = parse_body(at_limit);
  REQUIRE(ok.ok());
  // Wrapped in a command, as the API sends it, the processor takes it...
  Command cmd{"cmd_1", gs::conversion::command_type::conversion_goal_defined, "acme", 0, *ok};
  auto bytes = serialize(cmd);
  CHECK(gs::json_depth_within(bytes, kMaxCommandDepth));
  CHECK_FALSE(gs::json_depth_within(
      bytes, kMaxCommandDepth - 1));  // the envelope is kCommandEnvelopeDepth deep
  CHECK(parse_command(bytes).ok());

  // ... and one level more is refused by the API, naming the place.
  auto over = parse_body(body_of_depth(kMaxRequestDepth + 1));
  REQUIRE_FALSE(over.ok());
  CHECK(over.error().message == "request body nests deeper than 64 levels");
  std::string field = "conditions.p.eq";
  for (int i = 0; i < kMaxRequestDepth - 3; ++i) field += ".a";
  CHECK(over.error().field == field);
  Command deeper{"cmd_2", gs::conversion::command_type::conversion_goal_defined, "acme", 0,
                 json::parse(body_of_depth(kMaxRequestDepth + 1))};
  CHECK_FALSE(parse_command(serialize(deeper)).ok());

  // Far deeper input stops at the limit (no recursion, no DOM of it).
  auto huge = parse_body(std::string(1'000'000, '[') + std::string(1'000'000, ']'));
  REQUIRE_FALSE(huge.ok());
  CHECK(huge.error().message == "request body nests deeper than 64 levels");
}

TEST_CASE("numbers: whole ones as integers, others rounded to 6 decimals and printed as such") {
  struct Case {
    double v;
    const char* text;
  };
  for (auto c : std::vector<Case>{{342, "342"},
                                  {342.0000001, "342"},
                                  {1e15, "1000000000000000"},  // was 1e+15
                                  {2.5710479999999998, "2.571048"},
                                  {733.0021994, "733.002199"},
                                  {0.1 + 0.2, "0.3"},
                                  {0.000001, "0.000001"},  // not 1e-06
                                  {0.0000123, "0.000012"},
                                  {1e-7, "0"},
                                  {5e-324, "0"},
                                  {-0.0000001, "0"},
                                  {-2.5, "-2.5"},
                                  {9007199254740991.0, "9007199254740991"},
                                  {1e20, "100000000000000000000.0"}}) {
    CAPTURE(c.v);
    CHECK(to_text(ojson{{"n", number(c.v)}}) == std::string(R"({"n":)") + c.text + "}");
  }
  // nlohmann's own printer is not always the shortest round trip; to_text is.
  int differ = 0;
  for (int64_t micros = 0; micros < 3'000'000; micros += 7) {
    double v = static_cast<double>(micros) / 1e6;
    auto text = to_text(number(v));
    char want[32];
    std::snprintf(want, sizeof want, "%.6f", v);
    std::string w = want;
    while (w.back() == '0') w.pop_back();
    if (w.back() == '.') w.pop_back();
    if (text != w) ++differ;
  }
  CHECK(differ == 0);
}

TEST_CASE("to_text prints like dump() otherwise, and never throws on invalid UTF-8") {
  json j = {{"b", {1, "two", nullptr, true}},
            {"a", 2.0},
            {"c", json::object()},
            {"u", "caf\xC3\xA9 \"q\"\n"}};
  CHECK(to_text(j) == j.dump());
  ojson o;
  o["z"] = 1;
  o["a"] = 0.0;
  CHECK(to_text(o) == R"({"z":1,"a":0.0})");
  json bad = {{"id", "\xFF\xFE"}};
  CHECK_THROWS(bad.dump());
  CHECK(to_text(bad) == "{\"id\":\"\xEF\xBF\xBD\xEF\xBF\xBD\"}");
}
