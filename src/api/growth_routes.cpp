// Growth goals (docs/api.md: /api/goals), the metrics they measure
// (/api/metrics) and the tenant's settings (/api/settings: its time zone).
#include "api/route.h"
#include "api/service.h"
#include "base/time.h"
#include "match/match.h"
#include "projection/pacing.h"
#include "store/store.h"

namespace gs::api {
namespace {

// ---- growth goals -----------------------------------------------------------

Response goal_not_found(const Request& req, const std::string& id) {
  return error_response(req, http::status::not_found, "not_found", "goal " + id + " not found");
}

Response list_goals(Service& s, const Call& c) {
  ojson out = ojson::array();
  for (auto& g : s.ctx.store.growth_goals(c.key.tenant_id)) out.push_back(s.goal_view(g));
  return json_response(c.req, http::status::ok, out);
}

Response get_goal(Service& s, const Call& c, const std::string& id) {
  auto g = s.ctx.store.growth_goal(c.key.tenant_id, id);
  if (!g) return goal_not_found(c.req, id);
  return json_response(c.req, http::status::ok, s.goal_view(*g));
}

Response create_goal(Service& s, const Call& c) {
  const auto& req = c.req;
  const auto& key = c.key;
  if (auto r = s.replay(req, key)) return *r;
  auto body = parse_json_body(req);
  if (auto* r = std::get_if<Response>(&body)) return *r;
  auto g = model::growth_goal_from_request(std::get<json>(body));
  if (!g.ok()) return from_error(req, g.error());
  g->tenant_id = key.tenant_id;
  g->id = "goal_" + model::random_hex(8);
  g->created_at_ms = time::now_ms();
  model::Command cmd{"", model::command_type::growth_goal_created, key.tenant_id, 0,
                     model::to_json(*g)};
  if (auto err = s.write_command(req, std::move(cmd))) return *err;
  auto stored = s.ctx.store.growth_goal(key.tenant_id, g->id);
  if (!stored)
    return error_response(req, http::status::internal_server_error, "internal",
                          "goal vanished after write");
  auto res = json_response(req, http::status::created, s.goal_view(*stored));
  res.set(http::field::location, "/api/goals/" + g->id);
  return res;
}

Response update_goal(Service& s, const Call& c) {
  const auto& req = c.req;
  const auto& key = c.key;
  if (auto r = s.replay(req, key)) return *r;
  auto body = parse_json_body(req);
  if (auto* r = std::get_if<Response>(&body)) return *r;
  auto patch = model::goal_patch_from_request(std::get<json>(body));
  if (!patch.ok()) return from_error(req, patch.error());
  auto current = s.ctx.store.growth_goal(key.tenant_id, patch->id);
  if (!current) return goal_not_found(req, patch->id);
  if (auto updated = model::apply(*current, *patch); !updated.ok())
    return from_error(req, updated.error());
  model::Command cmd{"", model::command_type::growth_goal_updated, key.tenant_id, 0,
                     model::to_json(*patch)};
  if (auto err = s.write_command(req, std::move(cmd))) return *err;
  auto stored = s.ctx.store.growth_goal(key.tenant_id, patch->id);
  if (!stored) return goal_not_found(req, patch->id);  // deleted meanwhile
  return json_response(req, http::status::ok, s.goal_view(*stored));
}

Response delete_goal(Service& s, const Call& c, const std::string& id) {
  if (auto r = s.replay(c.req, c.key)) return *r;
  if (!s.ctx.store.growth_goal(c.key.tenant_id, id)) return goal_not_found(c.req, id);
  model::Command cmd{
      "", model::command_type::growth_goal_deleted, c.key.tenant_id, 0, {{"id", id}}};
  if (auto err = s.write_command(c.req, std::move(cmd))) return *err;
  return json_response(c.req, http::status::ok, json{{"id", id}, {"deleted", true}});
}

// ---- metrics (goalstream's own) ---------------------------------------------

Response metric_not_found(const Request& req, const std::string& name) {
  return error_response(req, http::status::not_found, "not_found", "metric " + name + " not found");
}

Response list_metrics(Service& s, const Call& c) {
  ojson out = ojson::array();
  for (auto& m : s.ctx.store.metrics(c.key.tenant_id)) out.push_back(s.metric_view(m));
  return json_response(c.req, http::status::ok, out);
}

Response get_metric(Service& s, const Call& c, const std::string& name) {
  auto m = s.ctx.store.metric(c.key.tenant_id, name);
  if (!m) return metric_not_found(c.req, name);
  return json_response(c.req, http::status::ok, s.metric_view(*m));
}

Response create_metric(Service& s, const Call& c) {
  const auto& req = c.req;
  const auto& key = c.key;
  if (auto r = s.replay(req, key)) return *r;
  auto body = parse_json_body(req);
  if (auto* r = std::get_if<Response>(&body)) return *r;
  auto m = model::metric_from_request(std::get<json>(body));
  if (!m.ok()) return from_error(req, m.error());
  if (auto w = projection::parse_window(m->window); !w.ok()) return from_error(req, w.error());
  if (m->aggregation != "ratio" && !s.ctx.store.goal(key.tenant_id, m->conversion_goal))
    return error_response(
        req, http::status::unprocessable_entity, "validation_error",
        "conversionGoal: no conversion goal " + m->conversion_goal + " in this project",
        "conversionGoal");
  if (m->aggregation == "sum") {
    if (auto p = match::PropertyPath::parse(m->property); !p.ok())
      return from_error(req, p.error());
  }
  if (s.ctx.store.metric(key.tenant_id, m->name))
    return error_response(req, http::status::conflict, "conflict",
                          "metric " + m->name + " already exists; DELETE /api/metrics/" + m->name +
                              " first to redefine it",
                          "name");
  m->tenant_id = key.tenant_id;
  m->created_at_ms = time::now_ms();
  model::Command cmd{"", model::command_type::metric_defined, key.tenant_id, 0, model::to_json(*m)};
  if (auto err = s.write_command(req, std::move(cmd))) return *err;
  auto stored = s.ctx.store.metric(key.tenant_id, m->name);
  if (!stored)
    return error_response(req, http::status::internal_server_error, "internal",
                          "metric vanished after write");
  auto res = json_response(req, http::status::created, s.metric_view(*stored));
  res.set(http::field::location, "/api/metrics/" + m->name);
  return res;
}

Response delete_metric(Service& s, const Call& c, const std::string& name) {
  if (auto r = s.replay(c.req, c.key)) return *r;
  if (!s.ctx.store.metric(c.key.tenant_id, name)) return metric_not_found(c.req, name);
  model::Command cmd{"", model::command_type::metric_deleted, c.key.tenant_id, 0, {{"name", name}}};
  if (auto err = s.write_command(c.req, std::move(cmd))) return *err;
  return json_response(c.req, http::status::ok, json{{"name", name}, {"deleted", true}});
}

// ---- settings (the tenant's time zone) --------------------------------------

Response get_settings(Service& s, const Call& c) {
  return json_response(c.req, http::status::ok,
                       json{{"timezone", s.ctx.store.timezone(c.key.tenant_id)}});
}

Response put_settings(Service& s, const Call& c) {
  const auto& req = c.req;
  if (auto r = s.replay(req, c.key)) return *r;
  auto parsed = parse_json_body(req);
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

void add_growth_routes(RouteTable& t, Service& s) {
  using http::verb;
  auto on = [&s](auto f) { return bind(s, f); };
  auto on_item = [&s](auto f) { return bind_item(s, f); };
  t.add(verb::get, "/api/goals", read_route(on(list_goals)));
  t.add(verb::post, "/api/goals", write_route(on(create_goal)));
  t.add(verb::patch, "/api/goals", write_route(on(update_goal)));
  t.add(verb::delete_, "/api/goals", write_route(item_in_query("id", on_item(delete_goal))));
  t.add(verb::get, "/api/goals/{id}", read_route(item_in_path("id", on_item(get_goal))));
  t.add(verb::delete_, "/api/goals/{id}", write_route(item_in_path("id", on_item(delete_goal))));

  t.add(verb::get, "/api/metrics", read_route(on(list_metrics)));
  t.add(verb::post, "/api/metrics", write_route(on(create_metric)));
  t.add(verb::delete_, "/api/metrics", write_route(item_in_query("name", on_item(delete_metric))));
  t.add(verb::get, "/api/metrics/{name}", read_route(item_in_path("name", on_item(get_metric))));
  t.add(verb::delete_, "/api/metrics/{name}",
        write_route(item_in_path("name", on_item(delete_metric))));

  t.add(verb::get, "/api/settings", read_route(on(get_settings)));
  t.add(verb::put, "/api/settings", write_route(on(put_settings)));
  t.add(verb::patch, "/api/settings", write_route(on(put_settings)));
}

}  // namespace gs::api
