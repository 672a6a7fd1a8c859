// Conversion goals (docs/api.md: /api/conversion-goals): create, list, read
// with the daily series, delete by path or ?id=.
#include "modules/conversion/routes.h"
#include "base/time.h"
#include "http/route.h"
#include "http/service.h"
#include "projection/projection.h"

namespace gs::conversion {
namespace http = api::http;  // Beast's, as in the rest of the API

namespace {

using namespace gs::api;

Response list(Service& s, const Call& c) {
  auto page = conversion::goals(s.ctx.store, c.key.tenant_id);
  if (!page.ok()) return from_error(c.req, page.error());
  json out = json::array();
  for (auto& g : page->goals) {
    auto view = s.conversion_view(g, c.key.tenant_id, false);
    if (!view.ok()) return from_error(c.req, view.error());
    out.push_back(std::move(*view));
  }
  return json_response(c.req, http::status::ok, out);
}

Response get(Service& s, const Call& c, const std::string& id) {
  return found_response(
      c.req, conversion::goal(s.ctx.store, c.key.tenant_id, id),
      [&](const json& g) { return s.conversion_view(g, c.key.tenant_id, true); }, "conversion goal",
      id);
}

Response create(Service& s, const Call& c) {
  const auto& req = c.req;
  const auto& key = c.key;
  auto body = s.write_body(c);
  if (auto* r = std::get_if<Response>(&body)) return *r;
  auto def = model::conversion_goal_from_request(std::get<json>(body));
  if (!def.ok()) return from_error(req, def.error());
  def->tenant_id = key.tenant_id;
  def->id = "cg_" + model::random_hex(8);
  def->created_at_ms = time::now_ms();
  if (auto compiled = projection::compile(def.value()); !compiled.ok())
    return from_error(req, compiled.error());
  model::Command cmd{"", model::command_type::conversion_goal_defined, key.tenant_id, 0,
                     model::to_json(*def)};
  if (auto err = s.write_command(req, std::move(cmd))) return *err;
  return created_response(
      req, conversion::goal(s.ctx.store, key.tenant_id, def->id),
      [&](const json& g) { return s.conversion_view(g, key.tenant_id, false); },
      "/api/conversion-goals/" + def->id);
}

}  // namespace

void add_routes(api::RouteTable& t, api::Service& s) {
  using http::verb;
  auto on = [&s](auto f) { return bind(s, f); };
  auto on_item = [&s](auto f) { return bind_item(s, f); };
  auto store = &s.ctx.store;
  auto remove = [&s, removal = Service::Removal{
                         "conversion goal", model::command_type::conversion_goal_deleted, "id",
                         [store](const std::string& tenant, const std::string& id) {
                           auto g = conversion::goal(*store, tenant, id);
                           return g.ok() ? Result<bool>(g->has_value()) : g.error();
                         }}](const Call& c, const std::string& id) {
    return s.remove(c, removal, id);
  };
  t.add(verb::get, "/api/conversion-goals", read_route(on(list)));
  t.add(verb::post, "/api/conversion-goals", write_route(on(create)));
  t.add(verb::delete_, "/api/conversion-goals", write_route(item_in_query("id", remove)));
  t.add(verb::get, "/api/conversion-goals/{id}", read_route(item_in_path("id", on_item(get))));
  t.add(verb::delete_, "/api/conversion-goals/{id}", write_route(item_in_path("id", remove)));
}

}  // namespace gs::conversion
