#include "api/routes.h"

#include <atomic>
#include <cmath>
#include <map>
#include <variant>

#include <nlohmann/json.hpp>

#include "api/body.h"
#include "base/text.h"
#include "base/time.h"
#include "model/conversion_goal.h"
#include "model/growth.h"
#include "projection/pacing.h"
#include "projection/projection.h"
#include "store/growth_eval.h"

namespace gs::api {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

template <class J = json>
Response json_response(const Request& req, http::status status, const J& body) {
  Response res{status, req.version()};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::server, "goalstream");
  res.body() = to_text(body);  // never throws, numbers as body.h says
  res.prepare_payload();
  return res;
}

Response error_response(const Request& req, http::status status, const std::string& code,
                        const std::string& message, const std::string& field = "") {
  json body = {{"error", code}, {"message", message}};
  if (!field.empty()) body["field"] = field;
  return json_response(req, status, body);
}

Response from_error(const Request& req, const Error& e) {
  switch (e.code) {
    case ErrorCode::invalid:
      return error_response(req, http::status::unprocessable_entity, "validation_error",
                            e.field.empty() || e.message.starts_with(e.field + ":")
                                ? e.message
                                : e.field + ": " + e.message,
                            e.field);
    case ErrorCode::not_found:
      return error_response(req, http::status::not_found, "not_found", e.message);
    case ErrorCode::unauthorized:
      return error_response(req, http::status::unauthorized, "unauthorized", e.message);
    case ErrorCode::forbidden:
      return error_response(req, http::status::forbidden, "forbidden", e.message);
    case ErrorCode::conflict:
      return error_response(req, http::status::conflict, "conflict", e.message);
    case ErrorCode::unavailable:
      return error_response(req, http::status::service_unavailable, "unavailable", e.message);
    case ErrorCode::internal:
      break;
  }
  return error_response(req, http::status::internal_server_error, "internal", e.message);
}

struct Target {
  std::string path;
  std::map<std::string, std::string> query;
};

// How long a request with an unknown key may wait for the processor to
// apply the commands topic up to its end (a key issued a moment ago), and how
// many such requests may wait at once; the others are answered 401 at once.
// See docs/api.md#authentication.
constexpr std::chrono::milliseconds kUnknownKeyWait{500};
constexpr int kMaxUnknownKeyWaiters = 2;

std::string url_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i] == '+' ? ' ' : s[i]);
    }
  }
  return out;
}

// Splits and percent-decodes the request target. Every id and name reaches
// the handlers through here, so text that is not UTF-8 once decoded
// (%FF) is refused here, naming "path" or the query parameter.
Result<Target> parse_target(std::string_view t) {
  Target out;
  auto q = t.find('?');
  out.path = url_decode(t.substr(0, q));
  if (!text::valid_utf8(out.path))
    return invalid("path", "is not valid UTF-8 once percent-decoded");
  if (out.path.size() > 1 && out.path.back() == '/') out.path.pop_back();
  if (q == std::string_view::npos) return out;
  std::string_view rest = t.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    auto part = rest.substr(0, amp);
    auto eq = part.find('=');
    std::string name = url_decode(part.substr(0, eq));
    std::string value = eq == std::string_view::npos ? "" : url_decode(part.substr(eq + 1));
    if (!text::valid_utf8(name))
      return invalid("query", "a parameter name is not valid UTF-8 once percent-decoded");
    if (!text::valid_utf8(value))
      return invalid(name, "is not valid UTF-8 once percent-decoded (query parameter)");
    out.query[std::move(name)] = std::move(value);
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return out;
}

Response bad_request(const Request& req, const Error& e) {
  return error_response(req, http::status::bad_request, "bad_request", e.field + ": " + e.message,
                        e.field);
}

class Router {
 public:
  explicit Router(ApiContext& ctx) : ctx_(ctx) {}

  // Health, readiness and metrics (any method, no key): cheap and
  // non-blocking, so the server answers them on its I/O threads. nullopt for
  // every other request.
  std::optional<Response> now(const Request& req) {
    std::string_view t = req.target();
    std::string_view path = t.substr(0, t.find('?'));
    if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
    if (path != "/healthz" && path != "/readyz" && path != "/metrics") return std::nullopt;
    ctx_.metrics.http_requests++;
    if (path == "/healthz") return json_response(req, http::status::ok, json{{"status", "ok"}});
    if (path == "/readyz") return readyz(req);
    Response res{http::status::ok, req.version()};
    res.set(http::field::content_type, "text/plain; version=0.0.4");
    res.body() = ctx_.metrics.prometheus();
    res.prepare_payload();
    return res;
  }

