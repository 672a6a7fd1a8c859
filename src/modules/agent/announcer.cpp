#include "modules/agent/announcer.h"

#include <algorithm>
#include <cmath>

#include "base/time.h"
#include "modules/agent/keyspace.h"
#include "modules/agent/progress.h"

namespace gs::agent {

namespace {

// The change message of one target.
json change(const char* type, const AgentGoal& g, const TargetProgress& p, const std::string& tz,
            const std::string& before, const char* cause, int64_t event_time, int64_t now) {
  const auto& t = p.target;
  const auto& e = p.evaluation;
  auto rate = rate_percent(e.counts);
  return {{"type", type},
          {"cause", cause},
          {"tenant_id", g.tenant_id},
          {"goal_id", g.id},
          {"agent_id", g.agent_id},
          {"target_id", t.id},
          {"period", to_string(t.period)},
          {"period_label", period_label(e.bounds, tz)},
          {"target_type", to_string(t.type)},
          {"target_count", t.type == TargetType::count ? json(t.target_count) : json(nullptr)},
          {"target_rate",
           t.type == TargetType::rate ? json(number_json(t.target_rate)) : json(nullptr)},
          {"before", before.empty() ? json(nullptr) : json(before)},
          {"after", to_string(e.status)},
          {"met", e.met},
          {"successes", e.counts.success},
          {"failures", e.counts.failure},
          {"sample_size", e.counts.sample()},
          {"rate", rate ? json(number_json(std::round(*rate * 100) / 100)) : json(nullptr)},
          {"event_time", event_time > 0 ? json(time::format_rfc3339(event_time)) : json(nullptr)},
          {"detected_at", time::format_rfc3339(now)}};
}

json state_of(const TargetProgress& p, const std::string& tz) {
  return {{"period", period_label(p.evaluation.bounds, tz)},
          {"status", to_string(p.evaluation.status)},
          {"met", p.evaluation.met}};
}

}  // namespace

Status Announcer::announce(const storage::Store& store, const kernel::Touched& changed, bool all,
                           int64_t now, storage::Batch& batch,
                           std::vector<kernel::Announcement>& out) {
  kernel::TouchedGoals touched(changed, all);
  auto goals = kernel::goals_touched(
      touched, all, [&] { return all_goals(store); },
      [&](const std::string& tenant) { return tenant_goals(store, tenant); });
  if (!goals.ok()) return goals.error();
  for (const auto& g : *goals) {
    auto trigger = touched.trigger(g.tenant_id, g.id);
    if (!trigger) continue;
    auto [cause, event_time] = *trigger;
    auto tz = time_zone_of(store, g);
    if (!tz.ok()) return tz.error();
    auto targets = progress(store, g, "current", now, thresholds_);
    if (!targets.ok()) return targets.error();
    for (const auto& p : *targets) {
      auto before = announced(store, g.tenant_id, g.id, p.target.id);
      if (!before.ok()) return before.error();
      auto now_state = state_of(p, *tz);
      if (*before && **before == now_state) continue;
      put_announced(batch, g.tenant_id, g.id, p.target.id, now_state);
      if (!*before) continue;  // a new target: its first status is not a transition
      const json& was = **before;
      std::string was_status = was.value("status", "");
      bool same_period = was.value("period", "") == now_state["period"];
      if (was_status != now_state["status"])
        out.push_back({change("agent_goal.target_status_changed", g, p, *tz, was_status, cause,
                              event_time, now),
                       true});
      if (p.evaluation.met && !(same_period && was.value("met", false)))
        out.push_back(
            {change("agent_goal.target_met", g, p, *tz, was_status, cause, event_time, now),
             false});
    }
  }
  return {};
}

Result<size_t> Announcer::seed(const storage::Store& store, int64_t now_ms, storage::Batch& batch) {
  auto goals = all_goals(store);
  if (!goals.ok()) return goals.error();
  for (const auto& g : *goals) {
    auto tz = time_zone_of(store, g);
    if (!tz.ok()) return tz.error();
    auto targets = progress(store, g, "current", now_ms, thresholds_);
    if (!targets.ok()) return targets.error();
    for (const auto& p : *targets)
      put_announced(batch, g.tenant_id, g.id, p.target.id, state_of(p, *tz));
  }
  return goals->size();
}

}  // namespace gs::agent
