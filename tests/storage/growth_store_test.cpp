// The store's growth-goal state: range sums of 15-minute cells, distinct
// subjects of unique series, metric/goal/time-zone CRUD per tenant, what the
// digest sees, and the store format check on open.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include <rocksdb/db.h>

#include "base/time.h"
#include "kernel/cells.h"
#include "kernel/state.h"
#include "modules/all.h"
#include "modules/conversion/keyspace.h"
#include "modules/growth/keyspace.h"
#include "modules/growth/model.h"
#include "projection/projection.h"
#include "storage/store.h"
#include "test_util.h"

using gs::projection::Cell;
namespace fs = std::filesystem;

namespace {

std::string fresh_dir(const std::string& name) {
  return store_test::fresh_dir("growth-store-" + name);
}
std::string key(const std::string& tenant, const std::string& target, int64_t bucket) {
  return store_test::cell_key(tenant, target, bucket);
}
using store_test::open;

gs::growth::Metric metric(const std::string& tenant, const char* body) {
  auto m = gs::growth::metric_from_request(nlohmann::json::parse(body));
  REQUIRE(m.ok());
  m->tenant_id = tenant;
  m->created_at_ms = 1740787200000LL;
  return *m;
}

gs::growth::GrowthGoal goal(const std::string& tenant, const std::string& id,
                            const std::string& metric_name, double target) {
  gs::growth::GrowthGoal g;
  g.id = id;
  g.tenant_id = tenant;
  g.metric = metric_name;
  g.target = target;
  g.deadline_date = *gs::time::parse_date("2025-03-31");
  g.created_at_ms = 1740787200000LL;
  return g;
}

constexpr int64_t b0 = 1'934'208;  // 2025-03-01T00:00Z in 15-minute buckets

}  // namespace

