// Roadmap goals (design.md §8, the personal-goals reference): POST, PATCH
// and node PATCH bodies validated with the field and message of each
// refusal, the derived status and progress, the API form with what is
// derived on read, the stored form and the commands' payloads, and the
// patches, node updates and regenerations applied to a goal.
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/time.h"
#include "command_schema.h"
#include "modules/roadmap/model.h"

using nlohmann::json;
using namespace gs::roadmap;

namespace {

json body(const std::string& text) {
  auto j = json::parse(text, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  return j;
}

int64_t ms(const char* rfc3339) {
  auto v = gs::time::parse_rfc3339(rfc3339);
  REQUIRE(v.has_value());
  return *v;
}

// What a body is refused for: the field and the whole message.
struct Refusal {
  std::string body, field, message;
};

template <class Parse>
void expect_refusals(const std::vector<Refusal>& table, Parse parse) {
  for (const auto& r : table) {
    CAPTURE(r.body);
    auto got = parse(body(r.body));
    REQUIRE_FALSE(got.ok());
    CHECK(got.error().code == gs::ErrorCode::invalid);
    CHECK(got.error().field == r.field);
    CHECK(got.error().message == r.message);
  }
}

Node node(const std::string& id, bool completed = false, bool skipped = false) {
  Node n;
  n.id = id;
  n.label = "Label " + id;
  n.completed = completed;
  n.skipped = skipped;
  return n;
}

// A chain a -> b -> c, laid out.
Roadmap chain(bool a = false, bool b = false, bool c = false) {
  Roadmap r;
  r.nodes = {node("a", a), node("b", b), node("c", c)};
  r.edges = {{"e1", "a", "b"}, {"e2", "b", "c"}};
  lay_out(r);
  return r;
}

RoadmapGoal goal(std::optional<Roadmap> r = std::nullopt) {
  RoadmapGoal g;
  g.id = "goal_0123456789abcdef";
  g.tenant_id = "acme";
  g.title = "Learn Machine Learning";
  g.roadmap = std::move(r);
  g.created_at_ms = g.updated_at_ms = 1771495200000;  // 2026-02-19T10:00:00Z
  return g;
}

const char* kPostMembers = "unknown field; expected one of title, description, target_date";
const char* kPatchMembers =
    "unknown field; expected one of title, description, target_date, status";
const char* kNodeMembers = "unknown field; expected one of completed, is_complete, skipped";
const char* kDateRule =
    "must be an ISO 8601 date (2026-06-30) or an RFC 3339 date-time (2026-06-30T00:00:00Z), "
    "from 1970 to 9999";

}  // namespace

TEST_CASE("roadmap goals: the reference's POST body is a goal; its answer is the reference's") {
  auto g = goal_from_request(body(
      R"({"title":"Learn Machine Learning","description":"Master ML fundamentals and build 3 projects","target_date":"2026-12-31T00:00:00Z"})"));
  REQUIRE(g.ok());
  CHECK(g->title == "Learn Machine Learning");
  CHECK(g->description == "Master ML fundamentals and build 3 projects");
  CHECK(g->target_date == "2026-12-31T00:00:00Z");
  CHECK_FALSE(g->roadmap.has_value());
  CHECK_FALSE(g->abandoned);
  CHECK(g->id.empty());  // the caller's, so that the command carries it
  g->id = "goal_123";
  g->created_at_ms = g->updated_at_ms = ms("2026-02-19T10:00:00Z");
  CHECK(to_json(*g).dump() ==
        R"({"id":"goal_123","title":"Learn Machine Learning",)"
        R"("description":"Master ML fundamentals and build 3 projects",)"
        R"("target_date":"2026-12-31T00:00:00Z","roadmap":null,"progress":0,"status":"active",)"
        R"("created_at":"2026-02-19T10:00:00Z","updated_at":"2026-02-19T10:00:00Z"})");

  // Only the title is required; null is leaving a member out.
  g = goal_from_request(body(R"({"title":"T","description":null,"target_date":null})"));
  REQUIRE(g.ok());
  CHECK_FALSE(g->description.has_value());
  CHECK_FALSE(g->target_date.has_value());
  CHECK(to_json(*g)["description"].is_null());
  CHECK(to_json(*g)["target_date"].is_null());
}

TEST_CASE("roadmap goals: target_date is a date or a date-time, normalised") {
  struct Case {
    std::string sent, kept;
  };
  for (const auto& c : std::vector<Case>{
           {"2026-06-30", "2026-06-30"},  // a date stays a date
           {"2026-12-31T00:00:00Z", "2026-12-31T00:00:00Z"},
           {"2026-12-31t00:00:00z", "2026-12-31T00:00:00Z"},
           {"2026-12-31T00:00:00+02:00", "2026-12-30T22:00:00Z"},  // in UTC
           {"2026-12-31T23:30:00-01:00", "2027-01-01T00:30:00Z"},
           {"2026-12-31T00:00:00.500Z", "2026-12-31T00:00:00.500Z"},
           {"2026-12-31T00:00:00.000Z", "2026-12-31T00:00:00Z"},
           {"2028-02-29", "2028-02-29"},
       }) {
    CAPTURE(c.sent);
    auto g = goal_from_request(body(R"({"title":"T","target_date":")" + c.sent + R"("})"));
    REQUIRE(g.ok());
    CHECK(g->target_date == c.kept);
    auto p = patch_from_request(body(R"({"target_date":")" + c.sent + R"("})"));
    REQUIRE(p.ok());
    CHECK(p->target_date == c.kept);
  }
  for (const char* bad : {"2026-6-30", "2026-02-30", "2027-02-29", "30/06/2026", "2026-06-30T12:00",
                          "2026-06-30T12:00:00", "1969-12-31", "tomorrow", ""}) {
    CAPTURE(bad);
    auto g =
        goal_from_request(body(R"({"title":"T","target_date":")" + std::string(bad) + R"("})"));
    REQUIRE_FALSE(g.ok());
    CHECK(g.error().field == "target_date");
    CHECK(g.error().message == kDateRule);
  }
}

TEST_CASE("roadmap goals: every POST refusal names its field") {
  std::string long_title(201, 'x'), long_description(2001, 'x');
  expect_refusals(
      {
          {"[1]", "", "request body must be a JSON object"},
          {"\"Learn\"", "", "request body must be a JSON object"},
          {"{}", "title", "is required"},
          {R"({"title":null})", "title", "is required"},
          {R"({"description":"D"})", "title", "is required"},
          {R"({"title":7})", "title", "must be a string"},
          {R"({"title":""})", "title", "must be 1 to 200 characters (Unicode code points)"},
          {R"({"title":"   "})", "title", "must not be blank"},
          {R"({"title":")" + long_title + R"("})", "title",
           "must be 1 to 200 characters (Unicode code points)"},
          {R"({"title":"a\tb"})", "title",
           "must not contain control characters (U+0000-U+001F, U+007F-U+009F)"},
          {R"({"title":"T","description":")" + long_description + R"("})", "description",
           "must be 1 to 2000 characters (Unicode code points)"},
          {R"({"title":"T","description":["D"]})", "description", "must be a string"},
          {R"({"title":"T","target_date":20261231})", "target_date", kDateRule},
          {R"({"title":"T","target_date":"31.12.2026"})", "target_date", kDateRule},
          {R"({"title":"T","status":"active"})", "status", kPostMembers},
          {R"({"title":"T","roadmap":null})", "roadmap", kPostMembers},
          {R"({"title":"T","id":"goal_0123456789abcdef"})", "id", kPostMembers},
          {R"({"title":"T","progress":0})", "progress", kPostMembers},
      },
      [](const json& b) { return goal_from_request(b); });
  // A 200-character title and a 2000-character description are fine.
  CHECK(goal_from_request(body(R"({"title":")" + std::string(200, 'x') + R"(","description":")" +
                               std::string(2000, 'y') + R"("})"))
            .ok());
}

