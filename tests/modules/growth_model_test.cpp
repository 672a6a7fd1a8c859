// Growth goals and metrics (docs/api.md: /api/goals; /api/metrics): request
// validation that names the offending field, PATCH bodies, the stored form's
// round trip, and which series of cells a metric reads.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/time.h"
#include "modules/growth/model.h"

using nlohmann::json;
using namespace gs::growth;

namespace {

json parse(const char* text) {
  json j = json::parse(text, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  return j;
}

int64_t date(const char* ymd) {
  auto d = gs::time::parse_date(ymd);
  REQUIRE(d.has_value());
  return *d;
}

struct Case {
  const char* name;
  const char* body;
  const char* field;             // nullptr: accepted
  const char* message_has = "";  // a word the message must contain
};

void check_cases(const std::vector<Case>& cases, auto parse_fn) {
  for (const auto& c : cases) {
    CAPTURE(std::string(c.name));
    CAPTURE(std::string(c.body));
    auto r = parse_fn(parse(c.body));
    if (!c.field) {
      std::string why =
          r.ok() ? std::string() : "refused: " + r.error().field + ": " + r.error().message;
      CHECK_MESSAGE(r.ok(), why);
      continue;
    }
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().field == c.field);
    CHECK(r.error().code == gs::ErrorCode::invalid);
    CHECK_FALSE(r.error().message.empty());
    if (*c.message_has) {
      std::string message = r.error().message;
      CHECK_MESSAGE(message.find(c.message_has) != std::string::npos, message);
    }
  }
}

}  // namespace

TEST_CASE(
    "growth_goal_from_request accepts the reference body and names the field of every refusal") {
  const char* reference =
      R"({"metric":"monthly_signups","target":500,"deadline":"2025-03-31","description":"Reach 500 signups per month by end of Q1"})";
  auto g = growth_goal_from_request(parse(reference));
  REQUIRE(g.ok());
  CHECK(g->metric == "monthly_signups");
  CHECK(g->target == 500);
  CHECK(g->deadline_date == date("2025-03-31"));
  CHECK(g->description == std::optional<std::string>("Reach 500 signups per month by end of Q1"));
  CHECK_FALSE(g->start_date.has_value());
  CHECK_FALSE(g->unit.has_value());
  CHECK_FALSE(g->status_override.has_value());

  std::vector<Case> cases = {
      {"reference", reference, nullptr},
      {"with start and unit",
       R"({"metric":"m","target":1.5,"deadline":"2025-03-31","start":"2025-01-01","unit":"EUR"})",
       nullptr},
      {"start on the deadline",
       R"({"metric":"m","target":1,"deadline":"2025-03-31","start":"2025-03-31"})", nullptr},
      {"leap day", R"({"metric":"m","target":1,"deadline":"2024-02-29"})", nullptr},
      {"missing metric", R"({"target":500,"deadline":"2025-03-31"})", "metric"},
      {"null metric", R"({"metric":null,"target":500,"deadline":"2025-03-31"})", "metric"},
      {"empty metric", R"({"metric":"","target":500,"deadline":"2025-03-31"})", "metric"},
      {"metric with a space",
       R"({"metric":"monthly signups","target":500,"deadline":"2025-03-31"})", "metric"},
      {"missing target", R"({"metric":"monthly_signups","deadline":"2025-03-31"})", "target"},
      {"missing deadline", R"({"metric":"monthly_signups","target":500})", "deadline"},
      {"target as a string",
       R"({"metric":"monthly_signups","target":"500","deadline":"2025-03-31"})", "target",
       "number"},
      {"deadline as a number", R"({"metric":"monthly_signups","target":500,"deadline":20250331})",
       "deadline"},
      {"metric as a number", R"({"metric":5,"target":500,"deadline":"2025-03-31"})", "metric",
       "string"},
      {"target 0", R"({"metric":"monthly_signups","target":0,"deadline":"2025-03-31"})", "target",
       "positive"},
      {"target -1", R"({"metric":"monthly_signups","target":-1,"deadline":"2025-03-31"})", "target",
       "positive"},
      {"target too large", R"({"metric":"monthly_signups","target":1e16,"deadline":"2025-03-31"})",
       "target"},
      {"February 30th", R"({"metric":"monthly_signups","target":500,"deadline":"2025-02-30"})",
       "deadline"},
      {"February 29th of a common year",
       R"({"metric":"monthly_signups","target":500,"deadline":"2025-02-29"})", "deadline"},
      {"day/month/year", R"({"metric":"monthly_signups","target":500,"deadline":"31/03/2025"})",
       "deadline"},
      {"a date-time",
       R"({"metric":"monthly_signups","target":500,"deadline":"2025-03-31T00:00:00Z"})",
       "deadline"},
      {"bad start", R"({"metric":"m","target":1,"deadline":"2025-03-31","start":"2025-13-01"})",
       "start"},
      {"start after the deadline",
       R"({"metric":"m","target":1,"deadline":"2025-03-31","start":"2025-04-01"})", "start"},
      {"unknown member", R"({"metric":"m","target":1,"deadline":"2025-03-31","owner":"bob"})",
       "owner", "unknown"},
      {"status is PATCH only",
       R"({"metric":"m","target":1,"deadline":"2025-03-31","status":"at_risk"})", "status"},
      {"id is not the client's",
       R"({"id":"goal_1","metric":"m","target":1,"deadline":"2025-03-31"})", "id"},
      {"description not a string",
       R"({"metric":"m","target":1,"deadline":"2025-03-31","description":7})", "description"},
      {"not an object", R"([1,2])", ""},
  };
  check_cases(cases, [](const json& j) { return growth_goal_from_request(j); });
}

