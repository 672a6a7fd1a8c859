#include "http/hub.h"

#include <algorithm>

namespace gs::http {

Hub::Hub(std::chrono::milliseconds interval) : interval_(interval) {}

Hub::~Hub() { stop(); }

void Hub::join(const std::string& tenant, std::weak_ptr<Subscriber> s) {
  std::lock_guard lock(subscribers_mu_);
  auto& list = subscribers_[tenant];
  std::erase_if(list, [](const auto& w) { return w.expired(); });
  list.push_back(std::move(s));
}

size_t Hub::subscribers(const std::string& tenant) const {
  std::lock_guard lock(subscribers_mu_);
  auto it = subscribers_.find(tenant);
  if (it == subscribers_.end()) return 0;
  return std::count_if(it->second.begin(), it->second.end(),
                       [](const auto& w) { return !w.expired(); });
}

size_t Hub::publish(const std::string& tenant, std::string frame) {
  std::vector<std::shared_ptr<Subscriber>> live;
  {
    std::lock_guard lock(subscribers_mu_);
    auto it = subscribers_.find(tenant);
    if (it == subscribers_.end()) return 0;
    for (auto& w : it->second)
      if (auto s = w.lock()) live.push_back(std::move(s));
    if (live.size() != it->second.size()) {
      std::erase_if(it->second, [](const auto& w) { return w.expired(); });
      if (it->second.empty()) subscribers_.erase(it);
    }
  }
  // Sent outside the lock: send() only queues, but a subscriber's last
  // reference may be dropped here, and its destructor must not run under it.
  auto shared = std::make_shared<const std::string>(std::move(frame));
  for (auto& s : live) s->send(shared);
  return live.size();
}

void Hub::notify(const std::unordered_map<std::string, int64_t>& touched) {
  {
    std::lock_guard lock(pending_mu_);
    if (stopping_) return;
    for (const auto& [key, ts] : touched) {
      auto nul = key.find('\0');
      if (nul == std::string::npos) continue;
      auto& changes = pending_[key.substr(0, nul)];
      if (nul + 1 == key.size())
        changes.command = true;
      else
        changes.counters.insert(key.substr(nul + 1));
    }
  }
  cv_.notify_one();
}

void Hub::status_changed(const nlohmann::json& change) {
  auto tenant = change.value("tenant_id", "");
  if (tenant.empty() || subscribers(tenant) == 0) return;
  auto frame = change;
  frame["type"] = "status_changed";
  publish(tenant, frame.dump());
}

void Hub::start(ProgressFn progress) {
  progress_ = std::move(progress);
  thread_ = kernel::spawn("gs-hub", fatal_, [this] { run(); });
}

void Hub::stop() {
  {
    std::lock_guard lock(pending_mu_);
    stopping_ = true;
    pending_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Hub::run() {
  while (true) {
    std::unordered_map<std::string, TenantChanges> round;
    {
      std::unique_lock lock(pending_mu_);
      cv_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
      if (stopping_) return;
      round.swap(pending_);
    }
    for (const auto& [tenant, changes] : round) {
      if (subscribers(tenant) == 0) continue;
      for (auto& frame : progress_(tenant, changes)) publish(tenant, std::move(frame));
    }
    // What arrives meanwhile is merged per tenant and looked at once.
    std::unique_lock lock(pending_mu_);
    cv_.wait_for(lock, interval_, [&] { return stopping_; });
    if (stopping_) return;
  }
}

}  // namespace gs::http
