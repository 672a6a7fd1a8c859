#include "http/service.h"

#include <map>

#include "base/time.h"
#include "kernel/cells.h"
#include "modules/growth/evaluate.h"
#include "projection/pacing.h"
#include "projection/projection.h"

namespace gs::api {
namespace {

std::string_view idempotency_header(const Request& req) {
  auto it = req.find("Idempotency-Key");
  return it == req.end() ? std::string_view() : std::string_view(it->value());
}

// What a key stands for: the SHA-256 of the method, the target and the body.
std::string request_hash(const Request& req) {
  std::string s(req.method_string());
  s.push_back(' ');
  s.append(req.target());
  s.push_back('\n');
  s.append(req.body());
  return model::sha256_hex(s);
}

}  // namespace

// Parses a request body without throwing (api::parse_body); a 400
// invalid_json Response naming the place when it is refused.
std::variant<json, Response> parse_json_body(const Request& req) {
  auto body = api::parse_body(req.body());
  if (!body.ok())
    return error_response(req, http::status::bad_request, "invalid_json", body.error().message,
                          body.error().field);
  return std::move(body).value();
}

Response not_found(const Request& req, const std::string& what, const std::string& item) {
  return error_response(req, http::status::not_found, "not_found",
                        what + " " + item + " not found");
}

std::variant<json, Response> Service::write_body(const Call& c) {
  if (auto answer = replay(c.req, c.key)) return std::move(*answer);
  return parse_json_body(c.req);
}

Response Service::remove(const Call& c, const Removal& r, const std::string& item) {
  if (auto answer = replay(c.req, c.key)) return *answer;
  auto exists = r.exists(c.key.tenant_id, item);
  if (!exists.ok()) return from_error(c.req, exists.error());
  if (!*exists) return not_found(c.req, r.what, item);
  model::Command cmd{"", r.command_type, c.key.tenant_id, 0, {{r.member, item}}};
  if (auto err = write_command(c.req, std::move(cmd))) return *err;
  return json_response(c.req, http::status::ok, json{{r.member, item}, {"deleted", true}});
}

Result<json> Service::conversion_view(json goal, const std::string& tenant, bool series) {
  auto id = goal.value("id", "");
  auto read = cells::totals(ctx.store, tenant, id);
  if (!read.ok()) return read.error();
  const auto& totals = *read;
  goal["count"] = totals.total.count;
  goal["value"] = static_cast<double>(totals.total.sum_micros) / 1e6;
  if (series) {
    std::map<int64_t, projection::Cell> days;
    for (auto& [bucket, cell] : totals.buckets) {
      auto& d = days[bucket * projection::kBucketMs / time::kMsPerDay];
      d.count += cell.count;
      d.sum_micros += cell.sum_micros;
    }
    json s = json::array();
    for (auto& [day, cell] : days)
      s.push_back({{"date", time::format_date(day)},
                   {"count", cell.count},
                   {"value", static_cast<double>(cell.sum_micros) / 1e6}});
    goal["series"] = s;
  }
  auto job = state::job(ctx.store, tenant, id);
  if (!job.ok()) return job.error();
  if (*job) {
    json b = {{"status", "running"}};
    if (auto p = ctx.processor.backfill_progress(tenant, id)) {
      b["scanned"] = p->first;
      b["total"] = p->second;
    }
    goal["backfill"] = b;
  } else {
    goal["backfill"] = {{"status", "complete"}};
  }
  return goal;
}

std::optional<Response> Service::write_command(const Request& req, model::Command cmd) {
  cmd.command_id = "cmd_" + model::random_hex(12);
  cmd.issued_at_ms = time::now_ms();
  if (auto k = idempotency_header(req); !k.empty()) {  // replay() checked it
    cmd.idempotency_key = std::string(k);
    cmd.request_hash = request_hash(req);
  }
  auto payload = model::serialize(cmd);
  // A body within the 1 MiB limit can still make a larger command (the
  // envelope; 1e5 is written back as 100000.0): refuse what Kafka would.
  if (payload.size() + cmd.tenant_id.size() > kernel::kMaxCommandBytes)
    return error_response(req, http::status::payload_too_large, "payload_too_large",
                          "this write makes a command of " + std::to_string(payload.size()) +
                              " bytes; the commands topic takes at most " +
                              std::to_string(kernel::kMaxCommandBytes) + ": send a smaller body");
  auto d = ctx.commands.submit(cmd.tenant_id, payload);
  if (d.err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
      d.err == RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE)
    return error_response(req, http::status::payload_too_large, "payload_too_large",
                          "Kafka refused this write's command of " +
                              std::to_string(payload.size()) + " bytes as too large (" + d.error +
                              "); nothing was written: send a smaller body");
  if (!d.ok()) {
    // librdkafka's delivery report says whether the command may be in the
    // log (sent, no acknowledgement) or certainly is not.
    auto res =
        d.possibly_persisted
            ? error_response(
                  req, http::status::service_unavailable, "outcome_unknown",
                  "Kafka did not confirm the write (" + d.error +
                      "); it may have been stored and then it will be applied: send it again "
                      "with the same Idempotency-Key to get its outcome (without one, "
                      "a retry may apply it twice)")
            : error_response(req, http::status::service_unavailable, "not_written",
                             "Kafka did not take the write (" + d.error +
                                 "); nothing was written: it is safe to send it again");
    res.set(http::field::retry_after, "1");
    return res;
  }
  if (!ctx.commands.wait_applied(d.offset, ctx.write_timeout)) {
    auto res = error_response(req, http::status::service_unavailable, "not_applied",
                              "the write is stored in Kafka but the processor has not applied it "
                              "yet; retry the read shortly");
    res.set(http::field::retry_after, "1");
    return res;
  }
  if (cmd.idempotency_key.empty()) return std::nullopt;
  auto read = state::idempotency(ctx.store, cmd.tenant_id, cmd.idempotency_key);
  if (!read.ok()) return from_error(req, read.error());
  auto& record = *read;
  if (!record) return std::nullopt;
  if (record->value("command_id", "") != cmd.command_id)
    return recorded_answer(req, cmd.tenant_id, *record);
  if (record->value("outcome", "") != "applied") return outcome_answer(req, cmd.tenant_id, *record);
  return std::nullopt;
}

std::optional<Response> Service::replay(const Request& req, const model::ApiKey& key) {
  size_t n = req.count("Idempotency-Key");
  if (n == 0) return std::nullopt;
  auto v = idempotency_header(req);
  if (n > 1 || !model::valid_idempotency_key(v))
    return error_response(
        req, http::status::bad_request, "invalid_header",
        "Idempotency-Key: must be sent once, 1 to 255 visible ASCII characters (e.g. a UUID)",
        "Idempotency-Key");
  auto read = state::idempotency(ctx.store, key.tenant_id, std::string(v));
  if (!read.ok()) return from_error(req, read.error());
  auto& record = *read;
  if (!record) return std::nullopt;
  // Past the window the processor forgets the key when this write's
  // command arrives (its issued_at is now): the write is a new one.
  auto issued = time::parse_rfc3339(record->value("issued_at", ""));
  if (!issued || *issued < time::now_ms() - model::kIdempotencyWindowMs) return std::nullopt;
  return recorded_answer(req, key.tenant_id, *record);
}

Response Service::recorded_answer(const Request& req, const std::string& tenant,
                                  const json& record) {
  if (record.value("request", "") != request_hash(req))
    return error_response(
        req, http::status::unprocessable_entity, "idempotency_key_reused",
        "Idempotency-Key: was used for another request (method, path or body differ) in the "
        "last 24 hours; use a new key for a new write",
        "Idempotency-Key");
  auto res = outcome_answer(req, tenant, record);
  res.set("Idempotent-Replayed", "true");
  return res;
}

Response Service::outcome_answer(const Request& req, const std::string& tenant,
                                 const json& record) {
  if (record.value("outcome", "") != "applied") {
    auto e = record.value("error", json::object());
    return error_response(req, http::status::unprocessable_entity, "validation_error",
                          e.value("message", "the write was rejected"), e.value("field", ""));
  }
  namespace type = model::command_type;
  std::string t = record.value("type", ""), id = record.value("resource", "");
  auto gone = [&](const std::string& what) {
    return error_response(
        req, http::status::gone, "gone",
        what + " " + id +
            " was written by the request with this Idempotency-Key and has been deleted since");
  };
  auto created = [&](Response res, const std::string& location) {
    res.set(http::field::location, location + id);
    return res;
  };
  if (t == type::conversion_goal_defined) {
    auto g = conversion::goal(ctx.store, tenant, id);
    if (!g.ok()) return from_error(req, g.error());
    if (!*g) return gone("conversion goal");
    return created(view_response(req, http::status::created, conversion_view(**g, tenant, false)),
                   "/api/conversion-goals/");
  }
  if (t == type::growth_goal_created || t == type::growth_goal_updated) {
    auto g = growth::goal(ctx.store, tenant, id);
    if (!g.ok()) return from_error(req, g.error());
    if (!*g) return gone("goal");
    if (t == type::growth_goal_updated) return view_response(req, http::status::ok, goal_view(**g));
    return created(view_response(req, http::status::created, goal_view(**g)), "/api/goals/");
  }
  if (t == type::metric_defined) {
    auto m = growth::metric(ctx.store, tenant, id);
    if (!m.ok()) return from_error(req, m.error());
    if (!*m) return gone("metric");
    return created(view_response(req, http::status::created, metric_view(**m)), "/api/metrics/");
  }
  if (t == type::conversion_goal_deleted || t == type::growth_goal_deleted)
    return json_response(req, http::status::ok, json{{"id", id}, {"deleted", true}});
  if (t == type::metric_deleted)
    return json_response(req, http::status::ok, json{{"name", id}, {"deleted", true}});
  if (t == type::timezone_set) {
    auto tz = state::timezone(ctx.store, tenant);
    if (!tz.ok()) return from_error(req, tz.error());
    return json_response(req, http::status::ok, json{{"timezone", *tz}});
  }
  return error_response(req, http::status::internal_server_error, "internal",
                        "unknown recorded write " + t);
}

Result<ojson> Service::goal_view(const model::GrowthGoal& g) {
  auto evaluated = growth::evaluate(ctx.store, g, time::now_ms(), ctx.thresholds);
  if (!evaluated.ok()) return evaluated.error();
  const auto& e = *evaluated;
  ojson j;
  j["id"] = g.id;
  j["metric"] = g.metric;
  j["target"] = number(g.target);
  j["current"] = number(e.current);
  j["deadline"] = time::format_date(g.deadline_date);
  j["status"] = e.status;
  j["createdAt"] = time::format_rfc3339(g.created_at_ms);
  if (g.description) j["description"] = *g.description;
  if (g.unit) j["unit"] = *g.unit;
  if (g.start_date) j["start"] = time::format_date(*g.start_date);
  j["expected"] = number(e.pacing.expected);
  j["forecast"] = e.pacing.forecast ? number(*e.pacing.forecast) : ojson(nullptr);
  j["computedStatus"] = projection::to_string(e.pacing.status);
  j["manualStatus"] = g.status_override ? ojson(*g.status_override) : ojson(nullptr);
  j["metricDefined"] = e.metric_defined;
  j["period"] = {{"start", time::format_rfc3339(e.period.start_ms)},
                 {"end", time::format_rfc3339(e.period.end_ms)}};
  return j;
}

Result<ojson> Service::metric_view(const model::Metric& m) {
  ojson j = ojson::parse(model::to_json(m).dump());
  if (m.window == "span") return j;
  auto tz = state::timezone(ctx.store, m.tenant_id);
  if (!tz.ok()) return tz.error();
  projection::Interval period;
  int64_t now = time::now_ms();
  auto v = growth::metric_value(ctx.store, m.tenant_id, m.name, now, *tz, now, 0, &period);
  if (!v.ok()) return v.error();
  j["current"] = number(v->value_or(0));
  j["period"] = {{"start", time::format_rfc3339(period.start_ms)},
                 {"end", time::format_rfc3339(period.end_ms)}};
  return j;
}

}  // namespace gs::api