  Response operator()(const Request& req) {
    if (auto res = now(req)) return std::move(*res);
    ctx_.metrics.http_requests++;
    auto parsed = parse_target(req.target());
    if (!parsed.ok()) return bad_request(req, parsed.error());
    const Target& target = *parsed;
    const auto& path = target.path;
    auto method = req.method();
    if (path == "/api/goals" || path.starts_with("/api/goals/")) return goals_route(req, target);
    if (path == "/api/metrics" || path.starts_with("/api/metrics/"))
      return metrics_route(req, target);
    if (path == "/api/settings") {
      if (reads(method))
        return with_key(req, model::kScopeRead, [&](auto& k) { return get_settings(req, k); });
      if (method == http::verb::put || method == http::verb::patch)
        return with_key(req, model::kScopeWrite, [&](auto& k) { return put_settings(req, k); });
      return not_allowed(req, "GET, HEAD, PUT, PATCH");
    }
    static const std::string base = "/api/conversion-goals";
    if (path == base) {
      if (reads(method))
        return with_key(req, model::kScopeRead, [&](auto& k) { return list(req, k); });
      if (method == http::verb::post)
        return with_key(req, model::kScopeWrite, [&](auto& k) { return create(req, k); });
      if (method == http::verb::delete_)
        return with_key(req, model::kScopeWrite, [&](auto& k) {
          auto it = target.query.find("id");
          if (it == target.query.end() || it->second.empty())
            return error_response(req, http::status::unprocessable_entity, "validation_error",
                                  "id: is required (query parameter)", "id");
          return remove(req, k, it->second);
        });
      return not_allowed(req, "GET, HEAD, POST, DELETE");
    }
    if (path.starts_with(base + "/")) {
      std::string id = path.substr(base.size() + 1);
      if (id.find('/') != std::string::npos) return not_found(req);
      if (reads(method))
        return with_key(req, model::kScopeRead, [&](auto& k) { return get(req, k, id); });
      if (method == http::verb::delete_)
        return with_key(req, model::kScopeWrite, [&](auto& k) { return remove(req, k, id); });
      return not_allowed(req, "GET, HEAD, DELETE");
    }
    return not_found(req);
  }

 private:
  // HEAD is answered wherever GET is, as GET (the server drops the body).
  static bool reads(http::verb m) { return m == http::verb::get || m == http::verb::head; }

  static Response not_found(const Request& req) {
    return error_response(req, http::status::not_found, "not_found", "no such resource");
  }
  static Response not_allowed(const Request& req, const char* allow) {
    auto res = error_response(req, http::status::method_not_allowed, "method_not_allowed",
                              std::string("allowed methods: ") + allow);
    res.set(http::field::allow, allow);
    return res;
  }

  Response readyz(const Request& req) {
    json body = {{"ready", ctx_.processor.ready()},
                 {"events_lag", ctx_.metrics.events_lag.load()},
                 {"commands_lag", ctx_.metrics.commands_lag.load()}};
    auto fatal = ctx_.processor.fatal_error();
    if (!fatal.empty()) {
      body["ready"] = false;
      body["error"] = fatal;
    }
    return json_response(
        req, body["ready"].get<bool>() ? http::status::ok : http::status::service_unavailable,
        body);
  }

