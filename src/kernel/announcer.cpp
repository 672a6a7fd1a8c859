#include "kernel/announcer.h"

#include <algorithm>

#include "base/keys.h"
#include "projection/tally.h"

namespace gs::kernel {

std::set<std::string> touched_tenants(const Touched& changed) {
  std::set<std::string> tenants;
  for (const auto& [k, ts] : changed) tenants.insert(k.substr(0, k.find('\0')));
  return tenants;
}

bool touched_by_command(const Touched& changed, const std::string& tenant) {
  return changed.count(tenant + '\0') > 0;
}

std::unordered_map<std::string, int64_t> touched_tally_entries(const Touched& changed) {
  std::unordered_map<std::string, int64_t> out;
  for (const auto& [k, ts] : changed) {
    auto nul = k.find('\0');
    if (nul == std::string::npos) continue;
    auto parts = projection::split_tally_counter(std::string_view(k).substr(nul + 1));
    if (!parts) continue;
    auto& t = out[keys::join(std::string_view(k).substr(0, nul), parts->name)];
    t = std::max(t, ts);
  }
  return out;
}

}  // namespace gs::kernel
