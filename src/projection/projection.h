// The pure fold of the ingest path: which counters an event counts for, and
// the per-counter, per-bucket deltas a batch of events adds up to.
// No I/O. Owned by one thread (the processor's); not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.h"
#include "match/match.h"
#include "model/event.h"

namespace gs::projection {

// What a counter counts: the events of a tenant of one type, matching a URL
// pattern and property conditions, at or after an event time. A conversion
// goal is one (conversion::counter_rule); `id` is the counter's own id, and
// the id its series hang from.
struct CounterRule {
  std::string id;
  std::string tenant_id;
  std::string event_type;
  std::optional<std::string> url_pattern;
  nlohmann::json conditions;        // null or an object
  std::optional<int64_t> since_ms;  // count only events at or after this event time
};

// A counter: a rule with its compiled matcher, and the series of cells it
// feeds. The base series (series "") holds count and the sum of
// properties.value per cell; a metric may ask for more series over the same
// matches: "sum:<path>" (count and the sum of that property) or "unique"
// (which subjects were seen in each cell). Each series is a counter of its
// own, `id`: the rule's id, or the rule's id + '\x1f' + series.
struct Counter {
  CounterRule rule;
  match::Matcher matcher;
  std::string series;
  std::string id;
  std::optional<match::PropertyPath> sum_path;  // sum:<path>
  bool unique = false;
  bool counts(const model::Event& e) const;  // window (since) + matcher
  // The amount this event adds to the series' sum.
  double value_of(const model::Event& e) const {
    return sum_path ? sum_path->number(e.properties).value_or(0) : e.value;
  }
};

// Compiles a rule for one of its series; the Error names the field (for
// the API's 422).
Result<std::shared_ptr<const Counter>> compile(CounterRule rule, const std::string& series = "");
bool valid_series(std::string_view series);
// The id of a series' counter, and back: (rule id, series).
std::string counter_id(std::string_view rule_id, std::string_view series);
std::pair<std::string_view, std::string_view> split_counter_id(std::string_view counter);

// A rule's base counter and the series kept over its matches. Matching runs
// once per event for the whole family (with the base's matcher); every
// member then gets the event.
struct CounterFamily {
  std::shared_ptr<const Counter> base;  // null while its rule is being redefined
  std::vector<std::shared_ptr<const Counter>> series;
};

// Counters indexed by (tenant, eventType), so matching cost follows the
// candidate counters of an event's tenant and type, not all of them.
// put/remove are for one thread; const methods may run on several threads
// at once while no put/remove runs.
class CounterIndex {
 public:
  // Replaces the same (tenant, counter id). A base keeps the series attached
  // to its family; a series joins the family of its rule.
  void put(std::shared_ptr<const Counter> counter);
  void remove(std::string_view tenant, std::string_view id);
  const Counter* find(std::string_view tenant, std::string_view id) const;
  // The families of `tenant` whose rule's eventType is `type`; empty when none.
  const std::vector<const CounterFamily*>& candidates(std::string_view tenant,
                                                      std::string_view type) const;
  size_t size() const { return by_id_.size(); }  // bases and series

 private:
  static std::string key(std::string_view a, std::string_view b);
  void unlist(const CounterFamily* family, const Counter& base);
  std::unordered_map<std::string, std::shared_ptr<const Counter>> by_id_;  // tenant\0counter
  std::unordered_map<std::string, CounterFamily> families_;  // tenant\0rule id; nodes are stable
  std::unordered_map<std::string, std::vector<const CounterFamily*>> by_type_;  // tenant\0eventType
};

// A sum in fixed-point micro-units (value x 10^6). 128 bits: one event adds
// at most kMaxEventValue x 10^6 (< 2^63), so no realistic number of events
// can overflow it (2^64 events at the limit), while int64 wrapped after two.
using Micros = __int128;

// One aggregate cell: count and value sum of one series in one 15-minute
// bucket of event time (every UTC offset in use is a multiple of 15 minutes,
// so calendar windows in any time zone are whole buckets). Sums are
// fixed-point micro-units so that addition is exact and order-independent (a
// rebuild must give the same bytes as live processing). `max_ts_ms` is the
// latest event time added within a batch: not stored, it tells which event
// time caused a change.
struct Cell {
  int64_t count = 0;
  Micros sum_micros = 0;
  int64_t max_ts_ms = 0;
  // A tally's cell (Aggregator::add_tally): not stored either; such cells
  // get no roll-ups (kernel/cells.h), since tallies are read per period.
  bool tally = false;
};

inline constexpr int64_t kBucketMs = 900'000;
// The largest amount one event adds to a sum; larger values (and -inf/+inf)
// are clamped to +-kMaxEventValue, so that one event's micro-units fit in
// int64. Sums of many events are exact far beyond it (Micros).
inline constexpr double kMaxEventValue = 9.0e12;
// value x 10^6, rounded to the nearest integer (half away from zero), after
// clamping to +-kMaxEventValue; NaN (not JSON) adds 0.
int64_t to_micros(double value);
// The value a sum of micro-units stands for, as a double (what the API shows):
// exact up to 2^53 micro-units (~9e9), the nearest double beyond.
inline double micros_to_value(Micros m) { return static_cast<double>(m) / 1e6; }
int64_t bucket_of(int64_t ts_ms);

// Accumulates deltas within one batch; the store turns them into merge
// operands, so no cell is read per event.
class Aggregator {
 public:
  void add(const Counter& counter, const model::Event& e) {
    add(counter, e.timestamp_ms, counter.value_of(e), e.subject_id.value_or(std::string_view()));
  }
  // `subject` matters for unique series only (empty: not counted there).
  void add(const Counter& counter, int64_t timestamp_ms, double value,
           std::string_view subject = {});
  // One outcome of a tally entry (projection/tally.h): count 1 in the cell of
  // counter <name>\x1f<outcome>\x1f<breakdown>; `cell_prefix` is the
  // entry's tenant\0name\x1f. The cell is that of the event's 15-minute
  // bucket, or of its millisecond when `exact_time` (TallyRule::exact_time).
  void add_tally(std::string_view cell_prefix, std::string_view outcome, std::string_view breakdown,
                 int64_t timestamp_ms, bool exact_time = false);
  // Cell key bytes -> delta; key layout: tenant \0 counter \0 bucket (8 bytes BE).
  const std::unordered_map<std::string, Cell>& cells() const { return cells_; }
  // Unique series: cell key + subject, one per (cell, subject) seen.
  const std::unordered_set<std::string>& presence() const { return presence_; }
  void clear() {
    cells_.clear();
    presence_.clear();
  }
  bool empty() const { return cells_.empty() && presence_.empty(); }
  // Adds a cell delta under its key bytes, and a presence key (decoding a
  // delta, uniting two).
  void add_cell(std::string_view key, const Cell& delta);
  void add_presence(std::string_view key) { presence_.emplace(key); }
  // Marks the cell at `key` as a tally's (decoding a delta); false when
  // there is no such cell.
  bool mark_tally(std::string_view key) {
    auto it = cells_.find(std::string(key));
    if (it == cells_.end()) return false;
    it->second.tally = true;
    return true;
  }

 private:
  std::unordered_map<std::string, Cell> cells_;
  std::unordered_set<std::string> presence_;
  std::string scratch_;
};

// Cell key layout shared with the store.

}  // namespace gs::projection