  // Resolves the API key from x-api-key or Authorization: Bearer, checks the
  // scope, and calls `f` with the key.
  template <class F>
  Response with_key(const Request& req, const char* scope, F&& f) {
    std::string token;
    if (auto it = req.find("x-api-key"); it != req.end()) token = std::string(it->value());
    if (token.empty())
      if (auto it = req.find(http::field::authorization); it != req.end()) {
        std::string_view v = it->value();
        if (v.size() > 7 && (v.substr(0, 7) == "Bearer " || v.substr(0, 7) == "bearer "))
          token = std::string(v.substr(7));
      }
    if (token.empty())
      return error_response(req, http::status::unauthorized, "unauthorized",
                            "missing API key: send x-api-key or Authorization: Bearer");
    auto hash = model::sha256_hex(token);
    auto key = ctx_.store.find_key(hash);
    if (!key) {
      // Perhaps a key issued a moment ago: wait, bounded in all (the broker
      // question included, whatever the broker does), until the processor
      // applied the commands topic up to its end, then look again. When
      // enough requests wait already, this one is answered at once.
      if (key_waiters_.fetch_add(1) < kMaxUnknownKeyWaiters) {
        ctx_.processor.wait_commands_caught_up(kUnknownKeyWait);
        key = ctx_.store.find_key(hash);
      }
      key_waiters_--;
    }
    if (!key)
      return error_response(req, http::status::unauthorized, "unauthorized", "invalid API key");
    if (!key->has_scope(scope))
      return error_response(req, http::status::forbidden, "forbidden",
                            std::string("this API key lacks the ") + scope + " scope");
    return f(*key);
  }

  json with_progress(json goal, const std::string& tenant, bool series) {
    auto id = goal.value("id", "");
    auto totals = ctx_.store.totals(tenant, id);
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
    if (auto job = ctx_.store.job(tenant, id)) {
      json b = {{"status", "running"}};
      if (auto p = ctx_.processor.backfill_progress(tenant, id)) {
        b["scanned"] = p->first;
        b["total"] = p->second;
      }
      goal["backfill"] = b;
    } else {
      goal["backfill"] = {{"status", "complete"}};
    }
    return goal;
  }

  Response list(const Request& req, const model::ApiKey& key) {
    json out = json::array();
    for (auto& g : ctx_.store.goals(key.tenant_id))
      out.push_back(with_progress(g, key.tenant_id, false));
    return json_response(req, http::status::ok, out);
  }

  Response get(const Request& req, const model::ApiKey& key, const std::string& id) {
    auto g = ctx_.store.goal(key.tenant_id, id);
    if (!g)
      return error_response(req, http::status::not_found, "not_found",
                            "conversion goal " + id + " not found");
    return json_response(req, http::status::ok, with_progress(*g, key.tenant_id, true));
  }

  // Produces a command and waits until the processor applied it. Returns
  // the answer when it is not the handler's to give: the write failed, or
  // (with an Idempotency-Key) another attempt was first or it was rejected.
  std::optional<Response> write_command(const Request& req, model::Command cmd) {
    cmd.command_id = "cmd_" + model::random_hex(12);
    cmd.issued_at_ms = time::now_ms();
    if (auto k = idempotency_header(req); !k.empty()) {  // replay() checked it
      cmd.idempotency_key = std::string(k);
      cmd.request_hash = request_hash(req);
    }
    auto payload = model::serialize(cmd);
    // A body within the 1 MiB limit can still make a larger command (the
    // envelope; 1e5 is written back as 100000.0): refuse what Kafka would.
    if (payload.size() + cmd.tenant_id.size() > stream::kMaxCommandBytes)
      return error_response(req, http::status::payload_too_large, "payload_too_large",
                            "this write makes a command of " + std::to_string(payload.size()) +
                                " bytes; the commands topic takes at most " +
                                std::to_string(stream::kMaxCommandBytes) + ": send a smaller body");
    auto d = ctx_.producer.produce_wait(ctx_.kafka.commands(), cmd.tenant_id, payload);
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
    if (!ctx_.processor.wait_applied(d.offset, ctx_.write_timeout)) {
      auto res = error_response(req, http::status::service_unavailable, "not_applied",
                                "the write is stored in Kafka but the processor has not applied it "
                                "yet; retry the read shortly");
      res.set(http::field::retry_after, "1");
      return res;
    }
    if (cmd.idempotency_key.empty()) return std::nullopt;
    auto record = ctx_.store.idempotency(cmd.tenant_id, cmd.idempotency_key);
    if (!record) return std::nullopt;
    if (record->value("command_id", "") != cmd.command_id)
      return recorded_answer(req, cmd.tenant_id, *record);
    if (record->value("outcome", "") != "applied")
      return outcome_answer(req, cmd.tenant_id, *record);
    return std::nullopt;
  }

  // ---- Idempotency-Key (docs/api.md#idempotency-key) ------------------------

