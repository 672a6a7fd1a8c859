// Integration tests of the roadmap-goals API (docs/api.md#roadmap-goals:
// /api/v1/goals and WS /api/v1/ws/roadmap) against a real Kafka broker and
// real RocksDB directories, driving the real `goalstream` binary with real
// HTTP and WebSocket clients: the reference's examples verbatim, the
// generation protocol with the built-in template generator and with
// tools/llm-standin (a local stand-in for an OpenAI-compatible endpoint,
// the one external service that cannot run here), todo events against node
// PATCHes, kill -9 during todo ingest, the changes topic, and rebuilds.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"
#include "ws_client.h"

using it::json;
using it::WsClient;
using ojson = nlohmann::ordered_json;

namespace {

// The reference's request body, byte for byte.
const char* kReferencePost =
    R"({
"title": "Learn Machine Learning",
"description": "Master ML fundamentals and build 3 projects",
"target_date": "2026-12-31T00:00:00Z"
})";

std::vector<std::string> names(const ojson& object) {
  std::vector<std::string> out;
  for (auto& [k, v] : object.items()) out.push_back(k);
  return out;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "YYYY-MM-DDThh:mm:ss.mmmZ" of a Unix time in ms.
std::string iso_ms(int64_t ms) {
  using namespace std::chrono;
  sys_time<milliseconds> t{milliseconds(ms)};
  auto d = floor<days>(t);
  year_month_day ymd{d};
  hh_mm_ss hms{t - d};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", int(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()), int(hms.hours().count()),
                int(hms.minutes().count()), int(hms.seconds().count()),
                int(hms.subseconds().count()));
  return buf;
}

// A todo event (todo_completed or todo_reopened) of `tenant` for a node.
std::pair<std::string, std::string> todo(const std::string& event_id, const std::string& tenant,
                                         const std::string& type, const std::string& goal_id,
                                         const std::string& node_id, int64_t at_ms) {
  return {tenant + "/todos", json{{"event_id", event_id},
                                  {"tenant_id", tenant},
                                  {"type", type},
                                  {"timestamp", iso_ms(at_ms)},
                                  {"goal_id", goal_id},
                                  {"node_id", node_id}}
                                 .dump()};
}

// A client of the family as the reference's own clients are: Authorization:
// Bearer, Content-Type with a body.
struct Client {
  int port = 0;
  std::string key;
  it::HttpResponse call(const std::string& method, const std::string& target,
                        const std::string& body = "", const std::string& as = "") const {
    std::map<std::string, std::string> headers{
        {"Authorization", "Bearer " + (as.empty() ? key : as)}};
    if (!body.empty()) headers["Content-Type"] = "application/json";
    return it::http(port, method, target, body, headers);
  }
  ojson ok(const std::string& method, const std::string& target, const std::string& body = "",
           int status = 200) const {
    auto r = call(method, target, body);
    REQUIRE_MESSAGE(r.status == status, method, " ", target, " ", r.body);
    return ojson::parse(r.body);
  }
  ojson create(const json& body) const { return ok("POST", "/api/v1/goals", body.dump(), 201); }
  ojson goal(const std::string& id) const { return ok("GET", "/api/v1/goals/" + id); }
  ojson node(const std::string& goal_id, const std::string& node_id, const json& body) const {
    return ok("PATCH", "/api/v1/goals/" + goal_id + "/roadmap/nodes/" + node_id, body.dump());
  }
  std::unique_ptr<WsClient> ws(const std::string& as = "") const {
    auto c = std::make_unique<WsClient>(
        port, "/api/v1/ws/roadmap",
        std::map<std::string, std::string>{{"Authorization", "Bearer " + (as.empty() ? key : as)}});
    REQUIRE_MESSAGE(c->open, c->status, " ", c->body);
    return c;
  }
  // Sends {goal_id, goal_title} and reads frames up to the first
  // {"success"} or {"error"} frame (the last of a request); returns them all.
  std::vector<json> generate(const std::string& goal_id, const std::string& title = "",
                             int timeout_ms = 30000) const {
    auto c = ws();
    json request = {{"goal_id", goal_id}};
    if (!title.empty()) request["goal_title"] = title;
    c->send(request.dump());
    auto last = c->wait_for(
        [](const json& f) { return f.contains("success") || f.contains("error"); }, timeout_ms);
    REQUIRE_MESSAGE(last.has_value(), "no last frame; frames: ", json(c->frames).dump());
    return c->frames;
  }
};