TEST_CASE("roadmap goals: every PATCH refusal names its field") {
  expect_refusals(
      {
          {"[]", "", "request body must be a JSON object"},
          {R"({"title":null})", "title", "cannot be null"},
          {R"({"status":null})", "status", "cannot be null"},
          {R"({"title":""})", "title", "must be 1 to 200 characters (Unicode code points)"},
          {R"({"description":" "})", "description", "must not be blank"},
          {R"({"target_date":"soon"})", "target_date", kDateRule},
          {R"({"status":"completed"})", "status",
           "completed is reached by completing the roadmap's nodes"},
          {R"({"status":"done"})", "status", "must be active or abandoned"},
          {R"({"status":"Abandoned"})", "status", "must be active or abandoned"},
          {R"({"status":true})", "status", "must be active or abandoned"},
          {R"({"progress":100})", "progress", kPatchMembers},
          {R"({"roadmap":{"nodes":[]}})", "roadmap", kPatchMembers},
          {R"({"id":"goal_0123456789abcdef"})", "id", kPatchMembers},
      },
      [](const json& b) { return patch_from_request(b); });
}

TEST_CASE("roadmap goals: every node PATCH refusal names its field") {
  expect_refusals(
      {
          {"true", "", "request body must be a JSON object"},
          {"{}", "completed", "is required (or is_complete, or skipped)"},
          {R"({"completed":null})", "completed", "cannot be null"},
          {R"({"is_complete":null})", "is_complete", "cannot be null"},
          {R"({"skipped":null})", "skipped", "cannot be null"},
          {R"({"completed":"true"})", "completed", "must be true or false"},
          {R"({"completed":1})", "completed", "must be true or false"},
          {R"({"is_complete":0})", "is_complete", "must be true or false"},
          {R"({"skipped":"no"})", "skipped", "must be true or false"},
          {R"({"completed":true,"is_complete":false})", "is_complete",
           "must agree with completed when both are sent"},
          {R"({"completed":false,"is_complete":true})", "is_complete",
           "must agree with completed when both are sent"},
          {R"({"completed":true,"skipped":true})", "skipped",
           "cannot be true with completed: a node is completed or skipped"},
          {R"({"is_complete":true,"skipped":true})", "skipped",
           "cannot be true with completed: a node is completed or skipped"},
          {R"({"done":true})", "done", kNodeMembers},
          {R"({"completed":true,"label":"New"})", "label", kNodeMembers},
          {R"({"completed":true,"node_id":"a"})", "node_id", kNodeMembers},
      },
      [](const json& b) { return node_patch_from_request(b); });
}

