// What the handler families share: the context, writes through the
// commands topic with their Idempotency-Key, the request body parser, and
// the API views of the stored objects (a replayed write answers with them).
// Thread-safe: handlers call it from every worker.
#pragma once

#include <optional>
#include <variant>

#include <nlohmann/json.hpp>

#include "api/respond.h"
#include "api/routes.h"
#include "model/conversion_goal.h"
#include "model/growth.h"

namespace gs::api {

class Service {
 public:
  explicit Service(ApiContext& ctx) : ctx(ctx) {}

  ApiContext& ctx;

  // Called first by every write handler: 400 for a malformed Idempotency-Key;
  // the answer recorded for the key when a write with it was applied within
  // the window; nullopt to go on and write.
  std::optional<Response> replay(const Request& req, const model::ApiKey& key);

  // Produces a command and waits until the processor applied it. Returns
  // the answer when it is not the handler's to give: the write failed, or
  // (with an Idempotency-Key) another attempt was first or it was rejected.
  std::optional<Response> write_command(const Request& req, model::Command cmd);

  // A conversion goal with its count, value, backfill state and, with
  // `series`, its daily series.
  json conversion_view(json goal, const std::string& tenant, bool series);
  // The API form of a growth goal: the reference's members in its order, then ours.
  ojson goal_view(const model::GrowthGoal& g);
  // A metric with its value now (none for a `span` metric).
  ojson metric_view(const model::Metric& m);

 private:
  Response recorded_answer(const Request& req, const std::string& tenant, const json& record);
  Response outcome_answer(const Request& req, const std::string& tenant, const json& record);
};

// Parses a request body without throwing (api::parse_body); a 400
// invalid_json Response naming the place when it is refused.
std::variant<json, Response> parse_json_body(const Request& req);

}  // namespace gs::api
