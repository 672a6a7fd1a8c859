#include "api/routes.h"

#include <map>

#include <nlohmann/json.hpp>

#include "base/json_depth.h"
#include "base/time.h"
#include "model/conversion_goal.h"
#include "projection/projection.h"

namespace gs::api {
namespace {

using json = nlohmann::json;

Response json_response(const Request& req, http::status status, const json& body) {
  Response res{status, req.version()};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::server, "goalstream");
  res.body() = body.dump();
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
                            e.field.empty() || e.message.starts_with(e.field + ":") ? e.message
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

Target parse_target(std::string_view t) {
  Target out;
  auto q = t.find('?');
  out.path = url_decode(t.substr(0, q));
  if (out.path.size() > 1 && out.path.back() == '/') out.path.pop_back();
  if (q == std::string_view::npos) return out;
  std::string_view rest = t.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    auto part = rest.substr(0, amp);
    auto eq = part.find('=');
    if (eq == std::string_view::npos)
      out.query[url_decode(part)] = "";
    else
      out.query[url_decode(part.substr(0, eq))] = url_decode(part.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return out;
}

class Router {
 public:
  explicit Router(ApiContext& ctx) : ctx_(ctx) {}

  Response operator()(const Request& req) {
    ctx_.metrics.http_requests++;
    auto target = parse_target(req.target());
    const auto& path = target.path;
    auto method = req.method();
    if (path == "/healthz") return json_response(req, http::status::ok, {{"status", "ok"}});
    if (path == "/readyz") return readyz(req);
    if (path == "/metrics") {
      Response res{http::status::ok, req.version()};
      res.set(http::field::content_type, "text/plain; version=0.0.4");
      res.body() = ctx_.metrics.prometheus();
      res.prepare_payload();
      return res;
    }
    static const std::string base = "/api/conversion-goals";
    if (path == base) {
      if (method == http::verb::get) return with_key(req, model::kScopeRead, [&](auto& k) { return list(req, k); });
      if (method == http::verb::post) return with_key(req, model::kScopeWrite, [&](auto& k) { return create(req, k); });
      if (method == http::verb::delete_)
        return with_key(req, model::kScopeWrite, [&](auto& k) {
          auto it = target.query.find("id");
          if (it == target.query.end() || it->second.empty())
            return error_response(req, http::status::unprocessable_entity, "validation_error",
                                  "id: is required (query parameter)", "id");
          return remove(req, k, it->second);
        });
      return not_allowed(req, "GET, POST, DELETE");
    }
    if (path.starts_with(base + "/")) {
      std::string id = path.substr(base.size() + 1);
      if (id.find('/') != std::string::npos) return not_found(req);
      if (method == http::verb::get) return with_key(req, model::kScopeRead, [&](auto& k) { return get(req, k, id); });
      if (method == http::verb::delete_)
        return with_key(req, model::kScopeWrite, [&](auto& k) { return remove(req, k, id); });
      return not_allowed(req, "GET, DELETE");
    }
    return not_found(req);
  }

 private:
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
    return json_response(req, body["ready"].get<bool>() ? http::status::ok : http::status::service_unavailable, body);
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
    if (!key && ctx_.processor.wait_commands_caught_up(std::chrono::milliseconds(2000)))
      key = ctx_.store.find_key(hash);  // a key issued a moment ago
    if (!key) return error_response(req, http::status::unauthorized, "unauthorized", "invalid API key");
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
    for (auto& g : ctx_.store.goals(key.tenant_id)) out.push_back(with_progress(g, key.tenant_id, false));
    return json_response(req, http::status::ok, out);
  }

  Response get(const Request& req, const model::ApiKey& key, const std::string& id) {
    auto g = ctx_.store.goal(key.tenant_id, id);
    if (!g) return error_response(req, http::status::not_found, "not_found", "conversion goal " + id + " not found");
    return json_response(req, http::status::ok, with_progress(*g, key.tenant_id, true));
  }

  // Produces a command and waits until the processor applied it.
  std::optional<Response> write_command(const Request& req, model::Command cmd) {
    cmd.command_id = "cmd_" + model::random_hex(12);
    cmd.issued_at_ms = time::now_ms();
    auto r = ctx_.producer.produce_sync(ctx_.kafka.commands(), cmd.tenant_id, model::serialize(cmd));
    if (!r.ok()) return from_error(req, r.error());
    if (!ctx_.processor.wait_applied(r->second, ctx_.write_timeout)) {
      auto res = error_response(req, http::status::service_unavailable, "not_applied",
                                "the write is stored in Kafka but the processor has not applied it yet; retry the read shortly");
      res.set(http::field::retry_after, "1");
      return res;
    }
    return std::nullopt;
  }

  Response create(const Request& req, const model::ApiKey& key) {
    if (!json_depth_within(req.body()))
      return error_response(req, http::status::bad_request, "invalid_json",
                            "request body nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    auto body = json::parse(req.body(), nullptr, false);
    if (body.is_discarded())
      return error_response(req, http::status::bad_request, "invalid_json", "request body is not valid JSON");
    auto def = model::conversion_goal_from_request(body);
    if (!def.ok()) return from_error(req, def.error());
    def->tenant_id = key.tenant_id;
    def->id = "cg_" + model::random_hex(8);
    def->created_at_ms = time::now_ms();
    if (auto compiled = projection::compile(def.value()); !compiled.ok())
      return from_error(req, compiled.error());
    model::Command cmd{"", model::command_type::conversion_goal_defined, key.tenant_id, 0, model::to_json(*def)};
    if (auto err = write_command(req, std::move(cmd))) return *err;
    auto stored = ctx_.store.goal(key.tenant_id, def->id);
    if (!stored) return error_response(req, http::status::internal_server_error, "internal", "goal vanished after write");
    auto res = json_response(req, http::status::created, with_progress(*stored, key.tenant_id, false));
    res.set(http::field::location, "/api/conversion-goals/" + def->id);
    return res;
  }

  Response remove(const Request& req, const model::ApiKey& key, const std::string& id) {
    if (!ctx_.store.goal(key.tenant_id, id))
      return error_response(req, http::status::not_found, "not_found", "conversion goal " + id + " not found");
    model::Command cmd{"", model::command_type::conversion_goal_deleted, key.tenant_id, 0, {{"id", id}}};
    if (auto err = write_command(req, std::move(cmd))) return *err;
    return json_response(req, http::status::ok, {{"id", id}, {"deleted", true}});
  }

  ApiContext& ctx_;
};

}  // namespace

Handler make_router(ApiContext& ctx) {
  auto router = std::make_shared<Router>(ctx);
  return [router](const Request& req) { return (*router)(req); };
}

}  // namespace gs::api
