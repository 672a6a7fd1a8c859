// Integration tests of the growth-goals API (docs/api.md: /api/goals), its
// metrics and the changes topic, against a real Kafka broker and real RocksDB
// directories, driving the real `goalstream` binary as a user would.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <set>
#include <thread>

#include "harness.h"

using it::json;
using ojson = nlohmann::ordered_json;

namespace {

struct Deployment : it::Deployment {
  Deployment() : it::Deployment("g", "acme") {}
  it::HttpResponse patch(const std::string& body) {
    return it::http(serve.port(), "PATCH", "/api/goals", body,
                    {{"x-api-key", key}, {"Content-Type", "application/json"}});
  }
  void signups(const std::vector<std::string>& timestamps, const std::string& id_prefix,
               json properties = nullptr, const std::vector<std::string>& subjects = {}) {
    std::vector<std::pair<std::string, std::string>> msgs;
    for (size_t i = 0; i < timestamps.size(); ++i)
      msgs.push_back({"acme/u", it::event(id_prefix + std::to_string(i), "acme", "form_submit",
                                          timestamps[i], "https://acme.com/signup/complete",
                                          properties, i < subjects.size() ? subjects[i] : "")});
    it::produce(events(), msgs);
  }
  // Waits until GET `target` shows `current`; returns the last body read.
  json wait_for_current(const std::string& target, double current, int timeout_ms = 30000) {
    json last;
    it::eventually(
        [&] {
          last = get_ok(target);
          return last["current"] == current;
        },
        timeout_ms);
    CHECK_MESSAGE(last["current"] == current, last.dump());
    return last;
  }
  json wait_current(const std::string& goal_id, double current) {
    return wait_for_current("/api/goals/" + goal_id, current);
  }
};

std::vector<json> read_changes(const std::string& topic, size_t at_least, int timeout_ms) {
  std::vector<json> out;
  for (auto& m : it::read_topic(topic, at_least, timeout_ms))
    out.push_back(json::parse(m.value, nullptr, false));
  return out;
}

}  // namespace

