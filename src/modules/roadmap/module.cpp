#include "modules/roadmap/module.h"

#include <algorithm>

#include "base/keys.h"
#include "modules/roadmap/keyspace.h"
#include "modules/roadmap/signals.h"

namespace gs::roadmap {

namespace {

using Kind = model::EventMemberRule::Kind;
const model::EventMemberRule kMembers[] = {
    {"goal_id", Kind::id, nullptr, "todo_completed"},
    {"node_id", Kind::id, nullptr, "todo_completed"},
    {"goal_id", Kind::id, nullptr, "todo_reopened"},
    {"node_id", Kind::id, nullptr, "todo_reopened"},
};

constexpr std::string_view kCompleted[] = {kSignalNames[0]};
constexpr std::string_view kReopened[] = {kSignalNames[1]};
const projection::TallyRule kTallies[] = {
    {"todo_completed", "", "goal_id", "", kCompleted, "", "node_id", true, true, "roadmap goal",
     "node"},
    {"todo_reopened", "", "goal_id", "", kReopened, "", "node_id", true, true, "roadmap goal",
     "node"},
};

namespace type = command_type;
const std::string_view kCommands[] = {type::roadmap_goal_created, type::roadmap_goal_updated,
                                      type::roadmap_goal_deleted, type::roadmap_generated,
                                      type::roadmap_node_updated};

Error no_goal(const std::string& field, const std::string& id) {
  return Error{ErrorCode::not_found, field, "no roadmap goal " + id};
}

}  // namespace

std::span<const model::EventMemberRule> Module::event_members() const { return kMembers; }

std::span<const projection::TallyRule> Module::tally_rules() const { return kTallies; }

std::span<const storage::ColumnFamilySpec> Module::column_families() const {
  return roadmap::column_families();
}

std::span<const std::string_view> Module::command_types() const { return kCommands; }

void Module::index(kernel::CommandContext& ctx, const RoadmapGoal& g) {
  ctx.tallies().add(g.tenant_id, g.id);
  std::vector<std::string> nodes;
  if (g.roadmap)
    for (const auto& n : g.roadmap->nodes) nodes.push_back(n.id);
  ctx.tallies().declare(g.tenant_id, g.id, std::move(nodes));
}

Status Module::apply(const model::Command& cmd, kernel::CommandContext& ctx) {
  const auto& tenant = cmd.tenant_id;
  if (cmd.type == type::roadmap_goal_created) {
    auto g = goal_from_stored(cmd.data, tenant);
    if (!g.ok()) return invalid("data." + g.error().field, g.error().message);
    if (g->roadmap) return invalid("data.roadmap", "must be null: roadmaps are generated");
    put_goal(ctx.batch(), *g);
    index(ctx, *g);
    goals_[keys::join(tenant, g->id)] = std::move(g).value();
    return {};
  }
  if (cmd.type == type::roadmap_goal_updated) {
    auto patch = patch_from_json(cmd.data);
    if (!patch.ok()) return patch.error();
    auto it = goals_.find(keys::join(tenant, patch->id));
    if (it == goals_.end()) return no_goal("data.id", patch->id);
    it->second = roadmap::apply(std::move(it->second), *patch, cmd.issued_at_ms);
    put_goal(ctx.batch(), it->second);
    return {};
  }
  if (cmd.type == type::roadmap_goal_deleted) {
    auto id = cmd.data.find("id");
    if (id == cmd.data.end() || !id->is_string() || id->get_ref<const std::string&>().empty())
      return invalid("data.id", "is required");
    const auto& goal_id = id->get_ref<const std::string&>();
    goals_.erase(keys::join(tenant, goal_id));
    delete_goal(ctx.batch(), tenant, goal_id);
    ctx.tallies().remove(tenant, goal_id);
    return {};
  }
  if (cmd.type == type::roadmap_generated) {
    auto gen = generated_from_json(cmd.data);
    if (!gen.ok()) return gen.error();
    auto it = goals_.find(keys::join(tenant, gen->goal_id));
    if (it == goals_.end()) return no_goal("data.goal_id", gen->goal_id);
    RoadmapGoal& g = it->second;
    // A node id the goal's roadmap already had keeps its signals and its
    // since; a new one counts signals from now on, starting from the state
    // the command carries (that of the old node it replaces, by label).
    NodeSince since;
    for (Node& n : gen->roadmap.nodes) {
      auto old = g.node_since.find(n.id);
      bool kept = g.roadmap && old != g.node_since.end() &&
                  std::any_of(g.roadmap->nodes.begin(), g.roadmap->nodes.end(),
                              [&](const Node& o) { return o.id == n.id; });
      if (kept) {
        since.emplace(n.id, old->second);
      } else {
        since.emplace(n.id, cmd.issued_at_ms);
        for (Signal s : base_signals({n.completed, n.skipped}))
          add_signal(ctx.batch(), tenant, g.id, n.id, s, cmd.issued_at_ms);
      }
      n.completed = n.skipped = false;  // state lives in the signals
    }
    g.roadmap = std::move(gen->roadmap);
    g.node_since = std::move(since);
    g.updated_at_ms = cmd.issued_at_ms;
    put_goal(ctx.batch(), g);
    index(ctx, g);
    return {};
  }
  auto patch = node_patch_from_json(cmd.data);
  if (!patch.ok()) return patch.error();
  auto it = goals_.find(keys::join(tenant, patch->goal_id));
  if (it == goals_.end()) return no_goal("data.goal_id", patch->goal_id);
  const RoadmapGoal& g = it->second;
  if (!g.roadmap || std::none_of(g.roadmap->nodes.begin(), g.roadmap->nodes.end(),
                                 [&](const Node& n) { return n.id == patch->node_id; }))
    return Error{ErrorCode::not_found, "data.node_id",
                 "roadmap goal " + g.id + " has no node " + patch->node_id};
  for (Signal s : signals_of(*patch))
    add_signal(ctx.batch(), tenant, g.id, patch->node_id, s, cmd.issued_at_ms);
  return {};
}

Status Module::load(const storage::Store& store, kernel::CommandContext& ctx) {
  auto all = all_goals(store);
  if (!all.ok()) return all.error();
  for (auto& g : *all) {
    index(ctx, g);
    goals_[keys::join(g.tenant_id, g.id)] = std::move(g);
  }
  return {};
}

}  // namespace gs::roadmap
