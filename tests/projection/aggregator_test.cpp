// The series a metric asks for besides a conversion goal's own cells: the
// subjects of a `unique` series and the sum of a property path, as the
// Aggregator folds them from parsed events into 15-minute cells.
#include <doctest/doctest.h>

#include <string>
#include <unordered_set>
#include <vector>

#include "base/keys.h"
#include "base/time.h"
#include "model/event.h"
#include "projection/projection.h"

using namespace gs::projection;
using gs::keys::append_be64;
using gs::keys::cell_prefix;
using gs::keys::read_be64;

namespace {

CounterRule signup_goal() {
  return {"cg_1", "acme", "form_submit", std::nullopt, nullptr, std::nullopt};
}

int64_t at(const char* rfc3339) {
  auto t = gs::time::parse_rfc3339(rfc3339);
  REQUIRE(t.has_value());
  return *t;
}

std::string cell_key(const std::string& target, const char* rfc3339) {
  auto k = cell_prefix("acme", target);
  append_be64(k, at(rfc3339) / kBucketMs);
  return k;
}

std::string event(const std::string& ts, const std::string& extra) {
  return R"({"event_id":"e","tenant_id":"acme","type":"form_submit","timestamp":")" + ts + "\"" +
         (extra.empty() ? "" : "," + extra) + "}";
}

// Parses and adds one event; the parser's views are only valid until the
// next parse, and the Aggregator copies what it keeps.
void add(Aggregator& agg, const Counter& goal, gs::model::EventParser& parser,
         const std::string& json) {
  auto e = parser.parse(json);
  REQUIRE_MESSAGE(e.ok(), json);
  REQUIRE(goal.counts(*e));
  agg.add(goal, *e);
}

}  // namespace

TEST_CASE("a unique series records one presence key per (cell, subject)") {
  auto compiled = compile(signup_goal(), "unique");
  REQUIRE(compiled.ok());
  const Counter& goal = **compiled;
  CHECK(goal.unique);
  CHECK(goal.id == std::string("cg_1\x1funique"));
  CHECK(split_counter_id(goal.id).first == "cg_1");
  CHECK(split_counter_id(goal.id).second == "unique");

  gs::model::EventParser parser;
  Aggregator agg;
  add(agg, goal, parser, event("2025-03-01T12:00:00Z", R"("subject_id":"u1")"));
  add(agg, goal, parser,
      event("2025-03-01T12:14:59Z", R"("subject_id":"u1")"));  // same cell, same subject
  add(agg, goal, parser, event("2025-03-01T12:05:00Z", R"("subject_id":"u2")"));
  add(agg, goal, parser, event("2025-03-01T12:15:00Z", R"("subject_id":"u1")"));  // next cell
  add(agg, goal, parser, event("2025-03-01T12:16:00Z", ""));  // no subject: not a presence

  auto noon = cell_key(goal.id, "2025-03-01T12:00:00Z");
  auto quarter_past = cell_key(goal.id, "2025-03-01T12:15:00Z");
  std::unordered_set<std::string> expected = {noon + "u1", noon + "u2", quarter_past + "u1"};
  CHECK(agg.presence() == expected);
  // The cells still count every match.
  REQUIRE(agg.cells().size() == 2);
  CHECK(agg.cells().at(noon).count == 3);
  CHECK(agg.cells().at(quarter_past).count == 2);
  CHECK_FALSE(agg.empty());
  agg.clear();
  CHECK(agg.empty());
  CHECK(agg.presence().empty());

  // The base series keeps no subjects.
  auto base = compile(signup_goal());
  REQUIRE(base.ok());
  CHECK_FALSE((*base)->unique);
  CHECK((*base)->id == "cg_1");
  add(agg, **base, parser, event("2025-03-01T12:00:00Z", R"("subject_id":"u1")"));
  CHECK(agg.presence().empty());
  CHECK(agg.cells().count(cell_key("cg_1", "2025-03-01T12:00:00Z")) == 1);
}

