// Agent goals (docs/api.md#agent-goals): GET and POST /v1/goals, GET, PATCH
// and DELETE /v1/goals/{id}, every answer in the agent envelope.
#include "modules/agent/routes.h"

#include "base/time.h"
#include "http/route.h"
#include "http/service.h"
#include "modules/agent/keyspace.h"

namespace gs::agent {
namespace http = api::http;  // Beast's, as in the rest of the API

namespace {

using namespace gs::api;
using Stored = Result<std::optional<AgentGoal>>;

constexpr int64_t kDefaultLimit = 20;
constexpr int64_t kMaxLimit = 100;

const gs::http::Envelope& envelope() { return gs::http::agent_envelope(); }

Response success(const Request& req, http::status status, ojson data,
                 const std::optional<gs::http::Page>& page = std::nullopt) {
  return json_response(req, status, envelope().success(std::move(data), page));
}

Response failure(const Request& req, const Error& e) { return from_error(req, e, envelope()); }

Response goal_not_found(const Request& req, const std::string& id) {
  return error_response(req, http::status::not_found, "not_found", "goal " + id + " not found", "",
                        envelope());
}

// `status` with the goal as read after a write; `missing` when it is not
// in the store (any more).
template <class Missing>
Response shown(const Request& req, http::status status, const Stored& stored, Missing missing,
               const std::string& where = "") {
  if (!stored.ok()) return failure(req, stored.error());
  if (!*stored) return missing();
  auto res = success(req, status, to_json(**stored));
  if (!where.empty()) res.set(http::field::location, where);
  return res;
}

std::string location(const std::string& id) { return "/v1/goals/" + id; }

Response deleted(const Request& req, const std::string& id) {
  return success(req, http::status::ok, ojson{{"id", id}, {"deleted", true}});
}

// A filter of GET /v1/goals: an agent or channel id.
std::optional<Error> ref_filter(const Call& c, const char* name, std::optional<std::string>& out) {
  out = c.query(name);
  if (out && !valid_ref_id(*out))
    return invalid(name, "must be 1 to " + std::to_string(kMaxIdChars) +
                             " characters of A-Z a-z 0-9 _ . : - (query parameter)");
  return std::nullopt;
}

Response list(Service& s, const Call& c) {
  auto page = gs::http::parse_page(c.target.query, kDefaultLimit, kMaxLimit);
  if (!page.ok()) return bad_request(c.req, page.error(), envelope());
  GoalFilter filter;
  if (auto e = ref_filter(c, "agent_id", filter.agent_id))
    return bad_request(c.req, *e, envelope());
  if (auto e = ref_filter(c, "channel_id", filter.channel_id))
    return bad_request(c.req, *e, envelope());
  if (auto active = c.query("active")) {
    if (*active != "true" && *active != "false")
      return bad_request(c.req, invalid("active", "must be true or false (query parameter)"),
                         envelope());
    filter.active = *active == "true";
  }
  auto found = goals(s.ctx.store, c.key.tenant_id, filter, page->offset, page->limit);
  if (!found.ok()) return failure(c.req, found.error());
  page->total = found->total;
  ojson data = ojson::array();
  for (const auto& g : found->goals) data.push_back(to_json(g));
  return success(c.req, http::status::ok, std::move(data), *page);
}

Response get(Service& s, const Call& c, const std::string& id) {
  if (!valid_goal_id(id)) return goal_not_found(c.req, id);
  return shown(c.req, http::status::ok, goal(s.ctx.store, c.key.tenant_id, id),
               [&] { return goal_not_found(c.req, id); });
}

Response create(Service& s, const Call& c) {
  auto body = s.write_body(c);
  if (auto* r = std::get_if<Response>(&body)) return std::move(*r);
  auto g = goal_from_request(std::get<json>(body));
  if (!g.ok()) return failure(c.req, g.error());
  g->tenant_id = c.key.tenant_id;
  g->id = new_goal_id();
  for (auto& t : g->targets) t.id = new_target_id();
  g->created_at_ms = g->updated_at_ms = time::now_ms();
  model::Command cmd{"", command_type::agent_goal_created, c.key.tenant_id, 0, json(to_json(*g))};
  if (auto err = s.write_command(c, std::move(cmd))) return *err;
  return shown(
      c.req, http::status::created, goal(s.ctx.store, c.key.tenant_id, g->id),
      [&] {
        return error_response(c.req, http::status::internal_server_error, "internal",
                              "agent goal vanished after write", "", envelope());
      },
      location(g->id));
}

Response update(Service& s, const Call& c, const std::string& id) {
  auto body = s.write_body(c);
  if (auto* r = std::get_if<Response>(&body)) return std::move(*r);
  auto patch = patch_from_request(std::get<json>(body));
  if (!patch.ok()) return failure(c.req, patch.error());
  if (!valid_goal_id(id)) return goal_not_found(c.req, id);
  auto current = goal(s.ctx.store, c.key.tenant_id, id);
  if (!current.ok()) return failure(c.req, current.error());
  if (!*current) return goal_not_found(c.req, id);
  patch->id = id;
  if (patch->targets)
    for (auto& t : *patch->targets) t.id = new_target_id();
  model::Command cmd{"", command_type::agent_goal_updated, c.key.tenant_id, 0, to_json(*patch)};
  if (auto err = s.write_command(c, std::move(cmd))) return *err;
  return shown(c.req, http::status::ok, goal(s.ctx.store, c.key.tenant_id, id),
               [&] { return goal_not_found(c.req, id); });  // deleted meanwhile
}

Response drop(Service& s, const Call& c, const std::string& id) {
  if (auto answer = s.replay(c)) return *answer;
  if (!valid_goal_id(id)) return goal_not_found(c.req, id);
  auto current = goal(s.ctx.store, c.key.tenant_id, id);
  if (!current.ok()) return failure(c.req, current.error());
  if (!*current) return goal_not_found(c.req, id);
  model::Command cmd{"", command_type::agent_goal_deleted, c.key.tenant_id, 0, {{"id", id}}};
  if (auto err = s.write_command(c, std::move(cmd))) return *err;
  return deleted(c.req, id);
}

// The answer to an Idempotency-Key replay of an applied write: the goal as
// it is now (410 when it was deleted since), or the delete's answer.
std::optional<Response> replayed(Service& s, const Request& req, const std::string& tenant,
                                 const std::string& type, const std::string& id) {
  auto gone = [&] {
    return error_response(req, http::status::gone, "gone",
                          "agent goal " + id +
                              " was written by the request with this Idempotency-Key and has "
                              "been deleted since",
                          "", envelope());
  };
  if (type == command_type::agent_goal_created)
    return shown(req, http::status::created, goal(s.ctx.store, tenant, id), gone, location(id));
  if (type == command_type::agent_goal_updated)
    return shown(req, http::status::ok, goal(s.ctx.store, tenant, id), gone);
  if (type == command_type::agent_goal_deleted) return deleted(req, id);
  return std::nullopt;
}

void add_routes(RouteTable& t, Service& s) {
  using http::verb;
  auto read = [&s](auto f) { return Route{model::kScopeRead, &envelope(), bind(s, f)}; };
  auto write = [&s](auto f) { return Route{model::kScopeWrite, &envelope(), bind(s, f)}; };
  auto item = [&s](const char* scope, auto f) {
    return Route{scope, &envelope(), item_in_path("id", bind_item(s, f))};
  };
  t.add(verb::get, "/v1/goals", read(list));
  t.add(verb::post, "/v1/goals", write(create));
  t.add(verb::get, "/v1/goals/{id}", item(model::kScopeRead, get));
  t.add(verb::patch, "/v1/goals/{id}", item(model::kScopeWrite, update));
  t.add(verb::delete_, "/v1/goals/{id}", item(model::kScopeWrite, drop));
}

}  // namespace

api::RouteFamily route_family() { return {add_routes, replayed, nullptr}; }

}  // namespace gs::agent
