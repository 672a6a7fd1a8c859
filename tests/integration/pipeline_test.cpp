// Integration tests of the event pipeline against a real Kafka broker and real
// RocksDB directories, driving the real `goalstream` binary as a user would.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <thread>

#include <librdkafka/rdkafka.h>
#include <sys/wait.h>

#include "harness.h"
#include "modules/all.h"

using it::json;

namespace {

struct Deployment : it::Deployment {
  Deployment() : it::Deployment("p") {}
};

std::string ts(int day, int hour = 12) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "2025-03-%02dT%02d:00:00Z", day, hour);
  return buf;
}

json get_goal(it::Serve& s, const std::string& key, const std::string& id) {
  auto r = s.get("/api/conversion-goals/" + id, key);
  REQUIRE_MESSAGE(r.status == 200, r.body);
  return r.json_body();
}

// Waits until the goal's count reaches `count` and its backfill is complete.
json wait_count(it::Serve& s, const std::string& key, const std::string& id, int64_t count,
                int timeout_ms = 30000) {
  json last;
  it::eventually(
      [&] {
        last = get_goal(s, key, id);
        return last["count"] == count && last["backfill"]["status"] == "complete";
      },
      timeout_ms);
  return last;
}

}  // namespace

TEST_CASE(
    "(a) events produced by a Kafka client count exactly, with value sums and a daily series") {
  Deployment d;
  auto key = it::create_key(d.prefix, "acme");
  auto goal = it::create_conversion_goal(
      d.serve, key,
      {{"name", "Trial Signup"}, {"eventType", "form_submit"}, {"urlPattern", "/signup/complete"}});
  CHECK(goal["name"] == "Trial Signup");
  CHECK(goal["eventType"] == "form_submit");
  CHECK(goal["urlPattern"] == "/signup/complete");
  CHECK(goal["count"] == 0);
  std::string id = goal["id"];

  std::vector<std::pair<std::string, std::string>> msgs;
  // 30 matching events over 3 days, value 2.5 each; 20 that must not count.
  for (int i = 0; i < 30; ++i)
    msgs.push_back({"acme/u" + std::to_string(i),
                    it::event("m" + std::to_string(i), "acme", "form_submit", ts(1 + i % 3),
                              "https://acme.com/signup/complete?ref=ad", {{"value", 2.5}},
                              "u" + std::to_string(i))});
  for (int i = 0; i < 10; ++i) {
    msgs.push_back({"acme/x", it::event("n" + std::to_string(i), "acme", "form_submit", ts(1),
                                        "https://acme.com/signup/start")});
    msgs.push_back({"acme/y", it::event("p" + std::to_string(i), "acme", "purchase", ts(1),
                                        "https://acme.com/signup/complete")});
  }
  it::produce(d.events(), msgs);
  auto g = wait_count(d.serve, key, id, 30);
  CHECK(g["count"] == 30);
  CHECK(g["value"].get<double>() == doctest::Approx(75.0));
  REQUIRE(g["series"].size() == 3);
  CHECK(g["series"][0] == json{{"date", "2025-03-01"}, {"count", 10}, {"value", 25.0}});
  CHECK(g["series"][2]["date"] == "2025-03-03");
  CHECK(d.serve.metric("goalstream_events_in_total") == 50);

  auto list = d.serve.get("/api/conversion-goals", key);
  CHECK(list.status == 200);
  REQUIRE(list.json_body().size() == 1);
  CHECK(list.json_body()[0]["count"] == 30);

  // Delete (the reference's ?id= form): gone from list and reads, later
  // events do not resurrect it.
  CHECK(d.serve.del("/api/conversion-goals", key).status == 422);
  CHECK(it::http(d.serve.port(), "DELETE", "/api/conversion-goals").status == 401);
  auto del = d.serve.del("/api/conversion-goals?id=" + id, key);
  CHECK(del.status == 200);
  CHECK(del.json_body() == json{{"id", id}, {"deleted", true}});
  CHECK(d.serve.del("/api/conversion-goals/" + id, key).status == 404);
  CHECK(d.serve.get("/api/conversion-goals/" + id, key).status == 404);
  CHECK(d.serve.get("/api/conversion-goals", key).json_body().empty());
  it::produce(d.events(), {{"acme/z", it::event("late", "acme", "form_submit", ts(4),
                                                "https://acme.com/signup/complete")}});
  it::eventually([&] { return d.serve.metric("goalstream_events_in_total") == 51; });
  CHECK(d.serve.get("/api/conversion-goals/" + id, key).status == 404);
  CHECK(d.serve.terminate() == 0);
}

TEST_CASE(
    "(b) invalid events go to the deadletter topic with the reason and original bytes; the next "
    "valid event counts") {
  Deployment d;
  auto key = it::create_key(d.prefix, "acme");
  std::string id = it::create_conversion_goal(
      d.serve, key, {{"name", "Signups"}, {"eventType", "form_submit"}})["id"];
  std::vector<std::pair<std::string, std::string>> bad = {
      {"acme/1", "this is not json"},
      {"acme/2", R"({"event_id":"b2","tenant_id":"acme","type":"form_submit"})"},
      {"acme/3",
       R"({"event_id":"b3","tenant_id":"acme","type":"Form Submit","timestamp":"2025-03-01T12:00:00Z"})"},
      {"acme/4",
       R"({"event_id":"b4","tenant_id":"acme","type":"form_submit","timestamp":"yesterday"})"},
      {"acme/5",
       R"({"event_id":"b5","tenant_id":"acme","type":"call_outcome","timestamp":"2025-03-01T12:00:00Z","agent_id":"a"})"},
      {"acme/6",
       R"({"event_id":"b6","tenant_id":"acme","type":"form_submit","timestamp":"2025-03-01T12:00:00Z","properties":[1]})"},
  };
  it::produce(d.events(), bad);
  it::produce(d.events(), {{"acme/7", it::event("good", "acme", "form_submit", ts(2))}});
  auto g = wait_count(d.serve, key, id, 1);
  CHECK(g["count"] == 1);

  auto dl = it::read_topic(d.prefix + "deadletter", bad.size());
  REQUIRE(dl.size() == bad.size());
  std::map<std::string, it::Message> by_value;
  for (auto& m : dl) by_value[m.value] = m;
  for (auto& [k, v] : bad) {
    REQUIRE_MESSAGE(by_value.count(v), v);
    CHECK(by_value[v].key == k);
    CHECK(by_value[v].headers["source.topic"] == d.events());
  }
  CHECK(by_value["this is not json"].headers["error"].find("not valid JSON") != std::string::npos);
  CHECK(by_value[bad[1].second].headers["error"] == "timestamp: is required");
  CHECK(by_value[bad[2].second].headers["error.field"] == "type");
  CHECK(by_value[bad[3].second].headers["error.field"] == "timestamp");
  CHECK(by_value[bad[4].second].headers["error.field"] == "call_id");
  CHECK(by_value[bad[5].second].headers["error"] == "properties: must be an object");
  CHECK(d.serve.metric("goalstream_events_deadlettered_total") == 6);
}

