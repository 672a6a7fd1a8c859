// Growth-goal evaluation (growth::evaluate) against a real store: which cells
// `current` covers for calendar windows in the tenant's time zone, pacing
// statuses as cells arrive, manual statuses, undefined metrics, ratios, sums
// of a property, unique subjects, and evaluation after the deadline.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "base/keys.h"
#include "base/time.h"
#include "kernel/cells.h"
#include "kernel/state.h"
#include "modules/all.h"
#include "modules/conversion/keyspace.h"
#include "modules/growth/evaluate.h"
#include "modules/growth/keyspace.h"
#include "modules/growth/model.h"
#include "projection/projection.h"
#include "storage/store.h"
#include "test_util.h"

using gs::projection::Cell;
namespace fs = std::filesystem;

namespace {

int64_t at(const char* rfc3339) {
  auto t = gs::time::parse_rfc3339(rfc3339);
  REQUIRE_MESSAGE(t.has_value(), rfc3339);
  return *t;
}

int64_t date(const char* ymd) {
  auto d = gs::time::parse_date(ymd);
  REQUIRE_MESSAGE(d.has_value(), ymd);
  return *d;
}

std::string ts(int64_t ms) { return gs::time::format_rfc3339(ms); }

// A store of one tenant ("acme") with helpers to add metrics, cells and
// subjects as the processor would.
struct Fixture {
  std::unique_ptr<gs::storage::Store> store;
  gs::growth::PacingThresholds thresholds;

  explicit Fixture(const std::string& name) {
    store = store_test::open(store_test::fresh_dir("growth-eval-" + name));
  }

  void metric(const char* body, const std::string& tenant = "acme") {
    auto m = gs::growth::metric_from_request(nlohmann::json::parse(body));
    REQUIRE_MESSAGE(m.ok(), body);
    m->tenant_id = tenant;
    m->created_at_ms = at("2025-01-01T00:00:00Z");
    auto b = store->batch();
    gs::growth::put_metric(b, *m);
    REQUIRE(store->write(b).ok());
  }

  // `n` matches at event time `when` adding up to `sum` to a series target.
  void cell(const std::string& target, const char* when, int64_t n = 1, double sum = 0,
            const std::string& tenant = "acme") {
    auto k = gs::keys::cell_prefix(tenant, target);
    gs::keys::append_be64(k, gs::projection::bucket_of(at(when)));
    auto b = store->batch();
    gs::cells::merge_cell(b, k, Cell{n, gs::projection::to_micros(sum)});
    REQUIRE(store->write(b).ok());
  }

  void subject(const std::string& target, const char* when, const std::string& subject) {
    auto k = gs::keys::cell_prefix("acme", target);
    gs::keys::append_be64(k, gs::projection::bucket_of(at(when)));
    auto b = store->batch();
    gs::cells::put_presence(b, k + subject);
    REQUIRE(store->write(b).ok());
  }

  void timezone(const std::string& tz) {
    auto b = store->batch();
    gs::state::put_timezone(b, "acme", tz);
    REQUIRE(store->write(b).ok());
  }

  gs::growth::GoalEvaluation eval(const gs::growth::GrowthGoal& g, const char* now) {
    auto e = gs::growth::evaluate(*store, g, at(now), thresholds);
    REQUIRE_MESSAGE(e.ok(), (e.ok() ? "" : e.error().message));
    return *e;
  }
};

gs::growth::GrowthGoal goal(const std::string& metric, double target, const char* start,
                            const char* deadline) {
  gs::growth::GrowthGoal g;
  g.id = "goal_001";
  g.tenant_id = "acme";
  g.metric = metric;
  g.target = target;
  if (start) g.start_date = date(start);
  g.deadline_date = date(deadline);
  g.created_at_ms = at("2025-01-01T00:00:00Z");
  return g;
}

std::string status_of(const gs::growth::GoalEvaluation& e) {
  return std::string(gs::growth::to_string(e.pacing.status));
}

}  // namespace

