// GET /api/ws/changes (docs/api.md#live-changes): a WebSocket of the key's
// tenant's progress and status transitions, fed by the hub (http/hub.h).
#include "base/keys.h"
#include "http/route.h"
#include "http/service.h"
#include "http/websocket_session.h"
#include "modules/growth/evaluate.h"

namespace gs::api {
namespace {

Response upgrade_required(const Call& c) {
  auto res = error_response(c.req, http::status::upgrade_required, "upgrade_required",
                            "GET /api/ws/changes is a WebSocket: send Connection: Upgrade, "
                            "Upgrade: websocket, Sec-WebSocket-Version: 13 and a "
                            "Sec-WebSocket-Key");
  res.set(http::field::upgrade, "websocket");
  res.set(http::field::connection, "Upgrade");
  return res;
}

std::string frame(const std::string& path, ojson data) {
  return to_text(ojson{{"type", "progress"}, {"path", path}, {"data", std::move(data)}});
}

// A conversion goal's own counter: its id, not one of its metric series.
bool conversion_counter(const std::string& counter) {
  return counter.find('\x1f') == std::string::npos;
}

}  // namespace

void add_ws_routes(RouteTable& t, Service& s) {
  gs::http::Hub* hub = s.ctx.hub;
  Route route = read_route(upgrade_required);
  route.websocket = [hub](const Call& c) -> UpgradeJoin {
    return [hub, tenant = c.key.tenant_id](const std::shared_ptr<gs::http::WebSocketSession>& s) {
      hub->join(tenant, s);
    };
  };
  t.add(http::verb::get, "/api/ws/changes", std::move(route));
}

// What a tenant's changes move:
// - a conversion goal whose own counter a batch touched (events, a backfill
//   hand-over): its GET /api/conversion-goals/{id} body, series included;
// - a growth goal whose metric reads a touched counter (following ratios):
//   its GET /api/goals/{id} body;
// - after a command of the tenant (a goal or metric defined, patched or
//   deleted, a time zone set): every goal of the tenant, conversion and
//   growth, as they are now. A deleted goal has no frame (its DELETE
//   answered). Commands are API writes, so this is rare and bounded by the
//   tenant's goals.
//
// A goal whose rows cannot be read gets no frame: the read logged and
// counted the row (Store::unreadable), and GET answers it with a 500.
gs::http::ProgressFn progress_frames(ApiContext& ctx) {
  auto service = std::make_shared<Service>(ctx);
  return [service](const std::string& tenant, const gs::http::TenantChanges& changes) {
    Service& s = *service;
    const auto& store = s.ctx.store;
    std::vector<std::string> out;
    auto conversion_frame = [&](json goal) {
      auto id = goal.value("id", "");
      auto view = s.conversion_view(std::move(goal), tenant, true);
      if (view.ok()) out.push_back(frame("/api/conversion-goals/" + id, ojson(std::move(*view))));
    };
    if (changes.command) {
      if (auto page = conversion::goals(store, tenant); page.ok())
        for (auto& g : page->goals) conversion_frame(std::move(g));
    } else {
      for (const auto& counter : changes.counters)
        if (conversion_counter(counter))
          if (auto g = conversion::goal(store, tenant, counter); g.ok() && *g)
            conversion_frame(std::move(**g));
    }
    auto goals = growth::goals(store, tenant);
    if (!goals.ok()) return out;
    for (const auto& g : *goals) {
      bool moved = changes.command;
      if (!moved) {
        auto targets = growth::metric_targets(store, tenant, g.metric);
        if (!targets.ok()) continue;
        for (const auto& counter : *targets)
          if (changes.counters.count(counter)) {
            moved = true;
            break;
          }
      }
      if (!moved) continue;
      if (auto view = s.goal_view(g); view.ok())
        out.push_back(frame("/api/goals/" + g.id, std::move(*view)));
    }
    return out;
  };
}

}  // namespace gs::api