TEST_CASE("(c) duplicates count once: the first occurrence in log order wins") {
  Deployment d;
  auto key = it::create_key(d.prefix, "acme");
  std::string id = it::create_conversion_goal(
      d.serve, key, {{"name", "Purchases"}, {"eventType", "purchase"}})["id"];
  std::vector<std::pair<std::string, std::string>> msgs;
  for (int i = 0; i < 20; ++i)
    for (int copy = 0; copy < 3; ++copy)  // a producer retrying twice; later copies differ in value
      msgs.push_back({"acme/s", it::event("order-" + std::to_string(i), "acme", "purchase", ts(5),
                                          "", {{"value", 10.0 + copy}})});
  // The same event_id in another tenant is a different event.
  msgs.push_back({"other/s", it::event("order-0", "other", "purchase", ts(5))});
  it::produce(d.events(), msgs);
  auto g = wait_count(d.serve, key, id, 20);
  CHECK(g["count"] == 20);
  CHECK(g["value"].get<double>() == doctest::Approx(200.0));  // first copies only (value 10)
  it::eventually([&] { return d.serve.metric("goalstream_events_in_total") == 61; });
  CHECK(d.serve.metric("goalstream_events_duplicate_total") == 40);

  // A later retry, in another batch and after a restart, is still a duplicate.
  CHECK(d.serve.terminate() == 0);
  d.serve.start();
  it::produce(
      d.events(),
      {{"acme/s", it::event("order-3", "acme", "purchase", ts(5), "", {{"value", 99.0}})},
       {"acme/s", it::event("order-new", "acme", "purchase", ts(5), "", {{"value", 1.0}})}});
  g = wait_count(d.serve, key, id, 21);
  CHECK(g["count"] == 21);
  CHECK(g["value"].get<double>() == doctest::Approx(201.0));

  // Dedup is per events partition (design invariant 3): identical copies
  // produced under other keys count once in each partition those keys
  // hash to, and a rebuild reaches the same digest.
  auto copy = it::event("multi", "acme", "purchase", ts(6), "", {{"value", 5.0}});
  std::vector<std::pair<std::string, std::string>> copies;
  for (int k = 0; k < 6; ++k) copies.push_back({"acme/k" + std::to_string(k), copy});
  for (int k = 0; k < 6; ++k) copies.push_back({"acme/k" + std::to_string(k), copy});
  it::produce(d.events(), copies);
  std::set<int32_t> partitions;
  for (const auto& m : it::read_topic(d.events(), 61 + 2 + 12))
    if (m.key.starts_with("acme/k")) partitions.insert(m.partition);
  REQUIRE(partitions.size() >= 2);  // else this would show nothing
  auto per_partition = static_cast<int64_t>(partitions.size());
  g = wait_count(d.serve, key, id, 21 + per_partition);
  it::eventually([&] { return d.serve.metric("goalstream_events_in_total") == 14; });
  CHECK(get_goal(d.serve, key, id)["count"] == 21 + per_partition);
  CHECK(g["value"].get<double>() == doctest::Approx(201.0 + 5.0 * per_partition));
  CHECK(d.serve.metric("goalstream_events_duplicate_total") == 1 + 12 - per_partition);
  CHECK(d.serve.terminate() == 0);
  auto digests = it::live_and_rebuilt(d.prefix, d.data);
  CHECK(digests.rebuilt == digests.live);
}

TEST_CASE(
    "(c2) a repeat is a duplicate within the dedup horizon of its partition's newest event, and "
    "counts again beyond it; the store keeps its horizon") {
  ::setenv("GOALSTREAM_DEDUP_HORIZON", "24h", 1);  // for every goalstream started below
  struct Unset {
    ~Unset() { ::unsetenv("GOALSTREAM_DEDUP_HORIZON"); }
  } unset;
  Deployment d;
  CHECK(d.serve.log().find("dedup: 0 events seen within the horizon of 1d") != std::string::npos);
  auto key = it::create_key(d.prefix, "acme");
  std::string id = it::create_conversion_goal(
      d.serve, key, {{"name", "Purchases"}, {"eventType", "purchase"}})["id"];
  auto e = [](const std::string& id, int day, int hour) {
    return std::pair<std::string, std::string>{"acme/s",
                                               it::event(id, "acme", "purchase", ts(day, hour))};
  };
  // One key, so one partition, in this order:
  it::produce(d.events(), {e("order-1", 5, 12), e("order-1", 5, 12),  // a retry: duplicate
                           e("x", 6, 12),        // newest event 24 h after order-1
                           e("order-1", 5, 12),  // at the horizon's edge: duplicate
                           e("y", 6, 13),        // 25 h after order-1
                           e("order-1", 5, 12),  // beyond the horizon: counts again,
                           e("order-1", 5, 12),  // remembered anew: duplicate
                           e("late", 1, 0),      // 5 days late: counts,
                           e("late", 1, 0)});    // its retry is a duplicate
  wait_count(d.serve, key, id, 5);
  it::eventually([&] { return d.serve.metric("goalstream_events_in_total") == 9; });
  CHECK(get_goal(d.serve, key, id)["count"] == 5);
  CHECK(d.serve.metric("goalstream_events_duplicate_total") == 4);
  CHECK(it::eventually([&] { return d.serve.metric("goalstream_dedup_events") == 4; }));
  CHECK(d.serve.metric("goalstream_dedup_bytes") == 6 * 1024 * 24);  // 6 partitions' tables
  CHECK(d.serve.terminate() == 0);

  // Another horizon would change what the store holds: refused, naming both.
  auto r = it::run_cli_bounded(
      {"serve", "--brokers", it::brokers(), "--topic-prefix", d.prefix, "--data-dir", d.data,
       "--listen", "127.0.0.1:" + std::to_string(it::free_port()), "--dedup-horizon", "7d"},
      60000);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("goalstream: dedup-horizon: the store in " + d.data +
                   " was built with a dedup horizon of 1d, not 7d: run with --dedup-horizon "
                   "1d, or rebuild into a new --data-dir with --dedup-horizon 7d\n") !=
        std::string::npos);

  // Restarted with its horizon: what is within it is remembered, and the
  // watermark too: x (first seen at day 6 12:00) is beyond it once z moves
  // the watermark to day 7 13:00.
  d.serve.start();
  CHECK(d.serve.log().find("dedup: 4 events seen within the horizon of 1d") != std::string::npos);
  CHECK(it::eventually([&] { return d.serve.metric("goalstream_dedup_events") == 4; }));
  it::produce(d.events(), {e("y", 6, 13), e("order-1", 5, 12), e("late", 1, 0), e("z", 7, 13),
                           e("x", 6, 12), e("y", 6, 13)});
  wait_count(d.serve, key, id, 7);
  it::eventually([&] { return d.serve.metric("goalstream_events_in_total") == 6; });
  CHECK(get_goal(d.serve, key, id)["count"] == 7);  // z, and x again
  CHECK(d.serve.metric("goalstream_events_duplicate_total") == 4);

  // Records on disk go as the watermark leaves them behind: an event two
  // days on leaves only its own.
  it::produce(d.events(), {e("w", 9, 13)});
  wait_count(d.serve, key, id, 8);
  CHECK(d.serve.terminate() == 0);
  {
    auto store = gs::modules::open_store(d.data, true);
    REQUIRE(store.ok());
    int records = 0;
    size_t bytes = 0;
    REQUIRE((*store)
                ->scan((*store)->cf("dedup"), "f",
                       [&](std::string_view, std::string_view v) {
                         ++records;
                         bytes += v.size();
                         return true;
                       })
                .ok());
    CHECK(records == 1);
    CHECK(bytes == 20);  // w's fingerprint and watermark
  }
  auto digests = it::live_and_rebuilt(d.prefix, d.data);  // with the 24h horizon of the env
  CHECK(digests.rebuilt == digests.live);
}

