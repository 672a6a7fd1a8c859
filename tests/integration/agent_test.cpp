// Integration tests of the agent-goals API (docs/api.md#agent-goals:
// /v1/goals) against a real Kafka broker and real RocksDB directories,
// driving the real `goalstream` binary as a client of the reference would:
// Authorization: Bearer, the {success, data, pagination} envelope.
#include <doctest/doctest.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

using it::json;
using ojson = nlohmann::ordered_json;

namespace {

// The reference's request bodies, byte for byte.
const char* kReferencePost =
    R"({ "agent_id": "agent_abc123", "title": "Book qualified meeting", "description": "The call ends with a confirmed meeting time.", "targets": [ { "period": "week", "target_type": "count", "target_count": 25, "is_primary": true } ]})";
const char* kReferencePatch =
    R"({ "active": true, "targets": [ { "period": "month", "target_type": "rate", "target_rate": 70, "is_primary": true } ]})";

struct Deployment : it::Deployment {
  Deployment() : it::Deployment("a", "acme") {}
  // A request as the reference's curl examples make it: Authorization:
  // Bearer, and Content-Type with a body.
  it::HttpResponse call(const std::string& method, const std::string& target,
                        const std::string& body = "", const std::string& as = "",
                        std::map<std::string, std::string> headers = {}) {
    headers["Authorization"] = "Bearer " + (as.empty() ? key : as);
    if (!body.empty()) headers["Content-Type"] = "application/json";
    return it::http(serve.port(), method, target, body, headers);
  }
  // POST /v1/goals `body` (must answer 201); returns the goal.
  json create(const json& body) {
    auto r = call("POST", "/v1/goals", body.dump());
    REQUIRE_MESSAGE(r.status == 201, r.body);
    return r.json_body()["data"];
  }
};

std::vector<std::string> names(const ojson& object) {
  std::vector<std::string> out;
  for (auto& [k, v] : object.items()) out.push_back(k);
  return out;
}

const std::vector<std::string> kGoalMembers = {
    "id",           "agent_id", "channel_id", "title",      "description", "active",
    "goal_targets", "timezone", "week_start", "created_at", "updated_at"};
const std::vector<std::string> kTargetMembers = {
    "id", "period", "target_type", "target_count", "target_rate", "is_primary", "min_sample"};

// A failure in the agent envelope: {"success": false, "error": {code, message[, field]}}.
void check_error(const it::HttpResponse& r, int status, const std::string& code,
                 const std::string& field = "", const std::string& message = "") {
  CAPTURE(r.body);
  CHECK(r.status == status);
  auto body = ojson::parse(r.body, nullptr, false);
  REQUIRE(body.is_object());
  CHECK(names(body) == std::vector<std::string>{"success", "error"});
  CHECK(body["success"] == false);
  CHECK(body["error"]["code"] == code);
  CHECK(body["error"]["message"].is_string());
  if (field.empty())
    CHECK_FALSE(body["error"].contains("field"));
  else
    CHECK(body["error"]["field"] == field);
  if (!message.empty()) CHECK(body["error"]["message"] == message);
}

}  // namespace

