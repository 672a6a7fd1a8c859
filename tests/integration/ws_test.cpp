// GET /api/ws/changes (docs/api.md#live-changes) against the real
// `goalstream serve` and a real broker, with a real WebSocket client
// (Boost.Beast): authentication on the upgrade, progress frames that are
// the GET bodies, status transitions as the changes topic has them, tenant
// isolation, and a clean close when serve stops.
#include <doctest/doctest.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cmath>
#include <optional>
#include <thread>

#include "harness.h"

using it::json;

namespace {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace websocket = beast::websocket;

// A WebSocket client of one connection. Reads are bounded: next() waits at
// most its timeout for a frame.
class WsClient {
 public:
  WsClient(int port, const std::string& target, std::map<std::string, std::string> headers = {}) {
    beast::get_lowest_layer(ws_).connect(
        net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)));
    ws_.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
      for (auto& [name, value] : headers) req.set(name, value);
    }));
    websocket::response_type res;
    beast::error_code ec;
    ws_.handshake(res, "127.0.0.1:" + std::to_string(port), target, ec);
    status = res.result_int();
    body = res.body();
    open = !ec;
  }
  ~WsClient() {
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().close(ec);
  }

  // The next frame, or nullopt when none came within `timeout_ms` or the
  // connection closed (then closed is set, and close_code).
  std::optional<json> next(int timeout_ms) {
    if (closed) return std::nullopt;
    if (!reading_) {
      reading_ = true;
      done_ = false;
      ws_.async_read(buffer_, [this](beast::error_code ec, size_t) {
        reading_ = false;
        done_ = true;
        ec_ = ec;
      });
    }
    ioc_.restart();
    ioc_.run_for(std::chrono::milliseconds(timeout_ms));
    if (!done_) return std::nullopt;
    if (ec_) {
      closed = true;
      close_code = ws_.reason().code;
      return std::nullopt;
    }
    auto text = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    auto j = json::parse(text, nullptr, false);
    REQUIRE_MESSAGE(!j.is_discarded(), text);
    frames.push_back(j);
    return j;
  }

  // Reads frames until one satisfies `pred` (returned) or `timeout_ms` passed.
  template <class F>
  std::optional<json> wait_for(F pred, int timeout_ms = 30000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      auto f = next(static_cast<int>(std::max<int64_t>(1, left.count())));
      if (f && pred(*f)) return f;
      if (closed) break;
    }
    return std::nullopt;
  }

  // A progress frame for `path` with data[member] == value.
  std::optional<json> progress(const std::string& path, const std::string& member,
                               const json& value, int timeout_ms = 30000) {
    return wait_for(
        [&](const json& f) {
          return f["type"] == "progress" && f["path"] == path && f["data"][member] == value;
        },
        timeout_ms);
  }

  bool open = false;
  int status = 0;  // of the handshake's HTTP answer
  std::string body;
  bool closed = false;
  uint16_t close_code = 0;
  std::vector<json> frames;  // every frame read

 private:
  net::io_context ioc_;
  websocket::stream<beast::tcp_stream> ws_{ioc_};
  beast::flat_buffer buffer_;
  bool reading_ = false, done_ = false;
  beast::error_code ec_;
};

struct Deployment : it::Deployment {
  Deployment() : it::Deployment("ws", "acme") {}
  json post_ok(const std::string& target, const json& body, const std::string& as = "") {
    auto r = serve.post(target, as.empty() ? key : as, body.dump());
    REQUIRE_MESSAGE(r.status == 201, r.body);
    return r.json_body();
  }
  json get_ok(const std::string& target, const std::string& as = "") {
    auto r = serve.get(target, as.empty() ? key : as);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return r.json_body();
  }
  std::string signup_goal(const std::string& as = "") {
    return post_ok("/api/conversion-goals",
                   {{"name", "Trial Signup"},
                    {"eventType", "form_submit"},
                    {"urlPattern", "/signup/complete"}},
                   as)["id"];
  }
  void signups(const std::string& tenant, int n, const std::string& id_prefix,
               const std::string& when = "2025-03-01T12:00:00Z") {
    std::vector<std::pair<std::string, std::string>> msgs;
    for (int i = 0; i < n; ++i)
      msgs.push_back({tenant + "/u", it::event(id_prefix + std::to_string(i), tenant, "form_submit",
                                               when, "https://example.com/signup/complete")});
    it::produce(events(), msgs);
  }
  std::unique_ptr<WsClient> connect(const std::string& as = "") {
    auto c = std::make_unique<WsClient>(
        serve.port(), "/api/ws/changes",
        std::map<std::string, std::string>{{"x-api-key", as.empty() ? key : as}});
    REQUIRE_MESSAGE(c->open, c->status, " ", c->body);
    return c;
  }
};