TEST_CASE(
    "a monthly count counts only the events of the month containing now, in the tenant's zone") {
  Fixture f("month");
  f.metric(
      R"({"name":"monthly_signups","aggregation":"count","conversionGoal":"cg_1","window":"month"})");
  auto g = goal("monthly_signups", 500, "2025-01-01", "2025-12-31");
  f.cell("cg_1", "2025-02-28T18:29:00Z");      // Feb 28th in UTC and in Kolkata (23:59 IST)
  f.cell("cg_1", "2025-02-28T18:30:00Z");      // Feb 28th in UTC; March 1st 00:00 in Kolkata
  f.cell("cg_1", "2025-02-28T23:59:00Z");      // the last minute of February in UTC
  f.cell("cg_1", "2025-03-01T00:00:00Z", 2);   // the first minute of March in UTC
  f.cell("cg_1", "2025-03-01T00:00:59.999Z");  // (the same bucket)
  f.cell("cg_1", "2025-03-09T10:00:00Z", 4);
  f.cell("cg_1", "2025-03-31T18:29:00Z");      // March 31st 23:59 in Kolkata
  f.cell("cg_1", "2025-03-31T18:30:00Z", 8);   // April 1st in Kolkata, still March in UTC
  f.cell("cg_1", "2025-04-01T00:00:00Z", 16);  // April everywhere here
  f.cell("cg_1", "2025-03-10T00:00:00Z", 100, 0, "acmee");  // another tenant

  auto utc = f.eval(g, "2025-03-10T00:00:00Z");
  CHECK(utc.metric_defined);
  CHECK(utc.current == 2 + 1 + 4 + 1 + 8);
  CHECK(ts(utc.period.start_ms) == "2025-03-01T00:00:00Z");
  CHECK(ts(utc.period.end_ms) == "2025-04-01T00:00:00Z");
  // February in UTC, for comparison.
  CHECK(f.eval(g, "2025-02-15T00:00:00Z").current == 3);

  f.timezone("Asia/Kolkata");
  auto india = f.eval(g, "2025-03-10T00:00:00Z");
  CHECK(india.current == 1 + 1 + 2 + 1 + 4 + 1);
  CHECK(ts(india.period.start_ms) == "2025-02-28T18:30:00Z");
  CHECK(ts(india.period.end_ms) == "2025-03-31T18:30:00Z");
  // An instant that is March 1st only in Kolkata evaluates March there.
  CHECK(f.eval(g, "2025-02-28T20:00:00Z").current == india.current);
  CHECK(f.eval(g, "2025-02-28T18:00:00Z").current == 1);  // still February in Kolkata
}

TEST_CASE("a day window in New York on the day clocks spring forward (23 hours)") {
  Fixture f("dst");
  f.metric(
      R"({"name":"daily_signups","aggregation":"count","conversionGoal":"cg_1","window":"day"})");
  f.timezone("America/New_York");
  auto g = goal("daily_signups", 10, "2025-03-01", "2025-03-31");
  f.cell("cg_1", "2025-03-09T04:59:00Z", 1);   // March 8th 23:59 EST
  f.cell("cg_1", "2025-03-09T05:00:00Z", 2);   // March 9th 00:00 EST
  f.cell("cg_1", "2025-03-09T06:59:00Z", 4);   // 01:59 EST, just before the jump
  f.cell("cg_1", "2025-03-09T07:00:00Z", 8);   // 03:00 EDT
  f.cell("cg_1", "2025-03-10T03:59:00Z", 16);  // March 9th 23:59 EDT
  f.cell("cg_1", "2025-03-10T04:00:00Z", 32);  // March 10th 00:00 EDT

  auto e = f.eval(g, "2025-03-09T12:00:00Z");
  CHECK(e.current == 2 + 4 + 8 + 16);
  CHECK(ts(e.period.start_ms) == "2025-03-09T05:00:00Z");
  CHECK(ts(e.period.end_ms) == "2025-03-10T04:00:00Z");
  CHECK(e.period.end_ms - e.period.start_ms == 23 * gs::time::kMsPerHour);
  // Pacing runs over the 23-hour day: 7 of 23 hours have passed at 12:00Z.
  CHECK(e.pacing.expected == doctest::Approx(10.0 * 7 / 23));
  CHECK(f.eval(g, "2025-03-09T04:00:00Z").current == 1);   // March 8th
  CHECK(f.eval(g, "2025-03-10T12:00:00Z").current == 32);  // March 10th
}

