// Agent goals (docs/api.md#agent-goals): POST and PATCH bodies validated
// member by member with the field named in each refusal, the primary
// target rule, PATCH semantics, and the API/stored form and its round trip.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include "command_schema.h"
#include "modules/agent/model.h"

using nlohmann::json;
using namespace gs::agent;

namespace {

const char* kReferencePost =
    R"({ "agent_id": "agent_abc123", "title": "Book qualified meeting", "description": "The call ends with a confirmed meeting time.", "targets": [ { "period": "week", "target_type": "count", "target_count": 25, "is_primary": true } ]})";
const char* kReferencePatch =
    R"({ "active": true, "targets": [ { "period": "month", "target_type": "rate", "target_rate": 70, "is_primary": true } ]})";

// A valid POST body with `members` (inside of a JSON object) added.
std::string post_with(const std::string& members) {
  return R"({"agent_id":"agent_abc123","title":"Book","description":"Booked.")" +
         (members.empty() ? "" : "," + members) + "}";
}
// A valid POST body whose targets are `targets` (inside of a JSON array).
std::string post_targets(const std::string& targets) {
  return post_with(R"("targets":[)" + targets + "]");
}

json body(const std::string& text) {
  auto j = json::parse(text, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  return j;
}

using gs::test::schema_accepts;

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

const std::string kIdRule =
    "must be 1 to 200 characters of A-Z a-z 0-9 _ . : - (a uuid, or an id such as agent_abc123)";

}  // namespace

TEST_CASE("agent goals: the reference's POST body is a goal; its primary target stays primary") {
  auto g = goal_from_request(body(kReferencePost));
  REQUIRE(g.ok());
  CHECK(g->agent_id == "agent_abc123");
  CHECK_FALSE(g->channel_id.has_value());
  CHECK(g->title == "Book qualified meeting");
  CHECK(g->description == "The call ends with a confirmed meeting time.");
  CHECK(g->active);
  REQUIRE(g->targets.size() == 1);
  CHECK(g->targets[0].period == Period::week);
  CHECK(g->targets[0].type == TargetType::count);
  CHECK(g->targets[0].target_count == 25);
  CHECK(g->targets[0].is_primary);
  CHECK(g->targets[0].id.empty());  // the API gives ids, then they travel in the command
}

TEST_CASE("agent goals: when no target is primary the first one is; rate targets' min_sample") {
  auto g = goal_from_request(body(post_targets(
      R"({"period":"day","target_type":"count","target_count":3},)"
      R"({"period":"month","target_type":"rate","target_rate":72.5,"min_sample":50},)"
      R"({"period":"week","target_type":"rate","target_rate":0.0000004999,"is_primary":false},)"
      R"({"period":"week","target_type":"rate","target_rate":100,"is_primary":null})")));
  // 0.0000004999 rounds to 0 at 6 decimal places: not above 0.
  REQUIRE_FALSE(g.ok());
  CHECK(g.error().field == "targets[2].target_rate");

  g = goal_from_request(body(post_targets(
      R"({"period":"day","target_type":"count","target_count":3},)"
      R"({"period":"month","target_type":"rate","target_rate":72.5,"min_sample":50},)"
      R"({"period":"week","target_type":"rate","target_rate":33.3333333,"is_primary":false},)"
      R"({"period":"week","target_type":"rate","target_rate":100,"is_primary":null,"target_count":null})")));
  REQUIRE(g.ok());
  REQUIRE(g->targets.size() == 4);
  CHECK(g->targets[0].is_primary);
  CHECK_FALSE(g->targets[1].is_primary);
  CHECK_FALSE(g->targets[3].is_primary);
  CHECK(g->targets[1].target_rate == 72.5);
  CHECK(g->targets[1].min_sample == 50);
  CHECK(g->targets[2].target_rate == 33.333333);  // 6 decimal places
  CHECK(g->targets[2].min_sample == kDefaultMinSample);
  CHECK(g->targets[3].target_rate == 100);

  // A later target may be the primary one; then the first is not.
  g = goal_from_request(body(post_targets(
      R"({"period":"day","target_type":"count","target_count":3},)"
      R"({"period":"week","target_type":"count","target_count":10,"is_primary":true})")));
  REQUIRE(g.ok());
  CHECK_FALSE(g->targets[0].is_primary);
  CHECK(g->targets[1].is_primary);
}

TEST_CASE("agent goals: optional members, null and uuids") {
  auto g = goal_from_request(body(
      R"({"agent_id":"3f0c9a6e-8d1b-4c2a-9f47-1b2d6e8a5c10","channel_id":"c1a2b3c4-0000-4000-8000-000000000001",)"
      R"("title":"T","description":"D","active":false,"targets":[]})"));
  REQUIRE(g.ok());
  CHECK(g->agent_id == "3f0c9a6e-8d1b-4c2a-9f47-1b2d6e8a5c10");
  CHECK(g->channel_id == "c1a2b3c4-0000-4000-8000-000000000001");
  CHECK_FALSE(g->active);
  CHECK(g->targets.empty());
  // null for an optional member is leaving it out.
  g = goal_from_request(body(post_with(R"("channel_id":null,"active":null,"targets":null)")));
  REQUIRE(g.ok());
  CHECK_FALSE(g->channel_id.has_value());
  CHECK(g->active);
  CHECK(g->targets.empty());
}

TEST_CASE("agent goals: every POST refusal names its field") {
  std::string long_title(201, 'x'), long_description(2001, 'x'), long_id(201, 'a');
  std::string eleven;
  for (int i = 0; i < 11; ++i)
    eleven +=
        std::string(i ? "," : "") + R"({"period":"day","target_type":"count","target_count":1})";
  expect_refusals(
      {
          {"[1]", "", "request body must be a JSON object"},
          {R"({"title":"T","description":"D"})", "agent_id", "is required"},
          {R"({"agent_id":null,"title":"T","description":"D"})", "agent_id", "is required"},
          {R"({"agent_id":"a","description":"D"})", "title", "is required"},
          {R"({"agent_id":"a","title":"T"})", "description", "is required"},
          {post_with(R"("colour":"red")"), "colour",
           "unknown field; expected one of agent_id, channel_id, title, description, active, "
           "targets, timezone, week_start"},
          {post_with(R"("goal_targets":[])"), "goal_targets",
           "unknown field; expected one of agent_id, channel_id, title, description, active, "
           "targets, timezone, week_start"},
          {post_with(R"("timezone":"Mars/Olympus")"), "timezone",
           "must be an IANA time zone name such as Europe/Berlin (unknown: Mars/Olympus)"},
          {post_with(R"("timezone":7)"), "timezone",
           "must be an IANA time zone name such as Europe/Berlin"},
          {post_with(R"("timezone":"")"), "timezone",
           "must be an IANA time zone name such as Europe/Berlin"},
          {post_with(R"("week_start":"saturday")"), "week_start",
           "must be monday (ISO weeks) or sunday"},
          {R"({"agent_id":7,"title":"T","description":"D"})", "agent_id", "must be a string"},
          {R"({"agent_id":"agent abc","title":"T","description":"D"})", "agent_id", kIdRule},
          {R"({"agent_id":"","title":"T","description":"D"})", "agent_id", kIdRule},
          {R"({"agent_id":")" + long_id + R"(","title":"T","description":"D"})", "agent_id",
           kIdRule},
          {post_with(R"("channel_id":"web/1")"), "channel_id", kIdRule},
          {post_with(R"("channel_id":5)"), "channel_id", "must be a string"},
          {R"({"agent_id":"a","title":"   ","description":"D"})", "title", "must not be blank"},
          {R"({"agent_id":"a","title":")" + long_title + R"(","description":"D"})", "title",
           "must be 1 to 200 characters (Unicode code points)"},
          {R"({"agent_id":"a","title":"T","description":")" + long_description + R"("})",
           "description", "must be 1 to 2000 characters (Unicode code points)"},
          {R"({"agent_id":"a","title":"T","description":"line\none"})", "description",
           "must not contain control characters (U+0000-U+001F, U+007F-U+009F)"},
          {R"({"agent_id":"a","title":"T","description":42})", "description", "must be a string"},
          {post_with(R"("active":"yes")"), "active", "must be true or false"},
          {post_with(R"("targets":{})"), "targets", "must be an array of targets"},
          {post_targets(eleven), "targets", "must hold at most 10 targets"},
          {post_targets("7"), "targets[0]", "must be an object"},
          {post_targets(R"({"target_type":"count","target_count":1})"), "targets[0].period",
           "is required"},
          {post_targets(R"({"period":"year","target_type":"count","target_count":1})"),
           "targets[0].period", "must be one of day, week, month"},
          {post_targets(R"({"period":"Week","target_type":"count","target_count":1})"),
           "targets[0].period", "must be one of day, week, month"},
          {post_targets(R"({"period":"day","target_count":1})"), "targets[0].target_type",
           "is required"},
          {post_targets(R"({"period":"day","target_type":"ratio","target_count":1})"),
           "targets[0].target_type", "must be count or rate"},
          {post_targets(R"({"period":"day","target_type":"count"})"), "targets[0].target_count",
           "is required for a count target"},
          {post_targets(R"({"period":"day","target_type":"count","target_count":0})"),
           "targets[0].target_count", "must be a whole number from 1 to 1000000000"},
          {post_targets(R"({"period":"day","target_type":"count","target_count":-3})"),
           "targets[0].target_count", "must be a whole number from 1 to 1000000000"},
          {post_targets(R"({"period":"day","target_type":"count","target_count":2.5})"),
           "targets[0].target_count", "must be a whole number from 1 to 1000000000"},
          {post_targets(R"({"period":"day","target_type":"count","target_count":25.0})"),
           "targets[0].target_count", "must be a whole number from 1 to 1000000000"},
          {post_targets(R"({"period":"day","target_type":"count","target_count":"25"})"),
           "targets[0].target_count", "must be a whole number from 1 to 1000000000"},
          {post_targets(R"({"period":"day","target_type":"count","target_count":1000000001})"),
           "targets[0].target_count", "must be a whole number from 1 to 1000000000"},
          {post_targets(
               R"({"period":"day","target_type":"count","target_count":18446744073709551615})"),
           "targets[0].target_count", "must be a whole number from 1 to 1000000000"},
          {post_targets(
               R"({"period":"day","target_type":"count","target_count":5,"target_rate":50})"),
           "targets[0].target_rate", "applies to rate targets only; leave it out or send null"},
          {post_targets(
               R"({"period":"day","target_type":"count","target_count":5,"min_sample":5})"),
           "targets[0].min_sample", "applies to rate targets only; leave it out or send null"},
          {post_targets(R"({"period":"day","target_type":"rate"})"), "targets[0].target_rate",
           "is required for a rate target"},
          {post_targets(R"({"period":"day","target_type":"rate","target_rate":0})"),
           "targets[0].target_rate", "must be a number greater than 0 and at most 100 (a percent)"},
          {post_targets(R"({"period":"day","target_type":"rate","target_rate":-1})"),
           "targets[0].target_rate", "must be a number greater than 0 and at most 100 (a percent)"},
          {post_targets(R"({"period":"day","target_type":"rate","target_rate":100.000001})"),
           "targets[0].target_rate", "must be a number greater than 0 and at most 100 (a percent)"},
          {post_targets(R"({"period":"day","target_type":"rate","target_rate":100.5})"),
           "targets[0].target_rate", "must be a number greater than 0 and at most 100 (a percent)"},
          {post_targets(R"({"period":"day","target_type":"rate","target_rate":"70"})"),
           "targets[0].target_rate", "must be a number greater than 0 and at most 100 (a percent)"},
          {post_targets(
               R"({"period":"day","target_type":"rate","target_rate":70,"target_count":3})"),
           "targets[0].target_count", "applies to count targets only; leave it out or send null"},
          {post_targets(R"({"period":"day","target_type":"rate","target_rate":70,"min_sample":0})"),
           "targets[0].min_sample", "must be a whole number from 1 to 1000000"},
          {post_targets(
               R"({"period":"day","target_type":"rate","target_rate":70,"min_sample":1000001})"),
           "targets[0].min_sample", "must be a whole number from 1 to 1000000"},
          {post_targets(
               R"({"period":"day","target_type":"count","target_count":1,"is_primary":1})"),
           "targets[0].is_primary", "must be true or false"},
          {post_targets(
               R"({"period":"day","target_type":"count","target_count":1,"id":"target_1"})"),
           "targets[0].id",
           "unknown field; expected one of period, target_type, target_count, target_rate, "
           "is_primary, min_sample"},
          {post_targets(
               R"({"period":"day","target_type":"count","target_count":1},)"
               R"({"period":"week","target_type":"count","target_count":2,"is_primary":true},)"
               R"({"period":"month","target_type":"count","target_count":3,"is_primary":true})"),
           "targets[2].is_primary", "only one target can be primary (targets[1] is)"},
      },
      [](const json& b) { return goal_from_request(b); });
}

TEST_CASE("agent goals: PATCH writes what it sends; targets replace every target") {
  auto p = patch_from_request(body(kReferencePatch));
  REQUIRE(p.ok());
  CHECK(p->active == true);
  CHECK_FALSE(p->agent_id.has_value());
  CHECK_FALSE(p->channel_set);
  CHECK_FALSE(p->title.has_value());
  REQUIRE(p->targets.has_value());
  REQUIRE(p->targets->size() == 1);
  CHECK((*p->targets)[0].type == TargetType::rate);
  CHECK((*p->targets)[0].target_rate == 70);
  CHECK((*p->targets)[0].min_sample == kDefaultMinSample);

  auto created = goal_from_request(body(kReferencePost));
  REQUIRE(created.ok());
  AgentGoal g = *created;
  g.id = "goal_00000000000000aa";
  g.targets[0].id = "target_0000000000000001";
  g.channel_id = "web";
  g.created_at_ms = g.updated_at_ms = 1740787200000;
  p->id = g.id;
  (*p->targets)[0].id = "target_0000000000000002";
  auto after = apply(g, *p, 1740787260000);
  CHECK(after.id == g.id);
  CHECK(after.title == g.title);            // not sent: kept
  CHECK(after.channel_id == g.channel_id);  // not sent: kept
  CHECK(after.created_at_ms == 1740787200000);
  CHECK(after.updated_at_ms == 1740787260000);
  REQUIRE(after.targets.size() == 1);  // replaced, not added to
  CHECK(after.targets[0].id == "target_0000000000000002");
  CHECK(after.targets[0].period == Period::month);

  // channel_id null removes the scope; [] removes every target; every member at once.
  p = patch_from_request(body(
      R"({"agent_id":"agent_xyz","channel_id":null,"title":"New","description":"New criteria.","active":false,"targets":[]})"));
  REQUIRE(p.ok());
  CHECK(p->channel_set);
  CHECK_FALSE(p->channel_id.has_value());
  after = apply(after, *p, 1740787320000);
  CHECK(after.agent_id == "agent_xyz");
  CHECK_FALSE(after.channel_id.has_value());
  CHECK(after.title == "New");
  CHECK(after.description == "New criteria.");
  CHECK_FALSE(after.active);
  CHECK(after.targets.empty());

  // A channel again; an empty patch changes nothing but updated_at.
  p = patch_from_request(body(R"({"channel_id":"chan_9"})"));
  REQUIRE(p.ok());
  after = apply(after, *p, 1740787380000);
  CHECK(after.channel_id == "chan_9");
  p = patch_from_request(body("{}"));
  REQUIRE(p.ok());
  auto same = apply(after, *p, 1740787440000);
  CHECK(to_json(same)["title"] == "New");
  CHECK(same.updated_at_ms == 1740787440000);

  // Targets in a PATCH follow the POST's rules, the first becoming primary.
  p = patch_from_request(body(
      R"({"targets":[{"period":"day","target_type":"count","target_count":4},{"period":"week","target_type":"rate","target_rate":55}]})"));
  REQUIRE(p.ok());
  CHECK((*p->targets)[0].is_primary);
  CHECK_FALSE((*p->targets)[1].is_primary);
}

TEST_CASE("agent goals: every PATCH refusal names its field") {
  expect_refusals(
      {
          {"[]", "", "request body must be a JSON object"},
          {R"({"agent_id":null})", "agent_id", "cannot be null"},
          {R"({"title":null})", "title", "cannot be null"},
          {R"({"description":null})", "description", "cannot be null"},
          {R"({"active":null})", "active", "cannot be null"},
          {R"({"targets":null})", "targets", "cannot be null; send [] to remove every target"},
          {R"({"id":"goal_00000000000000aa"})", "id",
           "unknown field; expected one of agent_id, channel_id, title, description, active, "
           "targets, timezone, week_start"},
          {R"({"status":"on_track"})", "status",
           "unknown field; expected one of agent_id, channel_id, title, description, active, "
           "targets, timezone, week_start"},
          {R"({"agent_id":"a b"})", "agent_id", kIdRule},
          {R"({"channel_id":""})", "channel_id", kIdRule},
          {R"({"title":""})", "title", "must be 1 to 200 characters (Unicode code points)"},
          {R"({"active":0})", "active", "must be true or false"},
          {R"({"targets":[{"period":"month","target_type":"rate","target_rate":170}]})",
           "targets[0].target_rate", "must be a number greater than 0 and at most 100 (a percent)"},
          {R"({"targets":[{"period":"month","target_type":"rate","target_rate":70,"is_primary":true},)"
           R"({"period":"day","target_type":"count","target_count":2,"is_primary":true}]})",
           "targets[1].is_primary", "only one target can be primary (targets[0] is)"},
      },
      [](const json& b) { return patch_from_request(b); });
}

TEST_CASE("agent goals: the API form is the reference's, member by member; it reads back") {
  auto created = goal_from_request(body(post_targets(
      R"({"period":"week","target_type":"count","target_count":25,"is_primary":true},)"
      R"({"period":"month","target_type":"rate","target_rate":72.5,"min_sample":40})")));
  REQUIRE(created.ok());
  AgentGoal g = *created;
  g.id = "goal_0123456789abcdef";
  g.tenant_id = "acme";
  g.targets[0].id = "target_00000000000000a1";
  g.targets[1].id = "target_00000000000000a2";
  g.created_at_ms = 1740787200000;
  g.updated_at_ms = 1740787200123;
  CHECK(
      to_json(g).dump() ==
      R"({"id":"goal_0123456789abcdef","agent_id":"agent_abc123","channel_id":null,"title":"Book",)"
      R"("description":"Booked.","active":true,"goal_targets":[)"
      R"({"id":"target_00000000000000a1","period":"week","target_type":"count","target_count":25,)"
      R"("target_rate":null,"is_primary":true,"min_sample":null},)"
      R"({"id":"target_00000000000000a2","period":"month","target_type":"rate","target_count":null,)"
      R"("target_rate":72.5,"is_primary":false,"min_sample":40}],"timezone":null,"week_start":"monday",)"
      R"("created_at":"2025-03-01T00:00:00Z","updated_at":"2025-03-01T00:00:00.123Z"})");

  // A whole rate is an integer, as the reference writes 70.
  g.targets[1].target_rate = 70;
  CHECK(to_json(g)["goal_targets"][1]["target_rate"].dump() == "70");

  // The stored form reads back to the same goal, byte for byte.
  g.channel_id = "chan_web";
  auto stored = to_json(g).dump();
  auto back = goal_from_json(json::parse(stored), "acme");
  REQUIRE(back.ok());
  CHECK(back->tenant_id == "acme");
  CHECK(back->channel_id == "chan_web");
  CHECK(back->targets[1].min_sample == 40);
  CHECK(to_json(*back).dump() == stored);

  // A PATCH's command payload reads back to the same patch.
  auto p = patch_from_request(body(kReferencePatch));
  REQUIRE(p.ok());
  p->id = g.id;
  (*p->targets)[0].id = "target_00000000000000b1";
  auto payload = to_json(*p);
  CHECK(payload["id"] == g.id);
  auto p2 = patch_from_json(payload);
  REQUIRE(p2.ok());
  CHECK(to_json(*p2) == payload);
  CHECK((*p2->targets)[0].id == "target_00000000000000b1");
  // channel_id null travels as null (a removal), not as an absence.
  p = patch_from_request(body(R"({"channel_id":null})"));
  REQUIRE(p.ok());
  p->id = g.id;
  payload = to_json(*p);
  CHECK(payload.contains("channel_id"));
  CHECK(patch_from_json(payload)->channel_set);
}

TEST_CASE("agent goals: stored forms are read leniently but never wrongly") {
  auto row = [](const std::string& change) {
    auto j = json::parse(
        R"({"id":"goal_0123456789abcdef","agent_id":"agent_abc123","channel_id":null,"title":"T",)"
        R"("description":"D","active":true,"goal_targets":[{"id":"target_1","period":"week",)"
        R"("target_type":"count","target_count":25,"target_rate":null,"is_primary":true,)"
        R"("min_sample":null}],"created_at":"2025-03-01T00:00:00Z","updated_at":"2025-03-01T00:00:00Z"})");
    j.merge_patch(json::parse(change));
    return goal_from_json(j, "acme");
  };
  CHECK(row("{}").ok());
  CHECK(row(R"({"extra":1})").ok());  // members of a later version are ignored
  struct Bad {
    std::string change, field;
  };
  for (
      const auto& b : std::vector<Bad>{
          {R"({"id":null})", "id"},
          {R"({"agent_id":null})", "agent_id"},
          {R"({"title":5})", "title"},
          {R"({"active":"true"})", "active"},
          {R"({"created_at":"yesterday"})", "created_at"},
          {R"({"created_at":null})", "created_at"},
          {R"({"goal_targets":5})", "goal_targets"},
          {R"({"goal_targets":[{"period":"week","target_type":"count","target_count":1}]})",
           "goal_targets[0].id"},
          {R"({"goal_targets":[{"id":"t","period":"year","target_type":"count","target_count":1}]})",
           "goal_targets[0].period"},
      }) {
    CAPTURE(b.change);
    auto r = row(b.change);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().field == b.field);
  }
  // A command without the goal id is refused naming data.id.
  auto p = patch_from_json(json::parse(R"({"title":"T"})"));
  REQUIRE_FALSE(p.ok());
  CHECK(p.error().field == "data.id");
}