// The frames of one successful generation, as the reference's client reads
// them: {"status"} frames, then {"roadmap"}, then {"success": true, ...}.
json check_generation_frames(const std::vector<json>& frames, const std::string& goal_id,
                             const std::string& generator) {
  CAPTURE(json(frames).dump());
  REQUIRE(frames.size() >= 3);
  size_t n = frames.size();
  for (size_t i = 0; i + 2 < n; ++i) {
    CHECK(frames[i].size() == 1);
    CHECK(frames[i]["status"].is_string());
    CHECK_FALSE(frames[i]["status"].get<std::string>().empty());
  }
  CHECK(frames[n - 2].size() == 1);
  CHECK(frames[n - 2]["roadmap"].is_object());
  const json& done = frames[n - 1];
  CHECK(done["success"] == true);
  CHECK(done["goal_id"] == goal_id);
  CHECK(done["generator"] == generator);
  CHECK(done["progress"].is_number_integer());
  return frames[n - 2]["roadmap"];
}

size_t topic_count(const std::string& topic) { return it::read_topic(topic, 100000, 3000).size(); }

struct Deployment : it::Deployment {
  explicit Deployment(const std::string& label = "rm") : it::Deployment(label, "acme") {}
  Client client() { return {serve.port(), key}; }
};

// A node's state as the API shows it.
std::map<std::string, std::pair<bool, bool>> node_states(const ojson& goal) {
  std::map<std::string, std::pair<bool, bool>> out;
  for (auto& n : goal["roadmap"]["nodes"])
    out[n["id"].get<std::string>()] = {n["completed"].get<bool>(), n.value("skipped", false)};
  return out;
}

}  // namespace

TEST_CASE(
    "the reference's examples verbatim with Authorization: Bearer: create, list, get, generate "
    "over the WebSocket, node PATCH ({\"completed\": true} and {\"is_complete\": true}), delete") {
  Deployment d;
  Client c = d.client();

  // Create Goal: the reference's body, its answer's members in its order.
  auto r = c.call("POST", "/api/v1/goals", kReferencePost);
  REQUIRE_MESSAGE(r.status == 201, r.body);
  auto created = ojson::parse(r.body);
  CHECK(names(created) == std::vector<std::string>{"id", "title", "description", "target_date",
                                                   "roadmap", "progress", "status", "created_at",
                                                   "updated_at"});
  std::string id = created["id"];
  CHECK(id.starts_with("goal_"));
  CHECK(r.headers["Location"] == "/api/v1/goals/" + id);
  CHECK(created["title"] == "Learn Machine Learning");
  CHECK(created["description"] == "Master ML fundamentals and build 3 projects");
  CHECK(created["target_date"] == "2026-12-31T00:00:00Z");
  CHECK(created["roadmap"].is_null());
  CHECK(created["progress"] == 0);
  CHECK(created["status"] == "active");
  CHECK(created["created_at"] == created["updated_at"]);
  CHECK(created["created_at"].get<std::string>().ends_with("Z"));

  // List Goals: an array of the reference's list members.
  auto list = c.ok("GET", "/api/v1/goals");
  REQUIRE(list.is_array());
  REQUIRE(list.size() == 1);
  CHECK(names(list[0]) == std::vector<std::string>{"id", "title", "description", "target_date",
                                                   "progress", "status", "created_at"});
  CHECK(list[0]["id"] == id);
  CHECK(list[0]["progress"] == 0);

  // Get Goal before generation: roadmap null.
  CHECK(c.goal(id)["roadmap"].is_null());

  // Generate Roadmap (WebSocket), as the reference's JavaScript sends it.
  auto frames = c.generate(id, "Learn Machine Learning");
  auto roadmap = check_generation_frames(frames, id, "template");
  auto g = c.goal(id);
  CHECK(json(g["roadmap"]) == roadmap);
  auto& nodes = g["roadmap"]["nodes"];
  REQUIRE(nodes.size() == 9);
  std::set<std::string> ids;
  for (auto& n : nodes) {
    CAPTURE(n.dump());
    ids.insert(n["id"].get<std::string>());
    CHECK(n["label"].is_string());
    CHECK(n["completed"] == false);
    CHECK(n["position"]["x"].is_number());
    CHECK(n["position"]["y"].is_number());
    // The template says it is not an AI.
    CHECK(n["details"].get<std::string>().starts_with(
        "Template roadmap from goalstream's built-in generator, not written by an AI."));
  }
  CHECK(ids.size() == 9);
  REQUIRE(g["roadmap"]["edges"].size() >= 8);
  for (auto& e : g["roadmap"]["edges"]) {
    CHECK(names(e) == std::vector<std::string>{"id", "source", "target"});
    CHECK(ids.count(e["source"].get<std::string>()));
    CHECK(ids.count(e["target"].get<std::string>()));
  }
  // Only the first node is ready to start.
  CHECK(g["roadmap"]["next_nodes"] == ojson::array({"node_1"}));
  CHECK(g["progress"] == 0);

  // Update Node Status: {"completed": true}, and the vendor clients' form.
  auto after1 = c.node(id, "node_1", {{"completed", true}});
  CHECK(names(after1) == std::vector<std::string>{"id", "progress", "roadmap", "status"});
  CHECK(after1["id"] == id);
  CHECK(after1["progress"] == 11);  // 1 of 9: 11.1
  CHECK(after1["status"] == "active");
  CHECK(after1["roadmap"]["nodes"][0]["completed"] == true);
  std::string second = after1["roadmap"]["next_nodes"][0];
  auto after2 = c.node(id, second, {{"is_complete", true}});
  CHECK(after2["progress"] == 22);  // 2 of 9: 22.2
  // Progress is the same number in every answer (half-up): 5 of 9 is 55.6 -> 56.
  for (int i = 0; i < 3; ++i) {
    auto next = c.goal(id)["roadmap"]["next_nodes"];
    REQUIRE(!next.empty());
    c.node(id, next[0], {{"completed", true}});
  }
  CHECK(c.goal(id)["progress"] == 56);
  CHECK(c.ok("GET", "/api/v1/goals")[0]["progress"] == 56);

  // Delete Goal.
  auto del = c.ok("DELETE", "/api/v1/goals/" + id);
  CHECK(json(del) == json{{"id", id}, {"deleted", true}});
  auto gone = c.call("GET", "/api/v1/goals/" + id);
  CHECK(gone.status == 404);
  CHECK(gone.json_body()["error"] == "not_found");
  CHECK(c.ok("GET", "/api/v1/goals") == ojson::array());
  CHECK(d.serve.terminate() == 0);
}

