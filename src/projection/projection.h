// The pure fold of the ingest path: which conversion goals an event counts
// for, and the per-goal, per-hour deltas a batch of events adds up to.
// No I/O. Owned by one thread (the processor's); not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "match/match.h"
#include "model/conversion_goal.h"
#include "model/event.h"

namespace gs::projection {

// A conversion goal with its compiled matcher.
struct CompiledGoal {
  model::ConversionGoal def;
  match::Matcher matcher;
  bool counts(const model::Event& e) const;  // window (since) + matcher
};

// Compiles a definition; the Error names the field (for the API's 422).
Result<std::shared_ptr<const CompiledGoal>> compile(model::ConversionGoal def);

// Definitions indexed by (tenant, eventType), so matching cost follows the
// candidate goals of an event's tenant and type, not all goals. put/remove
// are for one thread; const methods may run on several threads at once while
// no put/remove runs.
class GoalIndex {
 public:
  void put(std::shared_ptr<const CompiledGoal> goal);  // replaces the same (tenant, id)
  void remove(std::string_view tenant, std::string_view id);
  const CompiledGoal* find(std::string_view tenant, std::string_view id) const;
  // The goals of `tenant` whose eventType is `type`; empty when none.
  const std::vector<std::shared_ptr<const CompiledGoal>>& candidates(std::string_view tenant,
                                                                     std::string_view type) const;
  size_t size() const { return by_id_.size(); }

 private:
  static std::string key(std::string_view a, std::string_view b);
  std::unordered_map<std::string, std::shared_ptr<const CompiledGoal>> by_id_;
  std::unordered_map<std::string, std::vector<std::shared_ptr<const CompiledGoal>>> by_type_;
};

// One aggregate cell: count and value sum of one goal in one UTC hour of
// event time. Sums are fixed-point micro-units so that addition is exact and
// order-independent (a rebuild must give the same bytes as live processing).
struct Cell {
  int64_t count = 0;
  int64_t sum_micros = 0;
};

int64_t to_micros(double value);
int64_t hour_of(int64_t ts_ms);

// Accumulates deltas within one batch; the store turns them into merge
// operands, so no cell is read per event.
class Aggregator {
 public:
  void add(const CompiledGoal& goal, const model::Event& e) { add(goal, e.timestamp_ms, e.value); }
  void add(const CompiledGoal& goal, int64_t timestamp_ms, double value);
  // Cell key bytes -> delta; key layout: tenant \0 goal_id \0 hour (8 bytes BE).
  const std::unordered_map<std::string, Cell>& cells() const { return cells_; }
  void clear() { cells_.clear(); }
  bool empty() const { return cells_.empty(); }

 private:
  std::unordered_map<std::string, Cell> cells_;
  std::string scratch_;
};

// Cell key layout shared with the store.
std::string cell_prefix(std::string_view tenant, std::string_view goal_id);
void append_be64(std::string& out, int64_t v);
int64_t read_be64(std::string_view bytes);

}  // namespace gs::projection