TEST_CASE("goal_patch_from_request: the reference PATCH, clearing the manual status, refusals") {
  auto p = goal_patch_from_request(parse(R"({"id":"goal_001","target":600,"status":"at_risk"})"));
  REQUIRE(p.ok());
  CHECK(p->id == "goal_001");
  CHECK(p->target == std::optional<double>(600));
  CHECK(p->status_set);
  CHECK(p->status == std::optional<std::string>("at_risk"));
  CHECK_FALSE(p->metric.has_value());
  CHECK_FALSE(p->deadline_date.has_value());

  auto clear = goal_patch_from_request(parse(R"({"id":"goal_001","status":null})"));
  REQUIRE(clear.ok());
  CHECK(clear->status_set);
  CHECK_FALSE(clear->status.has_value());

  auto untouched = goal_patch_from_request(parse(R"({"id":"goal_001","unit":"EUR"})"));
  REQUIRE(untouched.ok());
  CHECK_FALSE(untouched->status_set);

  // null clears start, description and unit too, through the command payload.
  auto wipe = goal_patch_from_request(
      parse(R"({"id":"goal_001","start":null,"description":null,"unit":null})"));
  REQUIRE(wipe.ok());
  auto wipe_back = goal_patch_from_json(to_json(*wipe));
  REQUIRE(wipe_back.ok());
  GrowthGoal full;
  full.id = "goal_001";
  full.metric = "m";
  full.target = 5;
  full.deadline_date = 20000;
  full.start_date = 19990;
  full.description = "d";
  full.unit = "u";
  auto wiped = apply(full, *wipe_back);
  REQUIRE(wiped.ok());
  CHECK_FALSE(wiped->start_date.has_value());
  CHECK_FALSE(wiped->description.has_value());
  CHECK_FALSE(wiped->unit.has_value());
  CHECK(wiped->target == 5);
  auto kept = apply(full, *untouched);
  REQUIRE(kept.ok());
  CHECK(kept->description == std::optional<std::string>("d"));
  CHECK(kept->unit == std::optional<std::string>("EUR"));

  // The command payload carries "status": null so the processor clears it too.
  auto payload = to_json(*clear);
  REQUIRE(payload.contains("status"));
  CHECK(payload["status"].is_null());
  auto back = goal_patch_from_json(payload);
  REQUIRE(back.ok());
  CHECK(back->status_set);
  CHECK_FALSE(back->status.has_value());
  auto ref_back = goal_patch_from_json(to_json(*p));
  REQUIRE(ref_back.ok());
  CHECK(ref_back->target == std::optional<double>(600));
  CHECK(ref_back->status == std::optional<std::string>("at_risk"));

  std::vector<Case> cases = {
      {"each status", R"({"id":"g","status":"completed"})", nullptr},
      {"on_track", R"({"id":"g","status":"on_track"})", nullptr},
      {"behind", R"({"id":"g","status":"behind"})", nullptr},
      {"all members",
       R"({"id":"g","metric":"m2","target":3,"deadline":"2025-06-30","start":"2025-01-01","description":"d","unit":"u"})",
       nullptr},
      {"status done", R"({"id":"goal_001","status":"done"})", "status", "on_track"},
      {"status a number", R"({"id":"goal_001","status":1})", "status"},
      {"missing id", R"({"target":600})", "id"},
      {"id a number", R"({"id":1,"target":600})", "id"},
      {"target null", R"({"id":"g","target":null})", "target"},
      {"deadline null", R"({"id":"g","deadline":null})", "deadline"},
      {"metric null", R"({"id":"g","metric":null})", "metric"},
      {"target 0", R"({"id":"g","target":0})", "target", "positive"},
      {"bad deadline", R"({"id":"g","deadline":"2025-02-30"})", "deadline"},
      {"unknown member", R"({"id":"g","colour":"red"})", "colour"},
  };
  check_cases(cases, [](const json& j) { return goal_patch_from_request(j); });
}