TEST_CASE(
    "the reference's five curl examples, verbatim with Authorization: Bearer: create, list, get, "
    "update, delete") {
  Deployment d;

  // Create Goal.
  auto created = d.call("POST", "/v1/goals", kReferencePost);
  REQUIRE_MESSAGE(created.status == 201, created.body);
  auto body = ojson::parse(created.body);
  CHECK(names(body) == std::vector<std::string>{"success", "data"});
  CHECK(body["success"] == true);
  auto goal = body["data"];
  CHECK(names(goal) == kGoalMembers);
  std::string id = goal["id"];
  CHECK(id.starts_with("goal_"));
  CHECK(id.size() == 21);
  CHECK(created.headers["Location"] == "/v1/goals/" + id);
  CHECK(goal["agent_id"] == "agent_abc123");
  CHECK(goal["channel_id"].is_null());
  CHECK(goal["title"] == "Book qualified meeting");
  CHECK(goal["description"] == "The call ends with a confirmed meeting time.");
  CHECK(goal["active"] == true);
  REQUIRE(goal["goal_targets"].size() == 1);
  auto target = goal["goal_targets"][0];
  CHECK(names(target) == kTargetMembers);
  std::string target_id = target["id"];
  CHECK(target_id.starts_with("target_"));
  CHECK(target["period"] == "week");
  CHECK(target["target_type"] == "count");
  CHECK(target["target_count"] == 25);
  CHECK(target["target_count"].is_number_integer());
  CHECK(target["target_rate"].is_null());
  CHECK(target["is_primary"] == true);
  CHECK(target["min_sample"].is_null());
  CHECK(goal["created_at"].get<std::string>().ends_with("Z"));
  CHECK(goal["updated_at"] == goal["created_at"]);

  // List Goals: ?active=true&limit=10.
  auto listed = d.call("GET", "/v1/goals?active=true&limit=10");
  REQUIRE_MESSAGE(listed.status == 200, listed.body);
  body = ojson::parse(listed.body);
  CHECK(names(body) == std::vector<std::string>{"success", "data", "pagination"});
  CHECK(body["success"] == true);
  REQUIRE(body["data"].size() == 1);
  CHECK(body["data"][0] == goal);
  CHECK(names(body["pagination"]) ==
        std::vector<std::string>{"total", "limit", "offset", "has_more"});
  CHECK(body["pagination"] ==
        ojson{{"total", 1}, {"limit", 10}, {"offset", 0}, {"has_more", false}});

  // Get Goal.
  auto got = d.call("GET", "/v1/goals/" + id);
  REQUIRE_MESSAGE(got.status == 200, got.body);
  CHECK(ojson::parse(got.body) == ojson{{"success", true}, {"data", goal}});

  // Update Goal: the targets are replaced, with new ids.
  auto patched = d.call("PATCH", "/v1/goals/" + id, kReferencePatch);
  REQUIRE_MESSAGE(patched.status == 200, patched.body);
  body = ojson::parse(patched.body);
  CHECK(body["success"] == true);
  auto updated = body["data"];
  CHECK(names(updated) == kGoalMembers);
  CHECK(updated["id"] == id);
  CHECK(updated["active"] == true);
  CHECK(updated["title"] == "Book qualified meeting");  // not sent: kept
  REQUIRE(updated["goal_targets"].size() == 1);
  target = updated["goal_targets"][0];
  CHECK(names(target) == kTargetMembers);
  CHECK(target["id"] != target_id);
  CHECK(target["period"] == "month");
  CHECK(target["target_type"] == "rate");
  CHECK(target["target_count"].is_null());
  CHECK(target["target_rate"] == 70);
  CHECK(target["target_rate"].is_number_integer());  // 70, as the reference writes it
  CHECK(target["is_primary"] == true);
  CHECK(target["min_sample"] == 20);
  CHECK(updated["created_at"] == goal["created_at"]);
  CHECK(updated["updated_at"] >= goal["created_at"]);
  CHECK(d.call("GET", "/v1/goals/" + id).json_body()["data"] == json::parse(updated.dump()));

  // x-api-key works as well as Bearer.
  auto with_header = it::http(d.serve.port(), "GET", "/v1/goals/" + id, "", {{"x-api-key", d.key}});
  CHECK(with_header.status == 200);

  // Delete Goal, then it is gone (with its targets).
  auto deleted = d.call("DELETE", "/v1/goals/" + id);
  REQUIRE_MESSAGE(deleted.status == 200, deleted.body);
  CHECK(deleted.body == R"({"success":true,"data":{"id":")" + id + R"(","deleted":true}})");
  auto gone = d.call("GET", "/v1/goals/" + id);
  check_error(gone, 404, "not_found", "", "goal " + id + " not found");
  check_error(d.call("DELETE", "/v1/goals/" + id), 404, "not_found");
  check_error(d.call("PATCH", "/v1/goals/" + id, kReferencePatch), 404, "not_found");
  auto empty = ojson::parse(d.call("GET", "/v1/goals").body);
  CHECK(
      empty ==
      ojson::parse(
          R"({"success":true,"data":[],"pagination":{"total":0,"limit":20,"offset":0,"has_more":false}})"));
}

