// The route table of the HTTP API: health, readiness, metrics and the
// growth goals and conversion goals API (docs/api.md), metrics and settings. Every write is
// produced to the commands topic and answered only once the processor has applied it (read your
// writes). Handlers are thread-safe; /healthz, /readyz and /metrics run on the server's I/O
// threads, the rest on its workers.
#pragma once

#include <chrono>

#include "api/server.h"
#include "base/metrics.h"
#include "projection/pacing.h"
#include "store/store.h"
#include "stream/kafka.h"
#include "stream/processor.h"

namespace gs::api {

struct ApiContext {
  store::Store& store;
  stream::Processor& processor;
  stream::Producer& producer;
  stream::KafkaOptions kafka;
  Metrics& metrics;
  std::chrono::milliseconds write_timeout{15000};
  projection::PacingThresholds thresholds;
};

// Returns the handlers that dispatch (method, path) to the routes: `now`
// answers /healthz, /readyz and /metrics without blocking, `work` the rest.
Routes make_router(ApiContext& ctx);

}  // namespace gs::api
