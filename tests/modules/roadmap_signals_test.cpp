// Node state from signals (modules/roadmap/signals.h): the rule table,
// the since filter, the PATCH and regeneration signals, composition and the
// progress history.
#include <doctest/doctest.h>

#include "modules/roadmap/signals.h"

namespace {

using gs::roadmap::NodeSignals;
using gs::roadmap::NodeState;
using gs::roadmap::Signal;

NodeState at(std::initializer_list<std::pair<Signal, int64_t>> given,
             int64_t since = gs::roadmap::kNever) {
  NodeSignals s;
  for (auto [sig, t] : given) s.add(sig, t);
  return gs::roadmap::state_of(s, since);
}

gs::roadmap::Roadmap three_nodes() {
  gs::roadmap::Roadmap r;
  for (const char* id : {"a", "b", "c"}) {
    gs::roadmap::Node n;
    n.id = id;
    n.label = std::string("Step ") + id;
    r.nodes.push_back(n);
  }
  r.edges = {{"edge_1", "a", "b"}, {"edge_2", "b", "c"}};
  return r;
}

}  // namespace

TEST_CASE("roadmap signals: the latest signal decides, whatever order they were read in") {
  using S = Signal;
  CHECK(at({}) == NodeState{false, false});
  CHECK(at({{S::completed, 10}}) == NodeState{true, false});
  CHECK(at({{S::completed, 10}, {S::reopened, 20}}) == NodeState{false, false});
  CHECK(at({{S::reopened, 20}, {S::completed, 10}}) == NodeState{false, false});
  CHECK(at({{S::reopened, 10}, {S::completed, 20}}) == NodeState{true, false});
  // completing un-skips, skipping un-completes
  CHECK(at({{S::skipped, 10}, {S::completed, 20}}) == NodeState{true, false});
  CHECK(at({{S::completed, 10}, {S::skipped, 20}}) == NodeState{false, true});
  // reopening a skipped node or un-skipping a completed one changes nothing
  CHECK(at({{S::skipped, 10}, {S::reopened, 20}}) == NodeState{false, true});
  CHECK(at({{S::completed, 10}, {S::unskipped, 20}}) == NodeState{true, false});
  // opposite signals at the same millisecond leave the node open
  CHECK(at({{S::completed, 10}, {S::reopened, 10}}) == NodeState{false, false});
  CHECK(at({{S::skipped, 10}, {S::unskipped, 10}}) == NodeState{false, false});
  // a later signal of the same kind moves its time forward only
  CHECK(at({{S::completed, 30}, {S::reopened, 20}, {S::completed, 5}}) == NodeState{true, false});
}

TEST_CASE("roadmap signals: signals before a node's since do not count") {
  using S = Signal;
  CHECK(at({{S::completed, 10}}, 11) == NodeState{false, false});
  CHECK(at({{S::completed, 10}}, 10) == NodeState{true, false});
  CHECK(at({{S::completed, 20}, {S::reopened, 10}}, 15) == NodeState{true, false});
  CHECK(at({{S::reopened, 20}, {S::completed, 10}}, 15) == NodeState{false, false});
}

TEST_CASE("roadmap signals: a PATCH's signals and a regenerated node's base signals") {
  using gs::roadmap::base_signals;
  using gs::roadmap::NodePatch;
  using gs::roadmap::signals_of;
  CHECK(signals_of(NodePatch{"g", "n", true, std::nullopt}) ==
        std::vector<Signal>{Signal::completed});
  CHECK(signals_of(NodePatch{"g", "n", false, std::nullopt}) ==
        std::vector<Signal>{Signal::reopened});
  CHECK(signals_of(NodePatch{"g", "n", std::nullopt, true}) ==
        std::vector<Signal>{Signal::skipped});
  CHECK(signals_of(NodePatch{"g", "n", false, false}) ==
        std::vector<Signal>{Signal::reopened, Signal::unskipped});
  for (NodeState st : {NodeState{false, false}, NodeState{true, false}, NodeState{false, true}}) {
    NodeSignals s;
    for (Signal x : base_signals(st)) s.add(x, 100);
    CHECK(gs::roadmap::state_of(s, 100) == st);
  }
  for (size_t i = 0; i < 4; ++i) {
    auto sig = static_cast<Signal>(i);
    CHECK(gs::roadmap::parse_signal(gs::roadmap::to_string(sig)) == sig);
  }
  CHECK_FALSE(gs::roadmap::parse_signal("done").has_value());
}

TEST_CASE("roadmap signals: compose sets node state and returns the latest counted time") {
  auto r = three_nodes();
  gs::roadmap::GoalSignals sig;
  sig["a"].add(Signal::completed, 100);
  sig["b"].add(Signal::completed, 50);  // before b's since: ignored
  sig["c"].add(Signal::skipped, 120);
  sig["gone"].add(Signal::completed, 500);  // a node the roadmap no longer has
  gs::roadmap::NodeSince since{{"b", 60}};
  CHECK(gs::roadmap::compose(r, sig, since) == 120);
  CHECK(r.nodes[0].completed);
  CHECK_FALSE(r.nodes[1].completed);
  CHECK(r.nodes[2].skipped);
  CHECK(gs::roadmap::progress(r) == 50);  // 1 of 2 counted
}

TEST_CASE("roadmap signals: history replays signals in event-time order") {
  auto r = three_nodes();
  std::vector<gs::roadmap::TimedSignal> s = {
      {300, "b", Signal::completed}, {100, "a", Signal::completed}, {200, "a", Signal::reopened},
      {250, "a", Signal::completed}, {250, "c", Signal::completed}, {90, "gone", Signal::completed},
      {50, "c", Signal::completed},  // before c's since
  };
  auto h = gs::roadmap::history(r, s, {{"c", 60}});
  REQUIRE(h.size() == 5);
  CHECK(h[0].at_ms == 100);
  CHECK(h[0].progress == 33);
  CHECK(h[0].completed_nodes == 1);
  CHECK(h[0].counted_nodes == 3);
  CHECK(h[1].at_ms == 200);
  CHECK(h[1].signal == Signal::reopened);
  CHECK(h[1].progress == 0);
  // two signals at one millisecond show the progress once both are in
  CHECK(h[2].node_id == "a");
  CHECK(h[3].node_id == "c");
  CHECK(h[2].progress == 67);
  CHECK(h[3].progress == 67);
  CHECK(h[4].progress == 100);
  CHECK(h[4].completed_nodes == 3);
}
