#include "http/routes.h"

#include <atomic>
#include <mutex>
#include <unordered_map>
#include <variant>

#include "base/time.h"
#include "http/auth.h"
#include "http/read_cache.h"
#include "http/respond.h"
#include "http/route.h"
#include "http/service.h"
#include "http/target.h"

namespace gs::api {
namespace {

// How long a request with an unknown key may wait for the processor to
// apply the commands topic up to its end (a key issued a moment ago), and how
// many such requests may wait at once; the others are answered 401 at once.
// See docs/api.md#authentication.
constexpr std::chrono::milliseconds kUnknownKeyWait{500};
constexpr int kMaxUnknownKeyWaiters = 2;
// The read cache's bound, and how many known keys are kept in memory (keys
// are never revoked, so a key found once stays valid).
constexpr size_t kReadCacheBytes = 64u << 20;
constexpr size_t kMaxKnownKeys = 100'000;

// Dispatches requests through the route tables: matches the route, checks
// its scope, calls its handler. Built once; thread-safe.
class Dispatcher {
 public:
  explicit Dispatcher(ApiContext& ctx) : ctx_(ctx), service_(ctx) {
    add_ops_routes(io_, ctx);
    for (const RouteFamily& family : ctx.families) family.add_routes(table_, service_);
    add_settings_routes(table_, service_);
    if (ctx.hub) add_ws_routes(table_, service_);
  }

  // On the I/O thread: the routes of `io_`, matched on the raw path, and a
  // GET whose answer can be reused (reused()). nullopt for every other
  // request.
  std::optional<Response> now(const Request& req) {
    if (auto res = ops(req)) return res;
    return reused(req);
  }

  std::optional<Response> ops(const Request& req) {
    const Route* route = io_.match_literal(gs::http::raw_path(req.target()));
    if (!route) return std::nullopt;
    ctx_.telemetry.http_requests++;
    static const gs::http::Target kNoTarget;
    static const gs::http::Params kNoParams;
    static const model::ApiKey kNoKey;
    return route->handler(Call{req, kNoTarget, kNoParams, kNoKey, *route->envelope});
  }

  // The envelope of the route a header names; the reference envelope for a
  // target that does not parse or a path no route has.
  const gs::http::Envelope& envelope_of(const http::request_header<>& header) const {
    auto target = gs::http::parse_target(header.target());
    if (!target.ok()) return gs::http::reference_envelope();
    auto match = table_.match(header.method(), target->path);
    return match.route ? *match.route->envelope : gs::http::reference_envelope();
  }

  Response operator()(const Request& req) { return std::get<Response>(dispatch(req, false)); }

  // A WebSocket upgrade request: matched and authorized like any request;
  // a WebSocket route joins it, any other route answers it as a request.
  Upgrade upgrade(const Request& req) {
    auto answer = dispatch(req, true);
    if (auto* join = std::get_if<UpgradeJoin>(&answer)) return {std::move(*join), {}};
    return {nullptr, std::move(std::get<Response>(answer))};
  }

 private:
  // The request's time to the second (Call::now_ms).
  static int64_t request_second_ms() { return time::now_ms() / 1000 * 1000; }

  // What an answer of `route` to `req` for `tenant` at `now_ms` is kept under.
  static std::string cache_key(const Request& req, const Route& route, const std::string& tenant,
                               int64_t now_ms) {
    std::string k = tenant;
    k.push_back('\0');
    k.append(req.target());
    if (route.reuse == Reuse::within_second) {
      k.push_back('\0');
      k.append(std::to_string(now_ms));
    }
    return k;
  }

  // A kept answer to a GET of a route with a Reuse, by a key known already,
  // whose tenant's data did not change since (and, for within_second, in
  // the same second): answered on the I/O thread without reading the store.
  // Anything else (an unknown key, a refusal, no answer kept) goes to a
  // reader thread as usual.
  std::optional<Response> reused(const Request& req) {
    if (!ctx_.versions || (req.method() != http::verb::get && req.method() != http::verb::head))
      return std::nullopt;
    auto target = gs::http::parse_target(req.target());
    if (!target.ok()) return std::nullopt;
    auto match = table_.match(req.method(), target->path);
    if (!match.route || !match.allow.empty() || match.route->reuse == Reuse::never ||
        match.route->scope.empty())
      return std::nullopt;
    auto key = authorize(req, match.route->scope,
                         [this](const std::string& token) { return known_key(token); });
    if (!key.ok()) return std::nullopt;
    auto hit = cache_.find(cache_key(req, *match.route, key->tenant_id, request_second_ms()),
                           ctx_.versions->of(key->tenant_id));
    if (!hit) return std::nullopt;
    ctx_.telemetry.http_requests++;
    ctx_.telemetry.http_reads_reused++;
    hit->version(req.version());
    return hit;
  }

