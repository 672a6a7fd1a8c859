// Each module's command application against a temporary RocksDB, without
// Kafka: what a command leaves in the store, in the counters ingest matches
// against, and which backfill jobs it asks the processor for.
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "base/keys.h"
#include "base/time.h"
#include "kernel/cells.h"
#include "modules/agent/keyspace.h"
#include "modules/all.h"
#include "modules/conversion/keyspace.h"
#include "modules/conversion/module.h"
#include "modules/growth/keyspace.h"
#include "modules/growth/module.h"
#include "modules/roadmap/keyspace.h"

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
  gs::projection::TallyIndex& tallies() override { return tallies_; }
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
  gs::Status apply(const std::string& type, json data, int64_t issued_at_ms = 1740787200000LL) {
    ++offset_;
    gs::model::Command cmd{"cmd_" + std::to_string(offset_), type, "acme", issued_at_ms, data};
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
  gs::projection::TallyIndex tallies_;
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
  CHECK(names == std::set<std::string>{"meta", "keys", "goals", "dedup", "agg", "uniq", "roll",
                                       "growth", "agent", "roadmap"});
  CHECK(types.count("agent_goal.created") == 1);
}

namespace {

json agent_goal(const std::string& id, const std::string& agent, int64_t created_s = 0) {
  json g =
      json::parse(R"({"agent_id":"","channel_id":null,"title":"Book qualified meeting",)"
                  R"("description":"The call ends with a confirmed meeting time.","active":true,)"
                  R"("goal_targets":[{"id":"target_1","period":"week","target_type":"count",)"
                  R"("target_count":25,"target_rate":null,"is_primary":true,"min_sample":null}]})");
  g["id"] = id;
  g["agent_id"] = agent;
  g["created_at"] = gs::time::format_rfc3339(1740787200000LL + created_s * 1000);
  g["updated_at"] = g["created_at"];
  return g;
}

}  // namespace

TEST_CASE("agent: goals are created, patched (targets replaced) and deleted with their targets") {
  auto store = fresh("agent-goals");
  gs::modules::ModuleList modules;
  Context ctx(*store, modules.all());
  const std::string id = "goal_00000000000000a1";
  REQUIRE(ctx.apply("agent_goal.created", agent_goal(id, "agent_abc123")).ok());
  auto stored = gs::agent::goal(*store, "acme", id);
  REQUIRE(stored.ok());
  REQUIRE(stored->has_value());
  CHECK((*stored)->agent_id == "agent_abc123");
  CHECK((*stored)->targets.size() == 1);
  // The row is the API form, in the reference's member order.
  auto row = store->get(store->cf("agent"), gs::keys::join("acme", id));
  REQUIRE(row.ok());
  REQUIRE(row->has_value());
  CHECK((*row)->starts_with(R"({"id":"goal_00000000000000a1","agent_id":"agent_abc123",)"));

  // A patch applies to the goal as of the last command: two in a row, the
  // second seeing the first.
  json patch =
      json::parse(R"({"id":"goal_00000000000000a1","active":false,"targets":[{"id":"target_2",)"
                  R"("period":"month","target_type":"rate","target_count":null,"target_rate":70,)"
                  R"("is_primary":true,"min_sample":30}]})");
  REQUIRE(ctx.apply("agent_goal.updated", patch).ok());
  REQUIRE(
      ctx.apply("agent_goal.updated", {{"id", id}, {"channel_id", "chan_web"}, {"title", "Booked"}})
          .ok());
  auto g = *gs::agent::goal(*store, "acme", id);
  REQUIRE(g.has_value());
  CHECK_FALSE(g->active);
  CHECK(g->channel_id == "chan_web");
  CHECK(g->title == "Booked");
  REQUIRE(g->targets.size() == 1);
  CHECK(g->targets[0].id == "target_2");
  CHECK(g->targets[0].target_rate == 70);
  CHECK(g->targets[0].min_sample == 30);
  CHECK(g->created_at_ms == 1740787200000LL);
  CHECK(g->updated_at_ms == 1740787200000LL);  // the test's commands' issued_at

  // A patch of a goal that does not exist, or one that does not parse,
  // names the field and leaves the store as it was.
  auto st = ctx.apply("agent_goal.updated", {{"id", "goal_00000000000000ff"}, {"active", true}});
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().field == "data.id");
  CHECK(st.error().message == "no agent goal goal_00000000000000ff");
  st = ctx.apply("agent_goal.updated", {{"id", id}, {"active", "no"}});
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().field == "active");
  st = ctx.apply("agent_goal.created", {{"id", "goal_00000000000000a2"}, {"title", "T"}});
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().field == "agent_id");
  CHECK_FALSE((*gs::agent::goal(*store, "acme", "goal_00000000000000a2")).has_value());
  CHECK_FALSE((*gs::agent::goal(*store, "acme", id))->active);

  REQUIRE(ctx.apply("agent_goal.deleted", {{"id", id}}).ok());
  CHECK_FALSE((*gs::agent::goal(*store, "acme", id)).has_value());
  CHECK(store->get(store->cf("agent"), gs::keys::join("acme", id))->has_value() == false);
  st = ctx.apply("agent_goal.deleted", json::object());
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().field == "data.id");
  // A patch after the delete: the goal is gone for the module too.
  st = ctx.apply("agent_goal.updated", {{"id", id}, {"active", true}});
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().field == "data.id");
}