TEST_CASE(
    "45 goals page by page in creation order; filters by agent, channel and active; restart and "
    "rebuild give the same goals") {
  Deployment d;
  std::vector<std::string> ids;
  for (int i = 0; i < 45; ++i) {
    json body = {{"agent_id", "agent_" + std::to_string(i % 3)},
                 {"title", "Goal " + std::to_string(i)},
                 {"description", "Success criteria " + std::to_string(i)}};
    if (i % 5 == 0) body["channel_id"] = "chan_web";
    if (i % 4 == 0) body["active"] = false;
    ids.push_back(d.create(body)["id"]);
  }
  // Pages: the default limit is 20.
  std::vector<std::string> seen;
  for (int offset : {0, 20, 40}) {
    auto r = d.call("GET", "/v1/goals?offset=" + std::to_string(offset));
    REQUIRE_MESSAGE(r.status == 200, r.body);
    auto body = r.json_body();
    CHECK(body["pagination"]["total"] == 45);
    CHECK(body["pagination"]["limit"] == 20);
    CHECK(body["pagination"]["offset"] == offset);
    CHECK(body["pagination"]["has_more"] == (offset < 40));
    CHECK(body["data"].size() == (offset < 40 ? 20u : 5u));
    for (auto& g : body["data"]) seen.push_back(g["id"]);
  }
  CHECK(seen == ids);  // creation order, each goal once
  auto all = d.call("GET", "/v1/goals?limit=100").json_body();
  CHECK(all["data"].size() == 45);
  CHECK(all["pagination"]["has_more"] == false);
  auto tail = d.call("GET", "/v1/goals?limit=7&offset=42").json_body();
  CHECK(tail["data"].size() == 3);
  CHECK(tail["data"][0]["id"] == ids[42]);
  auto past = d.call("GET", "/v1/goals?offset=45").json_body();
  CHECK(past["data"] == json::array());
  CHECK(past["pagination"]["total"] == 45);

  // Filters, and their totals.
  auto count = [&](const std::string& query) {
    auto r = d.call("GET", "/v1/goals?limit=100&" + query);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    auto body = r.json_body();
    CHECK(body["pagination"]["total"] == body["data"].size());
    return body;
  };
  auto agent1 = count("agent_id=agent_1");
  CHECK(agent1["data"].size() == 15);
  for (auto& g : agent1["data"]) CHECK(g["agent_id"] == "agent_1");
  CHECK(count("channel_id=chan_web")["data"].size() == 9);
  CHECK(count("active=false")["data"].size() == 12);
  CHECK(count("active=true")["data"].size() == 33);
  // Agent 0 (i % 3 == 0) on chan_web (i % 5 == 0), active (i % 4 != 0): 15 and 30; 0 is inactive.
  auto combined = count("agent_id=agent_0&channel_id=chan_web&active=true");
  std::set<std::string> expected = {ids[15], ids[30]};
  std::set<std::string> got;
  for (auto& g : combined["data"]) got.insert(g["id"]);
  CHECK(got == expected);
  auto paged = d.call("GET", "/v1/goals?agent_id=agent_2&limit=10&offset=10").json_body();
  CHECK(paged["pagination"] ==
        json{{"total", 15}, {"limit", 10}, {"offset", 10}, {"has_more", false}});
  CHECK(paged["data"].size() == 5);
  CHECK(count("agent_id=agent_9")["data"].size() == 0);

  // Bad parameters: 400 naming them, in the agent envelope.
  check_error(d.call("GET", "/v1/goals?limit=0"), 400, "bad_request", "limit",
              "limit: must be a whole number from 1 to 100 (query parameter)");
  check_error(d.call("GET", "/v1/goals?limit=101"), 400, "bad_request", "limit");
  check_error(d.call("GET", "/v1/goals?offset=-1"), 400, "bad_request", "offset");
  check_error(d.call("GET", "/v1/goals?active=yes"), 400, "bad_request", "active",
              "active: must be true or false (query parameter)");
  check_error(d.call("GET", "/v1/goals?agent_id=agent%201"), 400, "bad_request", "agent_id");
  check_error(d.call("GET", "/v1/goals?channel_id=a/b"), 400, "bad_request", "channel_id");

  // A few changes, then a restart: the goals are read back, and a PATCH
  // applies to the goal as stored.
  REQUIRE(d.call("PATCH", "/v1/goals/" + ids[1], R"({"channel_id":"chan_phone"})").status == 200);
  REQUIRE(d.call("DELETE", "/v1/goals/" + ids[2]).status == 200);
  REQUIRE(d.serve.terminate() == 0);
  d.serve.start();
  auto patched = d.call("PATCH", "/v1/goals/" + ids[1], R"({"title":"Renamed"})");
  REQUIRE_MESSAGE(patched.status == 200, patched.body);
  CHECK(patched.json_body()["data"]["channel_id"] == "chan_phone");
  CHECK(patched.json_body()["data"]["title"] == "Renamed");
  CHECK(d.call("GET", "/v1/goals").json_body()["pagination"]["total"] == 44);
  REQUIRE(d.serve.terminate() == 0);
  auto digests = it::live_and_rebuilt(d.prefix, d.data);
  CHECK(digests.live == digests.rebuilt);
}