TEST_CASE("roadmap goals: node PATCH bodies, the vendor clients' alias included") {
  struct Case {
    std::string body;
    std::optional<bool> completed, skipped;
  };
  for (const auto& c : std::vector<Case>{
           {R"({"completed":true})", true, std::nullopt},
           {R"({"completed":false})", false, std::nullopt},
           {R"({"is_complete":true})", true, std::nullopt},
           {R"({"is_complete":false})", false, std::nullopt},
           {R"({"completed":true,"is_complete":true})", true, std::nullopt},
           {R"({"skipped":true})", std::nullopt, true},
           {R"({"skipped":false})", std::nullopt, false},
           {R"({"completed":false,"skipped":true})", false, true},
           {R"({"completed":true,"skipped":false})", true, false},
       }) {
    CAPTURE(c.body);
    auto p = node_patch_from_request(body(c.body));
    REQUIRE(p.ok());
    CHECK(p->completed == c.completed);
    CHECK(p->skipped == c.skipped);
    CHECK(p->goal_id.empty());  // both from the path
    CHECK(p->node_id.empty());
  }
}

TEST_CASE("roadmap goals: status is derived from the roadmap and the user's abandon") {
  struct Case {
    const char* name;
    std::optional<Roadmap> roadmap;
    bool abandoned;
    GoalStatus status;
    int progress;
  };
  Roadmap all_skipped;
  all_skipped.nodes = {node("a", false, true), node("b", false, true)};
  Roadmap done_and_skipped;
  done_and_skipped.nodes = {node("a", true), node("b", false, true), node("c", true)};
  Roadmap open_and_skipped;
  open_and_skipped.nodes = {node("a", true), node("b", false, true), node("c")};
  for (const auto& c : std::vector<Case>{
           {"no roadmap", std::nullopt, false, GoalStatus::active, 0},
           {"nothing done", chain(), false, GoalStatus::active, 0},
           {"1 of 3", chain(true), false, GoalStatus::active, 33},
           {"2 of 3", chain(true, true), false, GoalStatus::active, 67},
           {"all done", chain(true, true, true), false, GoalStatus::completed, 100},
           {"skipped nodes are out of the count", done_and_skipped, false, GoalStatus::completed,
            100},
           {"a skipped node does not finish an open one", open_and_skipped, false,
            GoalStatus::active, 50},
           {"every node skipped: nothing counted", all_skipped, false, GoalStatus::active, 0},
           {"abandoned without a roadmap", std::nullopt, true, GoalStatus::abandoned, 0},
           {"abandoned overrides active", chain(true), true, GoalStatus::abandoned, 33},
           {"abandoned overrides completed", chain(true, true, true), true, GoalStatus::abandoned,
            100},
       }) {
    CAPTURE(c.name);
    RoadmapGoal g = goal(c.roadmap);
    g.abandoned = c.abandoned;
    CHECK(status(g) == c.status);
    CHECK(progress(g) == c.progress);
    CHECK(to_json(g)["status"] == std::string(to_string(c.status)));
    CHECK(to_json(g)["progress"] == c.progress);
  }
}

