// Node state as signals (docs/decisions.md, "Roadmap goals: node state"):
// a node is completed, skipped or open according to the latest time each
// of four signals was given to it, by a todo event (its event time) or a
// node PATCH (its command's issued_at), whatever order they were read in.
// So the state is a function of the logs' contents (design.md invariant 1),
// and a todo event and a PATCH with the same effect leave the same state.
// Pure: no I/O, thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "modules/roadmap/graph.h"
#include "modules/roadmap/model.h"

namespace gs::roadmap {

// completed: todo_completed, {"completed": true}; reopened: todo_reopened,
// {"completed": false}; skipped: {"skipped": true}; unskipped:
// {"skipped": false}.
enum class Signal : uint8_t { completed, reopened, skipped, unskipped };
inline constexpr std::string_view kSignalNames[] = {"completed", "reopened", "skipped",
                                                    "unskipped"};
std::string_view to_string(Signal s);
std::optional<Signal> parse_signal(std::string_view name);

inline constexpr int64_t kNever = std::numeric_limits<int64_t>::min();

// The latest time each signal was given to one node.
struct NodeSignals {
  std::array<int64_t, 4> latest{kNever, kNever, kNever, kNever};
  void add(Signal s, int64_t at_ms);
  int64_t at(Signal s) const { return latest[static_cast<size_t>(s)]; }
  int64_t last() const;  // the latest of all four (kNever: none)
  bool operator==(const NodeSignals&) const = default;
};

// A node's state from its signals given at or after `since_ms`:
//   completed = completed > max(reopened, skipped)
//   skipped   = skipped > max(unskipped, completed)
// Completing un-skips a node and skipping un-completes it; reopening a
// skipped node or un-skipping a completed one changes nothing; two opposite
// signals at the same millisecond leave it open.
struct NodeState {
  bool completed = false;
  bool skipped = false;
  bool operator==(const NodeState&) const = default;
};
NodeState state_of(const NodeSignals& s, int64_t since_ms = kNever);

// The signals a node PATCH gives (completed true: completed, false:
// reopened; skipped true: skipped, false: unskipped).
std::vector<Signal> signals_of(const NodePatch& p);
// The signals that give a node with no signals `state`: a regenerated node
// carries the state of the old node it replaces this way.
std::vector<Signal> base_signals(NodeState state);

// A goal's signals by node id.
using GoalSignals = std::map<std::string, NodeSignals, std::less<>>;
// Since when each node of a goal's roadmap counts signals (when the
// generation that introduced its id was issued), by node id.
using NodeSince = std::map<std::string, int64_t, std::less<>>;

// Sets each node's completed and skipped from `signals` (a node without
// signals is open); a node counts the signals given at or after its since
// (all when it has none). Returns the latest time among the signals that
// count (kNever: none).
int64_t compose(Roadmap& r, const GoalSignals& signals, const NodeSince& since);

// One change of a goal's progress over time, by event time: at `at_ms` the
// node got `signal`, and the goal's roadmap (as it is now) read `progress`.
struct HistoryPoint {
  int64_t at_ms = 0;
  std::string node_id;
  Signal signal = Signal::completed;
  int64_t count = 1;  // signals of this kind given to the node at this millisecond
  int progress = 0;
  int completed_nodes = 0;  // completed and counted
  int counted_nodes = 0;    // not skipped
};
// A signal at a time (a cell of the goal's tally).
struct TimedSignal {
  int64_t at_ms;
  std::string node_id;
  Signal signal;
  int64_t count = 1;
};
// The progress of `roadmap` after each signal of `signals` (in any order)
// that a node of it counts, in time order (then node id, then signal).
std::vector<HistoryPoint> history(const Roadmap& roadmap, std::vector<TimedSignal> signals,
                                  const NodeSince& since);

}  // namespace gs::roadmap