TEST_CASE(
    "(d)+(e) kill -9 in the middle of a 100k-event stream: exact counts after restart; rebuild "
    "digest equals live") {
  Deployment d;
  auto key = it::create_key(d.prefix, "acme");
  std::string signup = it::create_conversion_goal(
      d.serve, key,
      {{"name", "Signups"}, {"eventType", "form_submit"}, {"urlPattern", "/signup/**"}})["id"];
  std::string pro = it::create_conversion_goal(
      d.serve, key,
      {{"name", "Pro purchases"},
       {"eventType", "purchase"},
       {"conditions", {{"plan", "pro"}, {"value", {{"gte", 3}}}}}})["id"];
  const int N = 100000;
  // Expected counts computed here, independently of the matcher.
  int64_t want_signup = 0, want_pro = 0, want_dup = 0, want_bad = 0;
  double want_pro_value = 0;
  std::vector<std::vector<std::pair<std::string, std::string>>> chunks(20);
  std::pair<std::string, std::string> previous;
  for (int i = 0; i < N; ++i) {
    auto& chunk = chunks[i * chunks.size() / N];
    if (i % 997 == 0) {
      chunk.push_back({"acme/bad", "{\"broken\": "});
      ++want_bad;
      continue;
    }
    if (i % 50 == 7) {  // a producer retry: the previous message again, same key, later in the log
      chunk.push_back(previous);
      ++want_dup;
      continue;
    }
    std::string id = "ev" + std::to_string(i);
    std::string subject = "u" + std::to_string(i % 300);
    if (i % 2 == 0) {
      bool match = i % 3 == 0;
      std::string url = match ? "https://acme.com/signup/step/" + std::to_string(i % 4)
                              : "https://acme.com/pricing";
      previous = {"acme/" + subject, it::event(id, "acme", "form_submit", ts(1 + i % 28, i % 24),
                                               url, nullptr, subject)};
      if (match) ++want_signup;
    } else {
      int value = i % 7;
      std::string plan = i % 5 == 0 ? "free" : "pro";
      previous = {"acme/" + subject,
                  it::event(id, "acme", "purchase", ts(1 + i % 28, i % 24), "",
                            {{"plan", plan}, {"value", value}, {"currency", "USD"}}, subject)};
      if (plan == "pro" && value >= 3) ++want_pro, want_pro_value += value;
    }
    chunk.push_back(previous);
  }
  REQUIRE(want_dup > 0);

  // Produce in chunks while serve processes them; kill -9 twice mid-stream.
  std::thread producer([&] {
    for (auto& c : chunks) {
      it::produce(d.events(), c);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  for (double threshold : {20000.0, 55000.0}) {
    bool reached = it::eventually(
        [&] { return d.serve.metric("goalstream_events_in_total") >= threshold; }, 120000);
    REQUIRE(reached);
    d.serve.kill9();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    d.serve.start();
  }
  producer.join();
  d.serve.wait_caught_up();
  auto s = wait_count(d.serve, key, signup, want_signup, 60000);
  auto p = wait_count(d.serve, key, pro, want_pro, 60000);
  CHECK(s["count"] == want_signup);
  CHECK(p["count"] == want_pro);
  CHECK(p["value"].get<double>() == doctest::Approx(want_pro_value));

  // (e) A rebuild from the topics into an empty store gives the live digest.
  CHECK(d.serve.terminate() == 0);
  auto live = it::run_cli({"digest", "--data-dir", d.data});
  REQUIRE(live.exit_code == 0);
  REQUIRE(live.out.size() == 65);
  auto fresh = it::temp_dir("rebuild") + "/store";
  auto rb = it::run_cli(
      {"rebuild", "--brokers", it::brokers(), "--topic-prefix", d.prefix, "--data-dir", fresh});
  REQUIRE_MESSAGE(rb.exit_code == 0, rb.err);
  CHECK(rb.err.find("rebuild caught up") != std::string::npos);
  CHECK(rb.err.find("msg/s") != std::string::npos);  // progress shown
  CHECK(rb.out == live.out);
  auto again = it::run_cli({"digest", "--data-dir", fresh});
  CHECK(again.out == live.out);

  // A rebuild refuses a non-empty directory.
  auto refused = it::run_cli(
      {"rebuild", "--brokers", it::brokers(), "--topic-prefix", d.prefix, "--data-dir", fresh});
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find("not empty") != std::string::npos);

  // Serving the rebuilt store answers the same counts.
  it::Serve rebuilt(d.prefix, fresh);
  rebuilt.start();
  CHECK(get_goal(rebuilt, key, signup)["count"] == want_signup);
  CHECK(get_goal(rebuilt, key, pro)["count"] == want_pro);
  CHECK(rebuilt.terminate() == 0);
}

TEST_CASE("(f) a goal created after its events backfills them, once, while live counting goes on") {
  Deployment d;
  auto key = it::create_key(d.prefix, "acme");
  std::vector<std::pair<std::string, std::string>> before;
  for (int i = 0; i < 500; ++i)
    before.push_back(
        {"acme/u" + std::to_string(i % 17),
         it::event("old" + std::to_string(i), "acme", "form_submit", ts(1 + i % 10),
                   "https://acme.com/signup/complete", {{"plan", i % 2 ? "pro" : "free"}})});
  before.push_back(before[3]);  // a duplicate must not be counted by the backfill
  it::produce(d.events(), before);
  it::eventually([&] { return d.serve.metric("goalstream_events_in_total") == 501; });

  auto goal = it::create_conversion_goal(
      d.serve, key,
      {{"name", "Pro signups"}, {"eventType", "form_submit"}, {"conditions", {{"plan", "pro"}}}});
  std::string id = goal["id"];
  auto since = it::create_conversion_goal(
      d.serve, key,
      {{"name", "Since the 6th"}, {"eventType", "form_submit"}, {"since", "2025-03-06"}});
  // Live events arriving while (or after) the backfill runs.
  std::vector<std::pair<std::string, std::string>> after;
  for (int i = 0; i < 100; ++i)
    after.push_back({"acme/v", it::event("new" + std::to_string(i), "acme", "form_submit", ts(2),
                                         "", {{"plan", "pro"}})});
  it::produce(d.events(), after);
  auto g = wait_count(d.serve, key, id, 250 + 100);
  CHECK(g["count"] == 350);
  CHECK(g["backfill"]["status"] == "complete");
  // since 2025-03-06: old events on days 6..10 (250 of them); new ones are on the 2nd.
  auto s = wait_count(d.serve, key, since["id"], 250);
  CHECK(s["count"] == 250);
  CHECK(s["since"] == "2025-03-06T00:00:00Z");

  // Nothing is counted twice across a restart either.
  CHECK(d.serve.terminate() == 0);
  d.serve.start();
  d.serve.wait_caught_up();
  CHECK(get_goal(d.serve, key, id)["count"] == 350);
}

TEST_CASE(
    "(g) tenant isolation: another tenant's goals are invisible, and its events don't count") {
  Deployment d;
  auto a = it::create_key(d.prefix, "tenant-a");
  auto b = it::create_key(d.prefix, "tenant-b");
  std::string id = it::create_conversion_goal(
      d.serve, a, {{"name", "A signups"}, {"eventType", "form_submit"}})["id"];
  auto missing = d.serve.get("/api/conversion-goals/cg_doesnotexist", b);
  auto foreign = d.serve.get("/api/conversion-goals/" + id, b);
  CHECK(foreign.status == 404);
  CHECK(missing.status == 404);
  CHECK(foreign.json_body()["error"] == missing.json_body()["error"]);
  CHECK(d.serve.del("/api/conversion-goals/" + id, b).status == 404);
  CHECK(d.serve.get("/api/conversion-goals", b).json_body().empty());

  it::produce(d.events(), {{"tenant-b/x", it::event("e1", "tenant-b", "form_submit", ts(1))},
                           {"tenant-a/x", it::event("e1", "tenant-a", "form_submit", ts(1))}});
  it::eventually([&] { return d.serve.metric("goalstream_events_in_total") == 2; });
  auto g = wait_count(d.serve, a, id, 1);
  CHECK(g["count"] == 1);
  CHECK(get_goal(d.serve, a, id)["count"] == 1);
}

TEST_CASE(
    "API auth and validation: 401, 403, 422 naming the field, 400 for bad JSON; SIGTERM exits 0") {
  Deployment d;
  auto rw = it::create_key(d.prefix, "acme");
  auto ro = it::create_key(d.prefix, "acme", "goals:read");
  auto& s = d.serve;
  CHECK(it::http(s.port(), "GET", "/api/conversion-goals").status == 401);
  CHECK(s.get("/api/conversion-goals", "gs_wrong").status == 401);
  auto bearer =
      it::http(s.port(), "GET", "/api/conversion-goals", "", {{"Authorization", "Bearer " + rw}});
  CHECK(bearer.status == 200);
  auto forbidden = s.post("/api/conversion-goals", ro, R"({"name":"x","eventType":"form_submit"})");
  CHECK(forbidden.status == 403);
  CHECK(forbidden.json_body()["error"] == "forbidden");
  CHECK(s.get("/api/conversion-goals", ro).status == 200);

  struct Case {
    std::string body;
    std::string field;
  };
  std::vector<Case> cases = {
      {R"({"eventType":"form_submit"})", "name"},
      {R"({"name":"x"})", "eventType"},
      {R"({"name":5,"eventType":"form_submit"})", "name"},
      {R"({"name":"x","eventType":"Form Submit"})", "eventType"},
      {R"({"name":"x","eventType":"form_submit","urlPattern":"re:(unclosed"})", "urlPattern"},
      {R"({"name":"x","eventType":"form_submit","conditions":{"plan":{"matches":"pro"}}})",
       "conditions.plan.matches"},
      {R"({"name":"x","eventType":"form_submit","conditions":{"plan":{"regex":"a("}}})",
       "conditions.plan.regex"},
      {R"({"name":"x","eventType":"form_submit","conditions":{"plan":{"in":"pro"}}})",
       "conditions.plan.in"},
      {R"({"name":"x","eventType":"form_submit","conditions":[1]})", "conditions"},
      {R"({"name":"x","eventType":"form_submit","since":"last week"})", "since"},
      {R"({"name":"x","eventType":"form_submit","colour":"red"})", "colour"},
  };
  for (auto& c : cases) {
    auto r = s.post("/api/conversion-goals", rw, c.body);
    CHECK_MESSAGE(r.status == 422, c.body);
    CHECK_MESSAGE(r.json_body()["field"] == c.field, std::string(c.body + " -> " + r.body));
    CHECK(r.json_body()["error"] == "validation_error");
  }
  // Nesting that would exhaust a recursive parser's stack is refused up front.
  std::string deep = R"({"name":"x","eventType":"a","conditions":{"p":{"eq":)" +
                     std::string(100000, '[') + std::string(100000, ']') + "}}}";
  auto too_deep = s.post("/api/conversion-goals", rw, deep);
  CHECK(too_deep.status == 400);
  CHECK(too_deep.json_body()["message"] == "request body nests deeper than 64 levels");
  CHECK(it::http(s.port(), "GET", "/healthz").status == 200);
  auto bad_json = s.post("/api/conversion-goals", rw, "{nope");
  CHECK(bad_json.status == 400);
  CHECK(bad_json.json_body()["error"] == "invalid_json");
  CHECK(s.get("/api/conversion-goals", rw).json_body().empty());  // nothing half-created
  CHECK(it::http(s.port(), "GET", "/nowhere").status == 404);
  CHECK(it::http(s.port(), "PUT", "/api/conversion-goals", "", {{"x-api-key", rw}}).status == 405);
  CHECK(it::http(s.port(), "GET", "/healthz").json_body()["status"] == "ok");
  s.wait_caught_up();
  CHECK(it::http(s.port(), "GET", "/readyz").status == 200);
  auto metrics = it::http(s.port(), "GET", "/metrics");
  CHECK(metrics.body.find("# TYPE goalstream_events_in_total counter") != std::string::npos);
  CHECK(metrics.body.find("goalstream_batch_latency_seconds_bucket") != std::string::npos);
  CHECK(s.terminate() == 0);
  CHECK(s.log().find("stopped cleanly") != std::string::npos);
}

TEST_CASE("topics ensure is idempotent and reports a topic whose partitions or configs differ") {
  auto prefix = it::unique_prefix("topics");
  auto first =
      it::run_cli({"topics", "ensure", "--brokers", it::brokers(), "--topic-prefix", prefix});
  CHECK(first.exit_code == 0);
  CHECK(first.err.find("topic " + prefix + "events: created") != std::string::npos);
  auto second =
      it::run_cli({"topics", "ensure", "--brokers", it::brokers(), "--topic-prefix", prefix});
  CHECK(second.exit_code == 0);
  CHECK(second.err.find("topic " + prefix + "events: ok") != std::string::npos);
  CHECK(second.err.find("topic " + prefix + "commands: ok") != std::string::npos);

  // Declare 8 partitions and another retention for events: reported, exit 1.
  auto dir = it::temp_dir("topics");
  std::ofstream(dir + "/topics.json") << R"({"topics":[
    {"name":"events","partitions":8,"configs":{"retention.ms":"1000"}},
    {"name":"commands","partitions":1,"configs":{"retention.ms":"-1"}}]})";
  auto differs = it::run_cli({"topics", "ensure", "--brokers", it::brokers(), "--topic-prefix",
                              prefix, "--topics-file", dir + "/topics.json"});
  CHECK(differs.exit_code == 1);
  CHECK(differs.err.find(
            prefix +
            "events: DIFFERS: partitions 6 (declared 8); retention.ms=-1 (declared 1000);") !=
        std::string::npos);
  CHECK(differs.err.find(prefix + "commands: ok") != std::string::npos);
}

TEST_CASE("every subcommand has a --help that names its options and environment variables") {
  for (auto args : std::vector<std::vector<std::string>>{{"serve", "--help"},
                                                         {"keys", "create", "--help"},
                                                         {"rebuild", "--help"},
                                                         {"topics", "ensure", "--help"}}) {
    auto r = it::run_cli(args);
    CAPTURE(args[0]);
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("--brokers") != std::string::npos);
    CHECK(r.out.find("GOALSTREAM_BROKERS") != std::string::npos);
    CHECK(r.out.find("--topic-prefix") != std::string::npos);
  }
  auto digest = it::run_cli({"digest", "--help"});
  CHECK(digest.out.find("--data-dir") != std::string::npos);
  CHECK(digest.out.find("GOALSTREAM_DATA_DIR") != std::string::npos);
  auto missing = it::run_cli({"keys", "create"});
  CHECK(missing.exit_code != 0);
  CHECK(missing.err.find("--tenant") != std::string::npos);
  auto bad_scope = it::run_cli({"keys", "create", "--tenant", "a", "--scopes", "goals:admin"});
  CHECK(bad_scope.exit_code == 1);
  CHECK(bad_scope.err.find("unknown scope 'goals:admin'") != std::string::npos);
}

