// What a route of the HTTP API is: a handler, the scope its API key must
// carry and the envelope of its family, in a gs::http::Router keyed by
// (method, path pattern). Each family of routes registers its own
// (add_*_routes); routes.cpp names the families and dispatches.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "http/envelope.h"
#include "http/router.h"
#include "http/server.h"
#include "http/target.h"
#include "model/conversion_goal.h"

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

  // The path parameter `name`, which must be one of the route's pattern.
  const std::string& param(std::string_view name) const;
  // The query parameter `name`, nullopt when absent or empty.
  std::optional<std::string> query(const std::string& name) const;
};

using RouteHandler = std::function<Response(const Call&)>;

// What a WebSocket route joins an accepted upgrade to (api::Upgrade::join).
using UpgradeJoin = decltype(Upgrade::join);

struct Route {
  std::string scope;  // the scope the API key must carry; empty: no key needed
  const gs::http::Envelope* envelope = &gs::http::reference_envelope();
  RouteHandler handler;  // for a WebSocket route: the answer to a request without Upgrade
  // Set on a WebSocket route: what an upgrade request the route's scope
  // check let through joins. Such a route also takes the API key from a
  // `token` query parameter (a browser cannot set headers on a WebSocket).
  std::function<UpgradeJoin(const Call&)> websocket = nullptr;
};

using RouteTable = gs::http::Router<Route>;

// Routes of the reference envelope that need goals:read or goals:write.
Route read_route(RouteHandler handler);
Route write_route(RouteHandler handler);

// A handler of one item named by the pattern's parameter `name`, or by the
// query parameter `name`: without it (or empty) the answer is 422
// validation_error "<name>: is required (query parameter)".
using ItemHandler = std::function<Response(const Call&, const std::string& item)>;
RouteHandler item_in_path(const char* name, ItemHandler handler);
RouteHandler item_in_query(const char* name, ItemHandler handler);

// A family's handler f(Service&, const Call&) or f(Service&, const Call&,
// item), bound to its service.
template <class F>
RouteHandler bind(Service& s, F f) {
  return [&s, f](const Call& c) { return f(s, c); };
}
template <class F>
ItemHandler bind_item(Service& s, F f) {
  return [&s, f](const Call& c, const std::string& item) { return f(s, c, item); };
}

// The families. `io` holds the routes answered on the I/O threads: any
// method, matched against the raw path, no key, never blocking.
void add_ops_routes(RouteTable& io, ApiContext& ctx);
void add_ws_routes(RouteTable& table, Service& service);  // only with ApiContext::hub
// A goal family's routes (src/modules/<family>/routes.cpp), listed by
// src/modules/all.cpp.
using AddRoutes = void (*)(RouteTable& table, Service& service);

}  // namespace gs::api