TEST_CASE(
    "PATCH, skipped nodes, errors naming the field, another tenant's goal is 404, and the "
    "completed status follows the last node") {
  Deployment d("rm2");
  Client c = d.client();
  std::string id = c.create({{"title", "Run a marathon"}})["id"];
  CHECK(c.goal(id)["description"].is_null());
  CHECK(c.goal(id)["target_date"].is_null());

  // 422 naming the field.
  auto bad = c.call("POST", "/api/v1/goals", R"({"description":"no title"})");
  CHECK(bad.status == 422);
  CHECK(bad.json_body()["field"] == "title");
  bad = c.call("POST", "/api/v1/goals", R"({"title":"T","target_date":"next year"})");
  CHECK(bad.status == 422);
  CHECK(bad.json_body()["field"] == "target_date");
  bad = c.call("PATCH", "/api/v1/goals/" + id, R"({"status":"completed"})");
  CHECK(bad.status == 422);
  CHECK(bad.json_body()["field"] == "status");
  // No roadmap yet: a node is not found, naming node_id.
  auto no_node =
      c.call("PATCH", "/api/v1/goals/" + id + "/roadmap/nodes/node_1", R"({"completed":true})");
  CHECK(no_node.status == 404);
  CHECK(no_node.json_body()["field"] == "node_id");

  check_generation_frames(c.generate(id), id, "template");
  bad = c.call("PATCH", "/api/v1/goals/" + id + "/roadmap/nodes/node_1",
               R"({"completed":true,"is_complete":false})");
  CHECK(bad.status == 422);
  bad = c.call("PATCH", "/api/v1/goals/" + id + "/roadmap/nodes/node_99", R"({"completed":true})");
  CHECK(bad.status == 404);
  CHECK(bad.json_body()["field"] == "node_id");

  // Another tenant's key: 404 for every route, as for an unknown goal.
  auto other = it::create_key(d.prefix, "other");
  REQUIRE(it::eventually([&] { return c.call("GET", "/api/v1/goals", "", other).status == 200; }));
  CHECK(c.call("GET", "/api/v1/goals", "", other).json_body() == json::array());
  CHECK(c.call("GET", "/api/v1/goals/" + id, "", other).status == 404);
  CHECK(c.call("PATCH", "/api/v1/goals/" + id, R"({"title":"x"})", other).status == 404);
  CHECK(c.call("PATCH", "/api/v1/goals/" + id + "/roadmap/nodes/node_1", R"({"completed":true})",
               other)
            .status == 404);
  CHECK(c.call("DELETE", "/api/v1/goals/" + id, "", other).status == 404);

  // The live feed (GET /api/ws/changes) of the tenant, from here on.
  WsClient live(d.serve.port(), "/api/ws/changes", {{"Authorization", "Bearer " + d.key}});
  REQUIRE(live.open);

  // Skip three nodes: 6 count; complete them all: completed; reopen one: active.
  for (const char* n : {"node_2", "node_3", "node_4"}) c.node(id, n, {{"skipped", true}});
  auto g = c.goal(id);
  CHECK(g["progress"] == 0);
  for (const char* n : {"node_1", "node_5", "node_6", "node_7", "node_8"})
    c.node(id, n, {{"completed", true}});
  CHECK(c.goal(id)["progress"] == 83);  // 5 of 6: 83.3
  auto last = c.node(id, "node_9", {{"completed", true}});
  CHECK(last["progress"] == 100);
  CHECK(last["status"] == "completed");
  // On the live feed: the goal's GET body as a progress frame, and the
  // completion as a status_changed frame.
  auto frame = live.progress("/api/v1/goals/" + id, "progress", 100);
  REQUIRE(frame.has_value());
  CHECK((*frame)["data"]["status"] == "completed");
  CHECK((*frame)["data"]["roadmap"]["nodes"][8]["completed"] == true);
  auto completed = live.wait_for(
      [&](const json& f) { return f["type"] == "status_changed" && f["goal_id"] == id; });
  REQUIRE(completed.has_value());
  CHECK((*completed)["before"] == "active");
  CHECK((*completed)["after"] == "completed");
  CHECK((*completed)["progress"] == 100);
  CHECK((*completed)["cause"] == "command");
  auto reopened = c.node(id, "node_9", {{"completed", false}});
  CHECK(reopened["progress"] == 83);
  CHECK(reopened["status"] == "active");
  // Abandoned and back.
  auto p = c.ok("PATCH", "/api/v1/goals/" + id, R"({"status":"abandoned","title":"Run 42 km"})");
  CHECK(p["status"] == "abandoned");
  CHECK(p["title"] == "Run 42 km");
  CHECK(c.ok("PATCH", "/api/v1/goals/" + id, R"({"status":"active"})")["status"] == "active");
  CHECK(d.serve.terminate() == 0);
}

