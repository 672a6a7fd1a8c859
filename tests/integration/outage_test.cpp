// Integration tests of the Kafka write and deadletter paths under broker
// outages and at the size limits (the deadletter, ghost writes, the largest writes).
// Every test here runs against a broker of this file's own (tools/kafka on
// free ports, started once, stopped at exit), so stopping it disturbs no
// other test; the real `goalstream` binary and real HTTP requests as usual.
#include <doctest/doctest.h>

#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <thread>

#include "harness.h"

using it::json;
using Clock = std::chrono::steady_clock;

namespace {

// This file's broker; the harness's helpers reach it via GOALSTREAM_BROKERS.
it::OwnBroker& broker() {
  static it::OwnBroker b;  // stopped and removed at exit
  static bool started = [] {
    b.start();
    setenv("GOALSTREAM_BROKERS", b.address().c_str(), 1);
    return true;
  }();
  (void)started;
  return b;
}

struct Deployment {
  // The broker first: it must outlive whatever the harness does at exit.
  std::string prefix = (broker(), it::unique_prefix("o"));
  std::string data = it::temp_dir("outage");
  it::Serve serve{prefix, data};
  std::string key;
  Deployment() {
    it::ensure_topics(prefix);
    key = it::create_key(prefix, "acme");
    serve.start();
    serve.wait_caught_up();
  }
};

it::HttpResponse send(it::Serve& s, const std::string& method, const std::string& target,
                      const std::string& key, const std::string& body = "",
                      const std::string& idempotency_key = "") {
  std::map<std::string, std::string> headers{{"x-api-key", key}};
  if (!idempotency_key.empty()) headers["Idempotency-Key"] = idempotency_key;
  return it::http(s.port(), method, target, body, headers);
}

// `n` random letters and digits: lz4 (which the producers use) finds nothing
// to compress in them, so the sizes on the topics are what they seem.
std::string incompressible(size_t n) {
  static const char* alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string s(n, ' ');
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (auto& c : s) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    c = alphabet[x % 62];
  }
  return s;
}

// SIGKILLs the `goalstream serve` this test started on `data_dir` (found by
// its command line), for a serve that does not exit on SIGTERM.
void kill_serve_on(const std::string& data_dir) {
  for (auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream in(entry.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find(std::string("serve") + '\0') != std::string::npos &&
        cmdline.find(data_dir + '\0') != std::string::npos)
      ::kill(std::stoi(entry.path().filename().string()), SIGKILL);
  }
}

std::vector<std::string> goal_names(Deployment& d) {
  auto r = d.serve.get("/api/conversion-goals", d.key);
  REQUIRE_MESSAGE(r.status == 200, r.body.substr(0, 300));
  std::vector<std::string> names;
  for (auto& g : r.json_body()) names.push_back(g["name"]);
  return names;
}

}  // namespace

TEST_CASE(
    "(a) broker down: a write answers 503 not_written in bounded time and is not applied once the "
    "broker is back") {
  Deployment d;
  broker().stop();
  auto t0 = Clock::now();
  auto r = send(d.serve, "POST", "/api/conversion-goals", d.key,
                R"({"name":"Ghost","eventType":"purchase"})", "ghost-1");
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  CHECK_MESSAGE(r.status == 503, r.body);
  CHECK_MESSAGE(r.json_body()["error"] == "not_written", r.body);
  CHECK(r.headers["Retry-After"] == "1");
  CHECK_MESSAGE(secs < 15, "answered after " << secs << " s");  // message.timeout.ms is 5 s

  broker().start();
  // A write after the outage (retried with its key until Kafka takes it): the
  // commands partition is applied past it, so a queued Ghost would show too.
  it::HttpResponse after;
  bool written = it::eventually(
      [&] {
        after = send(d.serve, "POST", "/api/conversion-goals", d.key,
                     R"({"name":"After","eventType":"purchase"})", "after-1");
        return after.status == 201;
      },
      60000);
  REQUIRE_MESSAGE(written, after.body);
  CHECK(goal_names(d) == std::vector<std::string>{"After"});

  // The refused write, sent again with its key, is a new write; once more, a replay.
  auto again = send(d.serve, "POST", "/api/conversion-goals", d.key,
                    R"({"name":"Ghost","eventType":"purchase"})", "ghost-1");
  REQUIRE_MESSAGE(again.status == 201, again.body);
  CHECK(again.headers.count("Idempotent-Replayed") == 0);
  auto replay = send(d.serve, "POST", "/api/conversion-goals", d.key,
                     R"({"name":"Ghost","eventType":"purchase"})", "ghost-1");
  CHECK_MESSAGE(replay.status == 201, replay.body);
  CHECK(replay.json_body()["id"] == again.json_body()["id"]);
  CHECK(replay.headers["Idempotent-Replayed"] == "true");
  auto names = goal_names(d);
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"After", "Ghost"});
}

