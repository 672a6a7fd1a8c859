// Reading an agent goal's progress (docs/api.md#agent-goal-progress): its
// verdicts from the kernel's cells (the tally of counter
// <goal_id>\x1f<verdict>\x1f<channel_id>, per 15-minute bucket), summed per
// period and channel, then each target evaluated (periods.h). The goal's
// scope (its channel) applies here, on read, so a PATCH of channel_id or of
// the targets shows at once over every verdict kept.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "modules/agent/model.h"
#include "modules/agent/periods.h"
#include "modules/growth/pacing.h"
#include "storage/store.h"

namespace gs::agent {

// Verdicts of one period: in the goal's scope (`total`) and per channel
// ("" for calls without one), every channel whether in scope or not.
struct PeriodVerdicts {
  Verdicts total;
  std::map<std::string, Verdicts> channels;
};

// The verdicts of goal `g` in each of `periods` (any order), in one scan of
// its cells.
Result<std::vector<PeriodVerdicts>> period_verdicts(const storage::Store& s, const AgentGoal& g,
                                                    std::span<const PeriodBounds> periods);

// The time zone of a goal's periods: its own, else the tenant's
// (/api/settings), which is UTC until set.
Result<std::string> time_zone_of(const storage::Store& s, const AgentGoal& g);

struct TargetProgress {
  Target target;
  TargetEvaluation evaluation;
  std::map<std::string, Verdicts> channels;
};
// Every target of `g` in the period `which` names (current, previous, a
// date: periods.h period_named) at `now_ms`. Error naming "period" or
// "timezone".
Result<std::vector<TargetProgress>> progress(const storage::Store& s, const AgentGoal& g,
                                             std::string_view which, int64_t now_ms,
                                             const growth::PacingThresholds& thresholds);

}  // namespace gs::agent
