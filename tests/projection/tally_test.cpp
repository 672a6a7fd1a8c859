// Tallies (projection/tally.h): which items of an event count, with which
// outcome and breakdown, and the cells they make.
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "base/keys.h"
#include "model/event.h"
#include "projection/projection.h"
#include "projection/tally.h"

namespace {

using gs::projection::TallyIndex;
using gs::projection::TallyItem;
using gs::projection::TallyRule;

constexpr std::string_view kOutcomes[] = {"success", "failure", "unknown", "not_applicable"};
const TallyRule kRule{"call_outcome", "goal_results", "goal_id",   "verdict",
                      kOutcomes,      "achieved",     "channel_id"};

struct Collected {
  std::vector<std::pair<std::string, std::string>> items;  // cell prefix, outcome
  std::string breakdown;
};

Collected collect(const TallyIndex& index, const std::string& event) {
  gs::model::EventParser parser;  // no member rules: tallies read what validation let through
  auto e = parser.parse(event);
  REQUIRE(e.ok());
  std::string scratch;
  std::vector<TallyItem> items;
  Collected out;
  out.breakdown = std::string(gs::projection::collect_tallies(kRule, index, *e, scratch, items));
  for (const auto& i : items)
    out.items.emplace_back(i.entry->cell_prefix, std::string(kOutcomes[i.outcome]));
  return out;
}

std::string call(const std::string& tenant, const std::string& results,
                 const std::string& more = "") {
  return R"({"event_id":"e","tenant_id":")" + tenant +
         R"(","type":"call_outcome","timestamp":"2025-03-01T12:00:00Z",)" + more +
         R"("goal_results":[)" + results + "]}";
}

}  // namespace

TEST_CASE("tallies: registered entries of the event's tenant count, with their outcome") {
  TallyIndex index;
  index.add("acme", "g1");
  index.add("acme", "g2");
  index.add("other", "g3");
  auto c = collect(
      index, call("acme",
                  R"({"goal_id":"g1","achieved":true},{"goal_id":"g2","achieved":false},)"
                  R"({"goal_id":"g3","verdict":"success"},{"goal_id":"nope","achieved":true})",
                  R"("channel_id":"web",)"));
  using P = std::pair<std::string, std::string>;
  CHECK(c.items == std::vector<P>{{std::string("acme\0g1\x1f", 8), "success"},
                                  {std::string("acme\0g2\x1f", 8), "failure"}});
  CHECK(c.breakdown == "web");

  // verdict wins over achieved; every outcome; no channel: "".
  c = collect(index, call("acme", R"({"goal_id":"g1","verdict":"unknown","achieved":true},)"
                                  R"({"goal_id":"g2","verdict":"not_applicable"})"));
  CHECK(c.items == std::vector<P>{{std::string("acme\0g1\x1f", 8), "unknown"},
                                  {std::string("acme\0g2\x1f", 8), "not_applicable"}});
  CHECK(c.breakdown.empty());

  // Another type, an empty index, a removed entry, unreadable items: nothing.
  CHECK(
      collect(
          index,
          R"({"event_id":"e","tenant_id":"acme","type":"form_submit","timestamp":"2025-03-01T12:00:00Z","goal_results":[{"goal_id":"g1","achieved":true}]})")
          .items.empty());
  CHECK(collect(TallyIndex(), call("acme", R"({"goal_id":"g1","achieved":true})")).items.empty());
  index.remove("acme", "g1");
  CHECK(collect(index, call("acme", R"({"goal_id":"g1","achieved":true})")).items.empty());
  CHECK(collect(index, call("acme", R"({"goal_id":"g2","verdict":"maybe"},{"goal_id":7},{"x":1})"))
            .items.empty());
}

TEST_CASE("tallies: counter ids and the cells an item adds") {
  auto id = gs::projection::tally_counter("g1", "success", "web");
  CHECK(id == "g1\x1fsuccess\x1fweb");
  auto parts = gs::projection::split_tally_counter(id);
  REQUIRE(parts);
  CHECK(parts->name == "g1");
  CHECK(parts->outcome == "success");
  CHECK(parts->breakdown == "web");
  CHECK(gs::projection::split_tally_counter("g1\x1fsuccess\x1f")->breakdown.empty());
  CHECK_FALSE(gs::projection::split_tally_counter("cg_1"));
  CHECK_FALSE(gs::projection::split_tally_counter("cg_1\x1funique"));
  CHECK(gs::projection::tally_prefix("g1") == "g1\x1f");

  gs::projection::Aggregator agg;
  std::string prefix("acme\0g1\x1f", 8);
  agg.add_tally(prefix, "success", "web", 1740830400000);  // 2025-03-01T12:00Z
  agg.add_tally(prefix, "success", "web", 1740830400000 + 899'999);
  agg.add_tally(prefix, "success", "web", 1740830400000 + 900'000);  // the next bucket
  agg.add_tally(prefix, "failure", "", 1740830400000);
  REQUIRE(agg.cells().size() == 3);
  auto key = [&](const std::string& counter, int64_t bucket) {
    std::string k = gs::keys::join("acme", counter);
    k.push_back('\0');
    gs::keys::append_be64(k, bucket);
    return k;
  };
  int64_t b = 1740830400000 / 900'000;
  auto cell = agg.cells().at(key("g1\x1fsuccess\x1fweb", b));
  CHECK(cell.count == 2);
  CHECK(cell.sum_micros == 0);
  CHECK(cell.max_ts_ms == 1740830400000 + 899'999);
  CHECK(agg.cells().at(key("g1\x1fsuccess\x1fweb", b + 1)).count == 1);
  CHECK(agg.cells()
            .at(key("g1\x1f"
                    "failure\x1f",
                    b))
            .count == 1);
}