TEST_CASE(
    "the reference's curl examples, replayed verbatim: create, list, update with a status "
    "override, delete") {
  Deployment d;
  auto cg = d.signup_goal();
  d.post_ok("/api/metrics", {{"name", "monthly_signups"},
                             {"aggregation", "count"},
                             {"conversionGoal", cg},
                             {"window", "month"}});
  d.signups({"2025-03-02T10:00:00Z", "2025-03-15T10:00:00Z", "2025-03-31T23:59:59Z",
             "2025-02-28T23:59:59Z", "2025-04-01T00:00:00Z"},
            "m");

  // POST /api/goals, the reference's body byte for byte.
  auto created = it::http(
      d.serve.port(), "POST", "/api/goals",
      R"({ "metric": "monthly_signups", "target": 500, "deadline": "2025-03-31", "description": "Reach 500 signups per month by end of Q1" })",
      {{"Content-Type", "application/json"}, {"x-api-key", d.key}});
  REQUIRE_MESSAGE(created.status == 201, created.body);
  auto goal = created.json_body();
  std::string id = goal["id"];
  CHECK(id.starts_with("goal_"));
  CHECK(created.headers["Location"] == "/api/goals/" + id);
  CHECK(goal["metric"] == "monthly_signups");
  CHECK(goal["target"] == 500);
  CHECK(goal["target"].is_number_integer());  // 500, as the reference writes it, not 500.0
  CHECK(goal["deadline"] == "2025-03-31");
  CHECK(goal["description"] == "Reach 500 signups per month by end of Q1");
  CHECK(goal["createdAt"].get<std::string>().ends_with("Z"));
  // The deadline has passed: the goal is read at its last instant, over March 2025.
  goal = d.wait_current(id, 3);
  CHECK(goal["status"] == "behind");
  CHECK(goal["period"]["start"] == "2025-03-01T00:00:00Z");
  CHECK(goal["period"]["end"] == "2025-04-01T00:00:00Z");

  // GET /api/goals: an array of goal objects whose first members are the reference's, in its order.
  auto list = it::http(d.serve.port(), "GET", "/api/goals", "", {{"x-api-key", d.key}});
  REQUIRE(list.status == 200);
  auto arr = ojson::parse(list.body);
  REQUIRE(arr.is_array());
  REQUIRE(arr.size() == 1);
  std::vector<std::string> names;
  for (auto& [k, v] : arr[0].items()) names.push_back(k);
  REQUIRE(names.size() >= 7);
  CHECK(std::vector<std::string>(names.begin(), names.begin() + 7) ==
        std::vector<std::string>{"id", "metric", "target", "current", "deadline", "status",
                                 "createdAt"});
  CHECK(arr[0]["id"] == id);
  CHECK(arr[0]["current"] == 3);
  CHECK(arr[0]["current"].is_number_integer());

  // PATCH /api/goals: the reference's body, with the id of the goal created above.
  auto patched = d.patch(R"({ "id": ")" + id + R"(", "target": 600, "status": "at_risk" })");
  REQUIRE_MESSAGE(patched.status == 200, patched.body);
  auto p = patched.json_body();
  CHECK(p["id"] == id);
  CHECK(p["target"] == 600);
  CHECK(p["status"] == "at_risk");         // the manual status wins...
  CHECK(p["computedStatus"] == "behind");  // ...over the computed one
  CHECK(p["manualStatus"] == "at_risk");
  CHECK(d.get_ok("/api/goals")[0]["status"] == "at_risk");
  // "status": null clears the override.
  auto cleared = d.patch(R"({ "id": ")" + id + R"(", "status": null })");
  REQUIRE_MESSAGE(cleared.status == 200, cleared.body);
  CHECK(cleared.json_body()["status"] == "behind");
  CHECK(cleared.json_body()["manualStatus"].is_null());
  CHECK(cleared.json_body()["target"] == 600);  // untouched members stay

  // Errors name the field.
  struct Bad {
    std::string body, field;
  };
  for (const Bad& b :
       {Bad{R"({"target": 5, "deadline": "2025-03-31"})", "metric"},
        Bad{R"({"metric": "monthly_signups", "deadline": "2025-03-31"})", "target"},
        Bad{R"({"metric": "monthly_signups", "target": 5})", "deadline"},
        Bad{R"({"metric": "monthly_signups", "target": "500", "deadline": "2025-03-31"})",
            "target"},
        Bad{R"({"metric": "monthly_signups", "target": 0, "deadline": "2025-03-31"})", "target"},
        Bad{R"({"metric": "monthly_signups", "target": -3, "deadline": "2025-03-31"})", "target"},
        Bad{R"({"metric": "monthly_signups", "target": 5, "deadline": "2025-02-30"})", "deadline"},
        Bad{R"({"metric": "monthly_signups", "target": 5, "deadline": "31/03/2025"})", "deadline"},
        Bad{R"({"metric": 7, "target": 5, "deadline": "2025-03-31"})", "metric"},
        Bad{R"({"metric": "m", "target": 5, "deadline": "2025-03-31", "colour": "red"})",
            "colour"}}) {
    auto r = d.serve.post("/api/goals", d.key, b.body);
    CHECK_MESSAGE(r.status == 422, b.body);
    CHECK_MESSAGE(r.json_body()["field"] == b.field, std::string(b.body + " -> " + r.body));
  }
  auto bad_status = d.patch(R"({ "id": ")" + id + R"(", "status": "done" })");
  CHECK(bad_status.status == 422);
  CHECK(bad_status.json_body()["field"] == "status");
  CHECK(d.patch(R"({ "id": "goal_001", "target": 600, "status": "at_risk" })").status == 404);
  CHECK(d.patch(R"({ "target": 600 })").json_body()["field"] == "id");
  CHECK(d.serve.post("/api/goals", d.key, "{not json").status == 400);
  CHECK(it::http(d.serve.port(), "GET", "/api/goals").status == 401);
  // Another tenant sees nothing and cannot touch the goal (404, as for a missing one).
  auto other = it::create_key(d.prefix, "globex");
  CHECK(d.serve.get("/api/goals", other).json_body() == json::array());
  CHECK(d.serve.del("/api/goals?id=" + id, other).status == 404);

  // DELETE /api/goals?id=…, as the reference writes it.
  auto del = it::http(d.serve.port(), "DELETE", "/api/goals?id=" + id, "", {{"x-api-key", d.key}});
  REQUIRE_MESSAGE(del.status == 200, del.body);
  CHECK(del.json_body()["deleted"] == true);
  CHECK(d.get_ok("/api/goals") == json::array());
  CHECK(d.serve.del("/api/goals?id=" + id, d.key).status == 404);
  CHECK(d.serve.get("/api/goals/" + id, d.key).status == 404);
}