TEST_CASE("a sum:<path> series sums that property; the base series sums properties.value") {
  auto compiled = compile(signup_goal(), "sum:plan.amount");
  REQUIRE(compiled.ok());
  const Counter& goal = **compiled;
  CHECK(goal.id == std::string("cg_1\x1fsum:plan.amount"));
  REQUIRE(goal.sum_path.has_value());
  CHECK(goal.sum_path->path() == "plan.amount");
  CHECK_FALSE(goal.unique);
  auto base = compile(signup_goal());
  REQUIRE(base.ok());

  gs::model::EventParser parser;
  Aggregator agg;
  const std::vector<std::string> events = {
      event("2025-03-01T09:00:00Z", R"("properties":{"plan":{"amount":49.5},"value":10})"),
      event("2025-03-01T09:10:00Z", R"("properties":{"plan":{"amount":0.25},"value":1})"),
      event("2025-03-01T09:11:00Z", R"("properties":{"plan":{"amount":"49"}})"),  // not a number: 0
      event("2025-03-01T09:12:00Z", R"("properties":{"value":7})"),               // no plan: 0
  };
  for (const auto& e : events) {
    add(agg, goal, parser, e);
    add(agg, **base, parser, e);
  }
  auto series = agg.cells().at(cell_key(goal.id, "2025-03-01T09:00:00Z"));
  CHECK(series.count == 4);
  CHECK(series.sum_micros == 49'750'000);  // 49.5 + 0.25, exactly
  CHECK(series.max_ts_ms == at("2025-03-01T09:12:00Z"));
  auto own = agg.cells().at(cell_key("cg_1", "2025-03-01T09:00:00Z"));
  CHECK(own.count == 4);
  CHECK(own.sum_micros == 18'000'000);  // properties.value: 10 + 1 + 7
  CHECK(agg.cells().size() == 2);
  CHECK(agg.presence().empty());

  // Unknown series are refused rather than silently counted as the base.
  for (const char* bad : {"sum:", "avg:x", "uniq", "sum:plan..amount"}) {
    CAPTURE(std::string(bad));
    auto r = compile(signup_goal(), bad);
    CHECK_FALSE(r.ok());
  }
}

TEST_CASE("cells are 15-minute buckets of event time") {
  auto base = compile(signup_goal());
  REQUIRE(base.ok());
  Aggregator agg;
  // The last millisecond of a bucket and the first of the next.
  agg.add(**base, at("2025-03-01T12:14:59.999Z"), 1);
  agg.add(**base, at("2025-03-01T12:15:00Z"), 2);
  REQUIRE(agg.cells().size() == 2);
  CHECK(agg.cells().at(cell_key("cg_1", "2025-03-01T12:00:00Z")).sum_micros == 1'000'000);
  CHECK(agg.cells().at(cell_key("cg_1", "2025-03-01T12:15:00Z")).sum_micros == 2'000'000);
  CHECK(bucket_of(at("2025-03-01T12:15:00Z")) == bucket_of(at("2025-03-01T12:00:00Z")) + 1);
  CHECK(bucket_of(at("2025-03-01T13:00:00Z")) - bucket_of(at("2025-03-01T12:00:00Z")) == 4);
  // Keys round-trip through read_be64 and order by time as bytes.
  auto k1 = cell_key("cg_1", "2025-03-01T12:00:00Z");
  auto k2 = cell_key("cg_1", "2025-03-01T12:15:00Z");
  CHECK(k1 < k2);
  CHECK(read_be64(std::string_view(k2).substr(cell_prefix("acme", "cg_1").size())) ==
        bucket_of(at("2025-03-01T12:15:00Z")));
}

