// Conversion goals (docs/api.md: /api/conversion-goals): create, list, read
// with the daily series, delete by path or ?id=.
#include "api/route.h"
#include "api/service.h"
#include "base/time.h"
#include "projection/projection.h"

namespace gs::api {
namespace {

Response conversion_goal_not_found(const Request& req, const std::string& id) {
  return error_response(req, http::status::not_found, "not_found",
                        "conversion goal " + id + " not found");
}

Response list(Service& s, const Call& c) {
  json out = json::array();
  for (auto& g : s.ctx.store.goals(c.key.tenant_id))
    out.push_back(s.conversion_view(g, c.key.tenant_id, false));
  return json_response(c.req, http::status::ok, out);
}

Response get(Service& s, const Call& c, const std::string& id) {
  auto g = s.ctx.store.goal(c.key.tenant_id, id);
  if (!g) return conversion_goal_not_found(c.req, id);
  return json_response(c.req, http::status::ok, s.conversion_view(*g, c.key.tenant_id, true));
}

Response create(Service& s, const Call& c) {
  const auto& req = c.req;
  const auto& key = c.key;
  if (auto r = s.replay(req, key)) return *r;
  auto parsed = parse_json_body(req);
  if (auto* r = std::get_if<Response>(&parsed)) return *r;
  const json& body = std::get<json>(parsed);
  auto def = model::conversion_goal_from_request(body);
  if (!def.ok()) return from_error(req, def.error());
  def->tenant_id = key.tenant_id;
  def->id = "cg_" + model::random_hex(8);
  def->created_at_ms = time::now_ms();
  if (auto compiled = projection::compile(def.value()); !compiled.ok())
    return from_error(req, compiled.error());
  model::Command cmd{"", model::command_type::conversion_goal_defined, key.tenant_id, 0,
                     model::to_json(*def)};
  if (auto err = s.write_command(req, std::move(cmd))) return *err;
  auto stored = s.ctx.store.goal(key.tenant_id, def->id);
  if (!stored)
    return error_response(req, http::status::internal_server_error, "internal",
                          "goal vanished after write");
  auto res =
      json_response(req, http::status::created, s.conversion_view(*stored, key.tenant_id, false));
  res.set(http::field::location, "/api/conversion-goals/" + def->id);
  return res;
}

Response remove(Service& s, const Call& c, const std::string& id) {
  if (auto r = s.replay(c.req, c.key)) return *r;
  if (!s.ctx.store.goal(c.key.tenant_id, id)) return conversion_goal_not_found(c.req, id);
  model::Command cmd{
      "", model::command_type::conversion_goal_deleted, c.key.tenant_id, 0, {{"id", id}}};
  if (auto err = s.write_command(c.req, std::move(cmd))) return *err;
  return json_response(c.req, http::status::ok, json{{"id", id}, {"deleted", true}});
}

}  // namespace

void add_conversion_routes(RouteTable& t, Service& s) {
  using http::verb;
  auto on = [&s](auto f) { return bind(s, f); };
  auto on_item = [&s](auto f) { return bind_item(s, f); };
  t.add(verb::get, "/api/conversion-goals", read_route(on(list)));
  t.add(verb::post, "/api/conversion-goals", write_route(on(create)));
  t.add(verb::delete_, "/api/conversion-goals", write_route(item_in_query("id", on_item(remove))));
  t.add(verb::get, "/api/conversion-goals/{id}", read_route(item_in_path("id", on_item(get))));
  t.add(verb::delete_, "/api/conversion-goals/{id}",
        write_route(item_in_path("id", on_item(remove))));
}

}  // namespace gs::api
