// Integration tests of serve instances sharing the events partitions
// through a Kafka consumer group (serve --group; issue 11,
// docs/operations.md#several-instances), against a real Kafka broker and
// three real serve processes: instances join and leave, one is killed or
// frozen, and every instance counts every event exactly once.
#include <doctest/doctest.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

using it::json;

namespace {

// Produces `n` signups from `first` in `steps` steps, one every 100 ms.
void stream(const std::string& topic, int first, int n, int steps = 10) {
  for (int i = 0; i < steps; ++i) {
    it::produce(topic, it::signups(first + i * n / steps, n / steps));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

int64_t count(it::Serve& s, const std::string& key, const std::string& id) {
  auto r = s.get("/api/conversion-goals/" + id, key);
  return r.status == 200 ? r.json_body()["count"].get<int64_t>() : -1;
}

bool reaches(it::Serve& s, const std::string& key, const std::string& id, int64_t n,
             int timeout_ms = 90000) {
  bool ok = it::eventually([&] { return count(s, key, id) == n; }, timeout_ms);
  if (!ok) MESSAGE("count " << count(s, key, id) << ", expected " << n);
  return ok;
}

std::string digest(const std::string& dir) {
  auto r = it::run_cli({"digest", "--data-dir", dir});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return r.out;
}

size_t occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Three instances a, b, c of one group on empty data dirs, after a first
// serve issued the key (tenant acme) and defined a signup goal, then stopped.
struct Trio {
  explicit Trio(const std::string& label) : d(label, "acme"), key(d.key) {
    signup = it::create_conversion_goal(
        d.serve, key,
        {{"name", "Signups"}, {"eventType", "form_submit"}, {"urlPattern", "/signup/**"}})["id"];
    CHECK(d.serve.terminate() == 0);
    for (const char* name : {"a", "b", "c"}) {
      dirs.push_back(it::temp_dir(label + "-" + name) + "/store");
      s.push_back(std::make_unique<it::Serve>(
          d.prefix, dirs.back(),
          std::vector<std::string>{"--group", d.prefix + "ingest", "--instance-id", name}));
    }
  }
  it::Serve& operator[](size_t i) { return *s[i]; }
  // Starts all three, and once they share the partitions, 300 signups that
  // each counts.
  void start_all() {
    for (auto& x : s) x->start();
    REQUIRE(settled({0, 1, 2}));
    it::produce(d.events(), it::signups(0, 300));
    for (auto& x : s) CHECK(reaches(*x, key, signup, 300));
  }
  // 100 signups more, once all three share the partitions again: each
  // counts 700; then stop_and_compare.
  void finish(const std::string& label) {
    REQUIRE(settled({0, 1, 2}));
    it::produce(d.events(), it::signups(600, 100));
    for (auto& x : s) CHECK(reaches(*x, key, signup, 700));
    for (auto& x : s) x->wait_caught_up();
    stop_and_compare(label);
  }
  // Waits until the instances given own every partition between them, each
  // some (their logs say which they took over and handed over).
  bool settled(std::vector<size_t> who, int timeout_ms = 60000) {
    return it::eventually(
        [&] {
          int owned = 0;
          for (size_t i : who) {
            auto log = s[i]->log();  // of its last start
            log = log.substr(std::min(log.size(), log.rfind("processor starting")));
            int n = static_cast<int>(occurrences(log, "group: took over events partition") -
                                     occurrences(log, "group: handed events partition"));
            if (n == 0) return false;  // 6 partitions, at most 3 members: each gets some
            owned += n;
          }
          return owned == 6;
        },
        timeout_ms);
  }
  // Stops every instance still running (exit 0); their digests are equal,
  // and equal to rebuilds from the events and from the deltas topic.
  void stop_and_compare(const std::string& label) {
    std::vector<size_t> ran;  // those still running: a's and the others'
    for (size_t i = 0; i < s.size(); ++i)
      if (s[i]->running()) {
        CHECK(s[i]->terminate() == 0);
        ran.push_back(i);
      }
    REQUIRE(!ran.empty());
    auto first = digest(dirs[ran[0]]);
    for (size_t i : ran) CHECK(digest(dirs[i]) == first);
    for (std::string from : {"events", "deltas"}) {
      auto dir = it::temp_dir(label + "-" + from) + "/store";
      auto r = it::run_cli({"rebuild", "--brokers", it::brokers(), "--topic-prefix", d.prefix,
                            "--data-dir", dir, "--from", from});
      REQUIRE_MESSAGE(r.exit_code == 0, r.err);
      CHECK_MESSAGE(r.out == first, from);
    }
  }
  it::Deployment d;
  std::string key, signup;
  std::vector<std::string> dirs;
  std::vector<std::unique_ptr<it::Serve>> s;
};

}  // namespace

TEST_CASE(
    "(g1) three instances of a consumer group: events produced while they join and leave count "
    "exactly once on every instance, and a write on one is read on the others") {
  Trio t("g1");
  it::Serve &a = t[0], &b = t[1], &c = t[2];
  a.start();
  REQUIRE(t.settled({0}));  // alone, a owns all six
  it::produce(t.d.events(), it::signups(0, 200));
  CHECK(reaches(a, t.key, t.signup, 200));

  // b joins while events stream in: some partitions move from a to b.
  std::thread s1([&] { stream(t.d.events(), 200, 200); });
  b.start();
  s1.join();
  REQUIRE(t.settled({0, 1}));
  CHECK(reaches(a, t.key, t.signup, 400));
  CHECK(reaches(b, t.key, t.signup, 400));

  // c joins; then events of every partition.
  c.start();
  REQUIRE(t.settled({0, 1, 2}));
  it::produce(t.d.events(), it::signups(400, 200));
  for (size_t i = 0; i < 3; ++i) CHECK(reaches(t[i], t.key, t.signup, 600));
  // Each event ingested once, by the owner of its partition at the time
  // (every event is sent twice: 1200 messages).
  double in = a.metric("goalstream_events_in_total") + b.metric("goalstream_events_in_total") +
              c.metric("goalstream_events_in_total");
  CHECK(in == 1200);
  CHECK(c.metric("goalstream_events_in_total") > 0);

  // b leaves (SIGTERM) while events stream in: a and c take its partitions.
  std::thread s2([&] { stream(t.d.events(), 600, 200); });
  CHECK(b.terminate() == 0);
  s2.join();
  REQUIRE(t.settled({0, 2}));
  CHECK(reaches(a, t.key, t.signup, 800));
  CHECK(reaches(c, t.key, t.signup, 800));

  // b comes back: it folds what it missed and takes partitions again.
  b.start();
  REQUIRE(t.settled({0, 1, 2}));
  CHECK(reaches(b, t.key, t.signup, 800));

  // A write on a: read at once on a, soon on b and c, with its backfill.
  auto created = a.post("/api/conversion-goals", t.key,
                        json{{"name", "All forms"}, {"eventType", "form_submit"}}.dump());
  REQUIRE_MESSAGE(created.status == 201, created.body);
  std::string forms = created.json_body()["id"];
  CHECK(a.get("/api/conversion-goals/" + forms, t.key).status == 200);
  for (size_t i = 0; i < 3; ++i) CHECK(reaches(t[i], t.key, forms, 800));
  for (size_t i = 0; i < 3; ++i) t[i].wait_caught_up();
  t.stop_and_compare("g1");
}

TEST_CASE(
    "(g2) kill -9 of an instance in the middle of a stream: the others take its partitions over "
    "and count exactly, and so does it once restarted") {
  Trio t("g2");
  t.start_all();

  std::thread s([&] { stream(t.d.events(), 300, 300); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  t[1].kill9();
  s.join();
  // After b's session times out, a and c own all six and count all.
  REQUIRE(t.settled({0, 2}, 90000));
  CHECK(reaches(t[0], t.key, t.signup, 600));
  CHECK(reaches(t[2], t.key, t.signup, 600));

  t[1].start();
  CHECK(reaches(t[1], t.key, t.signup, 600));
  t.finish("g2");
}

TEST_CASE(
    "(g3) a frozen instance (SIGSTOP) loses its partitions; thawed after the group moved on, it "
    "commits nothing of them, and every instance counts exactly") {
  Trio t("g3");
  t.start_all();

  // Frozen with events of its partitions on the way: a batch in progress.
  std::thread s([&] { stream(t.d.events(), 300, 300); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  t[1].signal(SIGSTOP);
  s.join();
  REQUIRE(t.settled({0, 2}, 90000));
  CHECK(reaches(t[0], t.key, t.signup, 600));
  CHECK(reaches(t[2], t.key, t.signup, 600));

  // Thawed: what it had built is not committed. Either it stops, saying why
  // (the group gave its partitions away; or, if its transaction was open,
  // the broker aborted it), or it had nothing of those partitions to commit
  // and goes on folding.
  t[1].signal(SIGCONT);
  int code = t[1].wait_exit(20000);
  if (code != -1) {
    CHECK(code == 1);
    auto log = t[1].log();
    bool said = log.find("of this batch were given to another member of consumer group") !=
                    std::string::npos ||
                log.find(
                    "or this process was paused longer than its transaction timeout (15 s) "
                    "and the broker aborted its transaction") != std::string::npos;
    CHECK_MESSAGE(said, log.substr(log.size() > 2000 ? log.size() - 2000 : 0));
    t[1].start();
  }
  CHECK(reaches(t[1], t.key, t.signup, 600));
  t.finish("g3");
}

TEST_CASE(
    "(g4) writes while instances join and leave: every instance applies each command between "
    "the same records of every partition (same counts, same digest as a rebuild)") {
  Trio t("g4");
  t[0].start();
  t[1].start();
  REQUIRE(t.settled({0, 1}));
  // Goals created on a, one every 300 ms, while events stream, c joins and
  // then b leaves: each goal's backfill snapshot is the same everywhere
  // only if the partitions that change hands are matched after the same
  // commands on every instance.
  std::vector<std::string> goals;
  std::thread writes([&] {
    for (int i = 0; i < 12; ++i) {
      auto r = t[0].post(
          "/api/conversion-goals", t.key,
          json{{"name", "Forms " + std::to_string(i)}, {"eventType", "form_submit"}}.dump());
      if (r.status == 201) goals.push_back(r.json_body()["id"]);
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
  });
  std::thread events([&] { stream(t.d.events(), 0, 400, 40); });
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  t[2].start();
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  CHECK(t[1].terminate() == 0);
  writes.join();
  events.join();
  REQUIRE(t.settled({0, 2}));
  CHECK(goals.size() == 12);  // each answered 201 (applied on a)
  for (size_t i : {0u, 2u}) {
    CHECK(reaches(t[i], t.key, t.signup, 400));
    for (const auto& g : goals) CHECK(reaches(t[i], t.key, g, 400));
  }
  for (size_t i : {0u, 2u}) t[i].wait_caught_up();
  t.stop_and_compare("g4");
}

namespace {

// Growth goals of six tenants reach completed while b joins, c joins and b
// goes (SIGTERM; or with `crash`, kill -9, and b restarts once a and c took
// its partitions over): each transition is on the changes topic once, in
// order, whichever instance published it.
void transitions_across_handovers(const std::string& label, bool crash) {
  Trio t(label);
  it::Serve &a = t[0], &b = t[1], &c = t[2];
  a.start();
  REQUIRE(t.settled({0}));
  // Six tenants (their transitions are published by the owners of
  // different partitions), each with a signup metric and four 20-day growth
  // goals 5 days in, of targets 8 to 32: they pass their expectation and
  // then their target at different counts, so transitions happen all
  // along the stream below.
  struct Goal {
    std::string tenant, id, first;
  };
  std::vector<std::string> tenants, keys;
  std::vector<Goal> goals;
  for (int i = 0; i < 6; ++i) {
    tenants.push_back("g5t" + std::to_string(i));
    keys.push_back(it::create_key(t.d.prefix, tenants.back()));
  }
  for (size_t i = 0; i < tenants.size(); ++i) {
    const auto& key = keys[i];
    REQUIRE(
        it::eventually([&] { return a.get("/api/conversion-goals", key).status == 200; }, 30000));
    std::string cg = it::create_conversion_goal(
        a, key, {{"name", "Signups"}, {"eventType", "form_submit"}})["id"];
    auto m =
        a.post("/api/metrics", key,
               json{{"name", "signups"}, {"aggregation", "count"}, {"conversionGoal", cg}}.dump());
    REQUIRE_MESSAGE(m.status == 201, m.body);
    for (int target : {8, 16, 24, 32}) {
      auto g = a.post("/api/goals", key,
                      json{{"metric", "signups"},
                           {"target", target},
                           {"start", it::utc_date(-5)},
                           {"deadline", it::utc_date(14)}}
                          .dump());
      REQUIRE_MESSAGE(g.status == 201, g.body);
      goals.push_back({tenants[i], g.json_body()["id"], g.json_body()["status"]});
    }
  }
  a.wait_caught_up();

  // 32 signups per tenant, two at a time every 400 ms, while b joins, c
  // joins and b leaves.
  std::thread events([&] {
    std::string when = it::utc_now_minus(60);
    for (int step = 0; step < 16; ++step) {
      std::vector<std::pair<std::string, std::string>> msgs;
      for (const auto& tenant : tenants)
        for (int k = 0; k < 2; ++k) {
          auto id = tenant + "-" + std::to_string(step * 2 + k);
          msgs.push_back(
              {tenant + "/" + id, it::event(id, tenant, "form_submit", when, "", nullptr, id)});
        }
      it::produce(t.d.events(), msgs);
      std::this_thread::sleep_for(std::chrono::milliseconds(400));
    }
  });
  b.start();
  REQUIRE(t.settled({0, 1}));
  c.start();
  REQUIRE(t.settled({0, 1, 2}));
  if (crash) {
    // Killed with its last evaluations perhaps not published: its open
    // transaction is aborted, the next owners announce them, and at its
    // restart it drops what it had not published.
    b.kill9();
    events.join();
    REQUIRE(t.settled({0, 2}, 90000));
    b.start();
    REQUIRE(t.settled({0, 1, 2}));
  } else {
    CHECK(b.terminate() == 0);
    events.join();
    REQUIRE(t.settled({0, 2}));
  }

  // Every goal completed, on a and on c.
  for (size_t i : {0u, 2u})
    for (const auto& g : goals) {
      const auto& key = keys[static_cast<size_t>(g.tenant.back() - '0')];
      CHECK_MESSAGE(it::eventually(
                        [&] {
                          auto r = t[i].get("/api/goals/" + g.id, key);
                          return r.status == 200 && r.json_body()["status"] == "completed";
                        },
                        60000),
                    g.id);
    }
  // The changes topic: per goal, status changes that follow each other
  // (each one's `before` is the last one's `after`) from the goal's first
  // status to completed, and one goal.completed. A transition published
  // twice, or not at all, breaks the chain.
  std::vector<it::Message> published;
  REQUIRE(it::eventually(
      [&] {
        published = it::read_topic(t.d.changes(), 100000, 3000);
        size_t completed = 0;
        for (auto& m : published)
          completed += json::parse(m.value, nullptr, false)["type"] == "goal.completed";
        return completed >= goals.size();
      },
      60000));
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));  // nothing more comes
  published = it::read_topic(t.d.changes(), 100000, 3000);
  std::set<std::string> origins;
  for (const auto& g : goals) {
    std::string status = g.first;
    int completed = 0, changes = 0;
    for (auto& m : published) {
      auto j = json::parse(m.value, nullptr, false);
      if (j["goal_id"] != g.id) continue;
      origins.insert(j["origin"].get<std::string>());
      CHECK(j["tenant_id"] == g.tenant);
      if (j["type"] == "goal.completed") {
        ++completed;
        continue;
      }
      ++changes;
      CHECK_MESSAGE(j["before"] == status, g.id << ": " << j.dump());
      status = j["after"];
    }
    CHECK_MESSAGE(status == "completed", g.id);
    CHECK_MESSAGE(completed == 1, g.id);
    CHECK(changes >= 1);
  }
  // Published by more than one instance: the tenants' partitions moved.
  CHECK(origins.size() >= 2);
  CHECK(a.log().find("changes: published the transitions of the tenants of events partition") !=
        std::string::npos);
  CHECK(c.log().find("changes: publishing the transitions of the tenants of events partition") !=
        std::string::npos);
  for (size_t i : {0u, 2u}) t[i].wait_caught_up();
  t.stop_and_compare(label);
}

}  // namespace

TEST_CASE(
    "(g5) status transitions while partitions change hands: each is on the changes topic once, "
    "in order, whichever instance published it") {
  transitions_across_handovers("g5", false);
}

TEST_CASE(
    "(g6) status transitions across kill -9 of an instance that publishes some tenants: each is "
    "on the changes topic once, in order") {
  transitions_across_handovers("g6", true);
}
