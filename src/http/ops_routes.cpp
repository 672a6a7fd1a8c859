// The operational routes: /healthz, /readyz and /metrics. No key, any
// method; answered on the I/O threads, so they read only atomics and never
// block.
#include "http/respond.h"
#include "http/route.h"
#include "http/routes.h"

namespace gs::api {
namespace {

Response readyz(ApiContext& ctx, const Request& req) {
  json body = {{"ready", ctx.processor.ready()},
               {"events_lag", ctx.telemetry.events_lag.load()},
               {"commands_lag", ctx.telemetry.commands_lag.load()}};
  auto fatal = ctx.processor.fatal_error();
  if (!fatal.empty()) {
    body["ready"] = false;
    body["error"] = fatal;
  }
  return json_response(
      req, body["ready"].get<bool>() ? http::status::ok : http::status::service_unavailable, body);
}

Response prometheus(ApiContext& ctx, const Request& req) {
  Response res{http::status::ok, req.version()};
  res.set(http::field::content_type, "text/plain; version=0.0.4");
  res.body() = ctx.telemetry.prometheus() +
               "# HELP goalstream_store_unreadable_rows_total Stored rows that could not be read "
               "(each is logged; rebuild the store).\n"
               "# TYPE goalstream_store_unreadable_rows_total counter\n"
               "goalstream_store_unreadable_rows_total " +
               std::to_string(ctx.store.unreadable_rows()) + "\n";
  res.prepare_payload();
  return res;
}

}  // namespace

void add_ops_routes(RouteTable& io, ApiContext& ctx) {
  auto any = http::verb::unknown;
  io.add(any, "/healthz", {"", &gs::http::reference_envelope(), [](const Call& c) {
                             return json_response(c.req, http::status::ok, json{{"status", "ok"}});
                           }});
  io.add(any, "/readyz", {"", &gs::http::reference_envelope(), [&ctx](const Call& c) {
                            return readyz(ctx, c.req);
                          }});
  io.add(any, "/metrics", {"", &gs::http::reference_envelope(), [&ctx](const Call& c) {
                             return prometheus(ctx, c.req);
                           }});
}

}  // namespace gs::api
