// Tallies: outcomes that events report for named entries of a tenant (a
// call outcome's verdict for each agent goal it lists), counted per entry,
// outcome and breakdown value in the kernel's cells. A module declares the
// shape of the list (TallyRule, data only: ingest reads it without a call
// into the module) and registers the entries it keeps (TallyIndex); the
// cells of entry `name` are those of the counters
//   <name> \x1f <outcome> \x1f <breakdown value>
// (docs/architecture.md, "Tallies"). No I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "model/event.h"

namespace gs::projection {

// Events of type `event_type` carry an array `list` of objects; each names
// an entry in `name` and reports its outcome either in `outcome` (one of
// `outcomes`) or in the boolean `flag` (true: outcomes[0], false:
// outcomes[1]); `outcome` wins when both are sent. The top-level string
// member `breakdown` (absent: "") splits the counts. The module's event
// member rules validate all of it (ingest counts what validation let
// through, and skips an item it cannot read).
struct TallyRule {
  std::string_view event_type;
  std::string_view list;
  std::string_view name;
  std::string_view outcome;
  std::span<const std::string_view> outcomes;  // at least two
  std::string_view flag;
  std::string_view breakdown;
};

// The counter id of one entry's outcome and breakdown value, and its parts
// back (nullopt for a counter that is not of this shape).
std::string tally_counter(std::string_view name, std::string_view outcome,
                          std::string_view breakdown);
struct TallyCounter {
  std::string_view name, outcome, breakdown;
};
std::optional<TallyCounter> split_tally_counter(std::string_view counter);
// The prefix every counter of entry `name` starts with: name + '\x1f'.
std::string tally_prefix(std::string_view name);

// The entries ingest tallies, by (tenant, name). add/remove are for one
// thread; find may run on several threads at once while no add/remove runs
// (as CounterIndex).
class TallyIndex {
 public:
  struct Entry {
    std::string cell_prefix;  // tenant \0 name \x1f: the cell keys' start
  };
  void add(std::string_view tenant, std::string_view name);
  void remove(std::string_view tenant, std::string_view name);
  // `scratch` is the caller's buffer (no allocation once it is large enough).
  const Entry* find(std::string_view tenant, std::string_view name, std::string& scratch) const;
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }

 private:
  std::unordered_map<std::string, Entry> entries_;  // tenant\0name; nodes are stable
};

// One item of an event's list that counts: its entry and outcome.
struct TallyItem {
  const TallyIndex::Entry* entry;
  uint8_t outcome;
};
// Appends to `out` each item of `e`'s list whose entry `index` has, when
// `e` is of `rule`'s type, and returns the event's breakdown value (a view
// into the event; "" when absent). `scratch` is the caller's buffer.
std::string_view collect_tallies(const TallyRule& rule, const TallyIndex& index,
                                 const model::Event& e, std::string& scratch,
                                 std::vector<TallyItem>& out);

}  // namespace gs::projection
