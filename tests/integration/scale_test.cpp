// Integration tests of several serve instances on one topic prefix (issue
// 11, docs/operations.md#several-instances), against a real Kafka broker:
// each owns some events partitions and folds the others' records from the
// deltas topic, so every instance answers every query.
#include <doctest/doctest.h>

#include <cstdio>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

using it::json;

namespace {

// Waits until the goal's count on `s` is `count` with its backfill complete;
// returns the last body.
json wait_count(it::Serve& s, const std::string& key, const std::string& id, int64_t count,
                int timeout_ms = 30000) {
  json last;
  bool reached = it::eventually(
      [&] {
        auto r = s.get("/api/conversion-goals/" + id, key);
        if (r.status != 200) return false;
        last = r.json_body();
        return last["count"] == count && last["backfill"]["status"] == "complete";
      },
      timeout_ms);
  CHECK_MESSAGE(reached, last.dump());  // the count, with the backfill complete
  return last;
}

std::string digest(const std::string& dir) {
  auto r = it::run_cli({"digest", "--data-dir", dir});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return r.out;
}

// Stops both instances (SIGTERM, exit 0); their digests are equal, and equal
// to a rebuild of the topics from the events. Returns the digest.
std::string stop_and_compare(const std::string& prefix, it::Serve& a, const std::string& dir_a,
                             it::Serve& b, const std::string& dir_b, const std::string& label) {
  CHECK(a.terminate() == 0);
  CHECK(b.terminate() == 0);
  auto da = digest(dir_a);
  CHECK(digest(dir_b) == da);
  auto from_events = it::temp_dir(label + "-events") + "/store";
  auto re = it::run_cli(
      {"rebuild", "--brokers", it::brokers(), "--topic-prefix", prefix, "--data-dir", from_events});
  REQUIRE_MESSAGE(re.exit_code == 0, re.err);
  CHECK(re.out == da);
  return da;
}

// A deployment whose first serve has stopped, and two instances A and B on
// empty data dirs sharing its partitions, with its key (tenant acme)
// applied on both.
struct Pair {
  Pair(const std::string& label, const std::string& parts_a, const std::string& parts_b)
      : d(label, "acme"),
        key(d.key),
        dir_a(it::temp_dir(label + "-a") + "/store"),
        dir_b(it::temp_dir(label + "-b") + "/store"),
        a(d.prefix, dir_a, {"--partitions", parts_a, "--instance-id", "a"}),
        b(d.prefix, dir_b, {"--partitions", parts_b, "--instance-id", "b"}) {
    CHECK(d.serve.terminate() == 0);
    a.start();
    b.start();
    // The key's command is applied once each has the other's markers past it.
    REQUIRE(it::eventually([&] { return a.get("/api/settings", key).status == 200; }));
    REQUIRE(it::eventually([&] { return b.get("/api/settings", key).status == 200; }));
  }
  it::Deployment d;
  std::string key, dir_a, dir_b;
  it::Serve a, b;
};

}  // namespace

