// The roadmap of a roadmap goal (design.md §8; the personal-goals reference:
// "AI-generated roadmap with nodes and edges"): a DAG of nodes and edges,
// its validation (errors name the field, "roadmap.edges[2].target"), its
// deterministic layered layout, progress, the nodes to do next, and the
// merge of a regenerated roadmap with the state of the old one. Plain value
// types and pure functions: no I/O, nothing throws, everything thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.h"

namespace gs::roadmap {

// Limits. Texts follow the API's text rule (text::check_label) and are
// counted in code points; node and edge ids are 1 to kMaxIdChars of
// [A-Za-z0-9_.:-] ("node_1", "edge_1").
inline constexpr size_t kMaxNodes = 200;
inline constexpr size_t kMaxEdges = 1000;
inline constexpr size_t kMaxIdChars = 64;
inline constexpr size_t kMaxLabelChars = 200;
inline constexpr size_t kMaxDetailsChars = 2000;
inline constexpr size_t kMaxEstimatedTimeChars = 100;
inline constexpr size_t kMaxResources = 20;
inline constexpr size_t kMaxResourceChars = 500;

// Layout: x = kLeft + kColumn * slot, y = kTop + kRow * layer, where a
// narrower layer is centred under the widest one (slots may be halves:
// x moves by kColumn / 2).
inline constexpr int64_t kLeft = 100;
inline constexpr int64_t kTop = 100;
inline constexpr int64_t kColumn = 200;
inline constexpr int64_t kRow = 150;

struct Position {
  int64_t x = 0;
  int64_t y = 0;
  bool operator==(const Position&) const = default;
};

struct Node {
  std::string id;
  std::string label;
  bool completed = false;
  // Ours: a skipped node counts neither as done nor as to do (out of
  // progress' numerator and denominator) and blocks nothing.
  bool skipped = false;
  std::optional<std::string> details;
  std::optional<std::string> estimated_time;  // a text such as "2 weeks"
  std::vector<std::string> resources;         // each a text or a URL
  Position position;                          // set by lay_out, never by the client
  bool operator==(const Node&) const = default;
};

// `source` must be done before `target`.
struct Edge {
  std::string id;
  std::string source;
  std::string target;
  bool operator==(const Edge&) const = default;
};

struct Roadmap {
  std::vector<Node> nodes;
  std::vector<Edge> edges;
  bool operator==(const Roadmap&) const = default;
};

// Reads {nodes: [{id, label, completed?, skipped?, details?, estimated_time?,
// resources?, position?}], edges?: [{id?, source, target}]} (a generator's
// output, a request, or the stored form), refusing unknown members. A
// member sent as null is absent; `position` is ignored (positions are
// ours); an edge without an id gets "edge_<n>", n its 1-based index. The
// result is validated and laid out. Errors name the field below `path`
// ("roadmap.nodes[3].id"). Never throws.
Result<Roadmap> roadmap_from_json(const nlohmann::json& j, const std::string& path = "roadmap");

// The first rule `r` breaks, in this order: node count, each node (id shape,
// unique id, texts), edge count, each edge (id shape, unique id, endpoints
// exist, no self-loop, no second edge for the same pair), then cycles: the
// error names the first edge in edge order whose addition closes a cycle,
// and the cycle ("roadmap.edges[2]": "edge edge_3 (node_3 -> node_1) closes
// a cycle: node_1 -> node_2 -> node_3 -> node_1"). Deterministic.
std::optional<Error> validate(const Roadmap& r, const std::string& path = "roadmap");

// Sets every node's position: layered top-down. A node's layer is the
// longest path from a root to it; layer 0 keeps node order, each lower
// layer is ordered by the barycenter of its nodes' predecessors' x (ties by
// node order). Integer arithmetic only: the same roadmap always gets the
// same positions. Meant for a valid roadmap; on another one it still ends
// (nodes on a cycle are placed after the others, edges to unknown nodes
// are ignored).
void lay_out(Roadmap& r);

// Completed non-skipped nodes / non-skipped nodes × 100, rounded half-up,
// in integers (1 of 8 is 13); 0 when no node counts.
int progress(const Roadmap& r);

// The ids of the nodes to do now: neither completed nor skipped, every
// predecessor completed or skipped; in node order.
std::vector<std::string> next_nodes(const Roadmap& r);
// Per node (in node order): whether some predecessor is neither completed
// nor skipped.
std::vector<bool> blocked(const Roadmap& r);

// `fresh` (a regenerated roadmap) with the completed and skipped state of
// the nodes of `old` it still has: an old node matches by id first, else by
// label (spaces trimmed, ASCII case-insensitive, the first unused old node
// in old order); each old node lends its state once. Structure, texts and
// positions are fresh's.
Roadmap merge_regenerated(const Roadmap& old, Roadmap fresh);

// The API and stored form: {nodes: [{id, label, completed, position{x, y}
// (the reference's members, in its order), then ours: skipped, details,
// estimated_time (null when absent), resources}], edges: [{id, source,
// target}]}.
nlohmann::ordered_json to_json(const Roadmap& r);

// Whether `id` has the shape of a node or edge id.
bool valid_id(const std::string& id);

}  // namespace gs::roadmap
