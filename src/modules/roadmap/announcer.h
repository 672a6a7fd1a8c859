// The roadmap module's announcements on the changes topic (docs/api.md,
// "Roadmap goals: changes"): per goal, roadmap_goal.node_completed for each
// node that became completed, roadmap_goal.progress_changed when its
// progress moves and roadmap_goal.status_changed when its status does
// (active -> completed is the goal's completion). What was last announced
// is kept in `meta` (keyspace.h) in the same batch as the outbox entry, so
// each goes out once (kernel/changes.h). Every one also goes to the live
// feed (GET /api/ws/changes).
#pragma once

#include "kernel/announcer.h"

namespace gs::roadmap {

class Announcer final : public kernel::Announcer {
 public:
  Status announce(const storage::Store& store, const kernel::Touched& changed, bool all,
                  int64_t now_ms, storage::Batch& batch,
                  std::vector<kernel::Announcement>& out) override;
  Result<size_t> seed(const storage::Store& store, int64_t now_ms, storage::Batch& batch) override;
};

}  // namespace gs::roadmap