TEST_CASE(
    "(a2) broker frozen: a write answers 503 outcome_unknown; sent again with its key it answers "
    "the write's outcome") {
  Deployment d;
  const std::string body = R"({"name":"Signups","eventType":"form_submit"})";
  // A first write, so that the API's producer knows where the commands
  // partition is (else the command waits in its queue: not written).
  REQUIRE(send(d.serve, "PUT", "/api/settings", d.key, R"({"timezone":"UTC"})").status == 200);
  broker().freeze();  // the command is sent and no acknowledgement comes back
  auto r = send(d.serve, "POST", "/api/conversion-goals", d.key, body, "signups-1");
  broker().thaw();  // the broker then writes it
  CHECK_MESSAGE(r.status == 503, r.body);
  CHECK_MESSAGE(r.json_body()["error"] == "outcome_unknown", r.body);
  it::HttpResponse again;
  REQUIRE(it::eventually(
      [&] {
        again = send(d.serve, "POST", "/api/conversion-goals", d.key, body, "signups-1");
        return again.status != 503;
      },
      60000));
  CHECK_MESSAGE(again.status == 201, again.body);
  // One goal, whether the broker kept the first attempt (then the retry is
  // answered from its record) or not (then the retry is the write).
  CHECK(goal_names(d) == std::vector<std::string>{"Signups"});
}