  static std::string_view idempotency_header(const Request& req) {
    auto it = req.find("Idempotency-Key");
    return it == req.end() ? std::string_view() : std::string_view(it->value());
  }

  // What a key stands for: the SHA-256 of the method, the target and the body.
  static std::string request_hash(const Request& req) {
    std::string s(req.method_string());
    s.push_back(' ');
    s.append(req.target());
    s.push_back('\n');
    s.append(req.body());
    return model::sha256_hex(s);
  }

  // Called first by every write handler: 400 for a malformed Idempotency-Key;
  // the answer recorded for the key when a write with it was applied within
  // the window; nullopt to go on and write.
  std::optional<Response> replay(const Request& req, const model::ApiKey& key) {
    size_t n = req.count("Idempotency-Key");
    if (n == 0) return std::nullopt;
    auto v = idempotency_header(req);
    if (n > 1 || !model::valid_idempotency_key(v))
      return error_response(
          req, http::status::bad_request, "invalid_header",
          "Idempotency-Key: must be sent once, 1 to 255 visible ASCII characters (e.g. a UUID)",
          "Idempotency-Key");
    auto record = ctx_.store.idempotency(key.tenant_id, std::string(v));
    if (!record) return std::nullopt;
    // Past the window the processor forgets the key when this write's
    // command arrives (its issued_at is now): the write is a new one.
    auto issued = time::parse_rfc3339(record->value("issued_at", ""));
    if (!issued || *issued < time::now_ms() - model::kIdempotencyWindowMs) return std::nullopt;
    return recorded_answer(req, key.tenant_id, *record);
  }

  // The answer to a request whose Idempotency-Key a write already used.
  Response recorded_answer(const Request& req, const std::string& tenant, const json& record) {
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

  // The first write's outcome as its own request would have been answered,
  // with the resource as it is now.
  Response outcome_answer(const Request& req, const std::string& tenant, const json& record) {
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
      auto g = ctx_.store.goal(tenant, id);
      if (!g) return gone("conversion goal");
      return created(json_response(req, http::status::created, with_progress(*g, tenant, false)),
                     "/api/conversion-goals/");
    }
    if (t == type::growth_goal_created || t == type::growth_goal_updated) {
      auto g = ctx_.store.growth_goal(tenant, id);
      if (!g) return gone("goal");
      if (t == type::growth_goal_updated)
        return json_response(req, http::status::ok, goal_view(*g));
      return created(json_response(req, http::status::created, goal_view(*g)), "/api/goals/");
    }
    if (t == type::metric_defined) {
      auto m = ctx_.store.metric(tenant, id);
      if (!m) return gone("metric");
      return created(json_response(req, http::status::created, metric_view(*m)), "/api/metrics/");
    }
    if (t == type::conversion_goal_deleted || t == type::growth_goal_deleted)
      return json_response(req, http::status::ok, json{{"id", id}, {"deleted", true}});
    if (t == type::metric_deleted)
      return json_response(req, http::status::ok, json{{"name", id}, {"deleted", true}});
    if (t == type::timezone_set)
      return json_response(req, http::status::ok, json{{"timezone", ctx_.store.timezone(tenant)}});
    return error_response(req, http::status::internal_server_error, "internal",
                          "unknown recorded write " + t);
  }

  // Parses a request body without throwing (api::parse_body); a 400
  // invalid_json Response naming the place when it is refused.
  static std::variant<json, Response> parse_body(const Request& req) {
    auto body = api::parse_body(req.body());
    if (!body.ok())
      return error_response(req, http::status::bad_request, "invalid_json", body.error().message,
                            body.error().field);
    return std::move(body).value();
  }

  static std::optional<std::string> query_id(const Target& target, const char* name) {
    auto it = target.query.find(name);
    if (it == target.query.end() || it->second.empty()) return std::nullopt;
    return it->second;
  }

  // ---- growth goals (docs/api.md: /api/goals) ----------------------------

