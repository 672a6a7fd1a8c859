// The HTTP API (docs/api.md): health, readiness, metrics and the growth
// goals and conversion goals API, metrics and settings, each family's routes
// in its own file (route.h), dispatched through a route table. Every write
// is produced to the commands topic and answered only once the processor has
// applied it (read your writes). Handlers are thread-safe; /healthz, /readyz
// and /metrics run on the server's I/O threads, the rest on its workers.
#pragma once

#include <chrono>

#include "api/server.h"
#include "base/metrics.h"
#include "projection/pacing.h"
#include "storage/store.h"
#include "stream/kafka.h"
#include "stream/processor.h"

namespace gs::api {

struct ApiContext {
  storage::Store& store;
  stream::Processor& processor;
  stream::Producer& producer;
  stream::KafkaOptions kafka;
  Metrics& metrics;
  std::chrono::milliseconds write_timeout{15000};
  projection::PacingThresholds thresholds;
};

// Returns the handlers that dispatch (method, path) to the routes: `now`
// answers /healthz, /readyz and /metrics without blocking, `work` the rest:
// 400 for a target that does not parse, 404 for a path no route has, 405
// (with Allow) for a method it lacks, 401/403 for the route's scope, then
// the route's handler.
Routes make_router(ApiContext& ctx);

}  // namespace gs::api
