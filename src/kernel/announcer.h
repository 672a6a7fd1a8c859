// What a module announces on the changes topic (kernel/changes.h): the
// status transitions of its goals. The changes publisher owns the outbox,
// its sequence and the topic; an Announcer decides what changed.
// Called on the changes thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.h"
#include "storage/store.h"

namespace gs::kernel {

// What durable batches changed: "<tenant>\0<counter>" -> the latest event
// time added there, "<tenant>\0" -> 0 for a tenant that had commands.
using Touched = std::unordered_map<std::string, int64_t>;

// What an evaluation of an announcer looks at, from what batches touched
// (`changed`) on a full pass (`all`) or not.
class TouchedGoals {
 public:
  TouchedGoals(const Touched& changed, bool all);
  // The tenants `changed` names, in order.
  const std::set<std::string>& tenants() const { return tenants_; }
  // Why goal `goal_id` (a tally entry's name, projection/tally.h) of
  // `tenant` is evaluated: "events" (events moved its tally cells;
  // `event_time` the latest event time among them), else "command" (the
  // tenant had commands), else "time" (a full pass); nullopt when nothing
  // concerns it.
  struct Trigger {
    const char* cause;
    int64_t event_time;  // 0 unless cause is "events"
  };
  std::optional<Trigger> trigger(const std::string& tenant, const std::string& goal_id) const;

 private:
  bool all_;
  std::set<std::string> tenants_, commands_;
  std::unordered_map<std::string, int64_t> entries_;  // tenant\0name -> latest event time
};

// The goals to evaluate: `every()` on a full pass, else `of_tenant(t)` for
// each tenant `t` touched, concatenated. Both return Result<vector<Goal>>.
template <class Every, class OfTenant>
auto goals_touched(const TouchedGoals& touched, bool all, Every every, OfTenant of_tenant)
    -> decltype(every()) {
  if (all) return every();
  std::decay_t<decltype(*every())> out;
  for (const auto& t : touched.tenants()) {
    auto read = of_tenant(t);
    if (!read.ok()) return read.error();
    for (auto& g : *read) out.push_back(std::move(g));
  }
  return out;
}

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