TEST_CASE("invalid commands on the commands topic are deadlettered and the pipeline goes on") {
  Deployment d;
  auto key = it::create_key(d.prefix, "acme");
  std::vector<std::pair<std::string, std::string>> bad = {
      {"acme", "garbage"},
      {"acme",
       R"({"command_id":"c1","type":"conversion_goal.defined","tenant_id":"acme","issued_at":"2025-03-01T00:00:00Z","data":{"id":"cg_x","name":"x","eventType":"a","urlPattern":"re:(","createdAt":"2025-03-01T00:00:00Z"}})"},
      {"acme",
       R"({"command_id":"c2","type":"goal.exploded","tenant_id":"acme","issued_at":"2025-03-01T00:00:00Z","data":{}})"},
      {"acme",
       R"({"command_id":"c3","type":"key.issued","tenant_id":"acme","issued_at":"2025-03-01T00:00:00Z","data":{"a":)" +
           std::string(5000, '[') + std::string(5000, ']') + "}}"},
      // Members of the wrong type must not take the processor down.
      {"acme",
       R"({"command_id":"c4","type":"key.issued","tenant_id":"acme","issued_at":"2025-03-01T00:00:00Z","data":{"key_hash":5,"key_id":"k","tenant_id":"acme","scopes":["goals:read"],"created_at":"2025-03-01T00:00:00Z"}})"},
      {"acme",
       R"({"command_id":"c5","type":"conversion_goal.deleted","tenant_id":"acme","issued_at":"2025-03-01T00:00:00Z","data":{"id":7}})"},
      {"acme",
       R"({"command_id":"c6","type":"key.issued","tenant_id":"acme","issued_at":"2025-03-01T00:00:00Z","data":{"key_hash":"x","scopes":"all"}})"},
  };
  it::produce(d.prefix + "commands", bad);
  // A valid write after them is applied (read your writes) and counts events.
  std::string id = it::create_conversion_goal(
      d.serve, key, {{"name", "Signups"}, {"eventType", "form_submit"}})["id"];
  it::produce(d.events(), {{"acme/u", it::event("e1", "acme", "form_submit", ts(1))}});
  CHECK(wait_count(d.serve, key, id, 1)["count"] == 1);
  CHECK(d.serve.metric("goalstream_commands_rejected_total") == 7);
  auto dl = it::read_topic(d.prefix + "deadletter", bad.size());
  REQUIRE(dl.size() == bad.size());
  std::set<std::string> fields;
  for (auto& m : dl) {
    CHECK(m.headers["source.topic"] == d.prefix + "commands");
    fields.insert(m.headers["error"]);
  }
  CHECK(fields.count("command is not valid JSON"));
  CHECK(fields.count("type: unknown command type goal.exploded"));
  CHECK(fields.count("command nests deeper than 64 levels"));
  CHECK(fields.count("data.key_hash: must be a SHA-256 hex digest"));
  CHECK(fields.count("data.id: is required"));
  // The field once, though the matcher's message names it too.
  CHECK(fields.count("urlPattern: invalid RE2 regular expression: missing ): ("));
  CHECK(d.serve.terminate() == 0);
}

TEST_CASE(
    "(f2) kill -9 during a backfill: it resumes from its saved progress and counts exactly once") {
  Deployment d;
  auto key = it::create_key(d.prefix, "acme");
  const int N = 300000;
  int64_t want = 0;
  std::vector<std::pair<std::string, std::string>> msgs;
  msgs.reserve(N);
  for (int i = 0; i < N; ++i) {
    bool pro = i % 3 == 0;
    if (pro) ++want;
    msgs.push_back({"acme/u" + std::to_string(i % 500),
                    it::event("b" + std::to_string(i), "acme", "purchase", ts(1 + i % 28), "",
                              {{"plan", pro ? "pro" : "free"}, {"value", 1}})});
  }
  it::produce(d.events(), msgs);
  REQUIRE(
      it::eventually([&] { return d.serve.metric("goalstream_events_in_total") == N; }, 120000));

  std::string id = it::create_conversion_goal(
      d.serve, key,
      {{"name", "Pro"}, {"eventType", "purchase"}, {"conditions", {{"plan", "pro"}}}})["id"];
  // Kill once the backfill has handed over part of its work, not all of it.
  json seen;
  bool mid = it::eventually(
      [&] {
        seen = get_goal(d.serve, key, id);
        auto& b = seen["backfill"];
        return b["status"] == "complete" ||
               (b.contains("scanned") && b["scanned"].get<int64_t>() > 0 &&
                b["scanned"] < b["total"]);
      },
      60000);
  REQUIRE(mid);
  bool killed_mid_backfill = seen["backfill"]["status"] == "running";
  d.serve.kill9();
  d.serve.start();
  auto g = wait_count(d.serve, key, id, want, 120000);
  CHECK(g["count"] == want);
  CHECK(g["value"].get<double>() == doctest::Approx(double(want)));
  CHECK(killed_mid_backfill);
}

TEST_CASE(
    "reads are answered again while nothing changed, and never outlive a durable batch or a "
    "write") {
  Deployment d;
  auto key = it::create_key(d.prefix, "acme");
  std::string id = it::create_conversion_goal(
      d.serve, key, {{"name", "Purchases"}, {"eventType", "purchase"}})["id"];
  wait_count(d.serve, key, id, 0);

  // Nothing changes: the same answer, reused (the metric counts it).
  double reused = d.serve.metric("goalstream_http_reads_reused_total");
  auto first = d.serve.get("/api/conversion-goals/" + id, key);
  auto again = d.serve.get("/api/conversion-goals/" + id, key);
  REQUIRE(first.status == 200);
  CHECK(again.body == first.body);
  CHECK(d.serve.metric("goalstream_http_reads_reused_total") >= reused + 1);
  // HEAD of a reused answer: its headers, no body.
  auto head =
      it::http(d.serve.port(), "HEAD", "/api/conversion-goals/" + id, "", {{"x-api-key", key}});
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  CHECK(head.headers["Content-Length"] == std::to_string(first.body.size()));

  // Events arrive in many batches while a reader polls: its counts never go
  // back, and the last one is exact once the events are in.
  std::atomic<bool> done{false};
  std::vector<int64_t> seen;
  std::thread poller([&] {
    while (!done) {
      auto r = d.serve.get("/api/conversion-goals/" + id, key);
      if (r.status == 200) seen.push_back(r.json_body()["count"].get<int64_t>());
    }
  });
  for (int round = 0; round < 20; ++round) {
    std::vector<std::pair<std::string, std::string>> batch;
    for (int i = 0; i < 50; ++i) {
      auto eid = "e" + std::to_string(round * 50 + i);
      batch.emplace_back("acme/" + eid,
                         it::event(eid, "acme", "purchase", ts(1 + i % 28), "", {{"value", 2.5}}));
    }
    it::produce(d.events(), batch);
  }
  auto last = wait_count(d.serve, key, id, 1000);
  done = true;
  poller.join();
  CHECK(last["count"] == 1000);
  CHECK(last["value"] == 2500.0);
  REQUIRE(seen.size() > 10);
  CHECK(std::is_sorted(seen.begin(), seen.end()));

  // Read your writes through the reused answers: the list right after each
  // write shows it.
  for (int i = 0; i < 10; ++i) {
    auto before = d.serve.get("/api/conversion-goals", key);
    REQUIRE(before.status == 200);
    auto made = it::create_conversion_goal(
        d.serve, key, {{"name", "G" + std::to_string(i)}, {"eventType", "form_submit"}});
    auto after = d.serve.get("/api/conversion-goals", key);
    REQUIRE(after.status == 200);
    CHECK(after.json_body().size() == before.json_body().size() + 1);
    CHECK_MESSAGE(after.body.find(made["id"].get<std::string>()) != std::string::npos, after.body);
  }
  // Another tenant's key never gets this tenant's answer.
  auto other = it::create_key(d.prefix, "other");
  auto theirs = d.serve.get("/api/conversion-goals", other);
  REQUIRE(theirs.status == 200);
  CHECK(theirs.json_body() == json::array());
  CHECK(d.serve.get("/api/conversion-goals/" + id, other).status == 404);
}

namespace {

// The numbers in the last "deltas: folded N records (E events) and C commands" line of a log.
struct Folded {
  int64_t records = -1, events = -1;
};
// A conversion goal "Signups": form_submit events on /signup/**; its id.
std::string signups_goal(it::Serve& s, const std::string& key) {
  return it::create_conversion_goal(
      s, key,
      {{"name", "Signups"}, {"eventType", "form_submit"}, {"urlPattern", "/signup/**"}})["id"];
}

Folded last_folded(const std::string& log) {
  Folded f;
  auto at = log.rfind("deltas: folded ");
  if (at == std::string::npos) return f;
  std::sscanf(log.c_str() + at, "deltas: folded %ld records (%ld events)", &f.records, &f.events);
  return f;
}

}  // namespace

TEST_CASE(
    "(h) the deltas topic: a crash after a batch's transaction and before its store write loses "
    "and doubles nothing; rebuild --from deltas gives the live digest; an empty store is "
    "restored from it, dedup included") {
  Deployment d;
  auto key = it::create_key(d.prefix, "acme");
  std::string signup = signups_goal(d.serve, key);
  // Events in six rounds: every third one a retry of the one before it
  // (same key, same event), every 101st invalid.
  int64_t want = 0, total = 0;
  std::vector<std::vector<std::pair<std::string, std::string>>> rounds(6);
  std::vector<std::pair<std::string, std::string>> firsts;  // retried again at the end
  for (int r = 0; r < 6; ++r)
    for (int i = 0; i < 3000; ++i) {
      int n = r * 3000 + i;
      ++total;
      if (n % 101 == 0) {
        rounds[r].push_back({"acme/bad", "{\"event_id\": 5"});
        continue;
      }
      if (n % 3 == 2 && !rounds[r].empty() && rounds[r].back().first != "acme/bad") {
        rounds[r].push_back(rounds[r].back());
        continue;
      }
      std::string subject = "u" + std::to_string(n % 40);
      bool match = n % 2 == 0;
      rounds[r].push_back(
          {"acme/" + subject,
           it::event("ev" + std::to_string(n), "acme", "form_submit", ts(1 + n % 5, n % 24),
                     match ? "https://acme.com/signup/a" : "https://acme.com/pricing", nullptr,
                     subject)});
      if (match) ++want;
      if (n < 300 && match) firsts.push_back(rounds[r].back());
    }

  // serve kills itself right after its third deltas transaction.
  CHECK(d.serve.terminate() == 0);
  ::setenv("GOALSTREAM_CRASH_AFTER_DELTAS", "3", 1);
  d.serve.start();
  ::unsetenv("GOALSTREAM_CRASH_AFTER_DELTAS");
  int crashed = -1;
  int64_t produced = 0;
  for (int r = 0; r < 6 && crashed == -1; ++r) {
    it::produce(d.events(), rounds[r]);
    produced += static_cast<int64_t>(rounds[r].size());
    crashed = d.serve.wait_exit(1500);
  }
  if (crashed == -1) crashed = d.serve.wait_exit(60000);
  REQUIRE_MESSAGE(crashed == 128 + SIGKILL, d.serve.log());
  CHECK(d.serve.log().find("GOALSTREAM_CRASH_AFTER_DELTAS: killing this process after "
                           "transaction 3, before its store write") != std::string::npos);
  // The restart folds what the topic has and the store lacks: the crashed
  // transaction's records, at least.
  d.serve.start();
  auto folded = last_folded(d.serve.log());
  CHECK(folded.records >= 1);
  CHECK(folded.events >= 1);
  for (int r = 0; r < 6; ++r) it::produce(d.events(), rounds[r]);  // all again: retries
  produced += total;
  d.serve.wait_caught_up();
  auto g = wait_count(d.serve, key, signup, want, 60000);
  CHECK(g["count"] == want);
  CHECK(d.serve.metric("goalstream_deltas_transactions_total") >= 1);
  CHECK(d.serve.metric("goalstream_deltas_records_total") >= 1);

  // Rebuilds from the deltas topic and from the events give the live digest.
  CHECK(d.serve.terminate() == 0);
  auto live = it::run_cli({"digest", "--data-dir", d.data});
  REQUIRE(live.exit_code == 0);
  auto from_deltas = it::temp_dir("rebuild-deltas") + "/store";
  auto rb = it::run_cli({"rebuild", "--brokers", it::brokers(), "--topic-prefix", d.prefix,
                         "--data-dir", from_deltas, "--from", "deltas"});
  REQUIRE_MESSAGE(rb.exit_code == 0, rb.err);
  CHECK(rb.err.find("folding " + d.prefix + "deltas") != std::string::npos);
  auto rf = last_folded(rb.err);
  CHECK(rf.events == produced);  // every event came from the deltas topic
  CHECK(rb.out == live.out);
  auto from_events = it::temp_dir("rebuild-events") + "/store";
  auto re = it::run_cli({"rebuild", "--brokers", it::brokers(), "--topic-prefix", d.prefix,
                         "--data-dir", from_events, "--from", "events"});
  REQUIRE_MESSAGE(re.exit_code == 0, re.err);
  CHECK(re.out == live.out);
  auto bad_from = it::run_cli({"rebuild", "--brokers", it::brokers(), "--topic-prefix", d.prefix,
                               "--data-dir", it::temp_dir("x") + "/s", "--from", "changes"});
  CHECK(bad_from.exit_code != 0);
  CHECK(bad_from.err.find("--from") != std::string::npos);

  // serve on an empty store restores it from the deltas topic: the counts,
  // and the dedup state (retries of early events are still duplicates).
  auto restored_dir = it::temp_dir("restored") + "/store";
  it::Serve restored(d.prefix, restored_dir);
  restored.start();
  auto rs = last_folded(restored.log());
  CHECK(rs.events == produced);
  restored.wait_caught_up();
  CHECK(get_goal(restored, key, signup)["count"] == want);
  REQUIRE(!firsts.empty());
  it::produce(d.events(), firsts);
  REQUIRE(it::eventually(
      [&] {
        return restored.metric("goalstream_events_duplicate_total") ==
               static_cast<double>(firsts.size());
      },
      30000));
  restored.wait_caught_up();
  CHECK(get_goal(restored, key, signup)["count"] == want);
  CHECK(restored.terminate() == 0);
}

TEST_CASE(
    "(h2) a store rebuilt from the events, served after the deltas topic moved on, continues its "
    "records: the events inside them are ingested again, the next records follow on, and a "
    "rebuild from the deltas topic needs no events") {
  Deployment d;
  auto key = it::create_key(d.prefix, "acme");
  std::string signup = signups_goal(d.serve, key);
  int64_t want = 0, n = 0, produced = 0;
  auto round = [&](int count) {
    std::vector<std::pair<std::string, std::string>> msgs;
    for (int i = 0; i < count; ++i, ++n) {
      bool match = n % 3 != 0;
      msgs.push_back({"acme/u" + std::to_string(n % 50),
                      it::event("e" + std::to_string(n), "acme", "form_submit", ts(2, n % 24),
                                match ? "https://acme.com/signup/x" : "https://acme.com/about",
                                nullptr, "u" + std::to_string(n % 50))});
      if (match) ++want;
      if (n % 7 == 0) msgs.push_back(msgs.back());  // a retry
    }
    it::produce(d.events(), msgs);
    produced += static_cast<int64_t>(msgs.size());
  };
  // The store R is rebuilt from 5,000 events the live serve has not seen
  // yet; the live serve then ingests them with 3,000 more, so its records
  // run past R's positions.
  CHECK(d.serve.terminate() == 0);
  round(5000);
  auto rebuilt = it::temp_dir("h2") + "/store";
  auto rb = it::run_cli(
      {"rebuild", "--brokers", it::brokers(), "--topic-prefix", d.prefix, "--data-dir", rebuilt});
  REQUIRE_MESSAGE(rb.exit_code == 0, rb.err);
  round(3000);
  d.serve.start();
  d.serve.wait_caught_up();
  CHECK(wait_count(d.serve, key, signup, want, 60000)["count"] == want);
  CHECK(d.serve.terminate() == 0);

  // Serving R: the records that do not continue it are not folded; their
  // events are ingested again, producing nothing until past them (and R's
  // first segment runs past them: 1,000 events more).
  round(1000);
  it::Serve r(d.prefix, rebuilt);
  r.start();
  r.wait_caught_up();
  CHECK(wait_count(r, key, signup, want, 60000)["count"] == want);
  CHECK(r.log().find("are ingested again from offset") != std::string::npos);
  round(2000);
  r.wait_caught_up();
  CHECK(wait_count(r, key, signup, want, 60000)["count"] == want);
  CHECK(r.terminate() == 0);
  auto live = it::run_cli({"digest", "--data-dir", rebuilt});
  REQUIRE(live.exit_code == 0);

  // The deltas topic is one unbroken run of records per partition: a
  // rebuild from it folds every event and ingests none.
  auto fresh = it::temp_dir("h2-deltas") + "/store";
  auto rd = it::run_cli({"rebuild", "--brokers", it::brokers(), "--topic-prefix", d.prefix,
                         "--data-dir", fresh, "--from", "deltas"});
  REQUIRE_MESSAGE(rd.exit_code == 0, rd.err);
  CHECK(rd.err.find("ingested again") == std::string::npos);
  CHECK(last_folded(rd.err).events == produced);
  CHECK(rd.err.find("then 0 events") != std::string::npos);
  CHECK(rd.out == live.out);
}

TEST_CASE(
    "(h3) a second serve on the same topic prefix takes the deltas topic over: the first one "
    "stops with exit 1 and says why") {
  Deployment d;
  it::Serve second(d.prefix, it::temp_dir("h3") + "/store");
  second.start();
  it::produce(d.events(), {{"acme/u1", it::event("e1", "acme", "form_submit", ts(2),
                                                 "https://acme.com/x", nullptr, "u1")}});
  CHECK(d.serve.wait_exit(30000) == 1);
  CHECK(d.serve.log().find("goalstream: deltas: another process took over transactional.id " +
                           d.prefix +
                           "ingest.0 (a second goalstream serve with this --topic-prefix and "
                           "--instance-id): this one stops; give every instance its own "
                           "--instance-id") != std::string::npos);
  second.wait_caught_up();
  CHECK(second.metric("goalstream_events_in_total") == 1);
  // (Caught up means processed; its transaction may commit a moment later.)
  it::eventually([&] { return second.metric("goalstream_deltas_transactions_total") >= 1; });
  CHECK(second.metric("goalstream_deltas_transactions_total") == 1);
  CHECK(second.terminate() == 0);
}

TEST_CASE(
    "(h4) SIGTERM while serve folds the deltas topic at start stops it at once: exit 0, and the "
    "next start goes on") {
  Deployment d;
  auto key = it::create_key(d.prefix, "acme");
  std::string signup = signups_goal(d.serve, key);
  for (int r = 0; r < 3; ++r) {  // three batches: records of several partitions each
    std::vector<std::pair<std::string, std::string>> msgs;
    for (int i = 0; i < 60; ++i)
      msgs.push_back({"acme/u" + std::to_string(i),
                      it::event("e" + std::to_string(r * 60 + i), "acme", "form_submit", ts(2),
                                "https://acme.com/signup/x", nullptr, "u" + std::to_string(i))});
    it::produce(d.events(), msgs);
    wait_count(d.serve, key, signup, (r + 1) * 60);
  }
  CHECK(d.serve.metric("goalstream_deltas_transactions_total") >= 3);
  CHECK(d.serve.terminate() == 0);

  // A serve on an empty data dir folds every record; GOALSTREAM_FOLD_DELAY_MS
  // (tests only) makes each take 300 ms, so the fold lasts seconds.
  auto dir = it::temp_dir("h4");
  auto log = dir + "/serve.log";
  ::setenv("GOALSTREAM_FOLD_DELAY_MS", "300", 1);
  int pid =
      it::spawn_command({GOALSTREAM_BIN, "serve", "--brokers", it::brokers(), "--topic-prefix",
                         d.prefix, "--data-dir", dir + "/store", "--listen", "127.0.0.1:0"},
                        log, log);
  ::unsetenv("GOALSTREAM_FOLD_DELAY_MS");
  auto slurp = [&] {
    std::ifstream in(log);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  REQUIRE(it::eventually([&] { return slurp().find("deltas: produced to") != std::string::npos; },
                         30000));
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  CHECK(slurp().find("goalstream serving on") == std::string::npos);  // still folding
  auto sent = std::chrono::steady_clock::now();
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  auto took = std::chrono::steady_clock::now() - sent;
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(took < std::chrono::seconds(3));
  CHECK(slurp().find("received SIGTERM while starting; stopping") != std::string::npos);
  CHECK(slurp().find("stopped cleanly") != std::string::npos);

  // The next start goes on from what the stopped one wrote.
  it::Serve again(d.prefix, dir + "/store");
  again.start();
  again.wait_caught_up();
  CHECK(get_goal(again, key, signup)["count"] == 180);
  CHECK(again.terminate() == 0);
}
