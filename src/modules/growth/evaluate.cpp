#include "modules/growth/evaluate.h"

#include <algorithm>

#include "base/time.h"
#include "base/zone.h"
#include "kernel/cells.h"
#include "kernel/state.h"
#include "modules/growth/keyspace.h"
#include "projection/projection.h"

namespace gs::growth {
namespace {

constexpr int kMaxRatioDepth = 4;  // ratios of ratios; deeper (or circular) reads 0

int64_t ceil_bucket(int64_t ms) { return (ms + projection::kBucketMs - 1) / projection::kBucketMs; }

}  // namespace

Result<std::optional<double>> metric_value(const Store& store, const std::string& tenant,
                                           const std::string& name, int64_t at_ms,
                                           const std::string& tz, int64_t span_start_ms,
                                           int64_t deadline_date, growth::Interval* period,
                                           int depth) {
  if (depth > kMaxRatioDepth) return std::optional<double>(0.0);
  auto read = metric(store, tenant, name);
  if (!read.ok()) return read.error();
  const auto& m = *read;
  if (!m) return std::optional<double>();
  auto window = growth::parse_window(m->window);
  if (!window.ok()) return std::optional<double>();
  auto interval = growth::window_at(*window, at_ms, tz, span_start_ms, deadline_date);
  if (!interval.ok()) return std::optional<double>();
  if (period) *period = *interval;
  if (m->aggregation == "ratio") {
    auto num = metric_value(store, tenant, m->numerator, at_ms, tz, span_start_ms, deadline_date,
                            nullptr, depth + 1);
    if (!num.ok()) return num.error();
    auto den = metric_value(store, tenant, m->denominator, at_ms, tz, span_start_ms, deadline_date,
                            nullptr, depth + 1);
    if (!den.ok()) return den.error();
    return std::optional<double>(
        growth::ratio_percent(num->value_or(0), den->value_or(0)).value_or(0));
  }
  // Calendar and span windows start and end on 15-minute boundaries; a
  // rolling window covers the N×96 buckets ending with the current one.
  int64_t from = ceil_bucket(std::max<int64_t>(interval->start_ms, 0));
  int64_t to = ceil_bucket(std::max<int64_t>(interval->end_ms, 0));
  auto series = growth::series_of(*m).value_or("");
  auto target = projection::counter_id(m->conversion_goal, series);
  if (m->aggregation == "unique") {
    auto n = cells::unique_subjects(store, tenant, target, from, to);
    if (!n.ok()) return n.error();
    return std::optional<double>(static_cast<double>(*n));
  }
  auto cell = cells::sum(store, tenant, target, from, to);
  if (!cell.ok()) return cell.error();
  if (m->aggregation == "count") return std::optional<double>(static_cast<double>(cell->count));
  return std::optional<double>(projection::micros_to_value(cell->sum_micros));
}

Result<std::vector<std::string>> metric_counters(const Store& store, const std::string& tenant,
                                                 const std::string& name, int depth) {
  using Counters = std::vector<std::string>;
  if (depth > kMaxRatioDepth) return Counters{};
  auto read = metric(store, tenant, name);
  if (!read.ok()) return read.error();
  const auto& m = *read;
  if (!m) return Counters{};
  if (m->aggregation == "ratio") {
    auto a = metric_counters(store, tenant, m->numerator, depth + 1);
    if (!a.ok()) return a.error();
    auto b = metric_counters(store, tenant, m->denominator, depth + 1);
    if (!b.ok()) return b.error();
    a->insert(a->end(), b->begin(), b->end());
    return a;
  }
  return Counters{projection::counter_id(m->conversion_goal, growth::series_of(*m).value_or(""))};
}

Result<GoalEvaluation> evaluate(const Store& store, const growth::GrowthGoal& goal, int64_t now_ms,
                                const growth::PacingThresholds& thresholds) {
  GoalEvaluation out;
  auto zone = state::timezone(store, goal.tenant_id);
  if (!zone.ok()) return zone.error();
  const std::string& tz = *zone;
  // Default start: the day the goal was created, or its deadline day when it
  // was created after the deadline (an empty span would pace nothing).
  int64_t start_date =
      goal.start_date
          ? *goal.start_date
          : std::min(goal.deadline_date,
                     time::local_date(goal.created_at_ms, tz)
                         .value_or(time::floor_div(goal.created_at_ms, time::kMsPerDay)));
  int64_t start_ms = time::start_of_day(start_date, tz).value_or(start_date * time::kMsPerDay);
  int64_t end_ms = time::start_of_day(goal.deadline_date + 1, tz)
                       .value_or((goal.deadline_date + 1) * time::kMsPerDay);
  int64_t at = std::min(now_ms, end_ms - 1);
  growth::Interval period{start_ms, end_ms};
  auto value = metric_value(store, goal.tenant_id, goal.metric, at, tz, start_ms,
                            goal.deadline_date, &period);
  if (!value.ok()) return value.error();
  out.metric_defined = value->has_value();
  out.current = value->value_or(0);
  out.period = period;
  out.pacing =
      growth::pace(out.current, goal.target, period.start_ms, period.end_ms, at, thresholds);
  out.status = goal.status_override ? *goal.status_override
                                    : std::string(growth::to_string(out.pacing.status));
  return out;
}

}  // namespace gs::growth
