// What a route of the HTTP API is: a handler, the scope its API key must
// carry and the envelope of its family, in a gs::http::Router keyed by
// (method, path pattern). The kernel's routes (add_*_routes) and each goal
// family's (RouteFamily) register their own; routes.cpp dispatches.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/envelope.h"
#include "http/hub.h"
#include "http/respond.h"
#include "http/router.h"
#include "http/server.h"
#include "http/target.h"
#include "model/command.h"

namespace gs::api {

struct ApiContext;
class Service;

// One request as its handler sees it.
struct Call {
  const Request& req;
  const gs::http::Target& target;  // empty for routes answered on the I/O threads
  const gs::http::Params& params;  // the pattern's parameters, decoded
  const model::ApiKey& key;        // the caller's key; empty on routes without a scope
  // The route's envelope: dispatch answers 401, 403 and 405 in it, and a
  // handler shapes its own answers with it (the reference families' handlers
  // use the reference envelope, which is theirs).
  const gs::http::Envelope& envelope;
  // The time a read evaluates goals at: the request's, to the whole second,
  // so that answers within one second are the same (Reuse::within_second).
  int64_t now_ms = 0;

  // The path parameter `name`, which must be one of the route's pattern.
  const std::string& param(std::string_view name) const;
  // The query parameter `name`, nullopt when absent or empty.
  std::optional<std::string> query(const std::string& name) const;
};

using RouteHandler = std::function<Response(const Call&)>;

// What a WebSocket route joins an accepted upgrade to (api::Upgrade::join).
using UpgradeJoin = decltype(Upgrade::join);

// Whether dispatch may answer a GET of a route with an answer it gave
// before (http/read_cache.h): never; while the tenant's data is unchanged
// (the answer depends on the store alone); or also within the same second
// (it depends on Call::now_ms too). Only 200 answers without
// `Cache-Control: no-store` are reused (a handler sets it on an answer that
// depends on something else, such as a running backfill's progress).
enum class Reuse : uint8_t { never, while_unchanged, within_second };

struct Route {
  std::string scope;  // the scope the API key must carry; empty: no key needed
  const gs::http::Envelope* envelope = &gs::http::reference_envelope();
  RouteHandler handler;  // for a WebSocket route: the answer to a request without Upgrade
  // Set on a WebSocket route: what an upgrade request the route's scope
  // check let through joins. Such a route also takes the API key from a
  // `token` query parameter (a browser cannot set headers on a WebSocket).
  std::function<UpgradeJoin(const Call&)> websocket = nullptr;
  Reuse reuse = Reuse::never;
};

using RouteTable = gs::http::Router<Route>;

// 426 upgrade_required (with Upgrade: websocket): the answer of a WebSocket
// route at `path` to a request without Upgrade.
Response upgrade_required(const Request& req, std::string_view path);

// Routes of the reference envelope that need goals:read or goals:write.
Route read_route(RouteHandler handler, Reuse reuse = Reuse::never);
Route write_route(RouteHandler handler);

// A handler of one item named by the pattern's parameter `name`, or by the
// query parameter `name`: without it (or empty) the answer is 422
// validation_error "<name>: is required (query parameter)".
using ItemHandler = std::function<Response(const Call&, const std::string& item)>;
RouteHandler item_in_path(const char* name, ItemHandler handler);
RouteHandler item_in_query(const char* name, ItemHandler handler);

// A handler f(ctx, const Call&) or f(ctx, const Call&, item), bound to its
// context (the Service, or a family's own that holds it).
template <class Ctx, class F>
RouteHandler bind(Ctx& ctx, F f) {
  return [&ctx, f](const Call& c) { return f(ctx, c); };
}
template <class Ctx, class F>
ItemHandler bind_item(Ctx& ctx, F f) {
  return [&ctx, f](const Call& c, const std::string& item) { return f(ctx, c, item); };
}

// The kernel's routes. `io` holds the routes answered on the I/O threads:
// any method, matched against the raw path, no key, never blocking.
void add_ops_routes(RouteTable& io, ApiContext& ctx);
void add_settings_routes(RouteTable& table, Service& service);  // /api/settings
void add_ws_routes(RouteTable& table, Service& service);        // only with ApiContext::hub

// One frame of the live feed (GET /api/ws/changes): a GET path and what GET
// on it answers now.
struct ProgressFrame {
  std::string path;
  ojson data;
};

// A goal family's part of the API (src/modules/<family>/routes.cpp), listed
// by src/modules/all.cpp.
struct RouteFamily {
  // Registers the family's routes.
  std::function<void(RouteTable& table, Service& service)> add_routes;
  // The answer to an Idempotency-Key replay of an applied write of one of
  // the family's command types, `type` and `resource` as the key's record
  // holds them (the resource as it is now: 410 gone when it was deleted
  // since); nullopt when `type` is not the family's.
  std::function<std::optional<Response>(Service& service, const Request& req,
                                        const std::string& tenant, const std::string& type,
                                        const std::string& resource)>
      replayed;
  // Appends a frame for each of the family's items of `tenant` that
  // `changes` moved (docs/api.md#live-changes). An item that cannot be read
  // gets no frame: the read logged and counted it, and GET answers 500.
  std::function<void(Service& service, const std::string& tenant,
                     const gs::http::TenantChanges& changes, std::vector<ProgressFrame>& out)>
      progress;
  // Stops what the family runs beside its handlers (roadmap generations),
  // waiting for it; serve calls it once the HTTP server stopped. May be empty.
  std::function<void()> stop = nullptr;
};

}  // namespace gs::api