TEST_CASE("(a3) broker frozen: reads answer while writes hold every write thread") {
  Deployment d;
  REQUIRE(send(d.serve, "POST", "/api/conversion-goals", d.key,
               R"({"name":"Signups","eventType":"form_submit"})")
              .status == 201);
  broker().freeze();  // each write now waits for an acknowledgement (5 s)
  // Nine writes: more than the eight write threads (--http-workers).
  std::vector<std::future<it::HttpResponse>> writes;
  for (int i = 0; i < 9; ++i)
    writes.push_back(std::async(std::launch::async, [&d, i] {
      return send(d.serve, "POST", "/api/conversion-goals", d.key,
                  R"({"name":"W)" + std::to_string(i) + R"(","eventType":"purchase"})");
    }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the writes are in
  // Reads answer at once, on their own threads: no write has finished yet.
  for (const char* target : {"/api/conversion-goals", "/api/goals", "/api/settings"}) {
    auto r = send(d.serve, "GET", target, d.key);
    CHECK_MESSAGE(r.status == 200, std::string(target) << ": " << r.body);
    int pending = 0;
    for (auto& w : writes)
      pending += w.wait_for(std::chrono::seconds(0)) != std::future_status::ready;
    CHECK_MESSAGE(pending == 9, std::string(target)
                                    << " answered after " << 9 - pending << " write(s) ended");
  }
  CHECK(goal_names(d) == std::vector<std::string>{"Signups"});
  broker().thaw();
  for (auto& w : writes) (void)w.get();  // 503 outcome_unknown, or 201: both fine here
}

TEST_CASE(
    "(b) Idempotency-Key: retries and concurrent attempts make one write and all get its answer") {
  Deployment d;
  const std::string body =
      R"({"name":"Trial Signup","eventType":"form_submit","urlPattern":"/signup"})";
  auto first = send(d.serve, "POST", "/api/conversion-goals", d.key, body, "create-1");
  REQUIRE_MESSAGE(first.status == 201, first.body);
  std::string id = first.json_body()["id"];
  auto second = send(d.serve, "POST", "/api/conversion-goals", d.key, body, "create-1");
  CHECK_MESSAGE(second.status == 201, second.body);
  CHECK(second.json_body()["id"] == id);
  CHECK(second.headers["Location"] == "/api/conversion-goals/" + id);
  CHECK(second.headers["Idempotent-Replayed"] == "true");

  // Eight attempts at once with one key: one goal, every answer names it.
  const std::string body2 = R"({"name":"Purchases","eventType":"purchase"})";
  std::vector<std::future<it::HttpResponse>> attempts;
  for (int i = 0; i < 8; ++i)
    attempts.push_back(std::async(std::launch::async, [&] {
      return send(d.serve, "POST", "/api/conversion-goals", d.key, body2, "create-2");
    }));
  std::set<std::string> ids;
  for (auto& a : attempts) {
    auto r = a.get();
    CHECK_MESSAGE(r.status == 201, r.body);
    ids.insert(r.json_body().value("id", ""));
  }
  CHECK(ids.size() == 1);
  auto names = goal_names(d);
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"Purchases", "Trial Signup"});

  // The key of another request: refused, naming the header.
  auto reused = send(d.serve, "POST", "/api/conversion-goals", d.key,
                     R"({"name":"Other","eventType":"purchase"})", "create-1");
  CHECK(reused.status == 422);
  CHECK(reused.json_body()["error"] == "idempotency_key_reused");
  CHECK(reused.json_body()["field"] == "Idempotency-Key");
  auto malformed = send(d.serve, "POST", "/api/conversion-goals", d.key, body, "two words");
  CHECK(malformed.status == 400);
  CHECK(malformed.json_body()["field"] == "Idempotency-Key");
  CHECK(send(d.serve, "POST", "/api/conversion-goals", d.key, body, std::string(256, 'k')).status ==
        400);

  // A DELETE retried with its key answers the original 200, not 404.
  auto del = send(d.serve, "DELETE", "/api/conversion-goals/" + id, d.key, "", "delete-1");
  REQUIRE_MESSAGE(del.status == 200, del.body);
  auto del2 = send(d.serve, "DELETE", "/api/conversion-goals/" + id, d.key, "", "delete-1");
  CHECK_MESSAGE(del2.status == 200, del2.body);
  CHECK(del2.json_body() == json{{"id", id}, {"deleted", true}});
  CHECK(send(d.serve, "DELETE", "/api/conversion-goals/" + id, d.key).status == 404);
  // The create of a goal deleted since: 410, no second goal.
  auto gone = send(d.serve, "POST", "/api/conversion-goals", d.key, body, "create-1");
  CHECK_MESSAGE(gone.status == 410, gone.body);
  CHECK(gone.json_body()["error"] == "gone");
  CHECK(goal_names(d) == std::vector<std::string>{"Purchases"});

  // Other writes: settings and a growth goal.
  auto tz = send(d.serve, "PUT", "/api/settings", d.key, R"({"timezone":"Europe/Berlin"})", "tz-1");
  CHECK(tz.status == 200);
  CHECK(send(d.serve, "PUT", "/api/settings", d.key, R"({"timezone":"Europe/Berlin"})", "tz-1")
            .headers["Idempotent-Replayed"] == "true");
  const std::string goal = R"({"metric":"m","target":10,"deadline":"2030-01-01"})";
  auto g1 = send(d.serve, "POST", "/api/goals", d.key, goal, "goal-1");
  auto g2 = send(d.serve, "POST", "/api/goals", d.key, goal, "goal-1");
  REQUIRE_MESSAGE(g1.status == 201, g1.body);
  CHECK(g2.status == 201);
  CHECK(g2.json_body()["id"] == g1.json_body()["id"]);
  CHECK(d.serve.get("/api/goals", d.key).json_body().size() == 1);
  // A PATCH, a metric and the DELETEs of both answer their first answer again.
  std::string goal_id = g1.json_body()["id"];
  const std::string patch = R"({"id":")" + goal_id + R"(","target":20})";
  auto p1 = send(d.serve, "PATCH", "/api/goals", d.key, patch, "patch-1");
  REQUIRE_MESSAGE(p1.status == 200, p1.body);
  auto p2 = send(d.serve, "PATCH", "/api/goals", d.key, patch, "patch-1");
  CHECK_MESSAGE(p2.status == 200, p2.body);
  CHECK(p2.json_body()["target"] == 20);
  CHECK(p2.headers["Idempotent-Replayed"] == "true");
  const std::string metric =
      R"({"name":"buyers","aggregation":"count","conversionGoal":")" + *ids.begin() + R"("})";
  auto m1 = send(d.serve, "POST", "/api/metrics", d.key, metric, "metric-1");
  REQUIRE_MESSAGE(m1.status == 201, m1.body);
  auto m2 = send(d.serve, "POST", "/api/metrics", d.key, metric, "metric-1");
  CHECK_MESSAGE(m2.status == 201, m2.body);
  CHECK(m2.json_body()["name"] == "buyers");
  CHECK(m2.headers["Location"] == "/api/metrics/buyers");
  CHECK(m2.headers["Idempotent-Replayed"] == "true");
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto r = send(d.serve, "DELETE", "/api/metrics/buyers", d.key, "", "metric-del-1");
    CHECK_MESSAGE(r.status == 200, r.body);
    CHECK(r.json_body() == json{{"name", "buyers"}, {"deleted", true}});
    auto g = send(d.serve, "DELETE", "/api/goals/" + goal_id, d.key, "", "goal-del-1");
    CHECK_MESSAGE(g.status == 200, g.body);
    CHECK(g.json_body() == json{{"id", goal_id}, {"deleted", true}});
  }
  // The PATCH of a goal deleted since: 410.
  CHECK(send(d.serve, "PATCH", "/api/goals", d.key, patch, "patch-1").status == 410);

  // The records follow from the commands log: a rebuild has the same digest.
  auto digests = it::live_and_rebuilt(d.prefix, d.data);
  CHECK(digests.rebuilt == digests.live);
}

