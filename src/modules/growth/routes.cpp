// Growth goals (docs/api.md: /api/goals), the metrics they measure
// (/api/metrics) and the tenant's settings (/api/settings: its time zone).
#include "modules/growth/routes.h"
#include "base/time.h"
#include "http/route.h"
#include "http/service.h"
#include "match/match.h"
#include "projection/pacing.h"

namespace gs::growth {
namespace http = api::http;  // Beast's, as in the rest of the API

namespace {

using namespace gs::api;

// ---- growth goals -----------------------------------------------------------

Response goal_not_found(const Request& req, const std::string& id) {
  return not_found(req, "goal", id);
}

Response list_goals(Service& s, const Call& c) {
  return list_response(c.req, growth::goals(s.ctx.store, c.key.tenant_id),
                       [&s](const auto& g) { return s.goal_view(g); });
}

Response get_goal(Service& s, const Call& c, const std::string& id) {
  return found_response(
      c.req, growth::goal(s.ctx.store, c.key.tenant_id, id),
      [&s](const model::GrowthGoal& g) { return s.goal_view(g); }, "goal", id);
}

Response create_goal(Service& s, const Call& c) {
  const auto& req = c.req;
  const auto& key = c.key;
  auto body = s.write_body(c);
  if (auto* r = std::get_if<Response>(&body)) return *r;
  auto g = model::growth_goal_from_request(std::get<json>(body));
  if (!g.ok()) return from_error(req, g.error());
  g->tenant_id = key.tenant_id;
  g->id = "goal_" + model::random_hex(8);
  g->created_at_ms = time::now_ms();
  model::Command cmd{"", model::command_type::growth_goal_created, key.tenant_id, 0,
                     model::to_json(*g)};
  if (auto err = s.write_command(req, std::move(cmd))) return *err;
  return created_response(
      req, growth::goal(s.ctx.store, key.tenant_id, g->id),
      [&s](const model::GrowthGoal& stored) { return s.goal_view(stored); }, "/api/goals/" + g->id);
}

Response update_goal(Service& s, const Call& c) {
  const auto& req = c.req;
  const auto& key = c.key;
  auto body = s.write_body(c);
  if (auto* r = std::get_if<Response>(&body)) return *r;
  auto patch = model::goal_patch_from_request(std::get<json>(body));
  if (!patch.ok()) return from_error(req, patch.error());
  auto current = growth::goal(s.ctx.store, key.tenant_id, patch->id);
  if (!current.ok()) return from_error(req, current.error());
  if (!*current) return goal_not_found(req, patch->id);
  if (auto updated = model::apply(**current, *patch); !updated.ok())
    return from_error(req, updated.error());
  model::Command cmd{"", model::command_type::growth_goal_updated, key.tenant_id, 0,
                     model::to_json(*patch)};
  if (auto err = s.write_command(req, std::move(cmd))) return *err;
  auto stored = growth::goal(s.ctx.store, key.tenant_id, patch->id);
  if (!stored.ok()) return from_error(req, stored.error());
  if (!*stored) return goal_not_found(req, patch->id);  // deleted meanwhile
  return view_response(req, http::status::ok, s.goal_view(**stored));
}

// ---- metrics (goalstream's own) ---------------------------------------------

Response list_metrics(Service& s, const Call& c) {
  return list_response(c.req, growth::metrics(s.ctx.store, c.key.tenant_id),
                       [&s](const auto& m) { return s.metric_view(m); });
}

Response get_metric(Service& s, const Call& c, const std::string& name) {
  return found_response(
      c.req, growth::metric(s.ctx.store, c.key.tenant_id, name),
      [&s](const model::Metric& m) { return s.metric_view(m); }, "metric", name);
}

Response create_metric(Service& s, const Call& c) {
  const auto& req = c.req;
  const auto& key = c.key;
  auto body = s.write_body(c);
  if (auto* r = std::get_if<Response>(&body)) return *r;
  auto m = model::metric_from_request(std::get<json>(body));
  if (!m.ok()) return from_error(req, m.error());
  if (auto w = projection::parse_window(m->window); !w.ok()) return from_error(req, w.error());
  auto base = conversion::goal(s.ctx.store, key.tenant_id, m->conversion_goal);
  if (!base.ok()) return from_error(req, base.error());
  if (m->aggregation != "ratio" && !*base)
    return error_response(
        req, http::status::unprocessable_entity, "validation_error",
        "conversionGoal: no conversion goal " + m->conversion_goal + " in this project",
        "conversionGoal");
  if (m->aggregation == "sum") {
    if (auto p = match::PropertyPath::parse(m->property); !p.ok())
      return from_error(req, p.error());
  }
  auto existing = growth::metric(s.ctx.store, key.tenant_id, m->name);
  if (!existing.ok()) return from_error(req, existing.error());
  if (*existing)
    return error_response(req, http::status::conflict, "conflict",
                          "metric " + m->name + " already exists; DELETE /api/metrics/" + m->name +
                              " first to redefine it",
                          "name");
  m->tenant_id = key.tenant_id;
  m->created_at_ms = time::now_ms();
  model::Command cmd{"", model::command_type::metric_defined, key.tenant_id, 0, model::to_json(*m)};
  if (auto err = s.write_command(req, std::move(cmd))) return *err;
  return created_response(
      req, growth::metric(s.ctx.store, key.tenant_id, m->name),
      [&s](const model::Metric& stored) { return s.metric_view(stored); },
      "/api/metrics/" + m->name, "metric");
}

// ---- settings (the tenant's time zone) --------------------------------------

Response get_settings(Service& s, const Call& c) {
  auto tz = state::timezone(s.ctx.store, c.key.tenant_id);
  if (!tz.ok()) return from_error(c.req, tz.error());
  return json_response(c.req, http::status::ok, json{{"timezone", *tz}});
}

Response put_settings(Service& s, const Call& c) {
  const auto& req = c.req;
  auto parsed = s.write_body(c);
  if (auto* r = std::get_if<Response>(&parsed)) return *r;
  const json& body = std::get<json>(parsed);
  if (!body.is_object()) return from_error(req, invalid("", "request body must be a JSON object"));
  for (auto it = body.begin(); it != body.end(); ++it)
    if (it.key() != "timezone")
      return from_error(req, invalid(it.key(), "unknown field; expected timezone"));
  auto tz = body.find("timezone");
  if (tz == body.end() || tz->is_null()) return from_error(req, invalid("timezone", "is required"));
  if (!tz->is_string()) return from_error(req, invalid("timezone", "must be a string"));
  if (!projection::valid_time_zone(tz->get<std::string>()))
    return from_error(
        req, invalid("timezone", "must be an IANA time zone such as Europe/Berlin or UTC"));
  model::Command cmd{
      "", model::command_type::timezone_set, c.key.tenant_id, 0, {{"timezone", *tz}}};
  if (auto err = s.write_command(req, std::move(cmd))) return *err;
  return get_settings(s, c);
}

}  // namespace

void add_routes(api::RouteTable& t, api::Service& s) {
  using http::verb;
  auto store = &s.ctx.store;
  auto delete_goal =
      [&s, removal = Service::Removal{"goal", model::command_type::growth_goal_deleted, "id",
                                      [store](const std::string& tenant, const std::string& id) {
                                        auto g = growth::goal(*store, tenant, id);
                                        return g.ok() ? Result<bool>(g->has_value()) : g.error();
                                      }}](const Call& c, const std::string& id) {
        return s.remove(c, removal, id);
      };
  auto delete_metric =
      [&s, removal = Service::Removal{"metric", model::command_type::metric_deleted, "name",
                                      [store](const std::string& tenant, const std::string& name) {
                                        auto m = growth::metric(*store, tenant, name);
                                        return m.ok() ? Result<bool>(m->has_value()) : m.error();
                                      }}](const Call& c, const std::string& name) {
        return s.remove(c, removal, name);
      };
  auto on = [&s](auto f) { return bind(s, f); };
  auto on_item = [&s](auto f) { return bind_item(s, f); };
  t.add(verb::get, "/api/goals", read_route(on(list_goals)));
  t.add(verb::post, "/api/goals", write_route(on(create_goal)));
  t.add(verb::patch, "/api/goals", write_route(on(update_goal)));
  t.add(verb::delete_, "/api/goals", write_route(item_in_query("id", delete_goal)));
  t.add(verb::get, "/api/goals/{id}", read_route(item_in_path("id", on_item(get_goal))));
  t.add(verb::delete_, "/api/goals/{id}", write_route(item_in_path("id", delete_goal)));

  t.add(verb::get, "/api/metrics", read_route(on(list_metrics)));
  t.add(verb::post, "/api/metrics", write_route(on(create_metric)));
  t.add(verb::delete_, "/api/metrics", write_route(item_in_query("name", delete_metric)));
  t.add(verb::get, "/api/metrics/{name}", read_route(item_in_path("name", on_item(get_metric))));
  t.add(verb::delete_, "/api/metrics/{name}", write_route(item_in_path("name", delete_metric)));

  t.add(verb::get, "/api/settings", read_route(on(get_settings)));
  t.add(verb::put, "/api/settings", write_route(on(put_settings)));
  t.add(verb::patch, "/api/settings", write_route(on(put_settings)));
}

}  // namespace gs::growth
