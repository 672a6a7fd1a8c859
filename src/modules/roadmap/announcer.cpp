#include "modules/roadmap/announcer.h"

#include <algorithm>
#include <set>

#include "base/time.h"
#include "modules/roadmap/keyspace.h"

namespace gs::roadmap {

namespace {

// Only status changes go to the live feed as well (a `status_changed`
// frame, as every family's); node completions and progress reach it as the
// goal's `progress` frame, which shows every node and the progress.

// What is compared between two announcements: progress, status and the
// completed nodes (ids, in node order).
json state_of(const RoadmapGoal& g) {
  json done = json::array();
  if (g.roadmap)
    for (const Node& n : g.roadmap->nodes)
      if (n.completed) done.push_back(n.id);
  return {
      {"progress", progress(g)}, {"status", to_string(status(g))}, {"completed", std::move(done)}};
}

json change(const char* type, const RoadmapGoal& g, const char* cause, int64_t event_time,
            int64_t now) {
  return {{"type", type},
          {"cause", cause},
          {"tenant_id", g.tenant_id},
          {"goal_id", g.id},
          {"progress", progress(g)},
          {"status", to_string(status(g))},
          {"event_time", event_time > 0 ? json(time::format_rfc3339(event_time)) : json(nullptr)},
          {"detected_at", time::format_rfc3339(now)}};
}

}  // namespace

Status Announcer::announce(const storage::Store& store, const kernel::Touched& changed, bool all,
                           int64_t now, storage::Batch& batch,
                           std::vector<kernel::Announcement>& out) {
  kernel::TouchedGoals touched(changed, all);
  auto goals = kernel::goals_touched(
      touched, all, [&] { return all_composed_goals(store); },
      [&](const std::string& tenant) { return tenant_goals(store, tenant); });
  if (!goals.ok()) return goals.error();
  for (const auto& g : *goals) {
    auto trigger = touched.trigger(g.tenant_id, g.id);
    if (!trigger) continue;
    auto [cause, event_time] = *trigger;
    auto before = announced(store, g.tenant_id, g.id);
    if (!before.ok()) return before.error();
    json now_state = state_of(g);
    if (*before && **before == now_state) continue;
    put_announced(batch, g.tenant_id, g.id, now_state);
    if (!*before) continue;  // a new goal: its first state is not a change
    const json& was = **before;
    std::set<std::string> was_done;
    for (const auto& id : was.value("completed", json::array()))
      if (id.is_string()) was_done.insert(id.get<std::string>());
    for (const auto& id : now_state["completed"]) {
      if (was_done.count(id.get<std::string>())) continue;
      auto c = change("roadmap_goal.node_completed", g, cause, event_time, now);
      c["node_id"] = id;
      out.push_back({std::move(c), false});
    }
    if (was.value("progress", -1) != now_state["progress"].get<int>()) {
      auto c = change("roadmap_goal.progress_changed", g, cause, event_time, now);
      c["before"] = was.value("progress", 0);
      c["after"] = now_state["progress"];
      out.push_back({std::move(c), false});
    }
    if (was.value("status", "") != now_state["status"].get<std::string>()) {
      auto c = change("roadmap_goal.status_changed", g, cause, event_time, now);
      c["before"] = was.value("status", "");
      c["after"] = now_state["status"];
      out.push_back({std::move(c), true});
    }
  }
  return {};
}

Result<size_t> Announcer::seed(const storage::Store& store, int64_t, storage::Batch& batch) {
  auto goals = all_composed_goals(store);
  if (!goals.ok()) return goals.error();
  for (const auto& g : *goals) put_announced(batch, g.tenant_id, g.id, state_of(g));
  return goals->size();
}

}  // namespace gs::roadmap