TEST_CASE("agent goals: ids") {
  auto id = new_goal_id();
  CHECK(valid_goal_id(id));
  CHECK(id.size() == 21);
  CHECK(new_target_id().starts_with("target_"));
  CHECK(new_target_id().size() == 23);
  CHECK_FALSE(valid_goal_id("goal_abc123"));
  CHECK_FALSE(valid_goal_id("goal_0123456789ABCDEF"));
  CHECK_FALSE(valid_goal_id(std::string("goal_0123456789abcde\0", 21)));
  CHECK(valid_ref_id("agent_abc123"));
  CHECK(valid_ref_id("3f0c9a6e-8d1b-4c2a-9f47-1b2d6e8a5c10"));
  CHECK(valid_ref_id("org:agent.v2"));
  CHECK_FALSE(valid_ref_id(""));
  CHECK_FALSE(valid_ref_id("agent/1"));
  CHECK_FALSE(valid_ref_id("agent 1"));
  CHECK_FALSE(valid_ref_id(std::string(201, 'a')));
  CHECK(valid_ref_id(std::string(200, 'a')));
}

TEST_CASE("agent goals: the commands' payloads agree with schemas/command.schema.json") {
  auto created = goal_from_request(
      body(post_targets(R"({"period":"week","target_type":"count","target_count":25},)"
                        R"({"period":"month","target_type":"rate","target_rate":72.5})")));
  REQUIRE(created.ok());
  AgentGoal g = *created;
  g.id = new_goal_id();
  for (auto& t : g.targets) t.id = new_target_id();
  g.created_at_ms = g.updated_at_ms = 1740787200000;
  json data = json(to_json(g));
  CHECK(schema_accepts(command_type::agent_goal_created, data));
  g.channel_id = "3f0c9a6e-8d1b-4c2a-9f47-1b2d6e8a5c10";
  CHECK(schema_accepts(command_type::agent_goal_created, json(to_json(g))));
  auto wrong = data;
  wrong["goal_targets"][0]["target_rate"] = 50;  // a count target with a rate
  CHECK_FALSE(schema_accepts(command_type::agent_goal_created, wrong));
  wrong = data;
  wrong.erase("updated_at");
  CHECK_FALSE(schema_accepts(command_type::agent_goal_created, wrong));

  auto p = patch_from_request(body(kReferencePatch));
  REQUIRE(p.ok());
  p->id = g.id;
  for (auto& t : *p->targets) t.id = new_target_id();
  CHECK(schema_accepts(command_type::agent_goal_updated, to_json(*p)));
  p = patch_from_request(body(R"({"channel_id":null,"title":"T","active":false})"));
  REQUIRE(p.ok());
  p->id = g.id;
  CHECK(schema_accepts(command_type::agent_goal_updated, to_json(*p)));
  CHECK(schema_accepts(command_type::agent_goal_deleted, {{"id", g.id}}));
  CHECK_FALSE(schema_accepts(command_type::agent_goal_deleted, json::object()));
}