TEST_CASE("cells() sums exactly the buckets in [from, to) of one tenant and target") {
  REQUIRE(b0 * gs::projection::kBucketMs == *gs::time::parse_rfc3339("2025-03-01T00:00:00Z"));
  auto s = open(fresh_dir("cells"));
  auto b = s->batch();
  // Bucket b0 + i holds count 1 << i and i + 0.5 units, so every range has
  // its own sum.
  for (int i = 0; i < 5; ++i)
    gs::cells::merge_cell(b, key("acme", "cg_1", b0 + i),
                          Cell{int64_t{1} << i, gs::projection::to_micros(i + 0.5)});
  // Neighbours that must never leak in: another target, a target that
  // extends the name, a series of the same goal, another tenant whose name
  // extends or shortens "acme".
  for (auto [tenant, target] :
       std::vector<std::pair<std::string, std::string>>{{"acme", "cg_2"},
                                                        {"acme", "cg_10"},
                                                        {"acme", "cg_1\x1fsum:plan.amount"},
                                                        {"acm", "cg_1"},
                                                        {"acmee", "cg_1"}})
    for (int i = -1; i < 6; ++i)
      gs::cells::merge_cell(b, key(tenant, target, b0 + i), Cell{1000, 1'000'000'000});
  REQUIRE(s->write(b).ok());
  // Merges add up.
  auto again = s->batch();
  gs::cells::merge_cell(again, key("acme", "cg_1", b0 + 4),
                        Cell{16, gs::projection::to_micros(0.25)});
  REQUIRE(s->write(again).ok());

  struct Case {
    const char* name;
    int64_t from, to;
    int64_t count;
    double sum;
  };
  std::vector<Case> cases = {
      {"all", b0, b0 + 5, 1 + 2 + 4 + 8 + 16 + 16, 0.5 + 1.5 + 2.5 + 3.5 + 4.75},
      {"wider than the data", b0 - 100, b0 + 100, 47, 12.75},
      {"the first bucket only", b0, b0 + 1, 1, 0.5},
      {"the last bucket only", b0 + 4, b0 + 5, 32, 4.75},
      {"to is exclusive", b0 + 1, b0 + 3, 2 + 4, 1.5 + 2.5},
      {"from is inclusive", b0 + 3, b0 + 4, 8, 3.5},
      {"before the data", b0 - 10, b0, 0, 0},
      {"after the data", b0 + 5, b0 + 50, 0, 0},
      {"empty range", b0 + 2, b0 + 2, 0, 0},
      {"reversed range", b0 + 4, b0 + 1, 0, 0},
      {"from below zero", -5, b0 + 1, 1, 0.5},
  };
  for (const auto& c : cases) {
    CAPTURE(std::string(c.name));
    auto cell = (*gs::cells::sum(*s, "acme", "cg_1", c.from, c.to));
    CHECK(cell.count == c.count);
    CHECK(cell.sum_micros == gs::projection::to_micros(c.sum));
  }
  CHECK((*gs::cells::sum(*s, "acme", "cg_3", b0, b0 + 5)).count == 0);
  CHECK((*gs::cells::sum(*s, "acme", "cg_1\x1fsum:plan.amount", b0, b0 + 5)).count == 5000);
  CHECK((*gs::cells::sum(*s, "acm", "cg_1", b0, b0 + 1)).count == 1000);
  CHECK((*gs::cells::sum(*s, "acm", "cg_1", b0 - 1, b0 + 6)).count == 7000);
}

TEST_CASE("unique_subjects counts distinct subjects across the buckets of a range") {
  auto s = open(fresh_dir("unique"));
  const std::string target = "cg_1\x1funique";
  auto b = s->batch();
  // u1 in three buckets, u2 in one, u3 in the last; u4 only for other
  // tenants and targets.
  for (int i : {0, 1, 2}) gs::cells::put_presence(b, key("acme", target, b0 + i) + "u1");
  gs::cells::put_presence(b, key("acme", target, b0 + 1) + "u2");
  gs::cells::put_presence(b, key("acme", target, b0 + 4) + "u3");
  gs::cells::put_presence(b, key("acme", target, b0 + 4) + "u1");
  gs::cells::put_presence(b, key("acme", "cg_2\x1funique", b0 + 1) + "u4");
  gs::cells::put_presence(b, key("acm", target, b0 + 1) + "u4");
  gs::cells::put_presence(b, key("acmee", target, b0 + 1) + "u4");
  REQUIRE(s->write(b).ok());
  // The same presence written again is still one subject.
  auto again = s->batch();
  gs::cells::put_presence(again, key("acme", target, b0) + "u1");
  REQUIRE(s->write(again).ok());

  struct Case {
    const char* name;
    int64_t from, to, subjects;
  };
  std::vector<Case> cases = {
      {"all buckets", b0, b0 + 5, 3},         {"u1 in three buckets counts once", b0, b0 + 3, 2},
      {"the first bucket", b0, b0 + 1, 1},    {"the middle, without u3", b0 + 1, b0 + 4, 2},
      {"the last bucket", b0 + 4, b0 + 5, 2}, {"a gap", b0 + 3, b0 + 4, 0},
      {"to is exclusive", b0 + 2, b0 + 4, 1}, {"empty range", b0 + 1, b0 + 1, 0},
      {"reversed range", b0 + 5, b0, 0},
  };
  for (const auto& c : cases) {
    CAPTURE(std::string(c.name));
    CHECK((*gs::cells::unique_subjects(*s, "acme", target, c.from, c.to)) == c.subjects);
  }
  CHECK((*gs::cells::unique_subjects(*s, "acme", "cg_2\x1funique", b0, b0 + 5)) == 1);
  CHECK((*gs::cells::unique_subjects(*s, "acme", "cg_1", b0, b0 + 5)) ==
        0);  // the base series keeps no subjects
  CHECK((*gs::cells::unique_subjects(*s, "acm", target, b0, b0 + 5)) == 1);

  // Deleting the series removes its subjects and cells, not its neighbours'.
  auto del = s->batch();
  gs::cells::merge_cell(del, key("acme", target, b0), Cell{3, 0});
  REQUIRE(s->write(del).ok());
  gs::cells::delete_counter(del, "acme", target);
  REQUIRE(s->write(del).ok());
  CHECK((*gs::cells::unique_subjects(*s, "acme", target, b0, b0 + 5)) == 0);
  CHECK((*gs::cells::sum(*s, "acme", target, b0, b0 + 5)).count == 0);
  CHECK((*gs::cells::unique_subjects(*s, "acme", "cg_2\x1funique", b0, b0 + 5)) == 1);
  CHECK((*gs::cells::unique_subjects(*s, "acmee", target, b0, b0 + 5)) == 1);
}

TEST_CASE("metrics, growth goals and time zones round-trip per tenant and survive a reopen") {
  auto dir = fresh_dir("crud");
  {
    auto s = open(dir);
    CHECK((*gs::state::timezone(*s, "acme")) == "UTC");
    CHECK((*gs::growth::metrics(*s, "acme")).empty());
    CHECK((*gs::growth::goals(*s, "acme")).empty());
    CHECK_FALSE((*gs::growth::metric(*s, "acme", "monthly_signups")));
    CHECK_FALSE((*gs::growth::goal(*s, "acme", "goal_001")));

    auto b = s->batch();
    gs::growth::put_metric(
        b,
        metric(
            "acme",
            R"({"name":"monthly_signups","aggregation":"count","conversionGoal":"cg_1","window":"month"})"));
    gs::growth::put_metric(
        b,
        metric(
            "acme",
            R"({"name":"mrr","aggregation":"sum","conversionGoal":"cg_1","property":"plan.amount"})"));
    gs::growth::put_metric(
        b,
        metric(
            "acme",
            R"({"name":"conv","aggregation":"ratio","numerator":"monthly_signups","denominator":"visits"})"));
    gs::growth::put_metric(
        b, metric("acmee", R"({"name":"visits","aggregation":"count","conversionGoal":"cg_9"})"));
    auto g = goal("acme", "goal_001", "monthly_signups", 500);
    g.description = "Reach 500 signups per month by end of Q1";
    g.status_override = "at_risk";
    g.start_date = *gs::time::parse_date("2025-01-01");
    gs::growth::put_goal(b, g);
    gs::growth::put_goal(b, goal("acme", "goal_002", "mrr", 1000));
    gs::growth::put_goal(b, goal("acmee", "goal_003", "visits", 7));
    gs::state::put_timezone(b, "acme", "Asia/Kolkata");
    gs::state::put_timezone(b, "acmee", "America/New_York");
    REQUIRE(s->write(b).ok());
  }
  auto s = open(dir);
  // Metrics, in name order, with their members.
  auto ms = (*gs::growth::metrics(*s, "acme"));
  REQUIRE(ms.size() == 3);
  CHECK(ms[0].name == "conv");
  CHECK(ms[1].name == "monthly_signups");
  CHECK(ms[2].name == "mrr");
  CHECK(ms[0].numerator == "monthly_signups");
  CHECK(ms[0].denominator == "visits");
  CHECK(ms[1].window == "month");
  CHECK(ms[2].property == "plan.amount");
  for (const auto& m : ms) CHECK(m.tenant_id == "acme");
  auto one = (*gs::growth::metric(*s, "acme", "mrr"));
  REQUIRE(one);
  CHECK(one->aggregation == "sum");
  CHECK(one->conversion_goal == "cg_1");
  CHECK(one->created_at_ms == 1740787200000LL);
  CHECK((*gs::growth::all_metrics(*s)).size() == 4);
  // Goals, in id order, with what was stored.
  auto gs_ = (*gs::growth::goals(*s, "acme"));
  REQUIRE(gs_.size() == 2);
  CHECK(gs_[0].id == "goal_001");
  CHECK(gs_[1].id == "goal_002");
  auto g1 = (*gs::growth::goal(*s, "acme", "goal_001"));
  REQUIRE(g1);
  CHECK(g1->tenant_id == "acme");
  CHECK(g1->metric == "monthly_signups");
  CHECK(g1->target == 500);
  CHECK(g1->deadline_date == *gs::time::parse_date("2025-03-31"));
  CHECK(g1->start_date == gs::time::parse_date("2025-01-01"));
  CHECK(g1->description == std::optional<std::string>("Reach 500 signups per month by end of Q1"));
  CHECK(g1->status_override == std::optional<std::string>("at_risk"));
  CHECK((*gs::growth::all_goals(*s)).size() == 3);
  CHECK((*gs::state::timezone(*s, "acme")) == "Asia/Kolkata");
  CHECK((*gs::state::timezone(*s, "acmee")) == "America/New_York");

  // "acm" is a prefix of "acme" and sees none of its data.
  CHECK((*gs::growth::metrics(*s, "acm")).empty());
  CHECK_FALSE((*gs::growth::metric(*s, "acm", "mrr")));
  CHECK((*gs::growth::goals(*s, "acm")).empty());
  CHECK_FALSE((*gs::growth::goal(*s, "acm", "goal_001")));
  CHECK((*gs::state::timezone(*s, "acm")) == "UTC");
  // Nor does "acme" see "acmee"'s.
  CHECK_FALSE((*gs::growth::metric(*s, "acme", "visits")));
  CHECK_FALSE((*gs::growth::goal(*s, "acme", "goal_003")));
  REQUIRE((*gs::growth::goals(*s, "acmee")).size() == 1);
  CHECK((*gs::growth::goals(*s, "acmee"))[0].tenant_id == "acmee");

  // Replacing and deleting.
  auto b = s->batch();
  auto changed = *g1;
  changed.target = 600;
  changed.status_override.reset();
  gs::growth::put_goal(b, changed);
  gs::growth::delete_goal(b, "acme", "goal_002");
  gs::growth::delete_metric(b, "acme", "conv");
  gs::state::put_timezone(b, "acme", "Europe/Berlin");
  REQUIRE(s->write(b).ok());
  CHECK((*gs::growth::goal(*s, "acme", "goal_001"))->target == 600);
  CHECK_FALSE((*gs::growth::goal(*s, "acme", "goal_001"))->status_override);
  CHECK_FALSE((*gs::growth::goal(*s, "acme", "goal_002")));
  CHECK((*gs::growth::goals(*s, "acme")).size() == 1);
  CHECK_FALSE((*gs::growth::metric(*s, "acme", "conv")));
  CHECK((*gs::growth::metrics(*s, "acme")).size() == 2);
  CHECK((*gs::state::timezone(*s, "acme")) == "Europe/Berlin");
  CHECK((*gs::growth::goals(*s, "acmee")).size() == 1);
}

TEST_CASE(
    "the digest sees growth goals, metrics, time zones and presences, not statuses or the outbox") {
  auto s = open(fresh_dir("digest"));
  auto d0 = s->digest();
  REQUIRE(d0.size() == 64);
  auto step = [&](const char* what, auto write, bool changes) {
    CAPTURE(std::string(what));
    auto before = s->digest();
    auto b = s->batch();
    write(b);
    REQUIRE(s->write(b).ok());
    auto after = s->digest();
    if (changes)
      CHECK(after != before);
    else
      CHECK(after == before);
  };
  using gs::storage::Batch;
  step(
      "a growth goal", [](Batch& b) { gs::growth::put_goal(b, goal("acme", "goal_001", "m", 10)); },
      true);
  step(
      "a metric",
      [](Batch& b) {
        gs::growth::put_metric(
            b, metric("acme", R"({"name":"m","aggregation":"unique","conversionGoal":"cg_1"})"));
      },
      true);
  step(
      "a presence",
      [](Batch& b) { gs::cells::put_presence(b, key("acme", "cg_1\x1funique", b0) + "u1"); }, true);
  step(
      "another subject in the same cell",
      [](Batch& b) { gs::cells::put_presence(b, key("acme", "cg_1\x1funique", b0) + "u2"); }, true);
  step(
      "a time zone", [](Batch& b) { gs::state::put_timezone(b, "acme", "Asia/Kolkata"); }, true);
  step(
      "a cell",
      [](Batch& b) {
        gs::cells::merge_cell(b, key("acme", "cg_1", b0), Cell{1, 0});
      },
      true);
  step(
      "a published status",
      [](Batch& b) { gs::growth::put_status(b, "acme", "goal_001", "behind"); }, false);
  step(
      "an outbox entry",
      [](Batch& b) {
        gs::state::put_outbox(b, 1, {{"goal", "goal_001"}, {"status", "behind"}});
      },
      false);
  step(
      "an outbox entry confirmed", [](Batch& b) { gs::state::delete_outbox(b, 1); }, false);
  step(
      "an offset", [](Batch& b) { gs::state::set_offset(b, gs::state::Source::commands, 0, 42); },
      false);
  step(
      "a status cleared", [](Batch& b) { gs::growth::delete_status(b, "acme", "goal_001"); },
      false);
  // Bookkeeping is still readable even though the digest ignores it.
  auto b = s->batch();
  gs::growth::put_status(b, "acme", "goal_001", "on_track");
  gs::state::put_outbox(b, 7, {{"n", 7}});
  REQUIRE(s->write(b).ok());
  CHECK((*gs::growth::status(*s, "acme", "goal_001")) == std::optional<std::string>("on_track"));
  REQUIRE((*gs::state::outbox(*s)).size() == 1);
  CHECK((*gs::state::outbox(*s))[0].first == 7);
  // Deleting the goal brings the digest back to what it was before it.
  auto before_goal = s->digest();
  step(
      "a second goal", [](Batch& b) { gs::growth::put_goal(b, goal("acme", "goal_002", "m", 10)); },
      true);
  step(
      "the second goal deleted", [](Batch& b) { gs::growth::delete_goal(b, "acme", "goal_002"); },
      true);
  CHECK(s->digest() == before_goal);
  CHECK(s->digest() != d0);
}

TEST_CASE("a new store is empty and reopens; a store with data but no format mark is refused") {
  auto dir = fresh_dir("format");
  {
    auto s = open(dir);
    CHECK(s->empty());
  }
  {
    auto s = open(dir);  // the format mark written at creation is not data
    CHECK(s->empty());
    CHECK((*gs::state::offsets(*s, gs::state::Source::events)).empty());
    auto b = s->batch();
    gs::growth::put_goal(b, goal("acme", "goal_001", "m", 10));
    REQUIRE(s->write(b).ok());
    CHECK_FALSE(s->empty());
  }
  {
    auto s = open(dir);  // reopening a current store with data works
    CHECK_FALSE(s->empty());
    CHECK((*gs::growth::goal(*s, "acme", "goal_001")));
  }

  // Remove the format mark directly, as a format-1 store (hour cells) never had one.
  auto drop_format_mark = [](const std::string& d) {
    std::vector<std::string> names;
    REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), d, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(rocksdb::DBOptions(), d, cfs, &handles, &raw).ok());
    bool found = false;
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] != "meta") continue;
      std::string v;
      REQUIRE(raw->Get(rocksdb::ReadOptions(), handles[i], "fmt", &v).ok());
      CHECK(v == gs::storage::kFormat);
      REQUIRE(raw->Delete(rocksdb::WriteOptions(), handles[i], "fmt").ok());
      found = true;
    }
    CHECK(found);
    for (auto* h : handles) raw->DestroyColumnFamilyHandle(h);
    delete raw;
  };
  drop_format_mark(dir);
  auto old = gs::modules::open_store(dir);
  REQUIRE_FALSE(old.ok());
  CHECK(old.error().field == "data-dir");
  CHECK(old.error().code == gs::ErrorCode::conflict);
  std::string message = old.error().message;
  CHECK_MESSAGE(message.find("format 1") != std::string::npos, message);
  CHECK_MESSAGE(message.find("rebuild") != std::string::npos, message);

  // Without data the missing mark is simply written: the store is new.
  auto empty_dir = fresh_dir("format-empty");
  { auto s = open(empty_dir); }
  drop_format_mark(empty_dir);
  {
    auto s = open(empty_dir);
    CHECK(s->empty());
  }
  auto s = open(empty_dir);
  CHECK(s->empty());
}