TEST_CASE("status moves from behind to completed as cells arrive") {
  Fixture f("status");
  f.metric(
      R"({"name":"monthly_signups","aggregation":"count","conversionGoal":"cg_1","window":"month"})");
  auto g = goal("monthly_signups", 10, "2025-01-01", "2025-12-31");
  // April has 30 days: on the 16th at 00:00 half of the month is over, so
  // 5 of the 10 are expected.
  const char* now = "2025-04-16T00:00:00Z";
  struct Step {
    int64_t add;
    double current;
    const char* status;
  };
  std::vector<Step> steps = {
      {0, 0, "behind"},     {3, 3, "behind"},     {1, 4, "at_risk"},  // 80% of the expectation
      {1, 5, "on_track"},   {4, 9, "on_track"},  // exactly the expectation, then ahead
      {1, 10, "completed"}, {5, 15, "completed"},
  };
  for (const auto& s : steps) {
    if (s.add) f.cell("cg_1", "2025-04-02T09:00:00Z", s.add);
    auto e = f.eval(g, now);
    CAPTURE(s.current);
    CHECK(e.current == s.current);
    CHECK(e.pacing.expected == doctest::Approx(5));
    CHECK(status_of(e) == s.status);
    CHECK(e.status == s.status);
    REQUIRE(e.pacing.forecast.has_value());
    CHECK(*e.pacing.forecast == doctest::Approx(2 * s.current));
  }
  // Stricter thresholds turn the same 4 of 5 into behind.
  Fixture strict("status-strict");
  strict.metric(
      R"({"name":"monthly_signups","aggregation":"count","conversionGoal":"cg_1","window":"month"})");
  strict.cell("cg_1", "2025-04-02T09:00:00Z", 4);
  strict.thresholds.at_risk_from = 0.9;
  CHECK(strict.eval(g, now).status == "behind");
}

TEST_CASE("a manual status wins over the computed one until cleared") {
  Fixture f("override");
  f.metric(
      R"({"name":"monthly_signups","aggregation":"count","conversionGoal":"cg_1","window":"month"})");
  auto g = goal("monthly_signups", 10, "2025-01-01", "2025-12-31");
  g.status_override = "on_track";
  auto e = f.eval(g, "2025-04-16T00:00:00Z");
  CHECK(e.status == "on_track");
  CHECK(status_of(e) == "behind");  // what the numbers say
  auto patch =
      gs::growth::goal_patch_from_request(nlohmann::json{{"id", "goal_001"}, {"status", nullptr}});
  REQUIRE(patch.ok());
  auto cleared = gs::growth::apply(g, *patch);
  REQUIRE(cleared.ok());
  CHECK(f.eval(*cleared, "2025-04-16T00:00:00Z").status == "behind");
}

TEST_CASE("an undefined metric reads 0 and says so") {
  Fixture f("undefined");
  f.cell("cg_1", "2025-03-05T00:00:00Z", 7);
  auto g = goal("not_defined_yet", 10, "2025-03-01", "2025-03-31");
  auto e = f.eval(g, "2025-03-16T12:00:00Z");
  CHECK_FALSE(e.metric_defined);
  CHECK(e.current == 0);
  // Pacing then runs over the goal's own span.
  CHECK(ts(e.period.start_ms) == "2025-03-01T00:00:00Z");
  CHECK(ts(e.period.end_ms) == "2025-04-01T00:00:00Z");
  CHECK(e.status == "behind");
  // Defining it makes the existing cells count.
  f.metric(R"({"name":"not_defined_yet","aggregation":"count","conversionGoal":"cg_1"})");
  auto later = f.eval(g, "2025-03-16T12:00:00Z");
  CHECK(later.metric_defined);
  CHECK(later.current == 7);
}