TEST_CASE("roadmap goals: completing the last node completes the goal; reopening one reopens it") {
  RoadmapGoal g = goal(chain(true, true));
  NodePatch p;
  p.goal_id = g.id;
  p.node_id = "c";
  p.completed = true;
  auto done = apply(g, p, g.updated_at_ms + 1000);
  REQUIRE(done.ok());
  CHECK(status(*done) == GoalStatus::completed);
  CHECK(progress(*done) == 100);
  CHECK(done->updated_at_ms == g.updated_at_ms + 1000);
  CHECK(done->created_at_ms == g.created_at_ms);

  p.node_id = "b";
  p.completed = false;
  auto reopened = apply(*done, p, g.updated_at_ms + 2000);
  REQUIRE(reopened.ok());
  CHECK(status(*reopened) == GoalStatus::active);
  CHECK(progress(*reopened) == 67);
  CHECK_FALSE(reopened->roadmap->nodes[1].completed);

  // Skipping the open node finishes the goal; completing it un-skips it.
  p.completed.reset();
  p.skipped = true;
  auto skipped = apply(*reopened, p, g.updated_at_ms + 3000);
  REQUIRE(skipped.ok());
  CHECK(skipped->roadmap->nodes[1].skipped);
  CHECK(status(*skipped) == GoalStatus::completed);
  CHECK(progress(*skipped) == 100);
  p.skipped.reset();
  p.completed = true;
  auto completed = apply(*skipped, p, g.updated_at_ms + 4000);
  REQUIRE(completed.ok());
  CHECK(completed->roadmap->nodes[1].completed);
  CHECK_FALSE(completed->roadmap->nodes[1].skipped);
  // Skipping a completed node un-completes it.
  p.completed.reset();
  p.skipped = true;
  auto reskipped = apply(*completed, p, g.updated_at_ms + 5000);
  REQUIRE(reskipped.ok());
  CHECK(reskipped->roadmap->nodes[1].skipped);
  CHECK_FALSE(reskipped->roadmap->nodes[1].completed);
  // Un-skipping leaves it open.
  p.skipped = false;
  auto open = apply(*reskipped, p, g.updated_at_ms + 6000);
  REQUIRE(open.ok());
  CHECK_FALSE(open->roadmap->nodes[1].skipped);
  CHECK_FALSE(open->roadmap->nodes[1].completed);
  CHECK(status(*open) == GoalStatus::active);

  // The vendor's alias has the same effect as completed.
  auto alias = node_patch_from_request(body(R"({"is_complete":true})"));
  REQUIRE(alias.ok());
  alias->goal_id = g.id;
  alias->node_id = "c";
  auto via_alias = apply(goal(chain(true, true)), *alias, g.updated_at_ms + 1000);
  REQUIRE(via_alias.ok());
  CHECK(*via_alias == *done);
}

TEST_CASE("roadmap goals: a node update names node_id when there is no such node") {
  NodePatch p;
  p.goal_id = "goal_0123456789abcdef";
  p.node_id = "z";
  p.completed = true;
  auto none = apply(goal(), p, 1);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().code == gs::ErrorCode::not_found);
  CHECK(none.error().field == "node_id");
  CHECK(none.error().message == "goal goal_0123456789abcdef has no roadmap yet");
  auto unknown = apply(goal(chain()), p, 1);
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == gs::ErrorCode::not_found);
  CHECK(unknown.error().field == "node_id");
  CHECK(unknown.error().message == "the roadmap of goal goal_0123456789abcdef has no node z");
}

