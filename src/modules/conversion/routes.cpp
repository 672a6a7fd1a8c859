// Conversion goals (docs/api.md: /api/conversion-goals): create, list, read
// with the daily series, delete by path or ?id=.
#include "modules/conversion/routes.h"

#include "base/time.h"
#include "http/route.h"
#include "http/service.h"
#include "kernel/cells.h"
#include "kernel/state.h"
#include "modules/conversion/keyspace.h"
#include "projection/projection.h"

namespace gs::conversion {
namespace http = api::http;  // Beast's, as in the rest of the API

namespace {

using namespace gs::api;

// A conversion goal (its stored form) with its count, value, backfill state
// and, with `series`, its daily series. An Error when the store cannot be
// read (an unreadable row: 500).
Result<json> goal_view(Service& s, json goal, const std::string& tenant, bool series) {
  auto id = goal.value("id", "");
  auto total = cells::total(s.ctx.store, tenant, id);
  if (!total.ok()) return total.error();
  goal["count"] = total->count;
  goal["value"] = static_cast<double>(total->sum_micros) / 1e6;
  if (series) {
    auto days = cells::daily(s.ctx.store, tenant, id);
    if (!days.ok()) return days.error();
    json s = json::array();
    for (auto& [day, cell] : *days)
      s.push_back({{"date", time::format_date(day)},
                   {"count", cell.count},
                   {"value", static_cast<double>(cell.sum_micros) / 1e6}});
    goal["series"] = s;
  }
  auto job = state::job(s.ctx.store, tenant, id);
  if (!job.ok()) return job.error();
  if (*job) {
    json b = {{"status", "running"}};
    if (auto p = s.ctx.processor.backfill_progress(tenant, id)) {
      b["scanned"] = p->first;
      b["total"] = p->second;
    }
    goal["backfill"] = b;
  } else {
    goal["backfill"] = {{"status", "complete"}};
  }
  return goal;
}

// An answer that shows a running backfill's progress, which moves without
// a batch, is not reused (Reuse).
Response unless_running(Response res, bool running) {
  if (running) res.set(http::field::cache_control, "no-store");
  return res;
}

bool running(const json& view) { return view["backfill"].value("status", "") == "running"; }

Response list(Service& s, const Call& c) {
  auto page = conversion::goals(s.ctx.store, c.key.tenant_id);
  if (!page.ok()) return from_error(c.req, page.error());
  json out = json::array();
  bool any_running = false;
  for (auto& g : page->goals) {
    auto view = goal_view(s, g, c.key.tenant_id, false);
    if (!view.ok()) return from_error(c.req, view.error());
    any_running |= running(*view);
    out.push_back(std::move(*view));
  }
  return unless_running(json_response(c.req, http::status::ok, out), any_running);
}

Response get(Service& s, const Call& c, const std::string& id) {
  bool is_running = false;
  auto res = found_response(
      c.req, conversion::goal(s.ctx.store, c.key.tenant_id, id),
      [&](const json& g) {
        auto view = goal_view(s, g, c.key.tenant_id, true);
        if (view.ok()) is_running = running(*view);
        return view;
      },
      "conversion goal", id);
  return unless_running(std::move(res), is_running);
}

Response create(Service& s, const Call& c) {
  const auto& req = c.req;
  const auto& key = c.key;
  auto body = s.write_body(c);
  if (auto* r = std::get_if<Response>(&body)) return *r;
  auto def = conversion::conversion_goal_from_request(std::get<json>(body));
  if (!def.ok()) return from_error(req, def.error());
  def->tenant_id = key.tenant_id;
  def->id = "cg_" + model::random_hex(8);
  def->created_at_ms = time::now_ms();
  if (auto compiled = projection::compile(conversion::counter_rule(*def)); !compiled.ok())
    return from_error(req, compiled.error());
  model::Command cmd{"", conversion::command_type::conversion_goal_defined, key.tenant_id, 0,
                     conversion::to_json(*def)};
  if (auto err = s.write_command(c, std::move(cmd))) return *err;
  return created_response(
      req, conversion::goal(s.ctx.store, key.tenant_id, def->id),
      [&](const json& g) { return goal_view(s, g, key.tenant_id, false); },
      "/api/conversion-goals/" + def->id);
}

std::optional<Response> replayed(Service& s, const Request& req, const std::string& tenant,
                                 const std::string& type, const std::string& id) {
  if (type == command_type::conversion_goal_defined)
    return replayed_response(
        req, http::status::created, conversion::goal(s.ctx.store, tenant, id),
        [&](const json& g) { return goal_view(s, g, tenant, false); }, "conversion goal", id,
        "/api/conversion-goals/" + id);
  if (type == command_type::conversion_goal_deleted) return deleted_response(req, "id", id);
  return std::nullopt;
}

// A goal whose own counter (its id, not one of its metric series) a batch
// touched (events, a backfill hand-over), or every goal after a command of
// the tenant: its GET /api/conversion-goals/{id} body, series included.
void progress(Service& s, const std::string& tenant, const gs::http::TenantChanges& changes,
              std::vector<ProgressFrame>& out) {
  auto frame = [&](json goal) {
    auto id = goal.value("id", "");
    if (auto v = goal_view(s, std::move(goal), tenant, true); v.ok())
      out.push_back({"/api/conversion-goals/" + id, ojson(std::move(*v))});
  };
  if (changes.command) {
    if (auto page = conversion::goals(s.ctx.store, tenant); page.ok())
      for (auto& g : page->goals) frame(std::move(g));
    return;
  }
  for (const auto& counter : changes.counters)
    if (projection::split_counter_id(counter).second.empty())
      if (auto g = conversion::goal(s.ctx.store, tenant, counter); g.ok() && *g)
        frame(std::move(**g));
}

void add_routes(api::RouteTable& t, api::Service& s) {
  using http::verb;
  auto on = [&s](auto f) { return bind(s, f); };
  auto on_item = [&s](auto f) { return bind_item(s, f); };
  auto store = &s.ctx.store;
  auto remove = [&s, removal = Service::Removal{
                         "conversion goal", conversion::command_type::conversion_goal_deleted, "id",
                         [store](const std::string& tenant, const std::string& id) {
                           auto g = conversion::goal(*store, tenant, id);
                           return g.ok() ? Result<bool>(g->has_value()) : g.error();
                         }}](const Call& c, const std::string& id) {
    return s.remove(c, removal, id);
  };
  // Reused while the tenant's data is unchanged (and no backfill runs).
  t.add(verb::get, "/api/conversion-goals", read_route(on(list), Reuse::while_unchanged));
  t.add(verb::post, "/api/conversion-goals", write_route(on(create)));
  t.add(verb::delete_, "/api/conversion-goals", write_route(item_in_query("id", remove)));
  t.add(verb::get, "/api/conversion-goals/{id}",
        read_route(item_in_path("id", on_item(get)), Reuse::while_unchanged));
  t.add(verb::delete_, "/api/conversion-goals/{id}", write_route(item_in_path("id", remove)));
}

}  // namespace

api::RouteFamily route_family() { return {add_routes, replayed, progress}; }

}  // namespace gs::conversion