TEST_CASE(
    "(s1) two instances that share the events partitions: each ingests its own, folds the "
    "other's records, and both answer every query with the same counts and digest") {
  it::Deployment d("s1", "acme");
  auto key = d.key;
  std::string signup = it::create_conversion_goal(
      d.serve, key,
      {{"name", "Signups"}, {"eventType", "form_submit"}, {"urlPattern", "/signup/**"}})["id"];
  it::produce(d.events(), it::signups(0, 300));
  CHECK(wait_count(d.serve, key, signup, 300)["count"] == 300);
  CHECK(d.serve.terminate() == 0);

  // A and B start on empty data dirs: each folds what the first serve
  // produced, then owns half of the six partitions.
  auto dir_a = it::temp_dir("s1-a") + "/store", dir_b = it::temp_dir("s1-b") + "/store";
  it::Serve a(d.prefix, dir_a, {"--partitions", "0-2", "--instance-id", "a"});
  it::Serve b(d.prefix, dir_b, {"--partitions", "3,4,5", "--instance-id", "b"});
  a.start();
  b.start();
  CHECK(a.log().find("6 event partitions (owns 0,1,2; the others are folded from " + d.prefix +
                     "deltas)") != std::string::npos);
  CHECK(b.log().find("(owns 3,4,5;") != std::string::npos);
  CHECK(wait_count(a, key, signup, 300)["count"] == 300);
  CHECK(wait_count(b, key, signup, 300)["count"] == 300);

  // Events of every partition while both run: each instance ingests half.
  it::produce(d.events(), it::signups(300, 400));
  CHECK(wait_count(a, key, signup, 700)["count"] == 700);
  CHECK(wait_count(b, key, signup, 700)["count"] == 700);
  double in_a = a.metric("goalstream_events_in_total"),
         in_b = b.metric("goalstream_events_in_total");
  CHECK(in_a + in_b == 800);  // each event once, by its partition's owner
  CHECK(in_a > 0);
  CHECK(in_b > 0);
  CHECK(a.metric("goalstream_deltas_folded_events_total") > 0);
  CHECK(b.metric("goalstream_deltas_folded_events_total") > 0);

  // A write on A while events stream in: read at once on A, and soon on B;
  // the new goal counts the past events (its backfill) and the later ones,
  // on both (each applies it between the same records of every partition).
  std::thread stream([&] {
    for (int i = 0; i < 20; ++i) {
      it::produce(d.events(), it::signups(700 + i * 5, 5));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  auto created = a.post("/api/conversion-goals", key,
                        json{{"name", "All forms"}, {"eventType", "form_submit"}}.dump());
  stream.join();
  REQUIRE_MESSAGE(created.status == 201, created.body);
  std::string forms = created.json_body()["id"];
  CHECK(a.get("/api/conversion-goals/" + forms, key).status == 200);
  CHECK(it::eventually([&] { return b.get("/api/conversion-goals/" + forms, key).status == 200; }));
  CHECK(wait_count(a, key, forms, 800, 60000)["count"] == 800);
  CHECK(wait_count(b, key, forms, 800, 60000)["count"] == 800);
  CHECK(wait_count(a, key, signup, 800)["count"] == 800);
  CHECK(wait_count(b, key, signup, 800)["count"] == 800);

  // A rejected command: both instances apply (reject) it, one deadletters it.
  it::produce(d.prefix + "commands", {{"acme", "garbage"}});
  auto after = a.post("/api/conversion-goals", key,
                      json{{"name", "Later"}, {"eventType", "purchase"}}.dump());
  REQUIRE_MESSAGE(after.status == 201, after.body);
  CHECK(it::eventually([&] { return b.metric("goalstream_commands_rejected_total") == 1; }));
  CHECK(a.metric("goalstream_commands_rejected_total") == 1);
  std::this_thread::sleep_for(std::chrono::seconds(1));  // a second entry would be there by now
  auto dl = it::read_topic(d.prefix + "deadletter", 2, 3000);
  CHECK(dl.size() == 1);
  a.wait_caught_up();
  b.wait_caught_up();

  // Both equal a rebuild from the events and one from the deltas topic.
  auto da = stop_and_compare(d.prefix, a, dir_a, b, dir_b, "s1");
  auto from_deltas = it::temp_dir("s1-deltas") + "/store";
  auto rd = it::run_cli({"rebuild", "--brokers", it::brokers(), "--topic-prefix", d.prefix,
                         "--data-dir", from_deltas, "--from", "deltas"});
  REQUIRE_MESSAGE(rd.exit_code == 0, rd.err);
  CHECK(rd.out == da);
  CHECK(rd.err.find("then 0 events") != std::string::npos);
}

TEST_CASE("(s2) --partitions and --instance-id refuse what is not a partition or a name") {
  it::Deployment d("s2");
  CHECK(d.serve.terminate() == 0);
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"serve",
                                     "--brokers",
                                     it::brokers(),
                                     "--topic-prefix",
                                     d.prefix,
                                     "--data-dir",
                                     it::temp_dir("s2") + "/store",
                                     "--listen",
                                     "127.0.0.1:0"};
    args.insert(args.end(), extra.begin(), extra.end());
    return it::run_cli_bounded(args, 60000);
  };
  auto r = run({"--partitions", "0,7"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("goalstream: partitions: 7 is not a partition of " + d.prefix +
                   "events, which has 6 (0..5)") != std::string::npos);
  r = run({"--partitions", "2-1"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("goalstream: --partitions: '2-1': '2-1' ends before it starts") !=
        std::string::npos);
  r = run({"--partitions", "1,x"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("'x' is not a partition number or a range like 0-2") != std::string::npos);
  r = run({"--instance-id", "a b"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("goalstream: --instance-id: 'a b': 1 to 64 letters, digits, '.', '_' or '-'") !=
        std::string::npos);
}

TEST_CASE(
    "(s3) kill -9 of one of two instances: its partitions and the next write wait for it, reads "
    "go on; once it is back, both count exactly and agree") {
  Pair pair("s3", "0-2", "3-5");
  auto& [d, key, dir_a, dir_b, a, b] = pair;
  auto created = a.post(
      "/api/conversion-goals", key,
      json{{"name", "Signups"}, {"eventType", "form_submit"}, {"urlPattern", "/signup/**"}}.dump());
  REQUIRE_MESSAGE(created.status == 201, created.body);
  std::string signup = created.json_body()["id"];
  it::produce(d.events(), it::signups(0, 200));
  CHECK(wait_count(a, key, signup, 200)["count"] == 200);
  CHECK(wait_count(b, key, signup, 200)["count"] == 200);

  b.kill9();
  it::produce(d.events(), it::signups(200, 200));
  // A counts its own partitions' share and answers reads; B's share waits.
  CHECK(it::eventually([&] {
    auto n = a.get("/api/conversion-goals/" + signup, key).json_body()["count"];
    return n > 200;
  }));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  int64_t partial = a.get("/api/conversion-goals/" + signup, key).json_body()["count"];
  CHECK(partial > 200);
  CHECK(partial < 400);
  // A counts B's partitions' events it has not folded as lag.
  CHECK(it::eventually([&] {
    auto r = a.get("/readyz", key);
    return r.json_body().value("events_lag", 0) > 0;
  }));
  // A write waits for B's partitions' records past it.
  auto waiting = a.post("/api/conversion-goals", key,
                        json{{"name", "All forms"}, {"eventType", "form_submit"}}.dump());
  CHECK(waiting.status == 503);
  CHECK(waiting.json_body()["error"] == "not_applied");
  CHECK(a.get("/api/conversion-goals/" + signup, key).status == 200);  // reads answer

  b.start();  // the same --partitions and --instance-id: it goes on from its last transaction
  CHECK(wait_count(a, key, signup, 400)["count"] == 400);
  CHECK(wait_count(b, key, signup, 400)["count"] == 400);
  // The write that waited is applied on both, with its backfill.
  auto goals = [&](it::Serve& s) {
    auto r = s.get("/api/conversion-goals", key);
    return r.status == 200 ? r.json_body() : json();
  };
  CHECK(it::eventually([&] { return goals(a).dump().find("All forms") != std::string::npos; }));
  CHECK(it::eventually([&] { return goals(b).dump().find("All forms") != std::string::npos; }));
  std::string forms;
  for (const auto& g : goals(a))
    if (g["name"] == "All forms") forms = g["id"];
  REQUIRE(!forms.empty());
  CHECK(wait_count(a, key, forms, 400)["count"] == 400);
  CHECK(wait_count(b, key, forms, 400)["count"] == 400);
  a.wait_caught_up();
  b.wait_caught_up();
  stop_and_compare(d.prefix, a, dir_a, b, dir_b, "s3");
}

TEST_CASE(
    "(s4) status transitions of a tenant are published once, by one of the two instances, and "
    "both report the status") {
  Pair pair("s4", "0,2,4", "1,3,5");
  auto& [d, key, dir_a, dir_b, a, b] = pair;
  auto post = [&](const std::string& target, const json& body) {
    auto r = a.post(target, key, body.dump());
    REQUIRE_MESSAGE(r.status == 201, r.body);
    return r.json_body();
  };
  std::string cg =
      post("/api/conversion-goals",
           {{"name", "Signups"}, {"eventType", "form_submit"}, {"urlPattern", "/signup/**"}})["id"];
  post("/api/metrics", {{"name", "signups"}, {"aggregation", "count"}, {"conversionGoal", cg}});
  // 10 signups to reach: "behind" until then, "completed" after.
  std::string id = post("/api/goals", {{"metric", "signups"},
                                       {"target", 10},
                                       {"start", it::utc_date(-5)},
                                       {"deadline", it::utc_date(14)}})["id"];
  std::vector<std::pair<std::string, std::string>> msgs;
  for (int i = 0; i < 10; ++i)
    msgs.push_back({"acme/u" + std::to_string(i),
                    it::event("s" + std::to_string(i), "acme", "form_submit", it::utc_now_minus(60),
                              "https://acme.com/signup/x", nullptr, "u" + std::to_string(i))});
  it::produce(d.events(), msgs);
  for (it::Serve* s : {&a, &b})
    CHECK(it::eventually([&] {
      auto r = s->get("/api/goals/" + id, key);
      return r.status == 200 && r.json_body()["status"] == "completed";
    }));
  std::this_thread::sleep_for(std::chrono::seconds(2));  // a repeat would be there by now
  // Each transition once, from one instance (one origin); an intermediate
  // on_track may show when one instance's partitions are folded first.
  auto changes = it::read_topic(d.changes(), 10, 5000);
  REQUIRE(changes.size() >= 2);
  std::set<std::string> seen;
  std::vector<json> parsed;
  for (const auto& c : changes) {
    parsed.push_back(json::parse(c.value));
    const json& j = parsed.back();
    CHECK(j["origin"] == parsed.front()["origin"]);
    std::string transition = j["type"].get<std::string>() + " " + j["before"].get<std::string>() +
                             "->" + j["after"].get<std::string>();
    bool once = seen.insert(transition).second;
    CHECK_MESSAGE(once, c.value);
  }
  CHECK(parsed.back()["type"] == "goal.completed");
  CHECK(parsed[parsed.size() - 2]["type"] == "goal.status_changed");
  CHECK(parsed[parsed.size() - 2]["after"] == "completed");
  CHECK(a.metric("goalstream_changes_total") + b.metric("goalstream_changes_total") ==
        static_cast<double>(changes.size()));
  stop_and_compare(d.prefix, a, dir_a, b, dir_b, "s4");
}