  Response goals_route(const Request& req, const Target& target) {
    auto method = req.method();
    if (target.path == "/api/goals") {
      if (reads(method))
        return with_key(req, model::kScopeRead, [&](auto& k) { return list_goals(req, k); });
      if (method == http::verb::post)
        return with_key(req, model::kScopeWrite, [&](auto& k) { return create_goal(req, k); });
      if (method == http::verb::patch)
        return with_key(req, model::kScopeWrite, [&](auto& k) { return update_goal(req, k); });
      if (method == http::verb::delete_)
        return with_key(req, model::kScopeWrite, [&](auto& k) {
          auto id = query_id(target, "id");
          if (!id)
            return error_response(req, http::status::unprocessable_entity, "validation_error",
                                  "id: is required (query parameter)", "id");
          return delete_goal(req, k, *id);
        });
      return not_allowed(req, "GET, HEAD, POST, PATCH, DELETE");
    }
    std::string id = target.path.substr(std::string("/api/goals/").size());
    if (id.find('/') != std::string::npos) return not_found(req);
    if (reads(method))
      return with_key(req, model::kScopeRead, [&](auto& k) -> Response {
        auto g = ctx_.store.growth_goal(k.tenant_id, id);
        if (!g) return goal_not_found(req, id);
        return json_response(req, http::status::ok, goal_view(*g));
      });
    if (method == http::verb::delete_)
      return with_key(req, model::kScopeWrite, [&](auto& k) { return delete_goal(req, k, id); });
    return not_allowed(req, "GET, HEAD, DELETE");
  }

  static Response goal_not_found(const Request& req, const std::string& id) {
    return error_response(req, http::status::not_found, "not_found", "goal " + id + " not found");
  }