TEST_CASE(
    "keys and tenants: 401 without a key, a read-only key gets 403 on writes, another tenant gets "
    "404 as for a missing goal") {
  Deployment d;
  std::string id = d.create(json::parse(kReferencePost))["id"];
  check_error(it::http(d.serve.port(), "GET", "/v1/goals"), 401, "unauthorized", "",
              "missing API key: send x-api-key or Authorization: Bearer");
  check_error(d.call("GET", "/v1/goals", "", "gs_wrong"), 401, "unauthorized", "",
              "invalid API key");

  auto reader = it::create_key(d.prefix, "acme", "goals:read");
  CHECK(d.call("GET", "/v1/goals", "", reader).status == 200);
  CHECK(d.call("GET", "/v1/goals/" + id, "", reader).status == 200);
  const std::string lacks = "this API key lacks the goals:write scope";
  check_error(d.call("POST", "/v1/goals", kReferencePost, reader), 403, "forbidden", "", lacks);
  check_error(d.call("PATCH", "/v1/goals/" + id, kReferencePatch, reader), 403, "forbidden", "",
              lacks);
  check_error(d.call("DELETE", "/v1/goals/" + id, "", reader), 403, "forbidden", "", lacks);
  auto writer_only = it::create_key(d.prefix, "acme", "goals:write");
  check_error(d.call("GET", "/v1/goals", "", writer_only), 403, "forbidden", "",
              "this API key lacks the goals:read scope");

  // Another tenant: its list is empty, the goal is 404 exactly like a goal
  // that does not exist.
  auto other = it::create_key(d.prefix, "globex");
  auto list = d.call("GET", "/v1/goals", "", other).json_body();
  CHECK(list["data"] == json::array());
  CHECK(list["pagination"]["total"] == 0);
  std::string missing = "goal_0000000000000000";
  for (const auto& [method, body] : std::vector<std::pair<std::string, std::string>>{
           {"GET", ""}, {"PATCH", kReferencePatch}, {"DELETE", ""}}) {
    CAPTURE(method);
    auto foreign = d.call(method, "/v1/goals/" + id, body, other);
    check_error(foreign, 404, "not_found", "", "goal " + id + " not found");
    auto absent = d.call(method, "/v1/goals/" + missing, body, other);
    CHECK(absent.status == 404);
    CHECK(absent.body == foreign.body.substr(0, foreign.body.find(id)) + missing +
                             foreign.body.substr(foreign.body.find(id) + id.size()));
  }
  // Not an id of ours at all: 404 as well.
  check_error(d.call("GET", "/v1/goals/goal_abc123"), 404, "not_found", "",
              "goal goal_abc123 not found");
  // The goal is untouched.
  auto mine = d.call("GET", "/v1/goals/" + id).json_body()["data"];
  CHECK(mine["goal_targets"][0]["period"] == "week");
}