TEST_CASE("a ratio metric is numerator / denominator in percent, and 0 over a zero denominator") {
  Fixture f("ratio");
  f.metric(R"({"name":"signups","aggregation":"count","conversionGoal":"cg_1","window":"month"})");
  f.metric(R"({"name":"visits","aggregation":"count","conversionGoal":"cg_2","window":"month"})");
  f.metric(
      R"({"name":"conv_rate","aggregation":"ratio","numerator":"signups","denominator":"visits","window":"month"})");
  auto g = goal("conv_rate", 30, "2025-01-01", "2025-12-31");
  f.cell("cg_1", "2025-03-03T10:00:00Z", 3);
  f.cell("cg_2", "2025-03-03T10:00:00Z", 8);
  f.cell("cg_2", "2025-03-20T10:00:00Z", 4);
  f.cell("cg_1", "2025-04-03T10:00:00Z", 5);  // April: signups but no visits

  auto march = f.eval(g, "2025-03-25T00:00:00Z");
  CHECK(march.metric_defined);
  CHECK(march.current == doctest::Approx(25.0));  // 3 / 12
  auto april = f.eval(g, "2025-04-25T00:00:00Z");
  CHECK(april.metric_defined);
  CHECK(april.current == 0);  // not infinite, not NaN
  auto may = f.eval(g, "2025-05-25T00:00:00Z");
  CHECK(may.current == 0);

  // Which cells can move it: both sides of the ratio.
  auto targets = *gs::growth::metric_counters(*f.store, "acme", "conv_rate");
  std::sort(targets.begin(), targets.end());
  CHECK(targets == std::vector<std::string>{"cg_1", "cg_2"});
  // A ratio naming a metric that does not exist yet reads 0 on that side.
  f.metric(
      R"({"name":"odd_rate","aggregation":"ratio","numerator":"signups","denominator":"ghosts","window":"month"})");
  CHECK(f.eval(goal("odd_rate", 1, "2025-01-01", "2025-12-31"), "2025-03-25T00:00:00Z").current ==
        0);
  // A ratio of itself through another ratio does not recurse forever.
  f.metric(
      R"({"name":"loop_a","aggregation":"ratio","numerator":"loop_b","denominator":"visits"})");
  f.metric(
      R"({"name":"loop_b","aggregation":"ratio","numerator":"loop_a","denominator":"visits"})");
  auto loop = f.eval(goal("loop_a", 1, "2025-01-01", "2025-12-31"), "2025-03-25T00:00:00Z");
  CHECK(loop.metric_defined);
  CHECK(loop.current == 0);
}

TEST_CASE("sum metrics read the base cells for value and their own series for any other property") {
  Fixture f("sum");
  f.metric(
      R"({"name":"revenue","aggregation":"sum","conversionGoal":"cg_1","property":"value","window":"month"})");
  f.metric(
      R"({"name":"plan_revenue","aggregation":"sum","conversionGoal":"cg_1","property":"plan.amount","window":"month"})");
  f.metric(R"({"name":"buyers","aggregation":"unique","conversionGoal":"cg_1","window":"month"})");
  f.metric(
      R"({"name":"purchases","aggregation":"count","conversionGoal":"cg_1","window":"month"})");
  // The base cells: 5 purchases worth 49.75 in properties.value.
  f.cell("cg_1", "2025-03-02T10:00:00Z", 2, 49.5);
  f.cell("cg_1", "2025-03-03T10:00:00Z", 3, 0.25);
  f.cell("cg_1", "2025-02-27T10:00:00Z", 1, 1000);  // February
  // The plan.amount series over the same matches.
  f.cell("cg_1\x1fsum:plan.amount", "2025-03-02T10:00:00Z", 2, 118);
  f.cell("cg_1\x1fsum:plan.amount", "2025-03-03T10:00:00Z", 3, 0.5);
  // The unique series: u1 bought on three days, u2 once; u9 in February.
  f.cell("cg_1\x1funique", "2025-03-02T10:00:00Z", 3);
  f.subject("cg_1\x1funique", "2025-03-02T10:00:00Z", "u1");
  f.subject("cg_1\x1funique", "2025-03-03T10:00:00Z", "u1");
  f.subject("cg_1\x1funique", "2025-03-04T10:00:00Z", "u1");
  f.subject("cg_1\x1funique", "2025-03-04T10:00:00Z", "u2");
  f.subject("cg_1\x1funique", "2025-02-27T10:00:00Z", "u9");

  const char* now = "2025-03-20T00:00:00Z";
  CHECK(f.eval(goal("revenue", 100, "2025-01-01", "2025-12-31"), now).current ==
        doctest::Approx(49.75));
  CHECK(f.eval(goal("plan_revenue", 100, "2025-01-01", "2025-12-31"), now).current ==
        doctest::Approx(118.5));
  CHECK(f.eval(goal("buyers", 100, "2025-01-01", "2025-12-31"), now).current == 2);
  CHECK(f.eval(goal("purchases", 100, "2025-01-01", "2025-12-31"), now).current == 5);
  CHECK(f.eval(goal("buyers", 100, "2025-01-01", "2025-12-31"), "2025-02-28T00:00:00Z").current ==
        1);

  auto t = [&](const char* name) { return *gs::growth::metric_counters(*f.store, "acme", name); };
  CHECK(t("revenue") == std::vector<std::string>{"cg_1"});
  CHECK(t("plan_revenue") == std::vector<std::string>{"cg_1\x1fsum:plan.amount"});
  CHECK(t("buyers") == std::vector<std::string>{"cg_1\x1funique"});
  CHECK(t("nope").empty());
}

