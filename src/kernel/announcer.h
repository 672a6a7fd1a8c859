// What a module announces on the changes topic (kernel/changes.h): the
// status transitions of its goals. The changes publisher owns the outbox,
// its sequence and the topic; an Announcer decides what changed.
// Called on the changes thread only.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.h"
#include "storage/store.h"

namespace gs::kernel {

// What durable batches changed: "<tenant>\0<counter>" -> the latest event
// time added there, "<tenant>\0" -> 0 for a tenant that had commands.
using Touched = std::unordered_map<std::string, int64_t>;

// Helpers for announcers (announcer.cpp, in gs_state): the tenants
// `changed` names; whether `tenant` had commands; and the tally entries
// (projection/tally.h) whose cells it touched, "<tenant>\0<name>" -> the
// latest event time added to them.
std::set<std::string> touched_tenants(const Touched& changed);
bool touched_by_command(const Touched& changed, const std::string& tenant);
std::unordered_map<std::string, int64_t> touched_tally_entries(const Touched& changed);

struct Announcement {
  // The change message; the publisher adds "origin" and "seq".
  nlohmann::json message;
  // Also to ChangesOptions::on_status_changed (the live feed).
  bool live = true;
};

class Announcer {
 public:
  virtual ~Announcer() = default;
  // Evaluates what `changed` may have moved (everything with `all`),
  // records the new announced statuses in `batch` and appends each
  // transition to `out`, in order.
  virtual Status announce(const storage::Store& store, const Touched& changed, bool all,
                          int64_t now_ms, storage::Batch& batch,
                          std::vector<Announcement>& out) = 0;
  // Records every current status in `batch` without announcing anything
  // (after a rebuild); returns how many.
  virtual Result<size_t> seed(const storage::Store& store, int64_t now_ms,
                              storage::Batch& batch) = 0;
};

}  // namespace gs::kernel
