// GET /api/ws/changes (docs/api.md#live-changes) against the real
// `goalstream serve` and a real broker, with a real WebSocket client
// (Boost.Beast): authentication on the upgrade, progress frames that are
// the GET bodies, status transitions as the changes topic has them, tenant
// isolation, a client too slow to take its frames closed with 1008, and a
// clean close when serve stops.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <thread>

#include "harness.h"
#include "ws_client.h"

using it::json;

namespace {

using it::WsClient;

struct Deployment : it::Deployment {
  Deployment() : it::Deployment("ws", "acme") {}
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
  auto goal = d.post_ok("/api/goals", {{"metric", "signups"},
                                       {"target", 20},
                                       {"start", it::utc_date(-5)},
                                       {"deadline", it::utc_date(14)}});
  std::string id = goal["id"];
  REQUIRE(goal["status"] == "behind");
  // The changes publisher records the new goal's first status (no transition).
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  auto ws = d.connect();

  int first = static_cast<int>(std::ceil(goal["expected"].get<double>())) + 1;
  std::string when = it::utc_now_minus(60);
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
    "a client that stops reading is sent close 1008 \"too slow\" once more than 256 frames and "
    "1 MiB wait for it, after a contiguous run of frames, and counted in "
    "goalstream_ws_sessions_dropped_total; a client that reads through the same burst stays "
    "open") {
  Deployment d;
  // kGoals conversion goals counting the same events, each with a
  // kDays-day series: every batch of matching events moves all of them, and
  // each of their frames (the goal's GET body, series included) is about
  // 4 KiB, so that 256 frames are about 1 MiB: both bounds are passed
  // together.
  constexpr int kGoals = 40, kDays = 90;
  const std::string url = "https://example.com/signup/complete";
  for (int i = 0; i < kGoals; ++i) d.signup_goal();
  std::vector<std::pair<std::string, std::string>> history;
  for (int i = 0; i < kDays; ++i)
    history.push_back({"acme/u", it::event("h" + std::to_string(i), "acme", "form_submit",
                                           it::utc_date(-1 - i) + "T12:00:00Z", url)});
  it::produce(d.events(), history);
  REQUIRE(it::eventually(
      [&] {
        auto goals = d.get_ok("/api/conversion-goals");
        return goals.size() == kGoals && std::all_of(goals.begin(), goals.end(), [](auto& g) {
                 return g["count"] == kDays && g["backfill"]["status"] == "complete";
               });
      },
      30000));

  const std::string dropped = "goalstream_ws_sessions_dropped_total";
  const double before = d.serve.metric(dropped);
  auto reader = d.connect();
  WsClient slow(d.serve.port(), "/api/ws/changes", {{"x-api-key", d.key}}, true);
  REQUIRE_MESSAGE(slow.open, slow.status, " ", slow.body);
  REQUIRE(it::eventually([&] { return d.serve.metric("goalstream_ws_sessions") == 2; }, 5000));

  // One matching event a round: the hub sends a round at most every 100 ms,
  // kGoals frames each, to both clients. The reader reads meanwhile; the
  // slow client does not, until it is dropped.
  auto t0 = std::chrono::steady_clock::now();
  int rounds = 0;
  bool was_dropped = false;
  while (!was_dropped && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20)) {
    it::produce(d.events(),
                {{"acme/u", it::event("r" + std::to_string(rounds++), "acme", "form_submit",
                                      it::utc_date(-1) + "T13:00:00Z", url)}});
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
    for (auto now = std::chrono::steady_clock::now(); now < until && !reader->closed;
         now = std::chrono::steady_clock::now())
      reader->next(static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count() + 1));
    was_dropped = d.serve.metric(dropped) > before;
  }
  auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  INFO(rounds, " rounds, ", took.count(), " ms, ", reader->frames.size(),
       " frames read by the reader by then");
  REQUIRE_MESSAGE(was_dropped, "no drop after ", rounds, " rounds (", took.count(), " ms)");
  CHECK(d.serve.metric(dropped) == before + 1);

  // The slow client now reads: what the kernels held, the frame being
  // written, then the close (sent within the session's 5 s grace).
  CHECK_FALSE(slow.wait_for([](const json&) { return false; }, 10000));
  CHECK(slow.closed);
  CHECK(slow.close_code == 1008);
  CHECK(slow.close_reason == "too slow");
  REQUIRE_FALSE(slow.frames.empty());
  // It got a contiguous run of the frames the reader got, none missing
  // within it; behind that run, the reader got at least the 256 frames and
  // the 1 MiB that were waiting for the slow client when it was dropped
  // (the frame being written counted among them).
  auto start = std::find(reader->frames.begin(), reader->frames.end(), slow.frames.front());
  REQUIRE(start != reader->frames.end());
  size_t first = start - reader->frames.begin(), got = slow.frames.size();
  auto all_behind = [&] { return reader->frames.size() >= first + got + 255; };
  if (!all_behind()) reader->wait_for([&](const json&) { return all_behind(); }, 10000);
  REQUIRE(reader->frames.size() >= first + got);
  for (size_t i = 0; i < got; ++i)
    REQUIRE_MESSAGE(reader->frames[first + i] == slow.frames[i], "frame ", i, " of ", got);
  size_t behind = reader->frames.size() - first - got + 1;
  size_t behind_bytes = 0;
  for (size_t i = first + got - 1; i < reader->sizes.size(); ++i) behind_bytes += reader->sizes[i];
  CHECK(behind >= 256);
  CHECK(behind_bytes >= (size_t{1} << 20));

  // The reader was not dropped, and still gets frames; the slow client's
  // session ended.
  CHECK_FALSE(reader->closed);
  it::produce(
      d.events(),
      {{"acme/u", it::event("last", "acme", "form_submit", it::utc_date(-1) + "T14:00:00Z", url)}});
  CHECK(reader->wait_for([&](const json& f) { return f["data"]["count"] == kDays + rounds + 1; },
                         10000));
  CHECK(it::eventually([&] { return d.serve.metric("goalstream_ws_sessions") == 1; }, 5000));
  CHECK(d.serve.metric(dropped) == before + 1);
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