TEST_CASE("roadmap goals: the API form, member by member, with next_nodes and blocked") {
  Roadmap r;
  Node n1 = node("node_1", true);
  n1.label = "Complete Python basics";
  Node n2 = node("node_2");
  n2.label = "Study linear algebra";
  r.nodes = {n1, n2};
  r.edges = {{"edge_1", "node_1", "node_2"}};
  lay_out(r);
  RoadmapGoal g = goal(r);
  g.description = "Master ML fundamentals and build 3 projects";
  g.target_date = "2026-12-31T00:00:00Z";
  g.updated_at_ms = ms("2026-02-20T08:30:00.250Z");
  CHECK(to_json(g).dump() ==
        R"({"id":"goal_0123456789abcdef","title":"Learn Machine Learning",)"
        R"("description":"Master ML fundamentals and build 3 projects",)"
        R"("target_date":"2026-12-31T00:00:00Z","roadmap":{"nodes":[)"
        R"({"id":"node_1","label":"Complete Python basics","completed":true,)"
        R"("position":{"x":100,"y":100},"skipped":false,"details":null,"estimated_time":null,)"
        R"("resources":[],"blocked":false},)"
        R"({"id":"node_2","label":"Study linear algebra","completed":false,)"
        R"("position":{"x":100,"y":250},"skipped":false,"details":null,"estimated_time":null,)"
        R"("resources":[],"blocked":false}],)"
        R"("edges":[{"id":"edge_1","source":"node_1","target":"node_2"}],)"
        R"("next_nodes":["node_2"]},"progress":50,"status":"active",)"
        R"("created_at":"2026-02-19T10:00:00Z","updated_at":"2026-02-20T08:30:00.250Z"})");

  // Blocked and next along a chain: only the first open node is next; the
  // ones behind it are blocked; a skipped predecessor blocks nothing.
  auto j = to_json(goal(chain()));
  CHECK(j["roadmap"]["next_nodes"] == ojson::array({"a"}));
  CHECK(j["roadmap"]["nodes"][0]["blocked"] == false);
  CHECK(j["roadmap"]["nodes"][1]["blocked"] == true);
  CHECK(j["roadmap"]["nodes"][2]["blocked"] == true);
  Roadmap skipping = chain(true);
  skipping.nodes[1].skipped = true;
  j = to_json(goal(skipping));
  CHECK(j["roadmap"]["next_nodes"] == ojson::array({"c"}));
  CHECK(j["roadmap"]["nodes"][2]["blocked"] == false);
  j = to_json(goal(chain(true, true, true)));
  CHECK(j["roadmap"]["next_nodes"] == ojson::array());
  CHECK(j["status"] == "completed");
}

TEST_CASE("roadmap goals: the stored form keeps nothing derived and reads back") {
  RoadmapGoal g = goal(chain(true));
  g.description = "D";
  g.target_date = "2026-06-30";
  g.abandoned = true;
  g.updated_at_ms = g.created_at_ms + 123;
  g.roadmap->nodes[2].details = "Details";
  g.roadmap->nodes[2].resources = {"https://example.com/ml"};
  auto stored = stored_json(g);
  std::vector<std::string> keys;
  for (auto it = stored.begin(); it != stored.end(); ++it) keys.push_back(it.key());
  CHECK(keys == std::vector<std::string>{"id", "title", "description", "target_date", "roadmap",
                                         "abandoned", "created_at", "updated_at"});
  CHECK(stored["roadmap"] == to_json(*g.roadmap));
  CHECK_FALSE(stored["roadmap"].contains("next_nodes"));
  CHECK_FALSE(stored["roadmap"]["nodes"][0].contains("blocked"));
  CHECK(stored["abandoned"] == true);

  auto back = goal_from_stored(json::parse(stored.dump()), "acme");
  REQUIRE(back.ok());
  CHECK(*back == g);
  CHECK(stored_json(*back).dump() == stored.dump());

  // Without a roadmap, description and target date.
  RoadmapGoal bare = goal();
  auto bare_back = goal_from_stored(json::parse(stored_json(bare).dump()), "acme");
  REQUIRE(bare_back.ok());
  CHECK(*bare_back == bare);
  CHECK(stored_json(bare)["roadmap"].is_null());
}

