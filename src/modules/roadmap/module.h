// The roadmap-goal family (docs/api.md: /api/v1/goals) as a module of the
// processor: its column family, the commands that create, change, delete
// goals, record a generated roadmap and update a node, and the members of
// its events (`todo_completed`, `todo_reopened`: goal_id, node_id).
// A node's state is not stored with its goal: it is read from the node's
// signals (signals.h), which the kernel tallies for todo events
// (tally_rules: one cell per millisecond of event time, a deadletter
// notice for an unknown goal or node) and which the node_updated command
// writes in the same cells, so a todo event and a PATCH leave the same state.
#pragma once

#include <string>
#include <unordered_map>

#include "kernel/module.h"
#include "modules/roadmap/announcer.h"
#include "modules/roadmap/model.h"

namespace gs::roadmap {

class Module final : public kernel::Module {
 public:
  std::string_view name() const override { return "roadmap"; }
  std::span<const storage::ColumnFamilySpec> column_families() const override;
  std::span<const std::string_view> command_types() const override;
  // roadmap_goal.created: stores the goal; .updated: applies the patch;
  // .deleted: removes it with its signals. roadmap.generated: stores the
  // roadmap (ids it did not have count signals from the command's
  // issued_at, starting from the state the command carries);
  // roadmap.node_updated: adds the patch's signals at issued_at. An unknown
  // goal or node names data.goal_id / data.node_id. Goals are registered in
  // the tally index with their roadmap's node ids (and at load).
  Status apply(const model::Command& cmd, kernel::CommandContext& ctx) override;
  Status load(const storage::Store& store, kernel::CommandContext& ctx) override;
  std::span<const model::EventMemberRule> event_members() const override;
  std::span<const projection::TallyRule> tally_rules() const override;
  kernel::Announcer* announcer() override { return &announcer_; }

 private:
  void index(kernel::CommandContext& ctx, const RoadmapGoal& g);
  // Processor thread only: the goals as of the last applied command
  // (tenant\0id), as stored (the latest may still be in the batch being
  // written).
  std::unordered_map<std::string, RoadmapGoal> goals_;
  Announcer announcer_;
};

}  // namespace gs::roadmap
