// The agent module's announcements on the changes topic: per target of a
// goal, in its current period, agent_goal.target_status_changed when the
// status moves (also when a new period starts with another status) and
// agent_goal.target_met when the target becomes met in a period. What was
// last announced is kept in `meta` (keyspace.h) in the same batch as the
// outbox entry, so each goes out once (kernel/changes.h).
#pragma once

#include "kernel/announcer.h"
#include "modules/growth/pacing.h"

namespace gs::agent {

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

}  // namespace gs::agent