TEST_CASE("roadmap goals: stored forms are read leniently but never wrongly") {
  auto row = [](const std::string& change) {
    auto j = json::parse(
        R"({"id":"goal_0123456789abcdef","title":"T","description":null,"target_date":"2026-06-30",)"
        R"("roadmap":{"nodes":[{"id":"a","label":"A","completed":true}],"edges":[]},)"
        R"("abandoned":false,"created_at":"2026-02-19T10:00:00Z","updated_at":"2026-02-19T10:00:00Z"})");
    j.merge_patch(json::parse(change));
    return goal_from_stored(j, "acme");
  };
  CHECK(row("{}").ok());
  CHECK(row(R"({"extra":1})").ok());          // members of a later version are ignored
  CHECK(row(R"({"abandoned":null})").ok());   // absent: false
  CHECK(row(R"({"title":"  "})").ok());       // types and lengths only
  CHECK(row(R"({"updated_at":null})").ok());  // created_at then
  CHECK(row(R"({"roadmap":null})").ok());
  CHECK(row(R"({"target_date":"2026-12-31T00:00:00Z"})").ok());
  CHECK(row(R"({"updated_at":null})")->updated_at_ms == row("{}")->created_at_ms);
  CHECK(row("{}")->roadmap->nodes[0].completed);
  CHECK(row("{}")->tenant_id == "acme");
  struct Bad {
    std::string change, field;
  };
  for (
      const auto& b : std::vector<Bad>{
          {R"({"id":null})", "id"},
          {R"({"id":""})", "id"},
          {R"({"title":null})", "title"},
          {R"({"title":5})", "title"},
          {R"({"title":")" + std::string(201, 'x') + R"("})", "title"},
          {R"({"description":7})", "description"},
          {R"({"target_date":7})", "target_date"},
          {R"({"target_date":""})", "target_date"},
          {R"({"abandoned":"yes"})", "abandoned"},
          {R"({"created_at":"yesterday"})", "created_at"},
          {R"({"created_at":null})", "created_at"},
          {R"({"updated_at":5})", "updated_at"},
          {R"({"roadmap":5})", "roadmap"},
          {R"({"roadmap":{"nodes":[{"label":"A"}]}})", "roadmap.nodes[0].id"},
          {R"({"roadmap":{"nodes":[{"id":"a","label":"A"}],"edges":[{"source":"a","target":"a"}]}})",
           "roadmap.edges[0]"},
      }) {
    CAPTURE(b.change);
    auto r = row(b.change);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().field == b.field);
  }
  CHECK_FALSE(goal_from_stored(json::array(), "acme").ok());
}

TEST_CASE("roadmap goals: PATCH writes what it sends; null clears; status abandons and restores") {
  RoadmapGoal g = goal(chain(true, true, true));
  g.description = "D";
  g.target_date = "2026-06-30";

  auto p = patch_from_request(body(R"({"title":"Learn ML"})"));
  REQUIRE(p.ok());
  auto after = apply(g, *p, g.created_at_ms + 1);
  CHECK(after.title == "Learn ML");
  CHECK(after.description == "D");  // not sent: kept
  CHECK(after.target_date == "2026-06-30");
  CHECK(after.roadmap == g.roadmap);
  CHECK(after.updated_at_ms == g.created_at_ms + 1);
  CHECK(after.created_at_ms == g.created_at_ms);

  p = patch_from_request(body(R"({"description":null,"target_date":null})"));
  REQUIRE(p.ok());
  CHECK(p->description_set);
  CHECK(p->target_date_set);
  after = apply(after, *p, g.created_at_ms + 2);
  CHECK_FALSE(after.description.has_value());
  CHECK_FALSE(after.target_date.has_value());

  p = patch_from_request(body(
      R"({"description":"New","target_date":"2027-01-01T09:00:00+01:00","status":"abandoned"})"));
  REQUIRE(p.ok());
  after = apply(after, *p, g.created_at_ms + 3);
  CHECK(after.description == "New");
  CHECK(after.target_date == "2027-01-01T08:00:00Z");
  CHECK(after.abandoned);
  CHECK(status(after) == GoalStatus::abandoned);

  // Back to active: the roadmap is done, so the goal reads completed again.
  p = patch_from_request(body(R"({"status":"active"})"));
  REQUIRE(p.ok());
  after = apply(after, *p, g.created_at_ms + 4);
  CHECK_FALSE(after.abandoned);
  CHECK(status(after) == GoalStatus::completed);

  // An empty patch changes nothing but updated_at.
  p = patch_from_request(body("{}"));
  REQUIRE(p.ok());
  auto same = apply(after, *p, g.created_at_ms + 5);
  same.updated_at_ms = after.updated_at_ms;
  CHECK(same == after);
}

