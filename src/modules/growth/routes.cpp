// Growth goals (docs/api.md: /api/goals) and the metrics they measure
// (/api/metrics): routes, views, the replay of their writes and their
// live-feed frames.
#include "modules/growth/routes.h"

#include <algorithm>
#include <memory>

#include "base/time.h"
#include "http/route.h"
#include "http/service.h"
#include "kernel/state.h"
#include "match/match.h"
#include "modules/conversion/keyspace.h"
#include "modules/growth/evaluate.h"
#include "modules/growth/keyspace.h"
#include "modules/growth/pacing.h"

namespace gs::growth {
namespace http = api::http;  // Beast's, as in the rest of the API

namespace {

using namespace gs::api;

// What the growth routes share: the service and the pacing thresholds
// (serve's --at-risk-from).
struct Api {
  Service& s;
  PacingThresholds thresholds;
};

// The API form of a growth goal, evaluated at `now`: the reference's members
// in its order, then ours.
Result<ojson> goal_view(const Api& a, const GrowthGoal& g, int64_t now = time::now_ms()) {
  auto evaluated = evaluate(a.s.ctx.store, g, now, a.thresholds);
  if (!evaluated.ok()) return evaluated.error();
  const auto& e = *evaluated;
  ojson j;
  j["id"] = g.id;
  j["metric"] = g.metric;
  j["target"] = number(g.target);
  j["current"] = number(e.current);
  j["deadline"] = time::format_date(g.deadline_date);
  j["status"] = e.status;
  j["createdAt"] = time::format_rfc3339(g.created_at_ms);
  if (g.description) j["description"] = *g.description;
  if (g.unit) j["unit"] = *g.unit;
  if (g.start_date) j["start"] = time::format_date(*g.start_date);
  j["expected"] = number(e.pacing.expected);
  j["forecast"] = e.pacing.forecast ? number(*e.pacing.forecast) : ojson(nullptr);
  j["computedStatus"] = to_string(e.pacing.status);
  j["manualStatus"] = g.status_override ? ojson(*g.status_override) : ojson(nullptr);
  j["metricDefined"] = e.metric_defined;
  j["period"] = {{"start", time::format_rfc3339(e.period.start_ms)},
                 {"end", time::format_rfc3339(e.period.end_ms)}};
  return j;
}

// A metric with its value at `now` (none for a `span` metric).
Result<ojson> metric_view(const Api& a, const Metric& m, int64_t now = time::now_ms()) {
  ojson j = ojson::parse(to_json(m).dump());
  if (m.window == "span") return j;
  auto tz = state::timezone(a.s.ctx.store, m.tenant_id);
  if (!tz.ok()) return tz.error();
  Interval period;
  auto v = metric_value(a.s.ctx.store, m.tenant_id, m.name, now, *tz, now, 0, &period);
  if (!v.ok()) return v.error();
  j["current"] = number(v->value_or(0));
  j["period"] = {{"start", time::format_rfc3339(period.start_ms)},
                 {"end", time::format_rfc3339(period.end_ms)}};
  return j;
}

// ---- growth goals -----------------------------------------------------------

Response goal_not_found(const Request& req, const std::string& id) {
  return not_found(req, "goal", id);
}

Response list_goals(const Api& a, const Call& c) {
  return list_response(c.req, growth::goals(a.s.ctx.store, c.key.tenant_id),
                       [&a, &c](const auto& g) { return goal_view(a, g, c.now_ms); });
}

Response get_goal(const Api& a, const Call& c, const std::string& id) {
  return found_response(
      c.req, growth::goal(a.s.ctx.store, c.key.tenant_id, id),
      [&a, &c](const growth::GrowthGoal& g) { return goal_view(a, g, c.now_ms); }, "goal", id);
}

Response create_goal(const Api& a, const Call& c) {
  const auto& req = c.req;
  const auto& key = c.key;
  auto body = a.s.write_body(c);
  if (auto* r = std::get_if<Response>(&body)) return *r;
  auto g = growth::growth_goal_from_request(std::get<json>(body));
  if (!g.ok()) return from_error(req, g.error());
  g->tenant_id = key.tenant_id;
  g->id = "goal_" + model::random_hex(8);
  g->created_at_ms = time::now_ms();
  model::Command cmd{"", growth::command_type::growth_goal_created, key.tenant_id, 0,
                     growth::to_json(*g)};
  if (auto err = a.s.write_command(c, std::move(cmd))) return *err;
  return created_response(
      req, growth::goal(a.s.ctx.store, key.tenant_id, g->id),
      [&a](const growth::GrowthGoal& stored) { return goal_view(a, stored); },
      "/api/goals/" + g->id);
}

Response update_goal(const Api& a, const Call& c) {
  const auto& req = c.req;
  const auto& key = c.key;
  auto body = a.s.write_body(c);
  if (auto* r = std::get_if<Response>(&body)) return *r;
  auto patch = growth::goal_patch_from_request(std::get<json>(body));
  if (!patch.ok()) return from_error(req, patch.error());
  auto current = growth::goal(a.s.ctx.store, key.tenant_id, patch->id);
  if (!current.ok()) return from_error(req, current.error());
  if (!*current) return goal_not_found(req, patch->id);
  if (auto updated = growth::apply(**current, *patch); !updated.ok())
    return from_error(req, updated.error());
  model::Command cmd{"", growth::command_type::growth_goal_updated, key.tenant_id, 0,
                     growth::to_json(*patch)};
  if (auto err = a.s.write_command(c, std::move(cmd))) return *err;
  auto stored = growth::goal(a.s.ctx.store, key.tenant_id, patch->id);
  if (!stored.ok()) return from_error(req, stored.error());
  if (!*stored) return goal_not_found(req, patch->id);  // deleted meanwhile
  return view_response(req, http::status::ok, goal_view(a, **stored));
}

// ---- metrics (goalstream's own) ---------------------------------------------

Response list_metrics(const Api& a, const Call& c) {
  return list_response(c.req, growth::metrics(a.s.ctx.store, c.key.tenant_id),
                       [&a, &c](const auto& m) { return metric_view(a, m, c.now_ms); });
}

Response get_metric(const Api& a, const Call& c, const std::string& name) {
  return found_response(
      c.req, growth::metric(a.s.ctx.store, c.key.tenant_id, name),
      [&a, &c](const growth::Metric& m) { return metric_view(a, m, c.now_ms); }, "metric", name);
}

Response create_metric(const Api& a, const Call& c) {
  const auto& req = c.req;
  const auto& key = c.key;
  auto body = a.s.write_body(c);
  if (auto* r = std::get_if<Response>(&body)) return *r;
  auto m = growth::metric_from_request(std::get<json>(body));
  if (!m.ok()) return from_error(req, m.error());
  if (auto w = growth::parse_window(m->window); !w.ok()) return from_error(req, w.error());
  auto base = conversion::goal(a.s.ctx.store, key.tenant_id, m->conversion_goal);
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
  auto existing = growth::metric(a.s.ctx.store, key.tenant_id, m->name);
  if (!existing.ok()) return from_error(req, existing.error());
  if (*existing)
    return error_response(req, http::status::conflict, "conflict",
                          "metric " + m->name + " already exists; DELETE /api/metrics/" + m->name +
                              " first to redefine it",
                          "name");
  m->tenant_id = key.tenant_id;
  m->created_at_ms = time::now_ms();
  model::Command cmd{"", growth::command_type::metric_defined, key.tenant_id, 0,
                     growth::to_json(*m)};
  if (auto err = a.s.write_command(c, std::move(cmd))) return *err;
  return created_response(
      req, growth::metric(a.s.ctx.store, key.tenant_id, m->name),
      [&a](const growth::Metric& stored) { return metric_view(a, stored); },
      "/api/metrics/" + m->name, "metric");
}

std::optional<Response> replayed(const Api& a, const Request& req, const std::string& tenant,
                                 const std::string& type, const std::string& id) {
  namespace ct = command_type;
  auto& store = a.s.ctx.store;
  auto show_goal = [&a](const GrowthGoal& g) { return goal_view(a, g); };
  if (type == ct::growth_goal_created)
    return replayed_response(req, http::status::created, goal(store, tenant, id), show_goal, "goal",
                             id, "/api/goals/" + id);
  if (type == ct::growth_goal_updated)
    return replayed_response(req, http::status::ok, goal(store, tenant, id), show_goal, "goal", id);
  if (type == ct::metric_defined)
    return replayed_response(
        req, http::status::created, metric(store, tenant, id),
        [&a](const Metric& m) { return metric_view(a, m); }, "metric", id, "/api/metrics/" + id);
  if (type == ct::growth_goal_deleted) return deleted_response(req, "id", id);
  if (type == ct::metric_deleted) return deleted_response(req, "name", id);
  return std::nullopt;
}

// A growth goal whose metric reads a touched counter (following ratios), or
// every goal after a command of the tenant: its GET /api/goals/{id} body.
void progress(const Api& a, const std::string& tenant, const gs::http::TenantChanges& changes,
              std::vector<ProgressFrame>& out) {
  auto& store = a.s.ctx.store;
  auto all = goals(store, tenant);
  if (!all.ok()) return;
  for (const auto& g : *all) {
    bool moved = changes.command;
    if (!moved) {
      auto counters = metric_counters(store, tenant, g.metric);
      if (!counters.ok()) continue;
      moved = std::any_of(counters->begin(), counters->end(),
                          [&](const std::string& c) { return changes.counters.count(c) > 0; });
    }
    if (!moved) continue;
    if (auto view = goal_view(a, g); view.ok())
      out.push_back({"/api/goals/" + g.id, std::move(*view)});
  }
}

// `api` lives as long as the routes.
void add_routes(std::shared_ptr<const Api> api, RouteTable& t) {
  Service& s = api->s;
  using http::verb;
  auto store = &s.ctx.store;
  auto delete_goal =
      [&s, removal = Service::Removal{"goal", growth::command_type::growth_goal_deleted, "id",
                                      [store](const std::string& tenant, const std::string& id) {
                                        auto g = growth::goal(*store, tenant, id);
                                        return g.ok() ? Result<bool>(g->has_value()) : g.error();
                                      }}](const Call& c, const std::string& id) {
        return s.remove(c, removal, id);
      };
  auto delete_metric =
      [&s, removal = Service::Removal{"metric", growth::command_type::metric_deleted, "name",
                                      [store](const std::string& tenant, const std::string& name) {
                                        auto m = growth::metric(*store, tenant, name);
                                        return m.ok() ? Result<bool>(m->has_value()) : m.error();
                                      }}](const Call& c, const std::string& name) {
        return s.remove(c, removal, name);
      };
  auto on = [api](auto f) -> RouteHandler {
    return [api, f](const Call& c) { return f(*api, c); };
  };
  auto on_item = [api](auto f) -> ItemHandler {
    return [api, f](const Call& c, const std::string& item) { return f(*api, c, item); };
  };
  // Goals and metrics are evaluated at the request's second: their answers
  // are reused within it while the tenant's data is unchanged.
  t.add(verb::get, "/api/goals", read_route(on(list_goals), Reuse::within_second));
  t.add(verb::post, "/api/goals", write_route(on(create_goal)));
  t.add(verb::patch, "/api/goals", write_route(on(update_goal)));
  t.add(verb::delete_, "/api/goals", write_route(item_in_query("id", delete_goal)));
  t.add(verb::get, "/api/goals/{id}",
        read_route(item_in_path("id", on_item(get_goal)), Reuse::within_second));
  t.add(verb::delete_, "/api/goals/{id}", write_route(item_in_path("id", delete_goal)));

  t.add(verb::get, "/api/metrics", read_route(on(list_metrics), Reuse::within_second));
  t.add(verb::post, "/api/metrics", write_route(on(create_metric)));
  t.add(verb::delete_, "/api/metrics", write_route(item_in_query("name", delete_metric)));
  t.add(verb::get, "/api/metrics/{name}",
        read_route(item_in_path("name", on_item(get_metric)), Reuse::within_second));
  t.add(verb::delete_, "/api/metrics/{name}", write_route(item_in_path("name", delete_metric)));
}

}  // namespace

api::RouteFamily route_family(PacingThresholds thresholds) {
  return {[thresholds](RouteTable& t, Service& s) {
            add_routes(std::make_shared<const Api>(Api{s, thresholds}), t);
          },
          [thresholds](Service& s, const Request& req, const std::string& tenant,
                       const std::string& type, const std::string& id) {
            return replayed(Api{s, thresholds}, req, tenant, type, id);
          },
          [thresholds](Service& s, const std::string& tenant,
                       const gs::http::TenantChanges& changes, std::vector<ProgressFrame>& out) {
            progress(Api{s, thresholds}, tenant, changes, out);
          }};
}

}  // namespace gs::growth
