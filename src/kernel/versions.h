// A version per tenant that changes whenever a durable batch changed what
// the tenant's reads see (a command of the tenant, a cell of one of its
// counters, a backfill hand-over). The API's read cache (http/read_cache.h)
// reuses an answer while its tenant's version is the one the answer was
// computed at. The writer bumps the versions of a batch's tenants before it
// publishes the batch's commands as applied, so a read made after a write
// was answered never gets an answer computed before that write.
#pragma once

#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace gs::kernel {

class TenantVersions {
 public:
  // Gives each tenant named by a key of `touched` ("<tenant>\0…", as
  // ProcessorOptions::on_applied has them) a new version.
  template <class Touched>
  void bump(const Touched& touched) {
    if (touched.empty()) return;
    std::unique_lock lock(mu_);
    ++next_;
    for (const auto& kv : touched) {
      std::string_view key = kv.first;
      versions_[std::string(key.substr(0, key.find('\0')))] = next_;
    }
  }
  // 0 for a tenant no batch has changed since the start.
  uint64_t of(std::string_view tenant) const {
    std::shared_lock lock(mu_);
    auto it = versions_.find(std::string(tenant));
    return it == versions_.end() ? 0 : it->second;
  }

 private:
  mutable std::shared_mutex mu_;  // guards versions_ and next_
  std::unordered_map<std::string, uint64_t> versions_;
  uint64_t next_ = 0;
};

}  // namespace gs::kernel