// Makes the deadletter topic refuse every message (max.message.bytes 1), so
// that deliveries stay outstanding whatever the timing (on a healthy broker
// they take milliseconds); returns the configs topics/topics.json declares,
// to restore them.
static std::map<std::string, std::string> block(const std::string& deadletter) {
  auto declared = it::declared_configs("deadletter");
  auto blocked = declared;
  blocked["max.message.bytes"] = "1";
  it::set_topic_configs(deadletter, blocked);
  return declared;
}

// Events bad<from>... to bad<from + n - 1> with no timestamp (invalid), over
// `subjects` keys.
static std::vector<std::pair<std::string, std::string>> invalid_events(int from, int n,
                                                                       int subjects) {
  std::vector<std::pair<std::string, std::string>> msgs;
  for (int i = from; i < from + n; ++i)
    msgs.push_back(
        {"acme/u" + std::to_string(i % subjects),
         json{{"event_id", "bad" + std::to_string(i)}, {"tenant_id", "acme"}, {"type", "purchase"}}
             .dump()});
  return msgs;
}

TEST_CASE(
    "(c) deadletter deliveries failing for longer than librdkafka's message timeout, through a "
    "broker outage: all 5000 invalid events get there") {
  Deployment d;
  const std::string deadletter = d.prefix + "deadletter";
  // First the topic refuses every message, so the deliveries are still
  // outstanding when the broker goes down.
  auto declared = block(deadletter);
  it::produce(d.prefix + "events", invalid_events(0, 5000, 50));
  REQUIRE(it::eventually([&] { return d.serve.metric("goalstream_events_in_total") > 0; }, 30000));
  std::this_thread::sleep_for(std::chrono::seconds(1));

  broker().stop();
  std::this_thread::sleep_for(
      std::chrono::seconds(32));  // > librdkafka's default message.timeout.ms (30 s)
  broker().start();
  it::set_topic_configs(deadletter, declared);

  std::set<std::string> offsets;
  it::eventually(
      [&] {
        offsets.clear();
        for (auto& m : it::read_topic(deadletter, 5000, 3000)) {
          offsets.insert(m.headers["source.partition"] + "/" + m.headers["source.offset"]);
          CHECK(m.headers.count("value.truncated") == 0);
        }
        return offsets.size() == 5000;
      },
      90000);
  CHECK(offsets.size() == 5000);
  CHECK(it::eventually(
      [&] { return d.serve.metric("goalstream_events_deadlettered_total") == 5000; }, 30000));
  CHECK(d.serve.metric("goalstream_events_invalid_total") == 5000);
  CHECK(d.serve.metric("goalstream_deadletter_failures_total") > 0);
  CHECK_MESSAGE(d.serve.log().find("not delivered to " + deadletter) != std::string::npos,
                d.serve.log());
  d.serve.wait_caught_up();
}

