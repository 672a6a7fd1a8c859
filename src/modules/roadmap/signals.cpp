#include "modules/roadmap/signals.h"

#include <algorithm>
#include <tuple>

namespace gs::roadmap {

std::string_view to_string(Signal s) { return kSignalNames[static_cast<size_t>(s)]; }

std::optional<Signal> parse_signal(std::string_view name) {
  for (size_t i = 0; i < std::size(kSignalNames); ++i)
    if (kSignalNames[i] == name) return static_cast<Signal>(i);
  return std::nullopt;
}

void NodeSignals::add(Signal s, int64_t at_ms) {
  auto& t = latest[static_cast<size_t>(s)];
  t = std::max(t, at_ms);
}

int64_t NodeSignals::last() const { return *std::max_element(latest.begin(), latest.end()); }

NodeState state_of(const NodeSignals& s, int64_t since_ms) {
  auto at = [&](Signal x) {
    int64_t t = s.at(x);
    return t >= since_ms ? t : kNever;
  };
  int64_t completed = at(Signal::completed), reopened = at(Signal::reopened);
  int64_t skipped = at(Signal::skipped), unskipped = at(Signal::unskipped);
  return {completed > std::max(reopened, skipped), skipped > std::max(unskipped, completed)};
}

std::vector<Signal> signals_of(const NodePatch& p) {
  std::vector<Signal> out;
  if (p.completed) out.push_back(*p.completed ? Signal::completed : Signal::reopened);
  if (p.skipped) out.push_back(*p.skipped ? Signal::skipped : Signal::unskipped);
  return out;
}

std::vector<Signal> base_signals(NodeState state) {
  if (state.completed) return {Signal::completed};
  if (state.skipped) return {Signal::skipped};
  return {};
}

namespace {
int64_t since_of(const NodeSince& since, const std::string& id) {
  auto it = since.find(id);
  return it == since.end() ? kNever : it->second;
}
}  // namespace

int64_t compose(Roadmap& r, const GoalSignals& signals, const NodeSince& since) {
  int64_t last = kNever;
  for (Node& n : r.nodes) {
    n.completed = n.skipped = false;
    auto it = signals.find(n.id);
    if (it == signals.end()) continue;
    int64_t from = since_of(since, n.id);
    auto st = state_of(it->second, from);
    n.completed = st.completed;
    n.skipped = st.skipped;
    for (int64_t t : it->second.latest)
      if (t >= from) last = std::max(last, t);
  }
  return last;
}

std::vector<HistoryPoint> history(const Roadmap& roadmap, std::vector<TimedSignal> signals,
                                  const NodeSince& since) {
  std::map<std::string, size_t, std::less<>> index;
  for (size_t i = 0; i < roadmap.nodes.size(); ++i) index.emplace(roadmap.nodes[i].id, i);
  std::erase_if(signals, [&](const TimedSignal& s) {
    return !index.contains(s.node_id) || s.at_ms < since_of(since, s.node_id);
  });
  std::sort(signals.begin(), signals.end(), [](const TimedSignal& a, const TimedSignal& b) {
    return std::tie(a.at_ms, a.node_id, a.signal) < std::tie(b.at_ms, b.node_id, b.signal);
  });
  std::vector<NodeSignals> state(roadmap.nodes.size());
  Roadmap now = roadmap;
  std::vector<HistoryPoint> out;
  out.reserve(signals.size());
  for (size_t k = 0; k < signals.size(); ++k) {
    const TimedSignal& s = signals[k];
    size_t i = index.find(s.node_id)->second;
    state[i].add(s.signal, s.at_ms);
    // Signals at the same millisecond take effect together (as state_of
    // sees them): a point shows the progress once all of them are in.
    bool more_now = k + 1 < signals.size() && signals[k + 1].at_ms == s.at_ms;
    HistoryPoint p{s.at_ms, s.node_id, s.signal, s.count};
    if (!more_now) {
      for (size_t j = 0; j < now.nodes.size(); ++j) {
        auto st = state_of(state[j]);
        now.nodes[j].completed = st.completed;
        now.nodes[j].skipped = st.skipped;
      }
    }
    out.push_back(std::move(p));
    if (!more_now) {
      int counted = 0, done = 0;
      for (const Node& n : now.nodes) {
        if (n.skipped) continue;
        ++counted;
        if (n.completed) ++done;
      }
      int pr = progress(now);
      for (size_t b = out.size(); b-- > 0 && out[b].at_ms == s.at_ms;) {
        out[b].progress = pr;
        out[b].completed_nodes = done;
        out[b].counted_nodes = counted;
      }
    }
  }
  return out;
}

}  // namespace gs::roadmap
