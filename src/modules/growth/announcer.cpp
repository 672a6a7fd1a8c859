#include "modules/growth/announcer.h"

#include <cmath>
#include <set>

#include "base/keys.h"
#include "base/time.h"
#include "modules/growth/evaluate.h"
#include "modules/growth/keyspace.h"

namespace gs::growth {

namespace {

using json = nlohmann::json;

// 342, not 342.0, as the API writes numbers.
json whole(double v) {
  if (std::abs(v) < 1e15 && v == std::floor(v)) return static_cast<int64_t>(v);
  return v;
}

json change(const char* type, const growth::GrowthGoal& g, const std::string& before,
            const std::string& after, const GoalEvaluation& e, int64_t event_time,
            const char* cause, int64_t now) {
  return {{"type", type},
          {"cause", cause},
          {"tenant_id", g.tenant_id},
          {"goal_id", g.id},
          {"metric", g.metric},
          {"before", before},
          {"after", after},
          {"current", whole(e.current)},
          {"target", whole(g.target)},
          {"event_time", event_time > 0 ? json(time::format_rfc3339(event_time)) : json(nullptr)},
          {"detected_at", time::format_rfc3339(now)}};
}

}  // namespace

Status Announcer::announce(const storage::Store& store, const kernel::Touched& changed, bool all,
                           int64_t now, storage::Batch& batch,
                           std::vector<kernel::Announcement>& out) {
  std::vector<growth::GrowthGoal> goals;
  if (all) {
    auto read = all_goals(store);
    if (!read.ok()) return read.error();
    goals = std::move(read).value();
  } else {
    std::set<std::string> tenants;
    for (auto& [k, ts] : changed) tenants.insert(k.substr(0, k.find('\0')));
    for (auto& t : tenants) {
      auto read = growth::goals(store, t);
      if (!read.ok()) return read.error();
      for (auto& g : *read) goals.push_back(std::move(g));
    }
  }
  for (const auto& g : goals) {
    int64_t event_time = 0;
    bool by_command = changed.count(g.tenant_id + '\0') > 0;
    bool relevant = all || by_command;
    auto counters = metric_counters(store, g.tenant_id, g.metric);
    if (!counters.ok()) return counters.error();
    for (const auto& counter : *counters) {
      auto it = changed.find(keys::join(g.tenant_id, counter));
      if (it == changed.end()) continue;
      relevant = true;
      event_time = std::max(event_time, it->second);
    }
    if (!relevant) continue;
    auto evaluated = evaluate(store, g, now, thresholds_);
    if (!evaluated.ok()) return evaluated.error();
    const auto& e = *evaluated;
    auto read = status(store, g.tenant_id, g.id);
    if (!read.ok()) return read.error();
    const auto& before = *read;
    if (before == e.status) continue;
    put_status(batch, g.tenant_id, g.id, e.status);
    if (!before) continue;  // a new goal: its first status is not a transition
    const char* cause = event_time > 0 ? "events" : by_command ? "command" : "time";
    out.push_back(
        {change("goal.status_changed", g, *before, e.status, e, event_time, cause, now), true});
    if (e.status == "completed")
      out.push_back(
          {change("goal.completed", g, *before, e.status, e, event_time, cause, now), false});
  }
  return {};
}

Result<size_t> Announcer::seed(const storage::Store& store, int64_t now_ms, storage::Batch& batch) {
  auto goals = all_goals(store);
  if (!goals.ok()) return goals.error();
  for (auto& g : *goals) {
    auto e = evaluate(store, g, now_ms, thresholds_);
    if (!e.ok()) return e.error();
    put_status(batch, g.tenant_id, g.id, e->status);
  }
  return goals->size();
}

}  // namespace gs::growth
