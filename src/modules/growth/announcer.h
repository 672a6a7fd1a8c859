// The growth module's announcements: a growth goal's status transitions
// (goal.status_changed, and goal.completed on reaching completed), recorded
// in `st/` (keyspace.h) in the same batch as the outbox entry.
#pragma once

#include "kernel/announcer.h"
#include "modules/growth/pacing.h"

namespace gs::growth {

class Announcer final : public kernel::Announcer {
 public:
  explicit Announcer(growth::PacingThresholds thresholds) : thresholds_(thresholds) {}
  Status announce(const storage::Store& store, const kernel::Touched& changed, bool all,
                  int64_t now_ms, storage::Batch& batch,
                  std::vector<kernel::Announcement>& out) override;
  Result<size_t> seed(const storage::Store& store, int64_t now_ms, storage::Batch& batch) override;

 private:
  const growth::PacingThresholds thresholds_;
};

}  // namespace gs::growth