TEST_CASE(
    "each_cell reads the cells of a tally entry's counters in a bucket range, and only them") {
  auto s = open(fresh_dir("each-cell"));
  auto b = s->batch();
  auto put = [&](const std::string& tenant, const std::string& counter, int64_t bucket, int64_t n) {
    gs::cells::merge_cell(b, key(tenant, counter, bucket), Cell{n, 0});
  };
  // Goal g1: three counters over buckets b0..b0+9; neighbours that must not
  // be read: g10 (g1 is its prefix), g1 of another tenant, a conversion goal.
  for (const char* counter : {"g1\x1fsuccess\x1f", "g1\x1fsuccess\x1fweb",
                              "g1\x1f"
                              "failure\x1fweb"})
    for (int i = 0; i < 10; ++i) put("acme", counter, b0 + i, i + 1);
  put("acme", "g10\x1fsuccess\x1fweb", b0 + 3, 1000);
  put("acmf", "g1\x1fsuccess\x1fweb", b0 + 3, 1000);
  put("acme", "g0", b0 + 3, 1000);
  REQUIRE(s->write(b).ok());

  struct Seen {
    std::string counter;
    int64_t bucket, count;
    bool operator==(const Seen&) const = default;
  };
  auto read = [&](int64_t from, int64_t to) {
    std::vector<Seen> out;
    auto st = gs::cells::each_cell(*s, "acme", "g1\x1f", from, to,
                                   [&](std::string_view c, int64_t bucket, const Cell& cell) {
                                     out.push_back({std::string(c), bucket, cell.count});
                                   });
    REQUIRE(st.ok());
    return out;
  };
  // Buckets [b0+2, b0+4): two cells of each counter, in key order.
  CHECK(read(b0 + 2, b0 + 4) == std::vector<Seen>{{"g1\x1f"
                                                   "failure\x1fweb",
                                                   b0 + 2, 3},
                                                  {"g1\x1f"
                                                   "failure\x1fweb",
                                                   b0 + 3, 4},
                                                  {"g1\x1fsuccess\x1f", b0 + 2, 3},
                                                  {"g1\x1fsuccess\x1f", b0 + 3, 4},
                                                  {"g1\x1fsuccess\x1fweb", b0 + 2, 3},
                                                  {"g1\x1fsuccess\x1fweb", b0 + 3, 4}});
  CHECK(read(0, INT64_MAX).size() == 30);
  CHECK(read(b0 + 9, b0 + 100).size() == 3);
  CHECK(read(b0 + 10, b0 + 100).empty());
  CHECK(read(b0 + 5, b0 + 5).empty());
  int64_t sum = 0;
  for (auto& x : read(0, b0 + 10)) sum += x.count;
  CHECK(sum == 3 * 55);
}