  // The API form of a goal: the reference's members in its order, then ours.
  ojson goal_view(const model::GrowthGoal& g) {
    auto e = store::evaluate(ctx_.store, g, time::now_ms(), ctx_.thresholds);
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

  Response list_goals(const Request& req, const model::ApiKey& key) {
    ojson out = ojson::array();
    for (auto& g : ctx_.store.growth_goals(key.tenant_id)) out.push_back(goal_view(g));
    return json_response(req, http::status::ok, out);
  }

  Response create_goal(const Request& req, const model::ApiKey& key) {
    if (auto r = replay(req, key)) return *r;
    auto body = parse_body(req);
    if (auto* r = std::get_if<Response>(&body)) return *r;
    auto g = model::growth_goal_from_request(std::get<json>(body));
    if (!g.ok()) return from_error(req, g.error());
    g->tenant_id = key.tenant_id;
    g->id = "goal_" + model::random_hex(8);
    g->created_at_ms = time::now_ms();
    model::Command cmd{"", model::command_type::growth_goal_created, key.tenant_id, 0,
                       model::to_json(*g)};
    if (auto err = write_command(req, std::move(cmd))) return *err;
    auto stored = ctx_.store.growth_goal(key.tenant_id, g->id);
    if (!stored)
      return error_response(req, http::status::internal_server_error, "internal",
                            "goal vanished after write");
    auto res = json_response(req, http::status::created, goal_view(*stored));
    res.set(http::field::location, "/api/goals/" + g->id);
    return res;
  }

  Response update_goal(const Request& req, const model::ApiKey& key) {
    if (auto r = replay(req, key)) return *r;
    auto body = parse_body(req);
    if (auto* r = std::get_if<Response>(&body)) return *r;
    auto patch = model::goal_patch_from_request(std::get<json>(body));
    if (!patch.ok()) return from_error(req, patch.error());
    auto current = ctx_.store.growth_goal(key.tenant_id, patch->id);
    if (!current) return goal_not_found(req, patch->id);
    if (auto updated = model::apply(*current, *patch); !updated.ok())
      return from_error(req, updated.error());
    model::Command cmd{"", model::command_type::growth_goal_updated, key.tenant_id, 0,
                       model::to_json(*patch)};
    if (auto err = write_command(req, std::move(cmd))) return *err;
    auto stored = ctx_.store.growth_goal(key.tenant_id, patch->id);
    if (!stored) return goal_not_found(req, patch->id);  // deleted meanwhile
    return json_response(req, http::status::ok, goal_view(*stored));
  }

  Response delete_goal(const Request& req, const model::ApiKey& key, const std::string& id) {
    if (auto r = replay(req, key)) return *r;
    if (!ctx_.store.growth_goal(key.tenant_id, id)) return goal_not_found(req, id);
    model::Command cmd{
        "", model::command_type::growth_goal_deleted, key.tenant_id, 0, {{"id", id}}};
    if (auto err = write_command(req, std::move(cmd))) return *err;
    return json_response(req, http::status::ok, json{{"id", id}, {"deleted", true}});
  }

  // ---- metrics (goalstream's own: /api/metrics) -----------------------------

  Response metrics_route(const Request& req, const Target& target) {
    auto method = req.method();
    if (target.path == "/api/metrics") {
      if (reads(method))
        return with_key(req, model::kScopeRead, [&](auto& k) {
          ojson out = ojson::array();
          for (auto& m : ctx_.store.metrics(k.tenant_id)) out.push_back(metric_view(m));
          return json_response(req, http::status::ok, out);
        });
      if (method == http::verb::post)
        return with_key(req, model::kScopeWrite, [&](auto& k) { return create_metric(req, k); });
      if (method == http::verb::delete_)
        return with_key(req, model::kScopeWrite, [&](auto& k) {
          auto name = query_id(target, "name");
          if (!name)
            return error_response(req, http::status::unprocessable_entity, "validation_error",
                                  "name: is required (query parameter)", "name");
          return delete_metric(req, k, *name);
        });
      return not_allowed(req, "GET, HEAD, POST, DELETE");
    }
    std::string name = target.path.substr(std::string("/api/metrics/").size());
    if (name.find('/') != std::string::npos) return not_found(req);
    if (reads(method))
      return with_key(req, model::kScopeRead, [&](auto& k) -> Response {
        auto m = ctx_.store.metric(k.tenant_id, name);
        if (!m) return metric_not_found(req, name);
        return json_response(req, http::status::ok, metric_view(*m));
      });
    if (method == http::verb::delete_)
      return with_key(req, model::kScopeWrite,
                      [&](auto& k) { return delete_metric(req, k, name); });
    return not_allowed(req, "GET, HEAD, DELETE");
  }

  static Response metric_not_found(const Request& req, const std::string& name) {
    return error_response(req, http::status::not_found, "not_found",
                          "metric " + name + " not found");
  }

  // A metric with its value now. A `span` metric has no window of its own
  // (each goal gives it one), so it shows no value here.
  ojson metric_view(const model::Metric& m) {
    ojson j = ojson::parse(model::to_json(m).dump());
    if (m.window == "span") return j;
    auto tz = ctx_.store.timezone(m.tenant_id);
    projection::Interval period;
    int64_t now = time::now_ms();
    auto v = store::metric_value(ctx_.store, m.tenant_id, m.name, now, tz, now, 0, &period);
    j["current"] = number(v.value_or(0));
    j["period"] = {{"start", time::format_rfc3339(period.start_ms)},
                   {"end", time::format_rfc3339(period.end_ms)}};
    return j;
  }

  Response create_metric(const Request& req, const model::ApiKey& key) {
    if (auto r = replay(req, key)) return *r;
    auto body = parse_body(req);
    if (auto* r = std::get_if<Response>(&body)) return *r;
    auto m = model::metric_from_request(std::get<json>(body));
    if (!m.ok()) return from_error(req, m.error());
    if (auto w = projection::parse_window(m->window); !w.ok()) return from_error(req, w.error());
    if (m->aggregation != "ratio" && !ctx_.store.goal(key.tenant_id, m->conversion_goal))
      return error_response(
          req, http::status::unprocessable_entity, "validation_error",
          "conversionGoal: no conversion goal " + m->conversion_goal + " in this project",
          "conversionGoal");
    if (m->aggregation == "sum") {
      if (auto p = match::PropertyPath::parse(m->property); !p.ok())
        return from_error(req, p.error());
    }
    if (ctx_.store.metric(key.tenant_id, m->name))
      return error_response(req, http::status::conflict, "conflict",
                            "metric " + m->name + " already exists; DELETE /api/metrics/" +
                                m->name + " first to redefine it",
                            "name");
    m->tenant_id = key.tenant_id;
    m->created_at_ms = time::now_ms();
    model::Command cmd{"", model::command_type::metric_defined, key.tenant_id, 0,
                       model::to_json(*m)};
    if (auto err = write_command(req, std::move(cmd))) return *err;
    auto stored = ctx_.store.metric(key.tenant_id, m->name);
    if (!stored)
      return error_response(req, http::status::internal_server_error, "internal",
                            "metric vanished after write");
    auto res = json_response(req, http::status::created, metric_view(*stored));
    res.set(http::field::location, "/api/metrics/" + m->name);
    return res;
  }

  Response delete_metric(const Request& req, const model::ApiKey& key, const std::string& name) {
    if (auto r = replay(req, key)) return *r;
    if (!ctx_.store.metric(key.tenant_id, name)) return metric_not_found(req, name);
    model::Command cmd{"", model::command_type::metric_deleted, key.tenant_id, 0, {{"name", name}}};
    if (auto err = write_command(req, std::move(cmd))) return *err;
    return json_response(req, http::status::ok, json{{"name", name}, {"deleted", true}});
  }

  // ---- settings (the tenant's time zone) ------------------------------------

  Response get_settings(const Request& req, const model::ApiKey& key) {
    return json_response(req, http::status::ok,
                         json{{"timezone", ctx_.store.timezone(key.tenant_id)}});
  }

  Response put_settings(const Request& req, const model::ApiKey& key) {
    if (auto r = replay(req, key)) return *r;
    auto parsed = parse_body(req);
    if (auto* r = std::get_if<Response>(&parsed)) return *r;
    const json& body = std::get<json>(parsed);
    if (!body.is_object())
      return from_error(req, invalid("", "request body must be a JSON object"));
    for (auto it = body.begin(); it != body.end(); ++it)
      if (it.key() != "timezone")
        return from_error(req, invalid(it.key(), "unknown field; expected timezone"));
    auto tz = body.find("timezone");
    if (tz == body.end() || tz->is_null())
      return from_error(req, invalid("timezone", "is required"));
    if (!tz->is_string()) return from_error(req, invalid("timezone", "must be a string"));
    if (!projection::valid_time_zone(tz->get<std::string>()))
      return from_error(
          req, invalid("timezone", "must be an IANA time zone such as Europe/Berlin or UTC"));
    model::Command cmd{
        "", model::command_type::timezone_set, key.tenant_id, 0, {{"timezone", *tz}}};
    if (auto err = write_command(req, std::move(cmd))) return *err;
    return get_settings(req, key);
  }

  Response create(const Request& req, const model::ApiKey& key) {
    if (auto r = replay(req, key)) return *r;
    auto parsed = parse_body(req);
    if (auto* r = std::get_if<Response>(&parsed)) return *r;
    const json& body = std::get<json>(parsed);
    auto def = model::conversion_goal_from_request(body);
    if (!def.ok()) return from_error(req, def.error());
    def->tenant_id = key.tenant_id;
    def->id = "cg_" + model::random_hex(8);
    def->created_at_ms = time::now_ms();
    if (auto compiled = projection::compile(def.value()); !compiled.ok())
      return from_error(req, compiled.error());
    model::Command cmd{"", model::command_type::conversion_goal_defined, key.tenant_id, 0,
                       model::to_json(*def)};
    if (auto err = write_command(req, std::move(cmd))) return *err;
    auto stored = ctx_.store.goal(key.tenant_id, def->id);
    if (!stored)
      return error_response(req, http::status::internal_server_error, "internal",
                            "goal vanished after write");
    auto res =
        json_response(req, http::status::created, with_progress(*stored, key.tenant_id, false));
    res.set(http::field::location, "/api/conversion-goals/" + def->id);
    return res;
  }

  Response remove(const Request& req, const model::ApiKey& key, const std::string& id) {
    if (auto r = replay(req, key)) return *r;
    if (!ctx_.store.goal(key.tenant_id, id))
      return error_response(req, http::status::not_found, "not_found",
                            "conversion goal " + id + " not found");
    model::Command cmd{
        "", model::command_type::conversion_goal_deleted, key.tenant_id, 0, {{"id", id}}};
    if (auto err = write_command(req, std::move(cmd))) return *err;
    return json_response(req, http::status::ok, {{"id", id}, {"deleted", true}});
  }

  ApiContext& ctx_;
  std::atomic<int> key_waiters_{0};  // requests waiting in with_key for a key to appear
};

}  // namespace

Routes make_router(ApiContext& ctx) {
  auto router = std::make_shared<Router>(ctx);
  return {[router](const Request& req) { return router->now(req); },
          [router](const Request& req) { return (*router)(req); }};
}

}  // namespace gs::api
