#include "kernel/announcer.h"

#include <algorithm>

#include "base/keys.h"
#include "projection/tally.h"

namespace gs::kernel {

TouchedGoals::TouchedGoals(const Touched& changed, bool all) : all_(all) {
  for (const auto& [k, ts] : changed) {
    auto nul = k.find('\0');
    std::string tenant = k.substr(0, nul);
    tenants_.insert(tenant);
    if (nul == std::string::npos) continue;
    if (nul + 1 == k.size()) {  // "<tenant>\0": the tenant had commands
      commands_.insert(tenant);
      continue;
    }
    auto parts = projection::split_tally_counter(std::string_view(k).substr(nul + 1));
    if (!parts) continue;
    auto& t = entries_[keys::join(tenant, parts->name)];
    t = std::max(t, ts);
  }
}

std::optional<TouchedGoals::Trigger> TouchedGoals::trigger(const std::string& tenant,
                                                           const std::string& goal_id) const {
  if (auto ev = entries_.find(keys::join(tenant, goal_id)); ev != entries_.end())
    return Trigger{"events", ev->second};
  if (commands_.count(tenant)) return Trigger{"command", 0};
  if (all_) return Trigger{"time", 0};
  return std::nullopt;
}

}  // namespace gs::kernel