TEST_CASE("roadmap goals: the commands' payloads read back") {
  // roadmap_goal.updated: a clearing travels as null, not as an absence.
  auto p = patch_from_request(
      body(R"({"title":"T2","description":null,"target_date":"2026-06-30","status":"abandoned"})"));
  REQUIRE(p.ok());
  p->id = "goal_0123456789abcdef";
  json payload = to_json(*p);
  CHECK(payload == body(R"({"id":"goal_0123456789abcdef","title":"T2","description":null,)"
                        R"("target_date":"2026-06-30","status":"abandoned"})"));
  auto p2 = patch_from_json(payload);
  REQUIRE(p2.ok());
  CHECK(to_json(*p2) == payload);
  CHECK(p2->description_set);
  CHECK(p2->target_date_set);
  CHECK(p2->status == GoalStatus::abandoned);
  auto only_id = patch_from_request(body("{}"));
  REQUIRE(only_id.ok());
  only_id->id = "goal_0123456789abcdef";
  CHECK(to_json(*only_id) == body(R"({"id":"goal_0123456789abcdef"})"));
  auto missing = patch_from_json(body(R"({"title":"T"})"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().field == "data.id");

  // roadmap.node_updated carries both ids, and completed (never the alias).
  auto n = node_patch_from_request(body(R"({"is_complete":true})"));
  REQUIRE(n.ok());
  n->goal_id = "goal_0123456789abcdef";
  n->node_id = "node_1";
  payload = to_json(*n);
  CHECK(payload ==
        body(R"({"goal_id":"goal_0123456789abcdef","node_id":"node_1","completed":true})"));
  auto n2 = node_patch_from_json(payload);
  REQUIRE(n2.ok());
  CHECK(n2->goal_id == n->goal_id);
  CHECK(n2->node_id == "node_1");
  CHECK(n2->completed == true);
  CHECK_FALSE(n2->skipped.has_value());
  CHECK(to_json(*n2) == payload);
  n->completed.reset();
  n->skipped = true;
  CHECK(node_patch_from_json(to_json(*n))->skipped == true);
  for (const auto& [bad, field] : std::vector<std::pair<std::string, std::string>>{
           {R"({"node_id":"a","completed":true})", "data.goal_id"},
           {R"({"goal_id":"goal_0123456789abcdef","completed":true})", "data.node_id"},
           {R"({"goal_id":"goal_0123456789abcdef","node_id":"a","completed":"yes"})", "completed"},
       }) {
    CAPTURE(bad);
    auto r = node_patch_from_json(body(bad));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().field == field);
  }

  // roadmap.generated: the goal id and the stored form of the roadmap.
  GeneratedRoadmap gen{"goal_0123456789abcdef", chain(true)};
  payload = to_json(gen);
  CHECK(payload["goal_id"] == "goal_0123456789abcdef");
  CHECK(payload["roadmap"] == json(to_json(gen.roadmap)));
  auto gen2 = generated_from_json(payload);
  REQUIRE(gen2.ok());
  CHECK(gen2->goal_id == gen.goal_id);
  CHECK(gen2->roadmap == gen.roadmap);
  for (
      const auto& [bad, field] : std::vector<std::pair<std::string, std::string>>{
          {R"({"roadmap":{"nodes":[{"id":"a","label":"A"}]}})", "data.goal_id"},
          {R"({"goal_id":"goal_0123456789abcdef"})", "data.roadmap"},
          {R"({"goal_id":"goal_0123456789abcdef","roadmap":{"nodes":[]}})", "data.roadmap.nodes"},
          {R"({"goal_id":"goal_0123456789abcdef","roadmap":{"nodes":[{"id":"a","label":"A"},)"
           R"({"id":"b","label":"B"}],"edges":[{"source":"a","target":"b"},{"source":"b","target":"a"}]}})",
           "data.roadmap.edges[1]"},
      }) {
    CAPTURE(bad);
    auto r = generated_from_json(body(bad));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().field == field);
  }

  // roadmap_goal.created is the stored form.
  RoadmapGoal g = goal();
  auto created = goal_from_stored(json(stored_json(g)), "acme");
  REQUIRE(created.ok());
  CHECK(*created == g);
}

