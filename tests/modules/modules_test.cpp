// Each module's command application against a temporary RocksDB, without
// Kafka: what a command leaves in the store, in the counters ingest matches
// against, and which backfill jobs it asks the processor for.
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "base/keys.h"
#include "kernel/cells.h"
#include "modules/all.h"
#include "modules/conversion/keyspace.h"
#include "modules/conversion/module.h"
#include "modules/growth/keyspace.h"
#include "modules/growth/module.h"

namespace {

using json = nlohmann::json;

// The processor's side of a command, as the processor thread offers it:
// the batch, the counters, and the jobs asked for (recorded, since no
// backfill thread runs here).
class Context final : public gs::kernel::CommandContext {
 public:
  Context(gs::storage::Store& store, std::vector<gs::kernel::Module*> modules)
      : store_(store), modules_(std::move(modules)), batch_(store.batch()) {}
  gs::storage::Batch& batch() override { return batch_; }
  int64_t offset() const override { return offset_; }
  gs::projection::CounterIndex& counters() override { return index_; }
  void start_job(const std::string& tenant, const std::string& counter) override {
    jobs.insert(gs::keys::join(tenant, counter));
  }
  void cancel_job(const std::string& tenant, const std::string& counter) override {
    cancelled.insert(gs::keys::join(tenant, counter));
    jobs.erase(gs::keys::join(tenant, counter));
  }
  void counters_reset(const std::string& tenant, const std::string& goal_id) override {
    for (auto* m : modules_) m->on_counters_reset(tenant, goal_id, *this);
  }

  // Applies `type` with `data` through the module that declares it, and
  // writes the batch.
  gs::Status apply(const std::string& type, json data) {
    ++offset_;
    gs::model::Command cmd{"cmd_" + std::to_string(offset_), type, "acme", 1740787200000LL, data};
    for (auto* m : modules_)
      for (auto t : m->command_types())
        if (t == type) {
          auto st = m->apply(cmd, *this);
          REQUIRE(store_.write(batch_).ok());
          return st;
        }
    FAIL("no module declares " << type);
    return {};
  }

  std::set<std::string> jobs, cancelled;

 private:
  gs::storage::Store& store_;
  std::vector<gs::kernel::Module*> modules_;
  gs::storage::Batch batch_;
  gs::projection::CounterIndex index_;
  int64_t offset_ = 0;
};

std::unique_ptr<gs::storage::Store> fresh(const std::string& name) {
  auto dir = std::filesystem::path(GOALSTREAM_TEST_TMP) / ("modules-" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto s = gs::modules::open_store(dir.string());
  REQUIRE(s.ok());
  return std::move(s).value();
}

json conversion_goal(const std::string& id) {
  return {{"id", id},
          {"name", "Purchases"},
          {"eventType", "purchase"},
          {"createdAt", "2025-03-01T00:00:00Z"}};
}

std::string series(const std::string& goal, const std::string& s) { return goal + '\x1f' + s; }

}  // namespace

TEST_CASE("conversion: defining a goal stores it, counts it and asks for its backfill") {
  auto store = fresh("conversion-define");
  gs::modules::ModuleList modules;
  Context ctx(*store, modules.all());
  REQUIRE(ctx.apply("conversion_goal.defined", conversion_goal("cg_1")).ok());
  auto stored = gs::conversion::goal(*store, "acme", "cg_1");
  REQUIRE(stored.ok());
  REQUIRE(stored->has_value());
  CHECK((**stored)["eventType"] == "purchase");
  CHECK(ctx.counters().find("acme", "cg_1") != nullptr);
  CHECK(ctx.jobs == std::set<std::string>{gs::keys::join("acme", "cg_1")});

  // Invalid: an Error naming the member, nothing stored or counted.
  auto bad = conversion_goal("cg_2");
  bad.erase("eventType");
  auto st = ctx.apply("conversion_goal.defined", bad);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().field == "eventType");
  CHECK_FALSE((*gs::conversion::goal(*store, "acme", "cg_2")).has_value());
  CHECK(ctx.counters().find("acme", "cg_2") == nullptr);
}