TEST_CASE("apply() of a patch, and the stored form round-trips through growth_goal_from_json") {
  auto created = growth_goal_from_request(parse(
      R"({"metric":"monthly_signups","target":500,"deadline":"2025-03-31","description":"Reach 500 signups per month by end of Q1","start":"2025-01-01"})"));
  REQUIRE(created.ok());
  GrowthGoal g = *created;
  g.id = "goal_001";
  g.tenant_id = "acme";
  g.created_at_ms = *gs::time::parse_rfc3339("2025-01-02T03:04:05.678Z");

  auto patch = goal_patch_from_request(
      parse(R"({"id":"goal_001","target":600,"status":"at_risk","unit":"signups"})"));
  REQUIRE(patch.ok());
  auto patched = apply(g, *patch);
  REQUIRE(patched.ok());
  CHECK(patched->target == 600);
  CHECK(patched->status_override == std::optional<std::string>("at_risk"));
  CHECK(patched->unit == std::optional<std::string>("signups"));
  // Untouched members stay.
  CHECK(patched->metric == "monthly_signups");
  CHECK(patched->deadline_date == date("2025-03-31"));
  CHECK(patched->start_date == std::optional<int64_t>(date("2025-01-01")));
  CHECK(patched->description == g.description);

  auto stored = to_json(*patched);
  CHECK(stored["deadline"] == "2025-03-31");
  CHECK(stored["start"] == "2025-01-01");
  CHECK(stored["statusOverride"] == "at_risk");
  CHECK(stored["createdAt"] == "2025-01-02T03:04:05.678Z");
  auto back = growth_goal_from_json(stored, "acme");
  REQUIRE(back.ok());
  CHECK(back->id == "goal_001");
  CHECK(back->tenant_id == "acme");
  CHECK(back->metric == "monthly_signups");
  CHECK(back->target == 600);
  CHECK(back->deadline_date == date("2025-03-31"));
  CHECK(back->start_date == patched->start_date);
  CHECK(back->description == patched->description);
  CHECK(back->unit == patched->unit);
  CHECK(back->status_override == std::optional<std::string>("at_risk"));
  CHECK(back->created_at_ms == g.created_at_ms);
  CHECK(to_json(*back) == stored);

  // Clearing the manual status drops it from the stored form.
  auto clear = goal_patch_from_request(parse(R"({"id":"goal_001","status":null})"));
  REQUIRE(clear.ok());
  auto cleared = apply(*back, *clear);
  REQUIRE(cleared.ok());
  CHECK_FALSE(cleared->status_override.has_value());
  CHECK_FALSE(to_json(*cleared).contains("statusOverride"));
  CHECK(cleared->target == 600);

  // A patch that puts the start after the deadline is refused, naming the
  // member the patch changed.
  auto early = goal_patch_from_request(parse(R"({"id":"goal_001","deadline":"2024-12-31"})"));
  REQUIRE(early.ok());
  auto bad = apply(g, *early);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().field == "deadline");
  auto late = goal_patch_from_request(parse(R"({"id":"goal_001","start":"2025-04-01"})"));
  REQUIRE(late.ok());
  auto bad2 = apply(g, *late);
  REQUIRE_FALSE(bad2.ok());
  CHECK(bad2.error().field == "start");

  // The stored form must carry an id and a createdAt.
  auto no_created = stored;
  no_created.erase("createdAt");
  auto r = growth_goal_from_json(no_created, "acme");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().field == "createdAt");
}

