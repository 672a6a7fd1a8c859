// The API's side of routing without a store or Kafka: which key a request
// presents, the per-route scope check (401 without a key or with an unknown
// one, 403 with the wrong scope), items named by a path or a query
// parameter, and errors in each family's envelope.
#include <doctest/doctest.h>

#include <map>
#include <string>

#include "http/auth.h"
#include "http/respond.h"
#include "http/route.h"

using namespace gs::api;
namespace ghttp = gs::http;

namespace {

Request request(const std::map<std::string, std::string>& headers) {
  Request req{http::verb::get, "/api/goals", 11};
  for (auto& [name, value] : headers) req.set(name, value);
  return req;
}

// Keys by their text: "r" reads, "w" reads and writes.
std::optional<gs::model::ApiKey> lookup(const std::string& token) {
  if (token == "r") return gs::model::ApiKey{"key_r", "t1", {gs::model::kScopeRead}, 0};
  if (token == "w")
    return gs::model::ApiKey{"key_w", "t1", {gs::model::kScopeRead, gs::model::kScopeWrite}, 0};
  return std::nullopt;
}

}  // namespace

TEST_CASE("auth: the key presented in x-api-key, else Authorization: Bearer") {
  CHECK(presented_key(request({{"x-api-key", "k1"}})) == "k1");
  CHECK(presented_key(request({{"Authorization", "Bearer k2"}})) == "k2");
  CHECK(presented_key(request({{"Authorization", "bearer k3"}})) == "k3");
  CHECK(presented_key(request({{"x-api-key", "k1"}, {"Authorization", "Bearer k2"}})) == "k1");
  CHECK(presented_key(request({{"x-api-key", ""}, {"Authorization", "Bearer k2"}})) == "k2");
  CHECK(presented_key(request({{"Authorization", "Basic abc"}})).empty());
  CHECK(presented_key(request({{"Authorization", "Bearer "}})).empty());
  CHECK(presented_key(request({})).empty());
}

TEST_CASE("auth: the route's scope decides; 401 without a known key, 403 without the scope") {
  int lookups = 0;
  KeyLookup counted = [&](const std::string& t) {
    ++lookups;
    return lookup(t);
  };
  auto none = authorize(request({}), gs::model::kScopeRead, counted);
  REQUIRE(!none.ok());
  CHECK(none.error().code == gs::ErrorCode::unauthorized);
  CHECK(none.error().message == "missing API key: send x-api-key or Authorization: Bearer");
  CHECK(lookups == 0);  // nothing to look up

  auto unknown = authorize(request({{"x-api-key", "nope"}}), gs::model::kScopeRead, counted);
  REQUIRE(!unknown.ok());
  CHECK(unknown.error().code == gs::ErrorCode::unauthorized);
  CHECK(unknown.error().message == "invalid API key");

  auto read_only = authorize(request({{"x-api-key", "r"}}), gs::model::kScopeWrite, counted);
  REQUIRE(!read_only.ok());
  CHECK(read_only.error().code == gs::ErrorCode::forbidden);
  CHECK(read_only.error().message == "this API key lacks the goals:write scope");

  auto ok = authorize(request({{"Authorization", "Bearer w"}}), gs::model::kScopeWrite, counted);
  REQUIRE(ok.ok());
  CHECK(ok->tenant_id == "t1");

  // As served: 401 and 403 in the reference envelope.
  auto req = request({});
  auto res = from_error(req, none.error());
  CHECK(res.result_int() == 401);
  CHECK(
      res.body() ==
      R"({"error":"unauthorized","message":"missing API key: send x-api-key or Authorization: Bearer"})");
  res = from_error(req, read_only.error());
  CHECK(res.result_int() == 403);
  CHECK(res.body() ==
        R"({"error":"forbidden","message":"this API key lacks the goals:write scope"})");
  res = from_error(req, read_only.error(), ghttp::agent_envelope());
  CHECK(
      res.body() ==
      R"({"success":false,"error":{"code":"forbidden","message":"this API key lacks the goals:write scope"}})");
}

TEST_CASE("routes: an item named by a path parameter or a required query parameter") {
  auto item = [](const Call&, const std::string& id) {
    Response res{http::status::ok, 11};
    res.body() = "item " + id;
    return res;
  };
  auto req = request({});
  gs::model::ApiKey key;
  ghttp::Params params{{"id", "g1"}};
  ghttp::Target with_id{"/api/goals", {{"id", "g2"}}}, empty_id{"/api/goals", {{"id", ""}}},
      without{"/api/goals", {}};
  const auto& ref = ghttp::reference_envelope();
  CHECK(item_in_path("id", item)(Call{req, without, params, key, ref}).body() == "item g1");
  CHECK(item_in_query("id", item)(Call{req, with_id, params, key, ref}).body() == "item g2");
  for (const auto* t : {&empty_id, &without}) {
    auto res = item_in_query("id", item)(Call{req, *t, params, key, ref});
    CHECK(res.result_int() == 422);
    CHECK(res.body() == R"x({"error":"validation_error","field":"id",)x"
                        R"x("message":"id: is required (query parameter)"})x");
  }
  auto agent = item_in_query("id", item)(Call{req, without, params, key, ghttp::agent_envelope()});
  CHECK(agent.body() == R"x({"success":false,"error":{"code":"validation_error",)x"
                        R"x("message":"id: is required (query parameter)","field":"id"}})x");
}

TEST_CASE("routes: 404, 405 with Allow, and 400 for a target in a family's envelope") {
  auto req = request({});
  auto res = no_such_resource(req);
  CHECK(res.result_int() == 404);
  CHECK(res.body() == R"({"error":"not_found","message":"no such resource"})");
  res = method_not_allowed(req, "GET, HEAD, DELETE", ghttp::reference_envelope());
  CHECK(res.result_int() == 405);
  CHECK(res[http::field::allow] == "GET, HEAD, DELETE");
  CHECK(res.body() ==
        R"({"error":"method_not_allowed","message":"allowed methods: GET, HEAD, DELETE"})");
  res = bad_request(req, gs::invalid("path", "is not valid UTF-8 once percent-decoded"));
  CHECK(res.result_int() == 400);
  CHECK(
      res.body() ==
      R"({"error":"bad_request","field":"path","message":"path: is not valid UTF-8 once percent-decoded"})");
}