TEST_CASE("conversion: deleting a goal removes its row, its cells and its job") {
  auto store = fresh("conversion-delete");
  gs::modules::ModuleList modules;
  Context ctx(*store, modules.all());
  REQUIRE(ctx.apply("conversion_goal.defined", conversion_goal("cg_1")).ok());
  gs::cells::merge_cell(ctx.batch(), gs::keys::cell_prefix("acme", "cg_1") + std::string(8, '\0'),
                        {3, 0, 0});
  REQUIRE(store->write(ctx.batch()).ok());
  REQUIRE((*gs::cells::totals(*store, "acme", "cg_1")).total.count == 3);

  REQUIRE(ctx.apply("conversion_goal.deleted", {{"id", "cg_1"}}).ok());
  CHECK_FALSE((*gs::conversion::goal(*store, "acme", "cg_1")).has_value());
  CHECK((*gs::cells::totals(*store, "acme", "cg_1")).total.count == 0);
  CHECK(ctx.counters().find("acme", "cg_1") == nullptr);
  CHECK(ctx.cancelled.count(gs::keys::join("acme", "cg_1")) == 1);

  auto st = ctx.apply("conversion_goal.deleted", json::object());
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().field == "data.id");
}

TEST_CASE("growth: a metric's series is counted and backfilled, and dropped with its metric") {
  auto store = fresh("growth-series");
  gs::modules::ModuleList modules;
  Context ctx(*store, modules.all());
  REQUIRE(ctx.apply("conversion_goal.defined", conversion_goal("cg_1")).ok());
  ctx.jobs.clear();
  json metric = {{"name", "revenue"},        {"aggregation", "sum"},
                 {"conversionGoal", "cg_1"}, {"property", "amount"},
                 {"window", "month"},        {"createdAt", "2025-03-01T00:00:00Z"}};
  REQUIRE(ctx.apply("metric.defined", metric).ok());
  auto counter = series("cg_1", "sum:amount");
  CHECK(ctx.counters().find("acme", counter) != nullptr);
  CHECK(ctx.jobs == std::set<std::string>{gs::keys::join("acme", counter)});
  CHECK((*gs::growth::metric(*store, "acme", "revenue")).has_value());

  // Redefining the conversion goal restarts the series (dropped, counted
  // again, backfilled again).
  ctx.jobs.clear();
  REQUIRE(ctx.apply("conversion_goal.defined", conversion_goal("cg_1")).ok());
  CHECK(ctx.cancelled.count(gs::keys::join("acme", counter)) == 1);
  CHECK(ctx.jobs.count(gs::keys::join("acme", counter)) == 1);

  gs::cells::merge_cell(ctx.batch(), gs::keys::cell_prefix("acme", counter) + std::string(8, '\0'),
                        {2, 5000000, 0});
  REQUIRE(store->write(ctx.batch()).ok());
  REQUIRE(ctx.apply("metric.deleted", {{"name", "revenue"}}).ok());
  CHECK(ctx.counters().find("acme", counter) == nullptr);
  CHECK((*gs::cells::totals(*store, "acme", counter)).total.count == 0);
  CHECK_FALSE((*gs::growth::metric(*store, "acme", "revenue")).has_value());
}

TEST_CASE(
    "growth: goals are created, patched and deleted; a patch of a missing goal names data.id") {
  auto store = fresh("growth-goals");
  gs::modules::ModuleList modules;
  Context ctx(*store, modules.all());
  json goal = {{"id", "goal_1"},
               {"metric", "revenue"},
               {"target", 100},
               {"deadline", "2025-12-31"},
               {"createdAt", "2025-03-01T00:00:00Z"}};
  REQUIRE(ctx.apply("growth_goal.created", goal).ok());
  REQUIRE((*gs::growth::goal(*store, "acme", "goal_1")).has_value());
  REQUIRE(ctx.apply("growth_goal.updated", {{"id", "goal_1"}, {"target", 250}}).ok());
  CHECK((*gs::growth::goal(*store, "acme", "goal_1"))->target == 250);

  auto st = ctx.apply("growth_goal.updated", {{"id", "goal_9"}, {"target", 1}});
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().field == "data.id");
  CHECK(st.error().message == "no goal goal_9");

  REQUIRE(ctx.apply("growth_goal.deleted", {{"id", "goal_1"}}).ok());
  CHECK_FALSE((*gs::growth::goal(*store, "acme", "goal_1")).has_value());
}

TEST_CASE(
    "the module list: each command type has one owner; the column families are declared once") {
  gs::modules::ModuleList modules;
  std::set<std::string> types;
  for (auto* m : modules.all())
    for (auto t : m->command_types()) CHECK_MESSAGE(types.emplace(t).second, t);
  CHECK(types.count("conversion_goal.defined") == 1);
  CHECK(types.count("metric.defined") == 1);
  std::set<std::string> names;
  for (const auto& cf : gs::modules::column_families())
    CHECK_MESSAGE(names.emplace(cf.name).second, cf.name);
  CHECK(names == std::set<std::string>{"meta", "keys", "goals", "dedup", "agg", "uniq", "growth"});
}