TEST_CASE("metric_from_request over a table: aggregations, their members, windows") {
  auto count = metric_from_request(parse(
      R"({"name":"monthly_signups","aggregation":"count","conversionGoal":"cg_1","window":"month"})"));
  REQUIRE(count.ok());
  CHECK(count->name == "monthly_signups");
  CHECK(count->aggregation == "count");
  CHECK(count->conversion_goal == "cg_1");
  CHECK(count->window == "month");

  auto defaulted = metric_from_request(
      parse(R"({"name":"signups","aggregation":"count","conversionGoal":"cg_1"})"));
  REQUIRE(defaulted.ok());
  CHECK(defaulted->window == "span");

  auto ratio = metric_from_request(parse(
      R"({"name":"conv_rate","aggregation":"ratio","numerator":"signups","denominator":"visits"})"));
  REQUIRE(ratio.ok());
  CHECK(ratio->numerator == "signups");
  CHECK(ratio->denominator == "visits");
  CHECK(ratio->conversion_goal.empty());

  auto sum = metric_from_request(parse(
      R"({"name":"mrr","aggregation":"sum","conversionGoal":"cg_1","property":"plan.amount","window":"30d"})"));
  REQUIRE(sum.ok());
  CHECK(sum->property == "plan.amount");
  CHECK(sum->window == "30d");

  std::vector<Case> cases = {
      {"count", R"({"name":"a","aggregation":"count","conversionGoal":"cg_1"})", nullptr},
      {"sum", R"({"name":"a","aggregation":"sum","conversionGoal":"cg_1","property":"value"})",
       nullptr},
      {"unique",
       R"({"name":"a","aggregation":"unique","conversionGoal":"cg_1","description":"distinct buyers"})",
       nullptr},
      {"ratio", R"({"name":"a","aggregation":"ratio","numerator":"b","denominator":"c"})", nullptr},
      {"window 7d", R"({"name":"a","aggregation":"count","conversionGoal":"cg_1","window":"7d"})",
       nullptr},
      {"window 30d", R"({"name":"a","aggregation":"count","conversionGoal":"cg_1","window":"30d"})",
       nullptr},
      {"window 3660d",
       R"({"name":"a","aggregation":"count","conversionGoal":"cg_1","window":"3660d"})", nullptr},
      {"window 3661d",
       R"({"name":"a","aggregation":"count","conversionGoal":"cg_1","window":"3661d"})", "window"},
      {"window month",
       R"({"name":"a","aggregation":"count","conversionGoal":"cg_1","window":"month"})", nullptr},
      {"window span",
       R"({"name":"a","aggregation":"count","conversionGoal":"cg_1","window":"span"})", nullptr},
      {"window day", R"({"name":"a","aggregation":"count","conversionGoal":"cg_1","window":"day"})",
       nullptr},
      {"window week",
       R"({"name":"a","aggregation":"count","conversionGoal":"cg_1","window":"week"})", nullptr},
      {"window quarter",
       R"({"name":"a","aggregation":"count","conversionGoal":"cg_1","window":"quarter"})", nullptr},
      {"window 0d", R"({"name":"a","aggregation":"count","conversionGoal":"cg_1","window":"0d"})",
       "window"},
      {"window week2",
       R"({"name":"a","aggregation":"count","conversionGoal":"cg_1","window":"week2"})", "window"},
      {"window 7", R"({"name":"a","aggregation":"count","conversionGoal":"cg_1","window":"7"})",
       "window"},
      {"window d", R"({"name":"a","aggregation":"count","conversionGoal":"cg_1","window":"d"})",
       "window"},
      {"window a number",
       R"({"name":"a","aggregation":"count","conversionGoal":"cg_1","window":7})", "window"},
      {"sum without property", R"({"name":"a","aggregation":"sum","conversionGoal":"cg_1"})",
       "property"},
      {"sum with a bad path",
       R"({"name":"a","aggregation":"sum","conversionGoal":"cg_1","property":".amount"})",
       "property"},
      {"count with property",
       R"({"name":"a","aggregation":"count","conversionGoal":"cg_1","property":"value"})",
       "property"},
      {"ratio with conversionGoal",
       R"({"name":"a","aggregation":"ratio","numerator":"b","denominator":"c","conversionGoal":"cg_1"})",
       "conversionGoal"},
      {"ratio of itself", R"({"name":"a","aggregation":"ratio","numerator":"a","denominator":"c"})",
       "numerator"},
      {"ratio over itself",
       R"({"name":"a","aggregation":"ratio","numerator":"b","denominator":"a"})", "denominator"},
      {"ratio without denominator", R"({"name":"a","aggregation":"ratio","numerator":"b"})",
       "denominator"},
      {"count with numerator",
       R"({"name":"a","aggregation":"count","conversionGoal":"cg_1","numerator":"b"})",
       "numerator"},
      {"count without conversionGoal", R"({"name":"a","aggregation":"count"})", "conversionGoal"},
      {"aggregation avg", R"({"name":"a","aggregation":"avg","conversionGoal":"cg_1"})",
       "aggregation", "count"},
      {"missing aggregation", R"({"name":"a","conversionGoal":"cg_1"})", "aggregation"},
      {"missing name", R"({"aggregation":"count","conversionGoal":"cg_1"})", "name"},
      {"name with a slash", R"({"name":"a/b","aggregation":"count","conversionGoal":"cg_1"})",
       "name"},
      {"unknown member",
       R"({"name":"a","aggregation":"count","conversionGoal":"cg_1","filter":"x"})", "filter"},
  };
  check_cases(cases, [](const json& j) { return metric_from_request(j); });
}