TEST_CASE(
    "the WebSocket: a bad token, none or a read-only key is refused on upgrade; another tenant's "
    "goal gets an error frame and no command; bad requests get error frames naming the field") {
  Deployment d("rm3");
  Client c = d.client();
  int port = d.serve.port();
  {
    WsClient none(port, "/api/v1/ws/roadmap");
    CHECK_FALSE(none.open);
    CHECK(none.status == 401);
  }
  {
    WsClient bad(port, "/api/v1/ws/roadmap?token=gs_not_a_key");
    CHECK_FALSE(bad.open);
    CHECK(bad.status == 401);
    CHECK(json::parse(bad.body, nullptr, false)["message"] == "invalid API key");
  }
  {
    WsClient bearer(port, "/api/v1/ws/roadmap", {{"Authorization", "Bearer gs_not_a_key"}});
    CHECK_FALSE(bearer.open);
    CHECK(bearer.status == 401);
  }
  auto reader = it::create_key(d.prefix, "acme", "goals:read");
  REQUIRE(it::eventually([&] { return c.call("GET", "/api/v1/goals", "", reader).status == 200; }));
  {
    WsClient read_only(port, "/api/v1/ws/roadmap", {{"Authorization", "Bearer " + reader}});
    CHECK_FALSE(read_only.open);
    CHECK(read_only.status == 403);
  }
  // A browser's ?token= opens it.
  {
    WsClient browser(port, "/api/v1/ws/roadmap?token=" + c.key);
    CHECK(browser.open);
  }
  CHECK(it::http(port, "GET", "/api/v1/ws/roadmap", "", {{"x-api-key", c.key}}).status == 426);

  std::string id = c.create({{"title", "Learn to sail"}})["id"];
  auto other = it::create_key(d.prefix, "other");
  REQUIRE(it::eventually([&] { return c.call("GET", "/api/v1/goals", "", other).status == 200; }));
  size_t commands_before = topic_count(d.prefix + "commands");
  auto ws = c.ws(other);
  ws->send(json{{"goal_id", id}, {"goal_title", "Learn to sail"}}.dump());
  auto frame = ws->next(10000);
  REQUIRE(frame.has_value());
  CHECK(*frame == json{{"error", "not_found"},
                       {"field", "goal_id"},
                       {"message", "goal " + id + " not found"}});
  // Nothing else comes, and no command was written.
  CHECK_FALSE(ws->next(1500).has_value());
  CHECK(topic_count(d.prefix + "commands") == commands_before);
  CHECK(c.goal(id)["roadmap"].is_null());

  // Bad requests on an open connection: each an error frame; it stays open.
  struct Bad {
    std::string text, error, field;
  };
  for (const Bad& b : {Bad{"{not json", "invalid_json", ""}, Bad{"[1]", "validation_error", ""},
                       Bad{R"({"goal_title":"x"})", "validation_error", "goal_id"},
                       Bad{R"({"goal_id":7})", "validation_error", "goal_id"},
                       Bad{R"({"goal_id":"g","colour":"red"})", "validation_error", "colour"},
                       Bad{R"({"goal_id":"goal_0000000000000000"})", "not_found", "goal_id"}}) {
    CAPTURE(b.text);
    ws->send(b.text);
    auto f = ws->next(10000);
    REQUIRE(f.has_value());
    CHECK((*f)["error"] == b.error);
    if (b.field.empty())
      CHECK_FALSE(f->contains("field"));
    else
      CHECK((*f)["field"] == b.field);
    CHECK((*f)["message"].is_string());
  }
  CHECK(topic_count(d.prefix + "commands") == commands_before);
  CHECK(d.serve.terminate() == 0);
}

