// Computes a growth goal's `current`, `expected`, `forecast` and `status`
// (docs/api.md: /api/goals) from the store at an instant. Read-only and thread-safe; the
// API and the changes publisher both use it, so they always agree.
//
// Rules (docs/api.md, "Pacing"):
// - The goal runs from local midnight of `start` (default: the day of
//   createdAt) to the end of the `deadline` day, in the tenant's time zone.
//   After the deadline it is evaluated at its last instant (the final value).
// - `current` is the metric over its window containing that instant; a
//   metric that is not defined (yet) reads 0, and so does a ratio with a zero
//   denominator.
// - Pacing compares `current` with target × elapsed / span over the metric's
//   window (the goal's span for `span`), see growth::pace().
// - A manual status (PATCH) wins over the computed one until cleared.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/result.h"
#include "modules/growth/model.h"
#include "modules/growth/pacing.h"
#include "storage/store.h"

namespace gs::growth {

using storage::Store;

struct GoalEvaluation {
  double current = 0;
  bool metric_defined = false;
  growth::Pacing pacing;    // computed status, expected, forecast
  std::string status;       // the effective status: manual or computed
  growth::Interval period;  // the window `current` covers
};

// Errors: an unreadable row (Store::unreadable) or an I/O failure.
Result<GoalEvaluation> evaluate(const Store& store, const growth::GrowthGoal& goal, int64_t now_ms,
                                const growth::PacingThresholds& thresholds);

// The value of metric `name` of `tenant` at `at_ms` for a goal spanning
// [span_start_ms, end of deadline_date); nullopt when the metric is not defined.
Result<std::optional<double>> metric_value(const Store& store, const std::string& tenant,
                                           const std::string& name, int64_t at_ms,
                                           const std::string& tz, int64_t span_start_ms,
                                           int64_t deadline_date,
                                           growth::Interval* period = nullptr, int depth = 0);

// The counters (a conversion goal or one of its series) whose changes can move metric
// `name`, following ratios; used to tell which event time caused a change.
Result<std::vector<std::string>> metric_counters(const Store& store, const std::string& tenant,
                                                 const std::string& name, int depth = 0);

}  // namespace gs::growth