TEST_CASE(
    "an agent goal's counted verdicts arrive as a progress frame with its GET "
    "/v1/goals/{id}/progress data; its target's transition as a status_changed frame") {
  Deployment d;
  auto created = it::http(d.serve.port(), "POST", "/v1/goals",
                          json{{"agent_id", "agent_abc123"},
                               {"title", "Book"},
                               {"description", "A meeting is booked."},
                               {"targets",
                                {{{"period", "week"},
                                  {"target_type", "count"},
                                  {"target_count", 2},
                                  {"is_primary", true}}}}}
                              .dump(),
                          {{"x-api-key", d.key}, {"Content-Type", "application/json"}});
  REQUIRE_MESSAGE(created.status == 201, created.body);
  std::string id = created.json_body()["data"]["id"];
  std::string path = "/v1/goals/" + id + "/progress";
  // The changes publisher records the new target's first status (no transition).
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  auto ws = d.connect();

  std::vector<std::pair<std::string, std::string>> msgs;
  for (int i = 0; i < 2; ++i)
    msgs.push_back({"acme/c", json{{"event_id", "call" + std::to_string(i)},
                                   {"tenant_id", "acme"},
                                   {"type", "call_outcome"},
                                   {"timestamp", it::utc_now_minus(1)},
                                   {"agent_id", "agent_abc123"},
                                   {"call_id", "call" + std::to_string(i)},
                                   {"channel_id", "web"},
                                   {"goal_results", {{{"goal_id", id}, {"achieved", true}}}}}
                                  .dump()});
  it::produce(d.events(), msgs);
  auto frame = ws->wait_for([&](const json& f) {
    return f["type"] == "progress" && f["path"] == path &&
           f["data"]["targets"][0]["successes"] == 2;
  });
  REQUIRE_MESSAGE(frame, json(ws->frames).dump());
  auto target = (*frame)["data"]["targets"][0];
  CHECK(target["status"] == "completed");
  CHECK(target["met"] == true);
  CHECK(target["channels"] ==
        json::parse(R"([{"channel_id":"web","successes":2,"failures":0,"unknown":0,)"
                    R"("not_applicable":0,"sample_size":2,"rate":100}])"));
  // The frame's data is what GET answers (but for as_of, the time of reading).
  auto got = it::http(d.serve.port(), "GET", path, "", {{"x-api-key", d.key}});
  REQUIRE(got.status == 200);
  auto data = got.json_body()["data"];
  data.erase("as_of");
  auto live = (*frame)["data"];
  live.erase("as_of");
  CHECK(live == data);

  // It may have been read while waiting for the progress frame.
  std::optional<json> change;
  for (const auto& f : ws->frames)
    if (f["type"] == "status_changed") change = f;
  if (!change) change = ws->wait_for([](const json& f) { return f["type"] == "status_changed"; });
  REQUIRE_MESSAGE(change, json(ws->frames).dump());
  CHECK((*change)["goal_id"] == id);
  CHECK((*change)["after"] == "completed");
  CHECK((*change)["successes"] == 2);
}
