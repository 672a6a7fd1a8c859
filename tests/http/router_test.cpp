// The route table without a server: path parameters, the trailing slash,
// 404 against 405, the Allow header's order, HEAD wherever GET is, and the
// raw-path lookup of the routes answered on the I/O threads.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "http/router.h"
#include "http/target.h"

using gs::http::allow_header;
using gs::http::parse_target;
using gs::http::Router;
using gs::http::Verb;

namespace {

// The reference API's table, each route carrying its name.
Router<std::string> table() {
  Router<std::string> t;
  t.add(Verb::get, "/api/goals", "list goals");
  t.add(Verb::post, "/api/goals", "create goal");
  t.add(Verb::patch, "/api/goals", "update goal");
  t.add(Verb::delete_, "/api/goals", "delete goal ?id");
  t.add(Verb::get, "/api/goals/{id}", "get goal");
  t.add(Verb::delete_, "/api/goals/{id}", "delete goal");
  t.add(Verb::get, "/api/settings", "get settings");
  t.add(Verb::put, "/api/settings", "put settings");
  t.add(Verb::patch, "/api/settings", "patch settings");
  t.add(Verb::get, "/api/conversion-goals/stats", "stats");
  t.add(Verb::get, "/api/conversion-goals/{id}", "get conversion goal");
  t.add(Verb::get, "/v1/goals/{id}/runs/{run}", "get run");
  return t;
}

// Matches a raw target as the dispatcher does: parse, then match the path.
Router<std::string>::Matched route(const Router<std::string>& t, Verb method,
                                   std::string_view target) {
  auto parsed = parse_target(target);
  REQUIRE(parsed.ok());
  return t.match(method, parsed->path);
}

}  // namespace

TEST_CASE("router: a route per (method, pattern), with path parameters") {
  auto t = table();
  struct Case {
    Verb method;
    std::string target, route, param, value;
  };
  for (const auto& c : std::vector<Case>{
           {Verb::get, "/api/goals", "list goals", "", ""},
           {Verb::post, "/api/goals", "create goal", "", ""},
           {Verb::delete_, "/api/goals?id=goal_1", "delete goal ?id", "", ""},
           {Verb::get, "/api/goals/goal_1", "get goal", "id", "goal_1"},
           {Verb::delete_, "/api/goals/goal_1", "delete goal", "id", "goal_1"},
           {Verb::get, "/api/goals/goal_1/", "get goal", "id", "goal_1"},  // trailing slash
           {Verb::get, "/api/goals/", "list goals", "", ""},
           {Verb::get, "/api/goals/%E2%82%AC", "get goal", "id", "\xE2\x82\xAC"},  // decoded
           {Verb::get, "/api/goals/a+b", "get goal", "id", "a b"},
           {Verb::get, "/api/goals//", "get goal", "id", ""},  // an empty segment is a value
           {Verb::get, "/api/conversion-goals/stats", "stats", "", ""},  // the literal, added first
           {Verb::get, "/api/conversion-goals/cg_1", "get conversion goal", "id", "cg_1"},
           {Verb::get, "/v1/goals/g/runs/r", "get run", "run", "r"},
       }) {
    CAPTURE(c.target);
    auto m = route(t, c.method, c.target);
    REQUIRE(m.route != nullptr);
    CHECK(m.allow.empty());
    CHECK(*m.route == c.route);
    if (!c.param.empty()) CHECK(m.params.at(c.param) == c.value);
  }
  auto run = route(t, Verb::get, "/v1/goals/g%201/runs/7");
  CHECK(run.params.at("id") == "g 1");
  CHECK(run.params.at("run") == "7");
}

TEST_CASE("router: 404 when no pattern matches the path, whatever the method") {
  auto t = table();
  for (auto target : {"/", "/api", "/api/goal", "/api/goals/a/b", "/api/goals/a%2Fb", "/API/goals",
                      "/api/goalsx", "/v1/goals/g/runs", "/healthz"})
    for (auto method : {Verb::get, Verb::head, Verb::put, Verb::options}) {
      CAPTURE(target);
      auto m = route(t, method, target);
      CHECK(m.route == nullptr);
      CHECK(m.allow.empty());
    }
}

TEST_CASE("router: 405 with the pattern's methods in one order; HEAD wherever GET is") {
  auto t = table();
  struct Case {
    Verb method;
    std::string target, allow;
  };
  for (const auto& c : std::vector<Case>{
           {Verb::put, "/api/goals", "GET, HEAD, POST, PATCH, DELETE"},
           {Verb::options, "/api/goals/", "GET, HEAD, POST, PATCH, DELETE"},
           {Verb::patch, "/api/goals/goal_1", "GET, HEAD, DELETE"},
           {Verb::delete_, "/api/settings", "GET, HEAD, PUT, PATCH"},
           {Verb::post, "/api/conversion-goals/stats", "GET, HEAD"},
       }) {
    CAPTURE(c.target);
    auto m = route(t, c.method, c.target);
    REQUIRE(m.route != nullptr);
    CHECK(m.allow == c.allow);
  }
  for (auto target : {"/api/goals", "/api/goals/goal_1", "/api/settings"}) {
    auto head = route(t, Verb::head, target), get = route(t, Verb::get, target);
    REQUIRE(head.route != nullptr);
    CHECK(head.allow.empty());
    CHECK(head.route == get.route);
  }
  // The order is fixed whatever the order the methods were added in.
  CHECK(allow_header({Verb::delete_, Verb::patch, Verb::get, Verb::put, Verb::post}) ==
        "GET, HEAD, POST, PUT, PATCH, DELETE");
  CHECK(allow_header({Verb::post}) == "POST");
  CHECK(allow_header({Verb::delete_, Verb::options}) == "DELETE, OPTIONS");
}

TEST_CASE("router: routes for any method, looked up by their literal text") {
  Router<std::string> io;
  io.add(Verb::unknown, "/healthz", "health");
  io.add(Verb::unknown, "/metrics", "metrics");
  REQUIRE(io.match_literal("/healthz") != nullptr);
  CHECK(*io.match_literal("/healthz") == "health");
  CHECK(io.match_literal("/health%7A") == nullptr);  // not decoded
  CHECK(io.match_literal("/healthz/x") == nullptr);
  for (auto method : {Verb::get, Verb::head, Verb::post, Verb::delete_}) {
    auto m = io.match(method, "/metrics");
    REQUIRE(m.route != nullptr);
    CHECK(*m.route == "metrics");
  }
  CHECK(gs::http::raw_path("/healthz/?verbose=%FF") == "/healthz");
  CHECK(gs::http::raw_path("/") == "/");
}

TEST_CASE("router: a malformed pattern or a route added twice is a bug, refused at once") {
  Router<int> t;
  t.add(Verb::get, "/a/{id}", 1);
  CHECK_THROWS_AS(t.add(Verb::get, "/a/{id}", 2), std::invalid_argument);
  CHECK_THROWS_AS(t.add(Verb::get, "a", 3), std::invalid_argument);
  CHECK_THROWS_AS(t.add(Verb::get, "/a/{id", 4), std::invalid_argument);
  CHECK_THROWS_AS(t.add(Verb::get, "/a/x{id}", 5), std::invalid_argument);
  t.add(Verb::delete_, "/a/{id}", 6);
  CHECK(*t.match(Verb::delete_, "/a/1").route == 6);
}
