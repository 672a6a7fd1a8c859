#include "kernel/handoff.h"

#include <algorithm>

namespace gs::kernel {

void AppliedOffsets::reset(int64_t next) {
  std::lock_guard lock(mu_);
  next_ = next;
}

void AppliedOffsets::publish(int64_t next) {
  {
    std::lock_guard lock(mu_);
    next_ = std::max(next_, next);
  }
  cv_.notify_all();
}

int64_t AppliedOffsets::next() const {
  std::lock_guard lock(mu_);
  return next_;
}

void AppliedOffsets::wake() {
  { std::lock_guard lock(mu_); }
  cv_.notify_all();
}

std::deque<Partial> BackfillHandoff::take() {
  std::deque<Partial> out;
  std::lock_guard lock(mu_);
  out.swap(partials_);
  return out;
}

void BackfillHandoff::publish(uint64_t seq, bool wake_backfill) {
  {
    std::lock_guard lock(mu_);
    applied_seq_ = std::max(applied_seq_, seq);
    if (wake_backfill) wake_ = true;
  }
  cv_.notify_all();
}

void BackfillHandoff::cancel(const std::string& job) {
  std::lock_guard lock(mu_);
  cancelled_.insert(job);
}

bool BackfillHandoff::cancelled(const std::string& job) const {
  std::lock_guard lock(mu_);
  return cancelled_.count(job) > 0;
}

void BackfillHandoff::set_status(const std::string& job, int64_t scanned, int64_t total) {
  std::lock_guard lock(mu_);
  status_[job] = {scanned, total};
}

void BackfillHandoff::clear_status(const std::string& job) {
  std::lock_guard lock(mu_);
  status_.erase(job);
}

std::optional<std::pair<int64_t, int64_t>> BackfillHandoff::status(const std::string& job) const {
  std::lock_guard lock(mu_);
  auto it = status_.find(job);
  if (it == status_.end()) return std::nullopt;
  return it->second;
}

void BackfillHandoff::wake() {
  { std::lock_guard lock(mu_); }
  cv_.notify_all();
}

}  // namespace gs::kernel