TEST_CASE(
    "a metric series joins its goal's family: matched once, fed with the base; redefinition keeps "
    "it") {
  CounterIndex index;
  auto base = compile(signup_goal());
  auto sum = compile(signup_goal(), "sum:plan.amount");
  auto uniq = compile(signup_goal(), "unique");
  REQUIRE(base.ok());
  REQUIRE(sum.ok());
  REQUIRE(uniq.ok());
  index.put(*base);
  index.put(*sum);
  index.put(*uniq);
  CHECK(index.size() == 3);
  REQUIRE(index.candidates("acme", "form_submit").size() == 1);  // one family, one match per event
  const CounterFamily* family = index.candidates("acme", "form_submit")[0];
  CHECK(family->base->id == "cg_1");
  REQUIRE(family->series.size() == 2);
  CHECK(index.find("acme", std::string("cg_1\x1funique")) == uniq->get());

  // Redefined with another event type: the family moves with its base and keeps its series.
  auto redefined_def = signup_goal();
  redefined_def.event_type = "purchase";
  auto redefined = compile(redefined_def);
  REQUIRE(redefined.ok());
  index.remove("acme", "cg_1");
  CHECK(index.candidates("acme", "form_submit").empty());  // no base: nothing matches meanwhile
  CHECK(index.find("acme", std::string("cg_1\x1fsum:plan.amount")) != nullptr);
  index.put(*redefined);
  CHECK(index.candidates("acme", "form_submit").empty());
  REQUIRE(index.candidates("acme", "purchase").size() == 1);
  CHECK(index.candidates("acme", "purchase")[0]->series.size() == 2);

  // Dropping the series, then the goal, empties the index.
  index.remove("acme", std::string("cg_1\x1fsum:plan.amount"));
  CHECK(index.candidates("acme", "purchase")[0]->series.size() == 1);
  index.remove("acme", std::string("cg_1\x1funique"));
  index.remove("acme", "cg_1");
  CHECK(index.size() == 0);
  CHECK(index.candidates("acme", "purchase").empty());
  CHECK(index.find("acme", "cg_1") == nullptr);
}

TEST_CASE("a batch's cell sums values at the per-event limit without wrapping, in either sign") {
  auto base = compile(signup_goal());
  REQUIRE(base.ok());
  auto total = compile(signup_goal(), "sum:order.total");
  REQUIRE(total.ok());
  gs::model::EventParser parser;
  Aggregator agg;
  // Four purchases at 9e12 (the per-event limit; 1e13 and a 20-digit integer
  // are clamped to it) in one cell: 3.6e13, beyond int64 micro-units; their
  // order.total is the negative.
  for (const char* v : {"9e12", "9000000000000", "1e13", "99999999999999999999"}) {
    auto json = event("2025-03-01T12:00:00Z", std::string(R"("properties":{"value":)") + v +
                                                  R"(,"order":{"total":-)" + v + "}}");
    add(agg, **base, parser, json);
    add(agg, **total, parser, json);
  }
  for (const auto& goal : {*base, *total}) agg.add(*goal, at("2025-03-01T12:15:00Z"), -9e12);
  const Micros limit = to_micros(kMaxEventValue);
  CHECK(limit == Micros(9'000'000'000'000'000'000ULL));
  auto own = agg.cells().at(cell_key("cg_1", "2025-03-01T12:00:00Z"));
  CHECK(own.count == 4);
  CHECK(own.sum_micros == 4 * limit);
  CHECK(micros_to_value(own.sum_micros) == 3.6e13);
  auto negative = agg.cells().at(cell_key((*total)->id, "2025-03-01T12:00:00Z"));
  CHECK(negative.count == 4);
  CHECK(micros_to_value(negative.sum_micros) == -3.6e13);
  CHECK(agg.cells().at(cell_key("cg_1", "2025-03-01T12:15:00Z")).sum_micros == -limit);
  CHECK(agg.cells().at(cell_key((*total)->id, "2025-03-01T12:15:00Z")).sum_micros == -limit);
  CHECK(to_micros(-49.99) == -49'990'000);
}
