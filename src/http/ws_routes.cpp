// GET /api/ws/changes (docs/api.md#live-changes): a WebSocket of the key's
// tenant's progress and status transitions, fed by the hub (http/hub.h).
#include "http/route.h"
#include "http/service.h"
#include "http/websocket_session.h"

namespace gs::api {
namespace {

std::string frame(const std::string& path, ojson data) {
  return to_text(ojson{{"type", "progress"}, {"path", path}, {"data", std::move(data)}});
}

}  // namespace

Response upgrade_required(const Request& req, std::string_view path) {
  auto res = error_response(req, http::status::upgrade_required, "upgrade_required",
                            "GET " + std::string(path) +
                                " is a WebSocket: send Connection: Upgrade, "
                                "Upgrade: websocket, Sec-WebSocket-Version: 13 and a "
                                "Sec-WebSocket-Key");
  res.set(http::field::upgrade, "websocket");
  res.set(http::field::connection, "Upgrade");
  return res;
}

void add_ws_routes(RouteTable& t, Service& s) {
  gs::http::Hub* hub = s.ctx.hub;
  Route route =
      read_route([](const Call& c) { return upgrade_required(c.req, "/api/ws/changes"); });
  route.websocket = [hub](const Call& c) -> UpgradeJoin {
    return [hub, tenant = c.key.tenant_id](const std::shared_ptr<gs::http::WebSocketSession>& s) {
      hub->join(tenant, s);
    };
  };
  t.add(http::verb::get, "/api/ws/changes", std::move(route));
}

// What a tenant's changes move, as each family says
// (RouteFamily::progress); after a command of the tenant, every item of
// every family is sent as it is now (commands are API writes, so this is
// rare and bounded by the tenant's goals).
gs::http::ProgressFn progress_frames(ApiContext& ctx) {
  auto service = std::make_shared<Service>(ctx);
  return [service](const std::string& tenant, const gs::http::TenantChanges& changes) {
    std::vector<ProgressFrame> frames;
    for (const RouteFamily& family : service->ctx.families)
      if (family.progress) family.progress(*service, tenant, changes, frames);
    std::vector<std::string> out;
    out.reserve(frames.size());
    for (auto& f : frames) out.push_back(frame(f.path, std::move(f.data)));
    return out;
  };
}

}  // namespace gs::api