TEST_CASE(
    "invalid requests: 422 naming the field, 400 for bad JSON, 405 with Allow, Idempotency-Key "
    "replays; all in the agent envelope") {
  Deployment d;
  struct Bad {
    std::string body, field;
  };
  const std::string valid = R"("agent_id":"agent_abc123","title":"Book","description":"Booked.")";
  for (
      const Bad& b : {
          Bad{R"({"title":"Book","description":"Booked."})", "agent_id"},
          Bad{R"({"agent_id":"agent_abc123","description":"Booked."})", "title"},
          Bad{R"({"agent_id":"agent_abc123","title":"Book"})", "description"},
          Bad{"{" + valid + R"(,"colour":"red"})", "colour"},
          Bad{"{" + valid + R"(,"channel_id":"web channel"})", "channel_id"},
          Bad{"{" + valid +
                  R"(,"targets":[{"period":"year","target_type":"count","target_count":1}]})",
              "targets[0].period"},
          Bad{"{" + valid + R"(,"targets":[{"period":"day","target_type":"ratio"}]})",
              "targets[0].target_type"},
          Bad{"{" + valid +
                  R"(,"targets":[{"period":"day","target_type":"count","target_count":0}]})",
              "targets[0].target_count"},
          Bad{"{" + valid +
                  R"(,"targets":[{"period":"day","target_type":"count","target_count":1},)"
                  R"({"period":"week","target_type":"rate","target_rate":100.5}]})",
              "targets[1].target_rate"},
          Bad{"{" + valid +
                  R"(,"targets":[{"period":"day","target_type":"count","target_count":1,"is_primary":true},)"
                  R"({"period":"week","target_type":"rate","target_rate":50,"is_primary":true}]})",
              "targets[1].is_primary"},
      }) {
    CAPTURE(b.body);
    auto r = d.call("POST", "/v1/goals", b.body);
    check_error(r, 422, "validation_error", b.field);
    CHECK(r.json_body()["error"]["message"].get<std::string>().starts_with(b.field + ": "));
  }
  check_error(d.call("POST", "/v1/goals", "{not json"), 400, "invalid_json");
  check_error(d.call("POST", "/v1/goals", "[1]"), 422, "validation_error", "",
              "request body must be a JSON object");
  CHECK(d.call("GET", "/v1/goals").json_body()["pagination"]["total"] == 0);  // nothing written

  std::string id = d.create(json::parse(kReferencePost))["id"];
  check_error(d.call("PATCH", "/v1/goals/" + id, R"({"targets":null})"), 422, "validation_error",
              "targets", "targets: cannot be null; send [] to remove every target");
  check_error(d.call("PATCH", "/v1/goals/" + id, R"({"id":"goal_1"})"), 422, "validation_error",
              "id");
  check_error(
      d.call(
          "PATCH", "/v1/goals/" + id,
          R"({"targets":[{"period":"month","target_type":"rate","target_rate":70,"min_sample":0}]})"),
      422, "validation_error", "targets[0].min_sample");
  auto put = d.call("PUT", "/v1/goals/" + id, "{}");
  check_error(put, 405, "method_not_allowed");
  CHECK(put.headers["Allow"] == "GET, HEAD, PATCH, DELETE");
  check_error(d.call("DELETE", "/v1/goals"), 405, "method_not_allowed");

  // Idempotency-Key: a retry answers the first write's outcome, once written.
  std::map<std::string, std::string> key1 = {{"Idempotency-Key", "3f0c9a6e-agent-create-1"}};
  auto first = d.call("POST", "/v1/goals", kReferencePost, "", key1);
  REQUIRE_MESSAGE(first.status == 201, first.body);
  auto again = d.call("POST", "/v1/goals", kReferencePost, "", key1);
  REQUIRE_MESSAGE(again.status == 201, again.body);
  CHECK(again.headers["Idempotent-Replayed"] == "true");
  CHECK(again.headers["Location"] == first.headers["Location"]);
  CHECK(again.json_body() == first.json_body());
  CHECK(d.call("GET", "/v1/goals").json_body()["pagination"]["total"] == 2);
  check_error(
      d.call("POST", "/v1/goals", R"({"agent_id":"a","title":"T","description":"D"})", "", key1),
      422, "idempotency_key_reused", "Idempotency-Key");
  check_error(d.call("POST", "/v1/goals", kReferencePost, "", {{"Idempotency-Key", "not a key"}}),
              400, "invalid_header", "Idempotency-Key");
  std::string replayed_id = first.json_body()["data"]["id"];
  std::map<std::string, std::string> key2 = {{"Idempotency-Key", "agent-patch-1"}};
  auto patched = d.call("PATCH", "/v1/goals/" + replayed_id, kReferencePatch, "", key2);
  REQUIRE(patched.status == 200);
  auto patched_again = d.call("PATCH", "/v1/goals/" + replayed_id, kReferencePatch, "", key2);
  CHECK(patched_again.status == 200);
  CHECK(patched_again.headers["Idempotent-Replayed"] == "true");
  CHECK(patched_again.json_body() == patched.json_body());  // the same new target ids
  std::map<std::string, std::string> key3 = {{"Idempotency-Key", "agent-delete-1"}};
  for (int i = 0; i < 2; ++i) {
    auto del = d.call("DELETE", "/v1/goals/" + replayed_id, "", "", key3);
    CHECK(del.status == 200);
    CHECK(del.body == R"({"success":true,"data":{"id":")" + replayed_id + R"(","deleted":true}})");
    CHECK((i == 0 ? !del.headers.count("Idempotent-Replayed")
                  : del.headers["Idempotent-Replayed"] == "true"));
  }
  auto after_delete = d.call("POST", "/v1/goals", kReferencePost, "", key1);
  check_error(after_delete, 410, "gone");
  CHECK(after_delete.headers["Idempotent-Replayed"] == "true");
  check_error(d.call("PATCH", "/v1/goals/" + replayed_id, kReferencePatch, "", key2), 410, "gone");
}