TEST_CASE(
    "current follows produced events; late events land in their own month; the time zone decides "
    "months") {
  Deployment d;
  auto cg = d.signup_goal();
  d.post_ok("/api/metrics", {{"name", "monthly_signups"},
                             {"aggregation", "count"},
                             {"conversionGoal", cg},
                             {"window", "month"}});
  std::string march =
      d.post_ok("/api/goals",
                {{"metric", "monthly_signups"}, {"target", 10}, {"deadline", "2025-03-31"}})["id"];
  std::string feb =
      d.post_ok("/api/goals",
                {{"metric", "monthly_signups"}, {"target", 10}, {"deadline", "2025-02-28"}})["id"];
  d.signups({"2025-03-01T00:00:00Z", "2025-03-05T12:00:00Z", "2025-03-09T12:00:00Z",
             "2025-03-20T12:00:00Z", "2025-03-31T23:00:00Z"},
            "mar");
  d.wait_current(march, 5);
  CHECK(d.get_ok("/api/goals/" + feb)["current"] == 0);
  // Late events, produced after March's: they count for February, not for the month they arrived
  // in.
  d.signups({"2025-02-15T12:00:00Z", "2025-02-28T20:00:00Z"}, "late");
  d.wait_current(feb, 2);
  CHECK(d.get_ok("/api/goals/" + march)["current"] == 5);
  // In Asia/Kolkata (+05:30), 2025-02-28T20:00Z is 1 March, 01:30.
  auto tz = it::http(d.serve.port(), "PUT", "/api/settings", R"({"timezone": "Asia/Kolkata"})",
                     {{"x-api-key", d.key}});
  REQUIRE_MESSAGE(tz.status == 200, tz.body);
  CHECK(tz.json_body()["timezone"] == "Asia/Kolkata");
  // ...and 2025-03-31T23:00Z is 1 April.
  CHECK(d.get_ok("/api/goals/" + march)["current"] == 5);  // +1 (Feb 28 20:00Z) -1 (Mar 31 23:00Z)
  CHECK(d.get_ok("/api/goals/" + feb)["current"] == 1);
  CHECK(d.get_ok("/api/goals/" + march)["period"]["start"] == "2025-02-28T18:30:00Z");
  auto bad = it::http(d.serve.port(), "PUT", "/api/settings", R"({"timezone": "Mars/Olympus"})",
                      {{"x-api-key", d.key}});
  CHECK(bad.status == 422);
  CHECK(bad.json_body()["field"] == "timezone");
  CHECK(d.get_ok("/api/settings")["timezone"] == "Asia/Kolkata");
  // Another tenant keeps its own zone and sees none of these metrics or goals.
  auto other = it::create_key(d.prefix, "globex");
  CHECK(d.serve.get("/api/settings", other).json_body()["timezone"] == "UTC");
  CHECK(d.serve.get("/api/metrics", other).json_body() == json::array());
  CHECK(d.serve.get("/api/metrics/monthly_signups", other).status == 404);
  CHECK(d.serve.get("/api/goals/" + march, other).status == 404);
  CHECK(d.serve.del("/api/metrics/monthly_signups", other).status == 404);
  CHECK(d.get_ok("/api/metrics/monthly_signups")["name"] == "monthly_signups");
}