TEST_CASE("agent: a restarted module loads its goals; lists filter and page in creation order") {
  auto store = fresh("agent-list");
  {
    gs::modules::ModuleList modules;
    Context ctx(*store, modules.all());
    // Ids in the reverse of creation order: the list follows creation.
    for (int i = 0; i < 5; ++i) {
      char id[32];
      std::snprintf(id, sizeof id, "goal_00000000000000%02x", 0xf0 - i);
      auto g = agent_goal(id, i % 2 ? "agent_b" : "agent_a", i);
      if (i == 3) g["channel_id"] = "chan_web";
      if (i == 4) g["active"] = false;
      REQUIRE(ctx.apply("agent_goal.created", g).ok());
    }
  }
  // Another module list (a restart): it patches a goal it loaded.
  gs::modules::ModuleList modules;
  Context ctx(*store, modules.all());
  for (auto* m : modules.all()) REQUIRE(m->load(*store, ctx).ok());
  REQUIRE(
      ctx.apply("agent_goal.updated", {{"id", "goal_00000000000000f0"}, {"title", "First"}}).ok());

  auto ids = [&](const gs::agent::GoalFilter& f, int64_t offset, int64_t limit) {
    auto page = gs::agent::goals(*store, "acme", f, offset, limit);
    REQUIRE(page.ok());
    std::vector<std::string> out;
    for (auto& g : page->goals) out.push_back(g.id.substr(19));
    out.push_back("total " + std::to_string(page->total));
    return out;
  };
  using V = std::vector<std::string>;
  auto filter = [](std::optional<std::string> agent, std::optional<std::string> channel,
                   std::optional<bool> active) {
    gs::agent::GoalFilter f;
    f.agent_id = std::move(agent);
    f.channel_id = std::move(channel);
    f.active = active;
    return f;
  };
  CHECK(ids({}, 0, 20) == V{"f0", "ef", "ee", "ed", "ec", "total 5"});
  CHECK(ids({}, 1, 2) == V{"ef", "ee", "total 5"});
  CHECK(ids({}, 4, 2) == V{"ec", "total 5"});
  CHECK(ids({}, 9, 2) == V{"total 5"});
  CHECK(ids(filter("agent_b", {}, {}), 0, 20) == V{"ef", "ed", "total 2"});
  CHECK(ids(filter({}, "chan_web", {}), 0, 20) == V{"ed", "total 1"});
  CHECK(ids(filter({}, {}, false), 0, 20) == V{"ec", "total 1"});
  CHECK(ids(filter("agent_a", {}, true), 0, 1) == V{"f0", "total 2"});
  CHECK(ids(filter("agent_z", {}, {}), 0, 20) == V{"total 0"});
  CHECK((*gs::agent::goal(*store, "acme", "goal_00000000000000f0"))->title == "First");
  // Another tenant's goals are not in the list.
  auto other = gs::agent::goals(*store, "globex", {}, 0, 20);
  REQUIRE(other.ok());
  CHECK(other->total == 0);
}