namespace {

std::vector<json> read_changes(const std::string& topic, size_t at_least, int timeout_ms) {
  std::vector<json> out;
  for (auto& m : it::read_topic(topic, at_least, timeout_ms))
    out.push_back(json::parse(m.value, nullptr, false));
  return out;
}

// `n` call outcomes of agent_abc123 at `when`, each reporting `verdict` for `goal`.
void calls(const Deployment& d, const std::string& goal, int n, const std::string& verdict,
           const std::string& label, const std::string& when) {
  std::vector<std::pair<std::string, std::string>> msgs;
  for (int i = 0; i < n; ++i)
    msgs.emplace_back("acme/" + label,
                      json{{"event_id", label + std::to_string(i)},
                           {"tenant_id", "acme"},
                           {"type", "call_outcome"},
                           {"timestamp", when},
                           {"agent_id", "agent_abc123"},
                           {"call_id", label + std::to_string(i)},
                           {"goal_results", {{{"goal_id", goal}, {"verdict", verdict}}}}}
                          .dump());
  it::produce(d.events(), msgs);
}

}  // namespace

TEST_CASE(
    "a count target's transitions reach the changes topic once each (status changed, then met), "
    "across kill -9; more successes in the same period announce nothing") {
  Deployment d;
  // A week target of 3 successes; a day target that needs 1000 (stays behind
  // or at risk, and is never met here).
  auto g = d.create(
      {{"agent_id", "agent_abc123"},
       {"title", "Book"},
       {"description", "A meeting is booked."},
       {"targets",
        {{{"period", "week"}, {"target_type", "count"}, {"target_count", 3}, {"is_primary", true}},
         {{"period", "day"}, {"target_type", "count"}, {"target_count", 1000}}}}});
  std::string id = g["id"];
  std::string week_target = g["goal_targets"][0]["id"];
  auto progress = [&] {
    auto r = d.call("GET", "/v1/goals/" + id + "/progress");
    REQUIRE(r.status == 200);
    return r.json_body()["data"]["targets"];
  };
  // Let the changes publisher record the targets' first statuses (not
  // transitions), then complete the week target.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  std::string when = it::utc_now_minus(1);
  calls(d, id, 3, "success", "s", when);
  REQUIRE(it::eventually([&] { return progress()[0]["successes"] == 3; }, 20000));
  CHECK(progress()[0]["status"] == "completed");
  CHECK(progress()[0]["met"] == true);
  auto changes = read_changes(d.changes(), 2, 20000);
  REQUIRE(changes.size() == 2);
  CHECK(changes[0]["type"] == "agent_goal.target_status_changed");
  CHECK(changes[0]["goal_id"] == id);
  CHECK(changes[0]["target_id"] == week_target);
  CHECK(changes[0]["after"] == "completed");
  CHECK(changes[0]["before"] != "completed");
  CHECK(changes[0]["cause"] == "events");
  CHECK(changes[0]["event_time"] == when);
  CHECK(changes[0]["successes"] == 3);
  CHECK(changes[1]["type"] == "agent_goal.target_met");
  CHECK(changes[1]["target_id"] == week_target);
  CHECK(changes[1]["met"] == true);

  // More successes, a failure and a kill -9 with restarts: nothing new for
  // the week target (still completed and met in this period).
  calls(d, id, 2, "success", "t", when);
  calls(d, id, 1, "failure", "u", when);
  REQUIRE(it::eventually([&] { return progress()[0]["successes"] == 5; }, 20000));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  d.serve.kill9();
  d.serve.start();
  d.serve.wait_caught_up();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  changes = read_changes(d.changes(), 3, 5000);
  std::vector<json> week;
  for (auto& c : changes)
    if (c["target_id"] == week_target) week.push_back(c);
  CHECK(week.size() == 2);
  for (auto& c : changes) CHECK(c["tenant_id"] == "acme");
}