TEST_CASE(
    "metrics: sum of a property, unique subjects and ratios come from retained events; a goal may "
    "name a metric defined later; a rebuild gives the same digest") {
  Deployment d;
  auto cg = d.signup_goal();
  auto trials =
      d.post_ok("/api/conversion-goals", {{"name", "Trial"}, {"eventType", "trial_start"}})["id"];
  // Events first, metrics later: the metrics must count what the events topic retained.
  d.signups({"2025-03-01T10:00:00Z", "2025-03-02T10:00:00Z", "2025-03-03T10:00:00Z",
             "2025-03-03T11:00:00Z"},
            "s", {{"plan", {{"amount", 12.5}}}, {"value", 1}}, {"u1", "u2", "u1", "u3"});
  std::vector<std::pair<std::string, std::string>> t;
  for (int i = 0; i < 8; ++i)
    t.push_back({"acme/t", it::event("t" + std::to_string(i), "acme", "trial_start",
                                     "2025-03-04T10:00:00Z")});
  it::produce(d.events(), t);
  // Wait until the conversion goals have counted them.
  it::eventually(
      [&] { return d.get_ok("/api/conversion-goals/" + trials.get<std::string>())["count"] == 8; });

  // A goal naming a metric that does not exist yet reads 0.
  std::string g = d.post_ok("/api/goals", {{"metric", "revenue"},
                                           {"target", 100},
                                           {"deadline", "2025-03-31"},
                                           {"start", "2025-03-01"},
                                           {"unit", "dollars"}})["id"];
  auto before = d.get_ok("/api/goals/" + g);
  CHECK(before["current"] == 0);
  CHECK(before["metricDefined"] == false);
  CHECK(before["unit"] == "dollars");

  d.post_ok("/api/metrics", {{"name", "revenue"},
                             {"aggregation", "sum"},
                             {"property", "plan.amount"},
                             {"conversionGoal", cg},
                             {"window", "span"}});
  auto after = d.wait_current(g, 50);
  CHECK(after["metricDefined"] == true);
  d.post_ok(
      "/api/metrics",
      {{"name", "buyers"}, {"aggregation", "unique"}, {"conversionGoal", cg}, {"window", "span"}});
  d.post_ok(
      "/api/metrics",
      {{"name", "signups"}, {"aggregation", "count"}, {"conversionGoal", cg}, {"window", "span"}});
  d.post_ok("/api/metrics", {{"name", "trials"},
                             {"aggregation", "count"},
                             {"conversionGoal", trials},
                             {"window", "span"}});
  d.post_ok("/api/metrics", {{"name", "conversion_rate"},
                             {"aggregation", "ratio"},
                             {"numerator", "signups"},
                             {"denominator", "trials"},
                             {"window", "span"}});
  d.post_ok("/api/metrics", {{"name", "nothing_rate"},
                             {"aggregation", "ratio"},
                             {"numerator", "signups"},
                             {"denominator", "no_such_metric"}});
  auto goal_on = [&](const std::string& metric, double target) -> std::string {
    return d.post_ok("/api/goals", {{"metric", metric},
                                    {"target", target},
                                    {"deadline", "2025-03-31"},
                                    {"start", "2025-03-01"}})["id"];
  };
  d.wait_current(goal_on("buyers", 10), 3);            // u1, u2, u3
  d.wait_current(goal_on("conversion_rate", 80), 50);  // 4 / 8 × 100
  auto nothing =
      d.wait_current(goal_on("nothing_rate", 10), 0);  // zero denominator: 0, not a crash
  CHECK(nothing["metricDefined"] == true);
  CHECK(d.get_ok("/api/metrics/conversion_rate")["window"] == "span");
  // A metric over the base series: a sum of properties.value.
  d.post_ok(
      "/api/metrics",
      {{"name", "values"}, {"aggregation", "sum"}, {"property", "value"}, {"conversionGoal", cg}});
  d.wait_current(goal_on("values", 10), 4);

  // Metric errors.
  auto dup = d.serve.post(
      "/api/metrics", d.key,
      json{{"name", "revenue"}, {"aggregation", "count"}, {"conversionGoal", cg}}.dump());
  CHECK(dup.status == 409);
  auto unknown = d.serve.post(
      "/api/metrics", d.key,
      json{{"name", "x"}, {"aggregation", "count"}, {"conversionGoal", "cg_nope"}}.dump());
  CHECK(unknown.status == 422);
  CHECK(unknown.json_body()["field"] == "conversionGoal");
  auto nosum =
      d.serve.post("/api/metrics", d.key,
                   json{{"name", "x"}, {"aggregation", "sum"}, {"conversionGoal", cg}}.dump());
  CHECK(nosum.json_body()["field"] == "property");
  auto badwin = d.serve.post(
      "/api/metrics", d.key,
      json{{"name", "x"}, {"aggregation", "count"}, {"conversionGoal", cg}, {"window", "fortnight"}}
          .dump());
  CHECK(badwin.json_body()["field"] == "window");
  CHECK(d.serve.del("/api/metrics/no_such", d.key).status == 404);
  CHECK(d.get_ok("/api/metrics").size() == 7);

  // New events reach every series live.
  d.signups({"2025-03-10T10:00:00Z"}, "live", {{"plan", {{"amount", 7.25}}}}, {"u4"});
  d.wait_current(g, 57.25);
  // Deleting the metric drops its series: the goal reads 0 again.
  REQUIRE(d.serve.del("/api/metrics/revenue", d.key).status == 200);
  d.wait_current(g, 0);

  // A rebuild from the topics gives the live digest.
  d.serve.wait_caught_up();
  REQUIRE(d.serve.terminate() == 0);
  auto digests = it::live_and_rebuilt(d.prefix, d.data);
  CHECK(digests.rebuilt == digests.live);
}