TEST_CASE("agent: an unreadable row is an error for a read, a list and a load, never a skip") {
  auto store = fresh("agent-unreadable");
  auto b = store->batch();
  b.put(store->cf("agent"), gs::keys::join("acme", "goal_00000000000000a1"), "{not json");
  REQUIRE(store->write(b).ok());
  auto one = gs::agent::goal(*store, "acme", "goal_00000000000000a1");
  REQUIRE_FALSE(one.ok());
  CHECK(one.error().field == "data-dir");
  CHECK(one.error().message.find("unreadable agent goal row") != std::string::npos);
  CHECK_FALSE(gs::agent::goals(*store, "acme", {}, 0, 20).ok());
  gs::modules::ModuleList modules;
  Context ctx(*store, modules.all());
  bool loaded = true;
  for (auto* m : modules.all())
    if (m->name() == "agent") loaded = m->load(*store, ctx).ok();
  CHECK_FALSE(loaded);
  CHECK(store->unreadable_rows() >= 1);
}

TEST_CASE("agent: the digest of a store without agent goals is what it was before the family") {
  // The same conversion goal in a store with every column family, and in
  // one opened without `agent`, as a goalstream before the family had it.
  auto with_agent = fresh("agent-digest");
  auto dir = std::filesystem::path(GOALSTREAM_TEST_TMP) / "modules-agent-digest-before";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::vector<gs::storage::ColumnFamilySpec> older;
  for (const auto& cf : gs::modules::column_families())
    if (cf.name != "agent") older.push_back(cf);
  auto opened = gs::storage::Store::open(dir.string(), older);
  REQUIRE(opened.ok());
  auto without_agent = std::move(opened).value();
  for (auto* s : {with_agent.get(), without_agent.get()}) {
    auto goal = gs::conversion::conversion_goal_from_json(conversion_goal("cg_1"), "acme");
    REQUIRE(goal.ok());
    auto b = s->batch();
    gs::conversion::put_goal(b, *goal);
    REQUIRE(s->write(b).ok());
  }
  auto before = without_agent->digest();
  CHECK(with_agent->digest() == before);

  // Agent goals enter the digest; once gone, it is the old one again.
  gs::modules::ModuleList modules;
  Context ctx(*with_agent, modules.all());
  REQUIRE(ctx.apply("agent_goal.created", agent_goal("goal_00000000000000a1", "agent_a")).ok());
  CHECK(with_agent->digest() != before);
  REQUIRE(ctx.apply("agent_goal.deleted", {{"id", "goal_00000000000000a1"}}).ok());
  CHECK(with_agent->digest() == before);
}

