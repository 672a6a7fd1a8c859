// The HTTP API (docs/api.md): health, readiness, /metrics, settings and the
// live feed, and each goal family's routes (route.h), dispatched through a
// route table. Every write
// is produced to the commands topic and answered only once the processor has
// applied it (read your writes). Handlers are thread-safe; /healthz, /readyz
// and /metrics run on the server's I/O threads, the rest on its workers.
#pragma once

#include <chrono>
#include <vector>

#include "base/telemetry.h"
#include "http/hub.h"
#include "http/route.h"
#include "http/server.h"
#include "kernel/command_bus.h"
#include "kernel/kafka.h"
#include "kernel/processor.h"
#include "storage/store.h"

namespace gs::api {

struct ApiContext {
  storage::Store& store;
  kernel::Processor& processor;  // readiness, backfill progress
  kernel::CommandBus& commands;  // every write
  kernel::KafkaOptions kafka;
  Telemetry& telemetry;
  std::chrono::milliseconds write_timeout{15000};
  std::vector<RouteFamily> families;  // the goal families' routes (modules::route_families())
  gs::http::Hub* hub = nullptr;       // with it, GET /api/ws/changes (ws_routes.cpp)
  // With it, GET answers of routes with a Reuse are reused while their
  // tenant's version is unchanged (read_cache.h); the processor bumps it.
  const kernel::TenantVersions* versions = nullptr;
};

// Returns the handlers that dispatch (method, path) to the routes: `now`
// answers /healthz, /readyz and /metrics without blocking, `work` the rest:
// 400 for a target that does not parse, 404 for a path no route has, 405
// (with Allow) for a method it lacks, 401/403 for the route's scope, then
// the route's handler.
// With ctx.hub, `upgrade` answers WebSocket upgrade requests the same way:
// a WebSocket route's scope check, then the session joins the hub.
Routes make_router(ApiContext& ctx);

// The hub's progress frames (docs/api.md#live-changes): for each goal of a
// tenant that a batch moved, {"type": "progress", "path": its GET path,
// "data": what GET on it answers}, as the families say
// (RouteFamily::progress). Thread-safe.
gs::http::ProgressFn progress_frames(ApiContext& ctx);

}  // namespace gs::api