TEST_CASE(
    "status moves from behind to completed as events arrive; the changes topic holds each "
    "transition exactly once across kill -9, and a rebuild announces nothing") {
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
  CHECK(goal["status"] == "behind");
  double expected = goal["expected"];
  CHECK(expected >= 5.0);
  CHECK(expected <= 7.0);

  // Enough to pass the expectation, not the target: on_track.
  int first = static_cast<int>(std::ceil(expected)) + 1;
  std::string when = it::utc_now_minus(60);
  d.signups(std::vector<std::string>(first, when), "a");
  auto g = d.wait_current(id, first);
  CHECK(g["status"] == "on_track");
  auto changes = read_changes(d.changes(), 1, 20000);
  REQUIRE(changes.size() == 1);
  CHECK(changes[0]["type"] == "goal.status_changed");
  CHECK(changes[0]["goal_id"] == id);
  CHECK(changes[0]["before"] == "behind");
  CHECK(changes[0]["after"] == "on_track");
  CHECK(changes[0]["cause"] == "events");
  CHECK(changes[0]["event_time"] == when);

  // The rest, with a fault injected: the process exits right after the
  // broker acknowledged the next change, before removing it from its outbox.
  REQUIRE(d.serve.terminate() == 0);
  setenv("GOALSTREAM_FAULT", "exit-after-publish", 1);
  d.serve.start();
  unsetenv("GOALSTREAM_FAULT");
  d.signups(std::vector<std::string>(20 - first, when), "b");
  REQUIRE(it::eventually([&] { return read_changes(d.changes(), 2, 1000).size() >= 2; }, 30000));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  d.serve.kill9();  // reaps the exited process
  d.serve.start();
  d.wait_current(id, 20);
  CHECK(d.get_ok("/api/goals/" + id)["status"] == "completed");
  // Exactly three messages: the restart found the change already on the
  // topic and did not publish it again; a kill -9 and another restart
  // announce nothing new either.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  d.serve.kill9();
  d.serve.start();
  d.serve.wait_caught_up();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  changes = read_changes(d.changes(), 4, 5000);
  REQUIRE(changes.size() == 3);
  CHECK(changes[1]["type"] == "goal.status_changed");
  CHECK(changes[1]["before"] == "on_track");
  CHECK(changes[1]["after"] == "completed");
  CHECK(changes[2]["type"] == "goal.completed");
  CHECK(changes[2]["after"] == "completed");
  CHECK(changes[2]["current"] == 20);
  for (auto& c : changes) CHECK(c["tenant_id"] == "acme");

  // A manual status is a transition too, announced once.
  REQUIRE(d.patch(R"({"id": ")" + id + R"(", "status": "at_risk"})").status == 200);
  changes = read_changes(d.changes(), 4, 20000);
  REQUIRE(changes.size() == 4);
  CHECK(changes[3]["after"] == "at_risk");
  CHECK(changes[3]["cause"] == "command");

  // Rebuild, then serve the rebuilt store: nothing is announced again.
  REQUIRE(d.serve.terminate() == 0);
  auto rebuilt_dir = it::temp_dir("rebuilt");
  auto rebuilt = it::run_cli({"rebuild", "--brokers", it::brokers(), "--topic-prefix", d.prefix,
                              "--data-dir", rebuilt_dir});
  REQUIRE_MESSAGE(rebuilt.exit_code == 0, rebuilt.err);
  it::Serve again(d.prefix, rebuilt_dir);
  again.start();
  again.wait_caught_up();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CHECK(again.get("/api/goals/" + id, d.key).json_body()["status"] == "at_risk");
  CHECK(read_changes(d.changes(), 5, 3000).size() == 4);
}