TEST_CASE("a sum metric adds cells beyond int64 micro-units exactly") {
  Fixture f("sum-limits");
  f.metric(
      R"({"name":"revenue","aggregation":"sum","conversionGoal":"cg_1","property":"value","window":"month"})");
  // Four events at the per-event limit (9e12) on four days, one at -9e12, one in February.
  for (const char* when : {"2025-03-02T10:00:00Z", "2025-03-03T10:00:00Z", "2025-03-04T10:00:00Z",
                           "2025-03-05T10:00:00Z"})
    f.cell("cg_1", when, 1, 9e12);
  f.cell("cg_1", "2025-03-06T10:00:00Z", 1, -9e12);
  f.cell("cg_1", "2025-02-27T10:00:00Z", 1, 9e12);
  auto e = f.eval(goal("revenue", 2e13, "2025-01-01", "2025-12-31"), "2025-03-20T00:00:00Z");
  CHECK(e.current == 2.7e13);
  CHECK(status_of(e) == "completed");
}

TEST_CASE("after the deadline a goal is evaluated at the deadline's last instant") {
  Fixture f("deadline");
  f.metric(R"({"name":"signups","aggregation":"count","conversionGoal":"cg_1"})");  // span
  f.metric(
      R"({"name":"monthly_signups","aggregation":"count","conversionGoal":"cg_1","window":"month"})");
  f.cell("cg_1", "2025-02-28T23:59:59Z", 1);   // before the start
  f.cell("cg_1", "2025-03-01T00:00:00Z", 2);   // the first instant
  f.cell("cg_1", "2025-03-31T23:59:59Z", 4);   // the last instant
  f.cell("cg_1", "2025-04-01T00:00:00Z", 8);   // after the deadline
  f.cell("cg_1", "2025-05-10T00:00:00Z", 16);  // long after

  auto span = goal("signups", 6, "2025-03-01", "2025-03-31");
  auto during = f.eval(span, "2025-03-16T00:00:00Z");
  CHECK(during.current == 6);
  auto after = f.eval(span, "2025-05-20T00:00:00Z");
  CHECK(after.current == 6);
  CHECK(ts(after.period.start_ms) == "2025-03-01T00:00:00Z");
  CHECK(ts(after.period.end_ms) == "2025-04-01T00:00:00Z");
  CHECK(after.status == "completed");
  CHECK(after.pacing.expected == doctest::Approx(6));
  auto missed = f.eval(goal("signups", 100, "2025-03-01", "2025-03-31"), "2025-05-20T00:00:00Z");
  CHECK(missed.current == 6);
  CHECK(missed.status == "behind");
  CHECK(missed.pacing.expected == doctest::Approx(100));

  // A monthly metric reads the deadline's month, not the month of now.
  auto monthly =
      f.eval(goal("monthly_signups", 10, "2025-03-01", "2025-03-31"), "2025-05-20T00:00:00Z");
  CHECK(monthly.current == 6);
  CHECK(ts(monthly.period.start_ms) == "2025-03-01T00:00:00Z");

  // Without a start, the goal starts on the local day it was created.
  auto created = goal("signups", 6, nullptr, "2025-03-31");
  created.created_at_ms = at("2025-03-01T15:00:00Z");
  auto c = f.eval(created, "2025-03-16T00:00:00Z");
  CHECK(ts(c.period.start_ms) == "2025-03-01T00:00:00Z");
  CHECK(c.current == 6);
  f.timezone("America/New_York");  // 15:00Z is 10:00 EST on March 1st
  auto ny = f.eval(created, "2025-03-16T00:00:00Z");
  CHECK(ts(ny.period.start_ms) == "2025-03-01T05:00:00Z");
  CHECK(ts(ny.period.end_ms) == "2025-04-01T04:00:00Z");
  CHECK(ny.current == 4 + 8);  // 2025-03-01T00:00Z is still February 28th in New York
}