namespace {

// tools/llm-standin on a free port, killed by the destructor.
struct Standin {
  int pid = -1;
  int port = 0;
  Standin() {
    std::string dir = it::temp_dir("standin");
    std::string out = dir + "/out", err = dir + "/err";
    pid = it::spawn_command(
        {"/usr/bin/env", "python3", std::string(GOALSTREAM_SOURCE_DIR) + "/tools/llm-standin",
         "--port", "0"},
        out, err);
    REQUIRE(it::eventually(
        [&] {
          std::ifstream f(out);
          std::string line;
          if (!std::getline(f, line) || !line.starts_with("listening on 127.0.0.1:")) return false;
          port = std::stoi(line.substr(line.rfind(':') + 1));
          return true;
        },
        20000));
  }
  ~Standin() {
    ::kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
  }
  int calls() const {
    auto r = it::http(port, "GET", "/calls");
    REQUIRE(r.status == 200);
    return r.json_body()["chat_completions"];
  }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port) + "/v1"; }
};

}  // namespace

TEST_CASE(
    "the OpenAI-compatible generator against tools/llm-standin: the documented sequence; a cyclic "
    "roadmap is an error frame and the stored one stays; regenerating keeps completed nodes; one "
    "generation per goal at once; a rebuild calls no generator and gives the same digest") {
  Standin llm;
  std::string prefix = it::unique_prefix("rm4");
  std::string data = it::temp_dir("rm4");
  it::ensure_topics(prefix);
  it::ServeProcess serve({prefix,
                          data,
                          it::brokers(),
                          {"--roadmap-generator", "openai", "--llm-base-url", llm.base_url(),
                           "--llm-model", "standin-1", "--llm-timeout", "30"},
                          0});
  serve.start();
  Client c{serve.port(), it::create_key(prefix, "acme")};
  REQUIRE(it::eventually([&] { return c.call("GET", "/api/v1/goals").status == 200; }));

  std::string id = c.create({{"title", "Learn Rust"}})["id"];
  auto frames = c.generate(id, "Learn Rust");
  auto roadmap = check_generation_frames(frames, id, "openai:standin-1");
  CHECK(llm.calls() == 1);
  // The stand-in streams its answer in chunks: statuses report them.
  CHECK(frames.size() >= 4);
  auto g = c.goal(id);
  REQUIRE(g["roadmap"]["nodes"].size() == 5);
  CHECK(g["roadmap"]["nodes"][0]["label"] == "Set up the basics");
  CHECK(g["roadmap"]["nodes"][0]["estimated_time"] == "2 days");
  // Positions computed by goalstream: node_1 on the top layer.
  CHECK(g["roadmap"]["nodes"][0]["position"]["y"] <= g["roadmap"]["nodes"][1]["position"]["y"]);
  c.node(id, "node_1", {{"completed", true}});
  c.node(id, "node_2", {{"completed", true}});
  auto before = c.goal(id);
  CHECK(before["progress"] == 40);

  // A cyclic answer: an error frame naming the edge; the stored roadmap stays.
  c.ok("PATCH", "/api/v1/goals/" + id, R"({"title":"Learn Rust [cycle]"})");
  frames = c.generate(id);
  CAPTURE(json(frames).dump());
  auto& err = frames.back();
  CHECK(err["error"] == "invalid_roadmap");
  CHECK(err["field"].get<std::string>().starts_with("roadmap.edges["));
  CHECK(err["message"].get<std::string>().find("cycle") != std::string::npos);
  for (auto& f : frames) CHECK_FALSE(f.contains("roadmap"));
  CHECK(llm.calls() == 2);
  auto unchanged = c.goal(id);
  CHECK(unchanged["roadmap"] == before["roadmap"]);
  CHECK(unchanged["progress"] == 40);
  // An endpoint error: generator_unavailable, nothing stored.
  c.ok("PATCH", "/api/v1/goals/" + id, R"({"title":"Learn Rust [error]"})");
  frames = c.generate(id);
  CHECK(frames.back()["error"] == "generator_unavailable");
  CHECK(c.goal(id)["roadmap"] == before["roadmap"]);

  // Regenerating keeps the completed nodes the new roadmap still has.
  c.ok("PATCH", "/api/v1/goals/" + id, R"({"title":"Learn Rust"})");
  check_generation_frames(c.generate(id), id, "openai:standin-1");
  auto regenerated = c.goal(id);
  CHECK(node_states(regenerated) == node_states(before));
  CHECK(regenerated["progress"] == 40);

  // Two generations of one goal at once: the second is refused.
  c.ok("PATCH", "/api/v1/goals/" + id, R"({"title":"Learn Rust [slow]"})");
  auto slow = c.ws();
  slow->send(json{{"goal_id", id}}.dump());
  REQUIRE(slow->wait_for([](const json& f) { return f.contains("status"); }, 10000));
  auto second = c.ws();
  second->send(json{{"goal_id", id}}.dump());
  auto refused = second->next(10000);
  REQUIRE(refused.has_value());
  CHECK((*refused)["error"] == "conflict");
  CHECK((*refused)["field"] == "goal_id");
  auto slow_end = slow->wait_for(
      [](const json& f) { return f.contains("success") || f.contains("error"); }, 30000);
  REQUIRE(slow_end.has_value());
  CHECK((*slow_end)["success"] == true);
  int calls = llm.calls();
  CHECK(calls == 5);
  auto final_state = c.goal(id);

  CHECK(serve.terminate() == 0);
  auto digests = it::live_and_rebuilt(prefix, data);
  CHECK(digests.live == digests.rebuilt);
  CHECK(llm.calls() == calls);  // the rebuild generated nothing
  // A serve on the rebuilt topics shows the same goal.
  it::ServeProcess again({prefix, it::temp_dir("rm4b"), it::brokers(), {}, 0});
  again.start();
  c.port = again.port();
  REQUIRE(it::eventually([&] { return c.call("GET", "/api/v1/goals/" + id).status == 200; }));
  REQUIRE(it::eventually([&] { return c.goal(id)["updated_at"] == final_state["updated_at"]; }));
  CHECK(c.goal(id) == final_state);
  CHECK(llm.calls() == calls);
  CHECK(again.terminate() == 0);
}

