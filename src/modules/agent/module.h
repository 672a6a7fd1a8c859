// The agent-goal family (docs/api.md: /v1/goals) as a module of the
// processor: its column family, the commands that create, update and
// delete agent goals, and the members of its events (`call_outcome`:
// agent_id, channel_id, call_id, goal_results), which the kernel's event
// parser checks and deadletters with the reason when they are malformed.
// The verdicts a call outcome reports for the tenant's goals are tallied by
// the kernel (tally_rules: projection/tally.h) per goal, verdict, channel
// and 15-minute bucket; periods, rates and statuses are read from those
// cells (periods.h), so a goal's scope and targets apply on read.
#pragma once

#include <string>
#include <unordered_map>

#include "kernel/module.h"
#include "modules/agent/announcer.h"
#include "modules/agent/model.h"

namespace gs::agent {

class Module final : public kernel::Module {
 public:
  explicit Module(growth::PacingThresholds thresholds = {}) : announcer_(thresholds) {}
  std::string_view name() const override { return "agent"; }
  std::span<const storage::ColumnFamilySpec> column_families() const override;
  std::span<const std::string_view> command_types() const override;
  // agent_goal.created: stores the goal (the command holds its API form);
  // agent_goal.updated: applies the patch to the goal as of the last
  // command (an unknown id names data.id); agent_goal.deleted: removes it
  // with its targets and its verdicts' cells. Created goals are registered
  // in the tally index (and at load).
  Status apply(const model::Command& cmd, kernel::CommandContext& ctx) override;
  Status load(const storage::Store& store, kernel::CommandContext& ctx) override;
  std::span<const model::EventMemberRule> event_members() const override;
  std::span<const projection::TallyRule> tally_rules() const override;
  kernel::Announcer* announcer() override { return &announcer_; }

 private:
  // Processor thread only. The goals as of the last applied command (the
  // latest may still be in the batch being written, so a patch cannot read
  // its goal from the store): tenant\0id.
  std::unordered_map<std::string, AgentGoal> goals_;
  Announcer announcer_;
};

}  // namespace gs::agent
