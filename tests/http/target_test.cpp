// Request targets through Boost.URL: percent-escapes, '+', the query, and
// every refusal naming its field (the integration suite's table of malformed
// targets holds the served answers to the same rules).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "http/target.h"

using gs::http::parse_target;

TEST_CASE("target: percent-escapes and '+' are decoded in the path and the query") {
  auto t = parse_target("/api/conversion-goals/%E2%82%AC%20x+y?id=a%26b&name=caf%C3%A9+au+lait");
  REQUIRE(t.ok());
  CHECK(t->path == "/api/conversion-goals/\xE2\x82\xAC x y");
  CHECK(t->query.at("id") == "a&b");
  CHECK(t->query.at("name") == "caf\xC3\xA9 au lait");
  CHECK(t->query.size() == 2);

  auto slash = parse_target("/api/goals/");
  REQUIRE(slash.ok());
  CHECK(slash->path == "/api/goals");  // one trailing slash dropped
  CHECK(parse_target("/")->path == "/");
  CHECK(parse_target("/a%2Fb")->path == "/a/b");  // decoded, so a segment separator

  auto q = parse_target("/x?a=1&a=2&flag&&empty=&");
  REQUIRE(q.ok());
  CHECK(q->query.at("a") == "2");  // the last one wins
  CHECK(q->query.at("flag").empty());
  CHECK(q->query.at("empty").empty());
  CHECK(q->query.size() == 3);
  CHECK(parse_target("/x?")->query.empty());
  CHECK(parse_target("/x")->query.empty());
}

TEST_CASE("target: text that is not UTF-8 once decoded is refused, naming the field") {
  struct Case {
    const char* target;
    std::string field;
  };
  for (const auto& c : std::vector<Case>{
           {"/api/conversion-goals/%FF", "path"},
           {"/api/conversion-goals/%C0%AF", "path"},     // overlong '/'
           {"/api/conversion-goals/%E0%80%AF", "path"},  // overlong, 3 bytes
           {"/api/conversion-goals/%ED%A0%80", "path"},  // a surrogate
           {"/api/conversion-goals/cg_%E2%82", "path"},  // truncated
           {"/api/goals/%F4%90%80%80", "path"},          // above U+10FFFF
           {"/api/conversion-goals?id=%FF", "id"},       // the parameter's name
           {"/api/metrics?name=%C3", "name"},
           {"/api/goals?ok=1&id=%FE", "id"},
           {"/api/goals?%FF=1", "query"},  // a name that is not UTF-8
       }) {
    CAPTURE(c.target);
    auto t = parse_target(c.target);
    REQUIRE(!t.ok());
    CHECK(t.error().code == gs::ErrorCode::invalid);
    CHECK(t.error().field == c.field);
    CHECK(t.error().message.find("UTF-8") != std::string::npos);
  }
}

TEST_CASE("target: what is not an RFC 3986 origin-form target is refused, naming the part") {
  struct Case {
    std::string target, field;
  };
  for (const auto& c : std::vector<Case>{
           {"/api/goals/%ZZ", "path"},  // '%' without two hex digits
           {"/api/goals/%4", "path"},
           {"/api/goals/a b", "path"},
           {"/api/goals/caf\xC3\xA9", "path"},  // a byte above 0x7F, unescaped
           {"*", "path"},
           {"http://example.com/api/goals", "path"},  // absolute-form
           {"", "path"},
           {"/api/goals?id=%G1", "query"},
           {"/api/goals?id=a b", "query"},
       }) {
    CAPTURE(c.target);
    auto t = parse_target(c.target);
    REQUIRE(!t.ok());
    CHECK(t.error().field == c.field);
    CHECK(t.error().message.find("RFC 3986") != std::string::npos);
  }
}