TEST_CASE(
    "todo events and node PATCHes give the same state; unknown goals and nodes are deadlettered "
    "with the reason; node completions, progress and completion reach the changes topic once") {
  Deployment d("rm5");
  Client c = d.client();
  std::string by_patch = c.create({{"title", "Write a novel"}})["id"];
  std::string by_todo = c.create({{"title", "Write a novel"}})["id"];
  check_generation_frames(c.generate(by_patch), by_patch, "template");
  check_generation_frames(c.generate(by_todo), by_todo, "template");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  int64_t t0 = now_ms();

  // The same story by PATCH and by todo events: complete 1, 2, 3; reopen 2.
  for (const char* n : {"node_1", "node_2", "node_3"}) c.node(by_patch, n, {{"completed", true}});
  c.node(by_patch, "node_2", {{"completed", false}});
  it::produce(d.events(), {todo("t1", "acme", "todo_completed", by_todo, "node_1", t0 + 1),
                           todo("t2", "acme", "todo_completed", by_todo, "node_2", t0 + 2),
                           todo("t3", "acme", "todo_completed", by_todo, "node_3", t0 + 3),
                           todo("t4", "acme", "todo_reopened", by_todo, "node_2", t0 + 4),
                           // a duplicate of t4 that would complete node_2 counts nothing
                           todo("t4", "acme", "todo_completed", by_todo, "node_2", t0 + 5)});
  auto a = c.goal(by_patch);
  // Only after the last of the four events does by_todo read as by_patch.
  REQUIRE(it::eventually([&] { return node_states(c.goal(by_todo)) == node_states(a); }, 20000));
  auto b = c.goal(by_todo);
  CHECK(b["progress"] == 22);
  CHECK(node_states(a) == node_states(b));
  CHECK(a["progress"] == b["progress"]);
  CHECK(a["status"] == b["status"]);
  CHECK(a["roadmap"]["next_nodes"] == b["roadmap"]["next_nodes"]);

  // Unknown goal, unknown node, another tenant's goal: deadletter notices.
  std::vector<std::pair<std::string, std::string>> bad = {
      todo("u1", "acme", "todo_completed", "goal_0000000000000000", "node_1", t0 + 6),
      todo("u2", "acme", "todo_completed", by_todo, "node_99", t0 + 7),
      todo("u3", "other", "todo_completed", by_todo, "node_1", t0 + 8),
      {"acme/todos", json{{"event_id", "u4"},
                          {"tenant_id", "acme"},
                          {"type", "todo_completed"},
                          {"timestamp", iso_ms(t0 + 9)},
                          {"node_id", "node_1"}}
                         .dump()}};
  it::produce(d.events(), bad);
  auto dl = it::read_topic(d.prefix + "deadletter", bad.size());
  REQUIRE(dl.size() == bad.size());
  std::map<std::string, std::string> reason;
  for (auto& m : dl) reason[json::parse(m.value)["event_id"]] = m.headers["error"];
  CHECK(reason["u1"] == "goal_id: no roadmap goal goal_0000000000000000 of this tenant");
  CHECK(reason["u2"] == "node_id: roadmap goal " + by_todo + " has no node node_99");
  CHECK(reason["u3"] == "goal_id: no roadmap goal " + by_todo + " of this tenant");
  CHECK(reason["u4"].starts_with("goal_id: "));
  CHECK(node_states(c.goal(by_todo)) == node_states(a));

  auto changes_of = [&](const std::string& goal_id, int timeout_ms) {
    std::vector<json> out;
    for (auto& m : it::read_topic(d.changes(), 1000, timeout_ms)) {
      auto j = json::parse(m.value);
      if (j["goal_id"] == goal_id) out.push_back(j);
    }
    return out;
  };
  // The changes publisher announces the state each evaluation finds (it
  // coalesces what arrives within a moment): wait until 22 is announced.
  REQUIRE(it::eventually(
      [&] {
        for (auto& j : changes_of(by_todo, 3000))
          if (j["type"] == "roadmap_goal.progress_changed" && j["after"] == 22) return true;
        return false;
      },
      20000));

  // Complete every node of by_todo by events: completed, announced once.
  std::vector<std::pair<std::string, std::string>> all;
  for (int i = 1; i <= 9; ++i)
    all.push_back(todo("c" + std::to_string(i), "acme", "todo_completed", by_todo,
                       "node_" + std::to_string(i), t0 + 100 + i));
  it::produce(d.events(), all);
  REQUIRE(it::eventually([&] { return c.goal(by_todo)["status"] == "completed"; }, 20000));
  CHECK(c.goal(by_todo)["progress"] == 100);
  auto completion_announced = [&] {
    for (auto& j : changes_of(by_todo, 3000))
      if (j["type"] == "roadmap_goal.status_changed") return true;
    return false;
  };
  REQUIRE(it::eventually(completion_announced, 20000));
  // A kill -9 and a restart announce nothing again.
  d.serve.kill9();
  d.serve.start();
  d.serve.wait_caught_up();
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  std::vector<json> mine = changes_of(by_todo, 5000);
  std::map<std::string, int> completed_nodes;
  int to_completed = 0, to_100 = 0;
  for (auto& j : mine) {
    CAPTURE(j.dump());
    CHECK(j["tenant_id"] == "acme");
    if (j["type"] == "roadmap_goal.node_completed") ++completed_nodes[j["node_id"]];
    if (j["type"] == "roadmap_goal.status_changed" && j["after"] == "completed") {
      ++to_completed;
      CHECK(j["before"] == "active");
      CHECK(j["cause"] == "events");
      CHECK(j["event_time"] == iso_ms(t0 + 109));
    }
    if (j["type"] == "roadmap_goal.progress_changed" && j["after"] == 100) {
      ++to_100;
      CHECK(j["before"] == 22);
    }
  }
  CHECK(to_completed == 1);
  CHECK(to_100 == 1);
  // node_1 and node_3 were completed by t1, t3 (once each), the others by
  // c*; node_2 may also have been announced between t2 and t4 when they
  // were read in two batches.
  for (int i = 1; i <= 9; ++i) {
    CAPTURE(i);
    if (i == 2)
      CHECK((completed_nodes["node_2"] == 1 || completed_nodes["node_2"] == 2));
    else
      CHECK(completed_nodes["node_" + std::to_string(i)] == 1);
  }
  CHECK(d.serve.terminate() == 0);
  auto digests = it::live_and_rebuilt(d.prefix, d.data);
  CHECK(digests.live == digests.rebuilt);
}