TEST_CASE(
    "invalid growth commands on the commands topic are deadlettered with their reason; the "
    "pipeline goes on") {
  Deployment d;
  auto cmd = [](const std::string& type, const std::string& data) {
    return std::pair<std::string, std::string>{
        "acme", R"({"command_id":"c","type":")" + type +
                    R"(","tenant_id":"acme","issued_at":"2025-03-01T00:00:00Z","data":)" + data +
                    "}"};
  };
  std::vector<std::pair<std::string, std::string>> bad = {
      cmd("growth_goal.created",
          R"({"id":"goal_x","metric":"m","target":-1,"deadline":"2025-03-31","createdAt":"2025-03-01T00:00:00Z"})"),
      cmd("growth_goal.updated", R"({"id":"goal_missing","target":5})"),
      cmd("growth_goal.updated", R"({"id":7})"),
      cmd("metric.defined",
          R"({"name":"m","aggregation":"avg","conversionGoal":"cg_1","window":"month","createdAt":"2025-03-01T00:00:00Z"})"),
      cmd("metric.deleted", R"({"name":5})"),
      cmd("tenant.timezone_set", R"({"timezone":"Mars/Olympus"})"),
  };
  it::produce(d.prefix + "commands", bad);
  // A valid write after them is applied and answers.
  auto cg = d.signup_goal();
  d.post_ok("/api/metrics",
            {{"name", "signups"}, {"aggregation", "count"}, {"conversionGoal", cg}});
  std::string g = d.post_ok("/api/goals", {{"metric", "signups"},
                                           {"target", 5},
                                           {"deadline", "2025-03-31"},
                                           {"start", "2025-03-01"}})["id"];
  d.signups({"2025-03-02T10:00:00Z"}, "e");
  d.wait_current(g, 1);
  CHECK(d.get_ok("/api/goals").size() == 1);  // the invalid goal was not created
  CHECK(d.get_ok("/api/settings")["timezone"] == "UTC");
  auto dl = it::read_topic(d.prefix + "deadletter", bad.size());
  REQUIRE(dl.size() == bad.size());
  std::set<std::string> reasons;
  for (auto& m : dl) {
    CHECK(m.headers["source.topic"] == d.prefix + "commands");
    reasons.insert(m.headers["error"]);
  }
  CHECK(reasons.count("target: must be a positive number"));
  CHECK(reasons.count("data.id: no goal goal_missing"));
  CHECK(reasons.count("id: must be a string"));
  CHECK(reasons.count("aggregation: must be one of count, sum, unique, ratio"));
  CHECK(reasons.count("data.name: is required"));
  CHECK(reasons.count("data.timezone: is not an IANA time zone"));
  CHECK(d.serve.metric("goalstream_commands_rejected_total") == 6);
}
