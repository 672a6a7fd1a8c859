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

namespace {

constexpr std::string_view kCompleted[] = {"completed"};
const TallyRule kTodoRule{
    "todo_completed", "",    "goal_id", "", kCompleted, "", "node_id", true, true,
    "roadmap goal",   "node"};

std::string todo(const std::string& tenant, const std::string& goal, const std::string& node) {
  return R"({"event_id":"e","tenant_id":")" + tenant +
         R"(","type":"todo_completed","timestamp":"2025-03-01T12:00:00Z","goal_id":")" + goal +
         R"(","node_id":")" + node + R"("})";
}

}  // namespace

TEST_CASE("tallies: one item per event, a fixed outcome, notices for unknown entries") {
  TallyIndex index;
  index.add("acme", "goal_a");
  gs::model::EventParser parser;
  std::string scratch;
  auto collect_todo = [&](const std::string& event) {
    auto e = parser.parse(event);
    REQUIRE(e.ok());
    std::vector<TallyItem> items;
    auto breakdown = gs::projection::collect_tallies(kTodoRule, index, *e, scratch, items);
    CHECK(breakdown == "n1");
    return items;
  };
  // The event itself is the item; its outcome is the rule's only one.
  auto items = collect_todo(todo("acme", "goal_a", "n1"));
  REQUIRE(items.size() == 1);
  REQUIRE(items[0].entry);
  CHECK(items[0].entry->cell_prefix == std::string("acme\0goal_a\x1f", 12));
  CHECK(items[0].outcome == 0);
  // Another tenant's goal, an unknown goal: an item without entry (a notice).
  for (const auto& event : {todo("other", "goal_a", "n1"), todo("acme", "goal_b", "n1")}) {
    items = collect_todo(event);
    REQUIRE(items.size() == 1);
    CHECK(items[0].entry == nullptr);
  }
  CHECK(items[0].name == "goal_b");
  auto n = gs::projection::unknown_entry_notice(kTodoRule, "goal_b");
  CHECK(n.field == "goal_id");
  CHECK(n.message == "no roadmap goal goal_b of this tenant");

  // An entry declares nothing until told: every breakdown value; then only its own.
  const auto* entry = index.find("acme", "goal_a", scratch);
  REQUIRE(entry);
  CHECK(entry->declares("anything"));
  index.declare("acme", "goal_a", {"n3", "n1"});
  CHECK(entry->declares("n1"));
  CHECK(entry->declares("n3"));
  CHECK_FALSE(entry->declares("n2"));
  index.declare("acme", "goal_a", {});
  CHECK_FALSE(entry->declares("n1"));
  index.declare("acme", "nope", {"n1"});  // not an entry: nothing
  CHECK_FALSE(index.find("acme", "nope", scratch));
  auto u = gs::projection::undeclared_breakdown_notice(kTodoRule, "goal_a", "n9");
  CHECK(u.field == "node_id");
  CHECK(u.message == "roadmap goal goal_a has no node n9");

  // A rule without notices skips unknown entries.
  TallyRule quiet = kTodoRule;
  quiet.notice = false;
  auto e = parser.parse(todo("acme", "goal_b", "n1"));
  REQUIRE(e.ok());
  std::vector<TallyItem> none;
  gs::projection::collect_tallies(quiet, index, *e, scratch, none);
  CHECK(none.empty());
}

TEST_CASE("tallies: exact-time cells are per millisecond") {
  gs::projection::Aggregator agg;
  std::string prefix("acme\0goal_a\x1f", 12);
  agg.add_tally(prefix, "completed", "n1", 1740830400123, true);
  agg.add_tally(prefix, "completed", "n1", 1740830400124, true);
  agg.add_tally(prefix, "completed", "n1", 1740830400124, true);
  REQUIRE(agg.cells().size() == 2);
  std::string k = gs::keys::join("acme",
                                 "goal_a\x1f"
                                 "completed\x1fn1");
  k.push_back('\0');
  gs::keys::append_be64(k, 1740830400124);
  CHECK(agg.cells().at(k).count == 2);
}