TEST_CASE("agent goals: week_start is monday unless sunday is sent; a PATCH changes it") {
  auto g = goal_from_request(body(post_with(R"("week_start":"sunday")")));
  REQUIRE(g.ok());
  CHECK(g->week_start == WeekStart::sunday);
  CHECK(to_json(*g)["week_start"] == "sunday");
  auto d = goal_from_request(body(post_with("")));
  REQUIRE(d.ok());
  CHECK(d->week_start == WeekStart::monday);
  auto p = patch_from_request(body(R"({"week_start":"monday"})"));
  REQUIRE(p.ok());
  auto patched = apply(*g, *p, 1);
  CHECK(patched.week_start == WeekStart::monday);
  auto none = patch_from_request(body(R"({"title":"T"})"));
  REQUIRE(none.ok());
  CHECK(apply(*g, *none, 1).week_start == WeekStart::sunday);
  auto bad = patch_from_request(body(R"({"week_start":null})"));
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().field == "week_start");
  // The stored form and the patch command read back.
  g->id = "goal_0123456789abcdef";
  g->created_at_ms = g->updated_at_ms = 1;
  auto back = goal_from_json(json(to_json(*g)), "acme");
  REQUIRE(back.ok());
  CHECK(back->week_start == WeekStart::sunday);
  p->id = g->id;
  auto pj = patch_from_json(to_json(*p));
  REQUIRE(pj.ok());
  CHECK(pj->week_start == WeekStart::monday);
}