std::string utc_date(int64_t days_from_today) {
  using namespace std::chrono;
  year_month_day ymd{floor<days>(system_clock::now()) + days(days_from_today)};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", int(ymd.year()), unsigned(ymd.month()),
                unsigned(ymd.day()));
  return buf;
}

std::string utc_now_minus(int seconds) {
  using namespace std::chrono;
  auto t = floor<std::chrono::seconds>(system_clock::now()) - std::chrono::seconds(seconds);
  auto d = floor<days>(t);
  year_month_day ymd{d};
  hh_mm_ss hms{t - d};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", int(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()), int(hms.hours().count()),
                int(hms.minutes().count()), int(hms.seconds().count()));
  return buf;
}

}  // namespace

TEST_CASE(
    "GET /api/ws/changes: 401 without a key or with an unknown one, 403 without goals:read, 426 "
    "without Upgrade; x-api-key, Authorization: Bearer and ?token= open it") {
  Deployment d;
  int port = d.serve.port();
  {
    WsClient none(port, "/api/ws/changes");
    CHECK_FALSE(none.open);
    CHECK(none.status == 401);
    auto body = json::parse(none.body, nullptr, false);
    CHECK(body["error"] == "unauthorized");
    CHECK(body["message"] == "missing API key: send x-api-key, Authorization: Bearer or ?token=");
  }
  {
    WsClient unknown(port, "/api/ws/changes?token=gs_not_a_key");
    CHECK_FALSE(unknown.open);
    CHECK(unknown.status == 401);
    CHECK(json::parse(unknown.body, nullptr, false)["message"] == "invalid API key");
  }
  auto writer = it::create_key(d.prefix, "acme", "goals:write");
  {
    WsClient forbidden(port, "/api/ws/changes", {{"x-api-key", writer}});
    CHECK_FALSE(forbidden.open);
    CHECK(forbidden.status == 403);
    auto body = json::parse(forbidden.body, nullptr, false);
    CHECK(body["error"] == "forbidden");
    CHECK(body["message"] == "this API key lacks the goals:read scope");
  }
  auto plain = it::http(port, "GET", "/api/ws/changes", "", {{"x-api-key", d.key}});
  CHECK(plain.status == 426);
  CHECK(plain.json_body()["error"] == "upgrade_required");
  CHECK(plain.headers["Upgrade"] == "websocket");
  // Without a key, a plain GET is refused first for the key.
  CHECK(it::http(port, "GET", "/api/ws/changes").status == 401);

  {
    WsClient by_header(port, "/api/ws/changes", {{"x-api-key", d.key}});
    WsClient by_bearer(port, "/api/ws/changes", {{"Authorization", "Bearer " + d.key}});
    WsClient by_query(port, "/api/ws/changes?token=" + d.key);
    CHECK(by_header.open);
    CHECK(by_bearer.status == 101);
    CHECK(by_bearer.open);
    CHECK(by_query.open);
    CHECK(it::eventually([&] { return d.serve.metric("goalstream_ws_sessions") == 3; }, 5000));
  }
  // The clients went away: their sessions end.
  CHECK(it::eventually([&] { return d.serve.metric("goalstream_ws_sessions") == 0; }, 10000));
}

