#include "modules/agent/progress.h"

#include <algorithm>
#include <climits>

#include "kernel/cells.h"
#include "kernel/state.h"
#include "projection/projection.h"
#include "projection/tally.h"

namespace gs::agent {

Result<std::vector<PeriodVerdicts>> period_verdicts(const storage::Store& s, const AgentGoal& g,
                                                    std::span<const PeriodBounds> periods) {
  std::vector<PeriodVerdicts> out(periods.size());
  if (periods.empty()) return out;
  // The buckets the periods span (every UTC offset is a whole number of
  // 15-minute buckets, so period bounds are bucket bounds).
  int64_t from = INT64_MAX, to = INT64_MIN;
  for (const auto& p : periods) {
    from = std::min(from, projection::bucket_of(p.start_ms));
    to = std::max(to, projection::bucket_of(p.end_ms - 1) + 1);
  }
  std::optional<Error> bad;
  auto st = cells::each_cell(
      s, g.tenant_id, projection::tally_prefix(g.id), from, to,
      [&](std::string_view counter, int64_t bucket, const projection::Cell& cell) {
        auto parts = projection::split_tally_counter(counter);
        auto verdict = parts ? parse_verdict(parts->outcome) : std::nullopt;
        if (!verdict) {
          if (!bad)
            bad = s.unreadable("verdict cell", counter, "not <goal>\x1f<verdict>\x1f<channel>");
          return;
        }
        int64_t t = bucket * projection::kBucketMs;
        bool in_scope = !g.channel_id || *g.channel_id == parts->breakdown;
        for (size_t i = 0; i < periods.size(); ++i) {
          if (!periods[i].contains(t)) continue;
          out[i].channels[std::string(parts->breakdown)].add(*verdict, cell.count);
          if (in_scope) out[i].total.add(*verdict, cell.count);
        }
      });
  if (!st.ok()) return st.error();
  if (bad) return *bad;
  return out;
}

Result<std::string> time_zone_of(const storage::Store& s, const AgentGoal& g) {
  if (g.timezone) return *g.timezone;
  return state::timezone(s, g.tenant_id);
}

Result<std::vector<TargetProgress>> progress(const storage::Store& s, const AgentGoal& g,
                                             std::string_view which, int64_t now_ms,
                                             const growth::PacingThresholds& thresholds) {
  auto tz = time_zone_of(s, g);
  if (!tz.ok()) return tz.error();
  std::vector<PeriodBounds> bounds;
  for (const auto& t : g.targets) {
    auto b = period_named(t.period, which, now_ms, *tz, g.week_start);
    if (!b.ok()) return b.error();
    bounds.push_back(*b);
  }
  auto verdicts = period_verdicts(s, g, bounds);
  if (!verdicts.ok()) return verdicts.error();
  std::vector<TargetProgress> out;
  for (size_t i = 0; i < g.targets.size(); ++i) {
    auto& v = (*verdicts)[i];
    out.push_back({g.targets[i], evaluate(g.targets[i], bounds[i], v.total, now_ms, thresholds),
                   std::move(v.channels)});
  }
  return out;
}

}  // namespace gs::agent