TEST_CASE("kill -9 twice during todo ingest: exact node states and signal counts") {
  Deployment d("rm6");
  Client c = d.client();
  std::string id = c.create({{"title", "Get fit"}})["id"];
  check_generation_frames(c.generate(id), id, "template");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  int64_t t0 = now_ms();
  // 6000 events, each at its own millisecond, over 9 nodes; a deterministic
  // mix of completions and reopenings; every 7th is re-sent (a duplicate).
  const int kEvents = 6000;
  std::map<std::string, bool> want;  // the last signal of each node
  std::vector<std::vector<std::pair<std::string, std::string>>> chunks(20);
  for (int i = 0; i < kEvents; ++i) {
    std::string node = "node_" + std::to_string(i % 9 + 1);
    bool complete = (i * 7919) % 5 < 3;
    want[node] = complete;
    auto e = todo("e" + std::to_string(i), "acme", complete ? "todo_completed" : "todo_reopened",
                  id, node, t0 + i);
    auto& chunk = chunks[size_t(i) * chunks.size() / kEvents];
    chunk.push_back(e);
    if (i % 7 == 0) chunk.push_back(e);
  }
  std::thread producer([&] {
    for (auto& ch : chunks) {
      it::produce(d.events(), ch);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  for (double threshold : {2000.0, 4500.0}) {
    REQUIRE(it::eventually(
        [&] { return d.serve.metric("goalstream_events_in_total") >= threshold; }, 60000));
    d.serve.kill9();
    d.serve.start();
    c.port = d.serve.port();
  }
  producer.join();
  int want_done = 0;
  for (auto& [n, done] : want) want_done += done;
  int want_progress = (want_done * 200 + 9) / 18;  // half-up of want_done / 9 * 100
  int64_t sum = 0;
  std::string last_answer;
  CAPTURE(sum);
  CAPTURE(last_answer);
  REQUIRE(it::eventually(
      [&] {
        sum = 0;
        for (int64_t from = 0; from < kEvents; from += 1000) {
          auto r = c.call("GET", "/api/v1/goals/" + id + "/history?from=" + iso_ms(t0 + from) +
                                     "&to=" + iso_ms(t0 + from + 1000));
          last_answer = r.body.substr(0, 300);
          if (r.status != 200) return false;
          auto body = r.json_body();  // a temporary's member would dangle in the loop
          for (auto& p : body["points"]) sum += p["count"].get<int64_t>();
        }
        return sum == kEvents;
      },
      60000));
  d.serve.wait_caught_up();
  auto g = c.goal(id);
  for (auto& [n, done] : want) CHECK(node_states(g)[n].first == done);
  CHECK(g["progress"] == want_progress);
  // Each point counts one event: none counted twice.
  for (int64_t from = 0; from < kEvents; from += 1000) {
    auto r = c.ok("GET", "/api/v1/goals/" + id + "/history?from=" + iso_ms(t0 + from) +
                             "&to=" + iso_ms(t0 + from + 1000));
    CHECK(r["points"].size() == 1000);
    for (auto& p : r["points"]) CHECK(p["count"] == 1);
  }
  CHECK(d.serve.terminate() == 0);
  auto digests = it::live_and_rebuilt(d.prefix, d.data);
  CHECK(digests.live == digests.rebuilt);
}