TEST_CASE(
    "a matching event sends a progress frame holding the conversion goal's GET body; another "
    "tenant's socket gets none of it") {
  Deployment d;
  auto beta = it::create_key(d.prefix, "beta");
  auto cg = d.signup_goal();
  auto cg_beta = d.signup_goal(beta);
  // Each new goal's backfill ends with a batch (and a frame for its
  // tenant): let those pass before the sockets open.
  for (auto [id, as] : {std::pair{cg, d.key}, std::pair{cg_beta, beta}})
    REQUIRE(it::eventually([&] {
      return d.get_ok("/api/conversion-goals/" + id, as)["backfill"]["status"] == "complete";
    }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto acme = d.connect();
  auto other = d.connect(beta);

  d.signups("acme", 1, "a");
  auto f = acme->progress("/api/conversion-goals/" + cg, "count", 1);
  REQUIRE_MESSAGE(f, json(acme->frames).dump());
  // The frame's data is what GET answers for the goal (the same view).
  CHECK((*f)["data"] == d.get_ok("/api/conversion-goals/" + cg));
  CHECK((*f)["data"]["series"] == json::parse(R"([{"count":1,"date":"2025-03-01","value":0.0}])"));

  d.signups("acme", 2, "b");
  CHECK(acme->progress("/api/conversion-goals/" + cg, "count", 3));

  // Nothing of acme's reached beta's socket...
  CHECK_FALSE(other->next(1500));
  CHECK_MESSAGE(other->frames.empty(), json(other->frames).dump());
  CHECK_FALSE(other->closed);
  // ...which is live: beta's own event reaches it, and not acme's socket.
  d.signups("beta", 1, "c");
  CHECK(other->progress("/api/conversion-goals/" + cg_beta, "count", 1));
  CHECK_FALSE(acme->wait_for(
      [&](const json& f) { return f.dump().find(cg_beta) != std::string::npos; }, 1500));
  for (auto& frame : other->frames) CHECK(frame.dump().find(cg) == std::string::npos);
}

TEST_CASE(
    "a growth goal's status transition arrives as a status_changed frame with the changes "
    "topic's fields, and its progress as the goal's GET body") {
  Deployment d;
  auto cg = d.signup_goal();
  d.post_ok("/api/metrics",
            {{"name", "signups"}, {"aggregation", "count"}, {"conversionGoal", cg}});
  // A 20-day goal, 5 days in: the expectation is about a quarter of the target.
  auto goal = d.post_ok(
      "/api/goals",
      {{"metric", "signups"}, {"target", 20}, {"start", utc_date(-5)}, {"deadline", utc_date(14)}});
  std::string id = goal["id"];
  REQUIRE(goal["status"] == "behind");
  // The changes publisher records the new goal's first status (no transition).
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  auto ws = d.connect();

  int first = static_cast<int>(std::ceil(goal["expected"].get<double>())) + 1;
  std::string when = utc_now_minus(60);
  d.signups("acme", first, "a", when);
  auto change = ws->wait_for([](const json& f) { return f["type"] == "status_changed"; });
  REQUIRE_MESSAGE(change, json(ws->frames).dump());
  CHECK((*change)["goal_id"] == id);
  CHECK((*change)["tenant_id"] == "acme");
  CHECK((*change)["metric"] == "signups");
  CHECK((*change)["before"] == "behind");
  CHECK((*change)["after"] == "on_track");
  CHECK((*change)["cause"] == "events");
  CHECK((*change)["event_time"] == when);
  CHECK((*change)["current"] == first);
  CHECK((*change)["target"] == 20);
  // The same message as on the changes topic, but for its type.
  auto published = it::read_topic(d.changes(), 1, 20000);
  REQUIRE(published.size() == 1);
  auto message = json::parse(published[0].value);
  CHECK(message["type"] == "goal.status_changed");
  message["type"] = "status_changed";
  CHECK(*change == message);

  auto progress = ws->progress("/api/goals/" + id, "current", first);
  REQUIRE_MESSAGE(progress, json(ws->frames).dump());
  CHECK((*progress)["data"]["status"] == "on_track");
  auto got = d.get_ok("/api/goals/" + id);
  for (auto member : {"id", "metric", "target", "current", "deadline", "status", "createdAt",
                      "start", "manualStatus", "metricDefined", "period"})
    CHECK_MESSAGE((*progress)["data"][member] == got[member], member);
  CHECK((*progress)["data"].size() == got.size());
}

TEST_CASE(
    "SIGTERM with a WebSocket open: the client is sent close 1001 and serve exits 0 promptly") {
  Deployment d;
  auto ws = d.connect();
  auto t0 = std::chrono::steady_clock::now();
  CHECK(d.serve.terminate() == 0);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10));
  CHECK_FALSE(ws->next(5000));
  CHECK(ws->closed);
  CHECK(ws->close_code == 1001);
}