TEST_CASE("a metric's stored form round-trips and series_of names the cells it reads") {
  struct SeriesCase {
    const char* body;
    std::optional<std::string> series;
  };
  std::vector<SeriesCase> cases = {
      {R"({"name":"n","aggregation":"count","conversionGoal":"cg_1"})", std::string("")},
      {R"({"name":"n","aggregation":"sum","conversionGoal":"cg_1","property":"value"})",
       std::string("")},
      {R"({"name":"n","aggregation":"sum","conversionGoal":"cg_1","property":"plan.amount"})",
       std::string("sum:plan.amount")},
      {R"({"name":"n","aggregation":"unique","conversionGoal":"cg_1"})", std::string("unique")},
      {R"({"name":"n","aggregation":"ratio","numerator":"a","denominator":"b"})", std::nullopt},
  };
  for (const auto& c : cases) {
    CAPTURE(std::string(c.body));
    auto m = metric_from_request(parse(c.body));
    REQUIRE(m.ok());
    CHECK(series_of(*m) == c.series);
    m->tenant_id = "acme";
    m->created_at_ms = *gs::time::parse_rfc3339("2025-03-01T12:00:00Z");
    auto stored = to_json(*m);
    CHECK(stored["createdAt"] == "2025-03-01T12:00:00Z");
    CHECK(stored["window"] == "span");
    auto back = metric_from_json(stored, "acme");
    REQUIRE(back.ok());
    CHECK(back->name == m->name);
    CHECK(back->tenant_id == "acme");
    CHECK(back->aggregation == m->aggregation);
    CHECK(back->conversion_goal == m->conversion_goal);
    CHECK(back->property == m->property);
    CHECK(back->numerator == m->numerator);
    CHECK(back->denominator == m->denominator);
    CHECK(back->window == m->window);
    CHECK(back->created_at_ms == m->created_at_ms);
    CHECK(series_of(*back) == c.series);
    CHECK(to_json(*back) == stored);
  }
}