TEST_CASE(
    "(c2) SIGTERM while deadletter deliveries fail: serve exits 0 in bounded time and the next "
    "start delivers them") {
  Deployment d;
  const std::string deadletter = d.prefix + "deadletter";
  auto declared = block(deadletter);
  it::produce(d.prefix + "events", invalid_events(0, 100, 1));
  REQUIRE(it::eventually(
      [&] { return d.serve.log().find("not delivered to " + deadletter) != std::string::npos; }));
  // A second batch, built and waiting behind the first when SIGTERM comes
  // (events are counted in once their batch is built).
  auto log = d.serve.log();
  int first_batch = std::stoi(log.substr(log.find("WARN deadletter: ") + 17));
  it::produce(d.prefix + "events", invalid_events(100, 100, 1));
  REQUIRE(
      it::eventually([&] { return d.serve.metric("goalstream_events_in_total") > first_batch; }));

  auto t0 = Clock::now();
  auto exit_code = std::async(std::launch::async, [&] { return d.serve.terminate(); });
  if (exit_code.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    kill_serve_on(d.data);
    FAIL("serve did not exit within 60 s of SIGTERM:\n" << d.serve.log());
  }
  CHECK(exit_code.get() == 0);
  MESSAGE("exited " << std::chrono::duration<double>(Clock::now() - t0).count()
                    << " s after SIGTERM");
  CHECK(d.serve.log().find("the batch is not committed and is processed again at the next start") !=
        std::string::npos);

  it::set_topic_configs(deadletter, declared);
  d.serve.start();
  std::set<std::string> offsets;
  it::eventually(
      [&] {
        offsets.clear();
        for (auto& m : it::read_topic(deadletter, 200, 2000))
          offsets.insert(m.headers["source.partition"] + "/" + m.headers["source.offset"]);
        return offsets.size() == 200;
      },
      60000);
  CHECK(offsets.size() == 200);
  d.serve.wait_caught_up();
}

TEST_CASE(
    "(d) an invalid event of the largest size the events topic takes reaches the deadletter with "
    "its headers") {
  Deployment d;
  const std::string events = d.prefix + "events";
  auto event = [](size_t size) {  // valid JSON, no timestamp
    std::string head = R"({"event_id":"big","tenant_id":"acme","type":"purchase","pad":")",
                tail = "\"}";
    return head + incompressible(size - head.size() - tail.size()) + tail;
  };
  // The largest value the topic takes (1 MiB less the batch framing).
  size_t lo = 1048576 - 512, hi = 1048576;
  REQUIRE(it::try_produce(events, "acme/big", event(lo)).empty());
  REQUIRE(!it::try_produce(events, "acme/big", event(hi)).empty());
  int accepted = 1;
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    if (it::try_produce(events, "acme/big", event(mid)).empty())
      lo = mid, ++accepted;
    else
      hi = mid;
  }
  MESSAGE("largest event the topic takes: " << lo << " bytes");

  auto dl = it::read_topic(d.prefix + "deadletter", accepted, 60000);
  REQUIRE(dl.size() == static_cast<size_t>(accepted));
  bool found = false;
  for (auto& m : dl) {
    if (m.value.size() != lo) continue;
    found = true;
    CHECK(m.value == event(lo));
    CHECK(m.key == "acme/big");
    CHECK(m.headers["error.field"] == "timestamp");
    CHECK(m.headers["source.topic"] == events);
    CHECK(!m.headers["source.offset"].empty());
  }
  CHECK(found);
  CHECK(it::eventually(
      [&] { return d.serve.metric("goalstream_events_deadlettered_total") == accepted; }));
}

TEST_CASE("(e) a write body just under 1 MiB: taken when its command fits, else 413; never 503") {
  Deployment d;
  // A valid definition of 1 MiB less 64 bytes: the command (the body plus
  // its envelope) fits the commands topic.
  std::string head = R"({"name":"Big","eventType":"purchase","conditions":{"plan":")",
              tail = "\"}}";
  std::string body = head + incompressible(1048576 - 64 - head.size() - tail.size()) + tail;
  auto r = d.serve.post("/api/conversion-goals", d.key, body);
  REQUIRE_MESSAGE(r.status == 201, r.body.substr(0, 300));
  auto g = d.serve.get("/api/conversion-goals/" + r.json_body()["id"].get<std::string>(), d.key);
  CHECK(g.status == 200);
  CHECK(g.json_body()["conditions"]["plan"].get<std::string>().size() ==
        body.size() - head.size() - tail.size());

  // 1e5 is written back as 100000.0: this body makes a command of ~2 MB.
  std::string nums = R"({"name":"Nums","eventType":"purchase","conditions":{"n":[1e5)";
  while (nums.size() < 1048576 - 100) nums += ",1e5";
  nums += "]}}";
  auto big = d.serve.post("/api/conversion-goals", d.key, nums);
  CHECK_MESSAGE(big.status == 413, big.body.substr(0, 300));
  CHECK(big.json_body()["error"] == "payload_too_large");
  CHECK(goal_names(d) == std::vector<std::string>{"Big"});
}