TEST_CASE("roadmap goals: the commands' payloads agree with schemas/command.schema.json") {
  using gs::test::schema_accepts;
  RoadmapGoal g = goal();
  g.roadmap.reset();
  g.node_since.clear();
  json created = stored_json(g);
  CHECK(schema_accepts(command_type::roadmap_goal_created, created));
  g.description = "Sub four hours";
  g.target_date = "2026-06-30";
  CHECK(schema_accepts(command_type::roadmap_goal_created, json(stored_json(g))));
  auto wrong = created;
  wrong["roadmap"] = json::object();
  CHECK_FALSE(schema_accepts(command_type::roadmap_goal_created, wrong));
  wrong = created;
  wrong.erase("title");
  CHECK_FALSE(schema_accepts(command_type::roadmap_goal_created, wrong));

  auto p = patch_from_request(
      body(R"({"title":"T2","description":null,"target_date":"2026-06-30","status":"abandoned"})"));
  REQUIRE(p.ok());
  p->id = "goal_0123456789abcdef";
  CHECK(schema_accepts(command_type::roadmap_goal_updated, to_json(*p)));
  CHECK_FALSE(schema_accepts(command_type::roadmap_goal_updated,
                             body(R"({"id":"goal_0123456789abcdef","status":"completed"})")));
  CHECK(schema_accepts(command_type::roadmap_goal_deleted, {{"id", p->id}}));
  CHECK_FALSE(schema_accepts(command_type::roadmap_goal_deleted, json::object()));

  GeneratedRoadmap gen{"goal_0123456789abcdef", chain(true)};
  CHECK(schema_accepts(command_type::roadmap_generated, to_json(gen)));
  auto no_nodes = json(to_json(gen));
  no_nodes["roadmap"]["nodes"] = json::array();
  CHECK_FALSE(schema_accepts(command_type::roadmap_generated, no_nodes));

  auto n = node_patch_from_request(body(R"({"is_complete":true,"skipped":false})"));
  REQUIRE(n.ok());
  n->goal_id = "goal_0123456789abcdef";
  n->node_id = "node_1";
  CHECK(schema_accepts(command_type::roadmap_node_updated, to_json(*n)));
  CHECK_FALSE(schema_accepts(command_type::roadmap_node_updated,
                             body(R"({"goal_id":"goal_0123456789abcdef","node_id":"node_1",)"
                                  R"("is_complete":true})")));
}

TEST_CASE("roadmap goals: a regenerated roadmap keeps the completed nodes it still has") {
  RoadmapGoal g = goal();
  // The first roadmap is taken as it is.
  auto first = with_roadmap(g, chain(), g.created_at_ms + 1);
  CHECK(first.roadmap == chain());
  CHECK(first.updated_at_ms == g.created_at_ms + 1);

  RoadmapGoal done = goal(chain(true, true));
  done.roadmap->nodes[2].skipped = true;
  // The fresh roadmap has a by id, B by label (renamed id), c under a new
  // label and id (lost), and a new node d.
  Roadmap fresh;
  Node a = node("a");
  Node b = node("b2");
  b.label = "  label B ";
  Node d = node("d");
  fresh.nodes = {a, b, node("c2"), d};
  fresh.edges = {{"e1", "a", "b2"}, {"e2", "b2", "c2"}, {"e3", "c2", "d"}};
  lay_out(fresh);
  auto merged = with_roadmap(done, fresh, done.created_at_ms + 7);
  REQUIRE(merged.roadmap.has_value());
  CHECK(merged.roadmap->nodes.size() == 4);
  CHECK(merged.roadmap->nodes[0].completed);
  CHECK(merged.roadmap->nodes[1].completed);
  CHECK(merged.roadmap->nodes[1].id == "b2");
  CHECK_FALSE(merged.roadmap->nodes[2].completed);
  CHECK_FALSE(merged.roadmap->nodes[2].skipped);
  CHECK_FALSE(merged.roadmap->nodes[3].completed);
  CHECK(merged.roadmap->edges == fresh.edges);
  CHECK(progress(merged) == 50);
  CHECK(status(merged) == GoalStatus::active);
  CHECK(merged.updated_at_ms == done.created_at_ms + 7);
  CHECK(merged.title == done.title);
}

TEST_CASE("roadmap goals: ids and statuses") {
  auto id = new_goal_id();
  CHECK(valid_goal_id(id));
  CHECK(id.size() == 21);
  CHECK(new_goal_id() != id);
  CHECK(valid_goal_id("goal_0123456789abcdef"));
  CHECK_FALSE(valid_goal_id("goal_123"));
  CHECK_FALSE(valid_goal_id("goal_0123456789ABCDEF"));
  CHECK_FALSE(valid_goal_id("gaol_0123456789abcdef"));
  CHECK_FALSE(valid_goal_id("goal_0123456789abcdef0"));
  for (auto s : {GoalStatus::active, GoalStatus::completed, GoalStatus::abandoned})
    CHECK(parse_status(to_string(s)) == s);
  CHECK_FALSE(parse_status("Active").has_value());
  CHECK_FALSE(parse_status("").has_value());
  CHECK(std::string(command_type::roadmap_goal_created) == "roadmap_goal.created");
  CHECK(std::string(command_type::roadmap_node_updated) == "roadmap.node_updated");
}