TEST_CASE(
    "targets: 0.000001 to 10^15, rounded to 6 decimals; descriptions and units follow the text "
    "rule") {
  std::vector<Case> cases = {
      {"target 1e-7 shows as 0", R"({"metric":"m","target":1e-7,"deadline":"2025-03-31"})",
       "target", "0.000001"},
      {"target 5e-324", R"({"metric":"m","target":5e-324,"deadline":"2025-03-31"})", "target",
       "0.000001"},
      {"target 0.0000004", R"({"metric":"m","target":0.0000004,"deadline":"2025-03-31"})", "target",
       "0.000001"},
      {"target 0.000001", R"({"metric":"m","target":0.000001,"deadline":"2025-03-31"})", nullptr},
      {"target 1e15", R"({"metric":"m","target":1e15,"deadline":"2025-03-31"})", nullptr},
      {"blank description",
       R"({"metric":"m","target":1,"deadline":"2025-03-31","description":"  "})", "description",
       "blank"},
      {"empty unit", R"({"metric":"m","target":1,"deadline":"2025-03-31","unit":""})", "unit",
       "1 to 64"},
      {"control in unit", R"({"metric":"m","target":1,"deadline":"2025-03-31","unit":"E\u0000R"})",
       "unit", "control"},
      {"newline in description",
       R"({"metric":"m","target":1,"deadline":"2025-03-31","description":"a\nb"})", "description",
       "control"},
      {"64 characters of unit",
       R"({"metric":"m","target":1,"deadline":"2025-03-31","unit":"€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€"})",
       nullptr},
      {"65 characters of unit",
       R"({"metric":"m","target":1,"deadline":"2025-03-31","unit":"€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€"})",
       "unit", "1 to 64"},
  };
  check_cases(cases, [](const json& j) { return growth_goal_from_request(j); });
  auto rounded = growth_goal_from_request(
      parse(R"({"metric":"m","target":2.5710479999999998,"deadline":"2025-03-31"})"));
  REQUIRE(rounded.ok());
  CHECK(rounded->target == 2.571048);
  auto tiny = growth_goal_from_request(
      parse(R"({"metric":"m","target":0.0000014,"deadline":"2025-03-31"})"));
  REQUIRE(tiny.ok());
  CHECK(tiny->target == 0.000001);

  std::vector<Case> patches = {
      {"patch target 1e-7", R"({"id":"goal_1","target":1e-7})", "target", "0.000001"},
      {"patch blank unit", R"({"id":"goal_1","unit":" "})", "unit", "blank"},
      {"patch description with a tab", R"({"id":"goal_1","description":"a\tb"})", "description",
       "control"},
  };
  check_cases(patches, [](const json& j) { return goal_patch_from_request(j); });
  std::vector<Case> metrics = {
      {"metric blank description",
       R"({"name":"m","aggregation":"count","conversionGoal":"cg_1","description":"\u3000"})",
       "description", "blank"},
  };
  check_cases(metrics, [](const json& j) { return metric_from_request(j); });

  // Stored forms and command payloads written by earlier versions still
  // fold: only the length (in code points) is checked there.
  auto stored = growth_goal_from_json(
      parse(
          R"({"id":"goal_1","metric":"m","target":1e-7,"deadline":"2025-03-31","description":"","unit":"a\nb","createdAt":"2025-03-01T00:00:00Z"})"),
      "acme");
  CHECK(stored.ok());
  CHECK(goal_patch_from_json(parse(R"({"id":"goal_1","description":" ","target":1e-7})")).ok());
  CHECK(
      metric_from_json(
          parse(
              R"({"name":"m","aggregation":"count","conversionGoal":"cg_1","window":"span","description":"","createdAt":"2025-03-01T00:00:00Z"})"),
          "acme")
          .ok());
}
