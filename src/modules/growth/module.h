// The growth family (docs/api.md: /api/goals, /api/metrics) as a module of
// the processor: growth goals and metrics, and the series of counters the
// metrics need (a "sum:<path>" or "unique" series over a conversion goal's
// matches), kept, backfilled and dropped as metrics come and go.
#pragma once

#include <map>
#include <set>
#include <string>
#include <unordered_map>

#include "kernel/module.h"
#include "modules/growth/announcer.h"
#include "modules/growth/model.h"

namespace gs::growth {

class Module final : public kernel::Module {
 public:
  explicit Module(growth::PacingThresholds thresholds) : announcer_(thresholds) {}
  std::string_view name() const override { return "growth"; }
  std::span<const std::string_view> command_types() const override;
  Status apply(const model::Command& cmd, kernel::CommandContext& ctx) override;
  void on_counters_reset(const std::string& tenant, const std::string& goal_id,
                         kernel::CommandContext& ctx) override;
  Status load(const storage::Store& store, kernel::CommandContext& ctx) override;
  kernel::Announcer* announcer() override { return &announcer_; }

 private:
  void sync_series(const std::string& tenant, kernel::CommandContext& ctx,
                   const std::string& reset_goal = "");
  bool add_series(const std::string& tenant, const std::string& counter,
                  kernel::CommandContext& ctx);
  void drop_series(const std::string& tenant, const std::string& counter,
                   kernel::CommandContext& ctx);

  // Processor thread only. Growth goals and metrics as of the last applied
  // command (the latest state may still be in the batch being written).
  std::unordered_map<std::string, growth::GrowthGoal> goals_;  // tenant\0id
  std::unordered_map<std::string, std::map<std::string, growth::Metric>> metrics_by_tenant_;
  // Series kept because a metric asks for them: tenant\0counter.
  std::set<std::string> active_series_;
  Announcer announcer_;
};

}  // namespace gs::growth
