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
//
// Variants, for events that report one entry each (a todo event names one
// roadmap goal and one node):
// - `list` empty: the event itself is the one item (`name`, `outcome` and
//   `flag` are top-level members);
// - `outcome` and `flag` both empty: every item reports outcomes[0] (a rule
//   per event type: todo_completed reports "completed");
// - `exact_time`: the cells are per millisecond of event time instead of
//   per 15-minute bucket (a cell key's bucket is the event's time in ms), so
//   that the module reads when each outcome was last reported; for entries
//   with few reports (a person's todos), never for a high-volume rule;
// - `notice`: an item whose entry is not in the index is not counted and
//   its event gets a deadletter notice, "<name>: no <entry_what> <id> of
//   this tenant"; an item whose breakdown value the entry does not declare
//   (TallyIndex::declare) is counted, and its event gets a notice,
//   "<breakdown>: <entry_what> <id> has no <breakdown_what> <value>". A
//   notice goes out for an event's first occurrence only (after dedup); the
//   event is otherwise processed as any valid event (what is counted never
//   depends on a notice, so a rebuild, which sends none, stores the same).
struct TallyRule {
  std::string_view event_type;
  std::string_view list;
  std::string_view name;
  std::string_view outcome;
  std::span<const std::string_view> outcomes;  // at least one (two with a flag)
  std::string_view flag;
  std::string_view breakdown;
  bool exact_time = false;
  bool notice = false;
  std::string_view entry_what = {};      // "roadmap goal"
  std::string_view breakdown_what = {};  // "node"
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
// The text of a notice (TallyRule::notice) and the member it names: for an
// item without entry, and for one whose breakdown value is not declared.
struct TallyNotice {
  std::string field, message;
};
TallyNotice unknown_entry_notice(const TallyRule& rule, std::string_view name);
TallyNotice undeclared_breakdown_notice(const TallyRule& rule, std::string_view name,
                                        std::string_view breakdown);

// The entries ingest tallies, by (tenant, name). add/remove/declare are
// for one thread; find may run on several threads at once while none of
// them runs (as CounterIndex).
class TallyIndex {
 public:
  struct Entry {
    std::string cell_prefix;  // tenant \0 name \x1f: the cell keys' start
    // The breakdown values the entry declares (sorted), when it declares
    // them (TallyRule::notice).
    bool declared = false;
    std::vector<std::string> breakdowns;
    bool declares(std::string_view breakdown) const;
  };
  // Adds an entry (that declares no breakdown values), or keeps the one there.
  void add(std::string_view tenant, std::string_view name);
  void remove(std::string_view tenant, std::string_view name);
  // Sets the breakdown values entry (tenant, name) declares; nothing when it
  // is not in the index.
  void declare(std::string_view tenant, std::string_view name, std::vector<std::string> values);
  // `scratch` is the caller's buffer (no allocation once it is large enough).
  const Entry* find(std::string_view tenant, std::string_view name, std::string& scratch) const;
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }

 private:
  std::unordered_map<std::string, Entry> entries_;  // tenant\0name; nodes are stable
};

// One item of an event's list: its entry and outcome. `entry` is null for
// an item of a `notice` rule whose entry is not in the index (not counted;
// `name` is the id it named, a view into the event).
struct TallyItem {
  const TallyIndex::Entry* entry;
  uint8_t outcome;
  std::string_view name = {};
};
// Appends to `out` each item of `e`'s list whose entry `index` has (and,
// for a `notice` rule, each item whose entry it has not, with a null entry),
// when `e` is of `rule`'s type, and returns the event's breakdown value (a
// view into the event; "" when absent). `scratch` is the caller's buffer.
std::string_view collect_tallies(const TallyRule& rule, const TallyIndex& index,
                                 const model::Event& e, std::string& scratch,
                                 std::vector<TallyItem>& out);

}  // namespace gs::projection