  // The route's answer, kept for reuse when the route allows it.
  Response answer(const Route& route, const Call& call) {
    if (route.reuse == Reuse::never || !ctx_.versions || route.scope.empty())
      return route.handler(call);
    // The version before the reads: a batch landing meanwhile leaves the
    // answer under an older version, never a newer one.
    uint64_t version = ctx_.versions->of(call.key.tenant_id);
    bool reused = false;
    auto res = cache_.share(
        cache_key(call.req, route, call.key.tenant_id, call.now_ms), version,
        [&] { return route.handler(call); }, &reused);
    if (reused) ctx_.telemetry.http_reads_reused++;
    return res;
  }

  std::variant<Response, UpgradeJoin> dispatch(const Request& req, bool upgrade) {
    if (auto res = ops(req)) return std::move(*res);
    ctx_.telemetry.http_requests++;
    auto target = gs::http::parse_target(req.target());
    if (!target.ok()) return bad_request(req, target.error());
    auto match = table_.match(req.method(), target->path);
    if (!match.route) return no_such_resource(req);
    const Route& route = *match.route;
    if (!match.allow.empty()) return method_not_allowed(req, match.allow, *route.envelope);
    model::ApiKey key;
    if (!route.scope.empty()) {
      std::optional<std::string_view> query_token;
      if (route.websocket) {
        auto it = target->query.find("token");
        query_token = it == target->query.end() ? std::string_view() : it->second;
      }
      auto authorized = authorize(
          req, route.scope, [this](const std::string& token) { return find_key(token); },
          query_token);
      if (!authorized.ok()) return from_error(req, authorized.error(), *route.envelope);
      key = std::move(*authorized);
    }
    Call call{req, *target, match.params, key, *route.envelope, request_second_ms()};
    if (upgrade && route.websocket) return route.websocket(call);
    return answer(route, call);
  }

  // A key found before (find_key), without reading the store.
  std::optional<model::ApiKey> known_key(const std::string& token) {
    auto hash = model::sha256_hex(token);
    std::lock_guard lock(keys_mu_);
    auto it = known_keys_.find(hash);
    if (it == known_keys_.end()) return std::nullopt;
    return it->second;
  }

  // An unreadable key record reads as no key (Store::unreadable logged and counted it).
  std::optional<model::ApiKey> find_key(const std::string& token) {
    auto hash = model::sha256_hex(token);
    auto lookup = [&] { return state::find_key(ctx_.store, hash).value_or(std::nullopt); };
    auto key = lookup();
    if (!key) {
      // Perhaps a key issued a moment ago: wait, bounded in all (the broker
      // question included, whatever the broker does), until the processor
      // applied the commands topic up to its end, then look again. When
      // enough requests wait already, this one is answered at once.
      if (key_waiters_.fetch_add(1) < kMaxUnknownKeyWaiters) {
        ctx_.commands.wait_caught_up(kUnknownKeyWait);
        key = lookup();
      }
      key_waiters_--;
    }
    if (key) {
      std::lock_guard lock(keys_mu_);
      if (known_keys_.size() >= kMaxKnownKeys) known_keys_.clear();
      known_keys_.emplace(hash, *key);
    }
    return key;
  }

  ApiContext& ctx_;
  Service service_;
  RouteTable io_;                    // answered on the I/O threads
  RouteTable table_;                 // answered on the workers
  std::atomic<int> key_waiters_{0};  // requests waiting in find_key for a key to appear
  ReadCache cache_{kReadCacheBytes};
  std::mutex keys_mu_;                                         // guards known_keys_
  std::unordered_map<std::string, model::ApiKey> known_keys_;  // SHA-256 hex -> key
};

}  // namespace

Routes make_router(ApiContext& ctx) {
  auto dispatcher = std::make_shared<Dispatcher>(ctx);
  Routes routes{[dispatcher](const Request& req) { return dispatcher->now(req); },
                [dispatcher](const Request& req) { return (*dispatcher)(req); },
                [dispatcher](const http::request_header<>& header) -> const gs::http::Envelope& {
                  return dispatcher->envelope_of(header);
                }};
  if (ctx.hub)
    routes.upgrade = [dispatcher](const Request& req) { return dispatcher->upgrade(req); };
  return routes;
}

}  // namespace gs::api