TEST_CASE(
    "roadmap: a goal is created, gets a roadmap, its nodes change by signals, and is deleted") {
  auto store = fresh("roadmap-goals");
  gs::modules::ModuleList modules;
  Context ctx(*store, modules.all());
  const std::string id = "goal_00000000000000b1";
  const int64_t t0 = 1740787200000LL;
  json created = {{"id", id},
                  {"title", "Run a marathon"},
                  {"description", nullptr},
                  {"target_date", nullptr},
                  {"roadmap", nullptr},
                  {"abandoned", false},
                  {"created_at", gs::time::format_rfc3339(t0)},
                  {"updated_at", gs::time::format_rfc3339(t0)}};
  REQUIRE(ctx.apply("roadmap_goal.created", created, t0).ok());

  json roadmap = json::parse(R"({"nodes":[{"id":"a","label":"Base"},{"id":"b","label":"Long runs"},
      {"id":"c","label":"Race"}],"edges":[{"source":"a","target":"b"},{"source":"b","target":"c"}]})");
  auto with_roadmap = created;
  with_roadmap["roadmap"] = roadmap;
  auto st = ctx.apply("roadmap_goal.created", with_roadmap, t0);
  CHECK(st.error().field == "data.roadmap");
  CHECK(st.error().message == "must be null: roadmaps are generated");
  REQUIRE(ctx.apply("roadmap.generated", {{"goal_id", id}, {"roadmap", roadmap}}, t0 + 1000).ok());
  auto read = [&] {
    auto g = gs::roadmap::goal(*store, "acme", id);
    REQUIRE(g.ok());
    REQUIRE(g->has_value());
    return **g;
  };
  CHECK(gs::roadmap::progress(read()) == 0);
  std::string scratch;
  const auto* entry = ctx.tallies().find("acme", id, scratch);
  REQUIRE(entry != nullptr);
  CHECK(entry->declares("b"));
  CHECK_FALSE(entry->declares("zz"));

  // a PATCH completes a; a todo event (the same cell, as ingest writes it)
  // reopens it later; completing b at an earlier time than its reopening
  // still counts.
  auto patch = [&](const char* node, bool done, int64_t at) {
    return ctx.apply("roadmap.node_updated",
                     {{"goal_id", id}, {"node_id", node}, {"completed", done}}, at);
  };
  REQUIRE(patch("a", true, t0 + 2000).ok());
  CHECK(gs::roadmap::progress(read()) == 33);
  CHECK(read().updated_at_ms == t0 + 2000);
  {
    auto b = store->batch();
    gs::roadmap::add_signal(b, "acme", id, "a", gs::roadmap::Signal::reopened, t0 + 3000);
    REQUIRE(store->write(b).ok());
  }
  CHECK(gs::roadmap::progress(read()) == 0);
  REQUIRE(patch("b", true, t0 + 2500).ok());
  REQUIRE(patch("a", true, t0 + 4000).ok());
  CHECK(gs::roadmap::progress(read()) == 67);
  CHECK(gs::roadmap::status(read()) == gs::roadmap::GoalStatus::active);
  REQUIRE(patch("c", true, t0 + 5000).ok());
  CHECK(gs::roadmap::progress(read()) == 100);
  CHECK(gs::roadmap::status(read()) == gs::roadmap::GoalStatus::completed);
  st = patch("zz", true, t0 + 5000);
  CHECK(st.error().field == "data.node_id");
  CHECK(st.error().message == "roadmap goal " + id + " has no node zz");

  // regenerating: kept ids keep their state; a new id starts from the
  // state the command carries (the API merged it by label).
  json fresh_map = json::parse(R"({"nodes":[{"id":"a","label":"Base"},{"id":"x","label":"Long runs",
      "completed":true},{"id":"y","label":"Taper"},{"id":"c","label":"Race"}],
      "edges":[{"source":"a","target":"x"},{"source":"x","target":"y"},{"source":"y","target":"c"}]})");
  REQUIRE(
      ctx.apply("roadmap.generated", {{"goal_id", id}, {"roadmap", fresh_map}}, t0 + 6000).ok());
  auto g = read();
  REQUIRE(g.roadmap->nodes.size() == 4);
  CHECK(g.roadmap->nodes[0].completed);
  CHECK(g.roadmap->nodes[1].completed);
  CHECK_FALSE(g.roadmap->nodes[2].completed);
  CHECK(g.roadmap->nodes[3].completed);
  CHECK(gs::roadmap::progress(g) == 75);
  // the stored roadmap holds no state: it lives in the signals
  auto stored = gs::roadmap::stored_goal(*store, "acme", id);
  REQUIRE(stored.ok());
  CHECK_FALSE((**stored).roadmap->nodes[1].completed);
  CHECK((**stored).node_since.at("x") == t0 + 6000);
  CHECK((**stored).node_since.at("a") == t0 + 1000);

  REQUIRE(ctx.apply("roadmap_goal.updated", {{"id", id}, {"status", "abandoned"}}, t0 + 7000).ok());
  CHECK(gs::roadmap::status(read()) == gs::roadmap::GoalStatus::abandoned);
  REQUIRE(ctx.apply("roadmap_goal.deleted", {{"id", id}}, t0 + 8000).ok());
  CHECK_FALSE((*gs::roadmap::goal(*store, "acme", id)).has_value());
  auto left = gs::roadmap::goal_signals(*store, "acme", id);
  REQUIRE(left.ok());
  CHECK(left->empty());
  CHECK(ctx.tallies().find("acme", id, scratch) == nullptr);
  st = ctx.apply("roadmap.generated", {{"goal_id", id}, {"roadmap", roadmap}}, t0 + 9000);
  CHECK(st.error().field == "data.goal_id");
}
