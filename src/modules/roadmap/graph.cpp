#include "modules/roadmap/graph.h"

#include <algorithm>
#include <deque>
#include <initializer_list>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "base/text.h"

namespace gs::roadmap {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

std::string at(const std::string& path, const char* list, size_t i) {
  return path + "." + list + "[" + std::to_string(i) + "]";
}

// The first member of `obj` not in `known`, refused with its path.
std::optional<Error> only(const json& obj, const std::string& prefix,
                          std::initializer_list<const char*> known) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    const std::string& key = it.key();
    if (std::any_of(known.begin(), known.end(), [&](const char* k) { return key == k; })) continue;
    std::string names;
    for (const char* k : known) names += (names.empty() ? "" : ", ") + std::string(k);
    return invalid(prefix + "." + key, "unknown field; expected one of " + names);
  }
  return std::nullopt;
}

// Member `key` of `obj`, null when absent or JSON null.
const json* member(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

std::optional<Error> read_string(const json& obj, const std::string& prefix, const char* key,
                                 bool required, std::optional<std::string>& out) {
  const json* m = member(obj, key);
  if (!m) {
    if (required) return invalid(prefix + "." + key, "is required");
    return std::nullopt;
  }
  if (!m->is_string()) return invalid(prefix + "." + key, "must be a string");
  out = m->get<std::string>();
  return std::nullopt;
}

std::optional<Error> read_bool(const json& obj, const std::string& prefix, const char* key,
                               bool& out) {
  const json* m = member(obj, key);
  if (!m) return std::nullopt;
  if (!m->is_boolean()) return invalid(prefix + "." + key, "must be true or false");
  out = m->get<bool>();
  return std::nullopt;
}

Result<Node> read_node(const json& j, const std::string& prefix) {
  if (!j.is_object()) return invalid(prefix, "must be an object");
  if (auto e = only(j, prefix,
                    {"id", "label", "completed", "skipped", "details", "estimated_time",
                     "resources", "position"}))
    return *e;
  Node n;
  std::optional<std::string> s;
  if (auto e = read_string(j, prefix, "id", true, s)) return *e;
  n.id = std::move(*s);
  s.reset();
  if (auto e = read_string(j, prefix, "label", true, s)) return *e;
  n.label = std::move(*s);
  if (auto e = read_bool(j, prefix, "completed", n.completed)) return *e;
  if (auto e = read_bool(j, prefix, "skipped", n.skipped)) return *e;
  if (auto e = read_string(j, prefix, "details", false, n.details)) return *e;
  if (auto e = read_string(j, prefix, "estimated_time", false, n.estimated_time)) return *e;
  if (const json* list = member(j, "resources")) {
    std::string field = prefix + ".resources";
    if (!list->is_array()) return invalid(field, "must be an array of texts or URLs");
    if (list->size() > kMaxResources)
      return invalid(field, "must hold at most " + std::to_string(kMaxResources) + " resources");
    for (size_t k = 0; k < list->size(); ++k) {
      if (!(*list)[k].is_string())
        return invalid(field + "[" + std::to_string(k) + "]", "must be a string");
      n.resources.push_back((*list)[k].get<std::string>());
    }
  }
  return n;
}

Result<Edge> read_edge(const json& j, const std::string& prefix, size_t index) {
  if (!j.is_object()) return invalid(prefix, "must be an object");
  if (auto e = only(j, prefix, {"id", "source", "target"})) return *e;
  Edge edge;
  std::optional<std::string> s;
  if (auto e = read_string(j, prefix, "id", false, s)) return *e;
  edge.id = s ? std::move(*s) : "edge_" + std::to_string(index + 1);
  s.reset();
  if (auto e = read_string(j, prefix, "source", true, s)) return *e;
  edge.source = std::move(*s);
  s.reset();
  if (auto e = read_string(j, prefix, "target", true, s)) return *e;
  edge.target = std::move(*s);
  return edge;
}

const char* kIdRule = "must be 1 to 64 characters of A-Z a-z 0-9 _ . : -";

std::optional<Error> check_text(const std::string& field, const std::string& s, size_t max) {
  if (auto why = text::check_label(s, max)) return invalid(field, *why);
  return std::nullopt;
}

std::optional<Error> check_node(const Node& n, const std::string& prefix) {
  if (!valid_id(n.id)) return invalid(prefix + ".id", kIdRule);
  if (auto e = check_text(prefix + ".label", n.label, kMaxLabelChars)) return e;
  if (n.details)
    if (auto e = check_text(prefix + ".details", *n.details, kMaxDetailsChars)) return e;
  if (n.estimated_time)
    if (auto e = check_text(prefix + ".estimated_time", *n.estimated_time, kMaxEstimatedTimeChars))
      return e;
  if (n.resources.size() > kMaxResources)
    return invalid(prefix + ".resources",
                   "must hold at most " + std::to_string(kMaxResources) + " resources");
  for (size_t k = 0; k < n.resources.size(); ++k)
    if (auto e = check_text(prefix + ".resources[" + std::to_string(k) + "]", n.resources[k],
                            kMaxResourceChars))
      return e;
  return std::nullopt;
}

// Node index by id (the first node with that id).
std::unordered_map<std::string_view, size_t> index_of(const Roadmap& r) {
  std::unordered_map<std::string_view, size_t> index;
  index.reserve(r.nodes.size());
  for (size_t i = 0; i < r.nodes.size(); ++i) index.emplace(r.nodes[i].id, i);
  return index;
}

// Each node's predecessors (node indexes, in edge order); edges with an
// unknown end are left out.
std::vector<std::vector<size_t>> predecessors(const Roadmap& r) {
  auto index = index_of(r);
  std::vector<std::vector<size_t>> preds(r.nodes.size());
  for (const Edge& e : r.edges) {
    auto s = index.find(e.source), t = index.find(e.target);
    if (s != index.end() && t != index.end()) preds[t->second].push_back(s->second);
  }
  return preds;
}

bool done(const Node& n) { return n.completed || n.skipped; }

// A label as merge_regenerated compares them: ASCII white space trimmed,
// ASCII letters lower-cased.
std::string label_key(std::string_view s) {
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace

bool valid_id(const std::string& id) {
  if (id.empty() || id.size() > kMaxIdChars) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == ':' || c == '-';
  });
}

Result<Roadmap> roadmap_from_json(const json& j, const std::string& path) {
  if (!j.is_object()) return invalid(path, "must be an object with nodes and edges");
  if (auto e = only(j, path, {"nodes", "edges"})) return *e;
  Roadmap r;
  const json* nodes = member(j, "nodes");
  if (!nodes) return invalid(path + ".nodes", "is required");
  if (!nodes->is_array()) return invalid(path + ".nodes", "must be an array of nodes");
  // Counted before anything is read, so that an oversized list costs nothing.
  if (nodes->size() > kMaxNodes)
    return invalid(path + ".nodes", "must hold at most " + std::to_string(kMaxNodes) + " nodes");
  for (size_t i = 0; i < nodes->size(); ++i) {
    auto n = read_node((*nodes)[i], at(path, "nodes", i));
    if (!n.ok()) return n.error();
    r.nodes.push_back(std::move(n).value());
  }
  if (const json* edges = member(j, "edges")) {
    if (!edges->is_array()) return invalid(path + ".edges", "must be an array of edges");
    if (edges->size() > kMaxEdges)
      return invalid(path + ".edges", "must hold at most " + std::to_string(kMaxEdges) + " edges");
    for (size_t i = 0; i < edges->size(); ++i) {
      auto e = read_edge((*edges)[i], at(path, "edges", i), i);
      if (!e.ok()) return e.error();
      r.edges.push_back(std::move(e).value());
    }
  }
  if (auto e = validate(r, path)) return *e;
  lay_out(r);
  return r;
}

std::optional<Error> validate(const Roadmap& r, const std::string& path) {
  if (r.nodes.empty()) return invalid(path + ".nodes", "must hold at least one node");
  if (r.nodes.size() > kMaxNodes)
    return invalid(path + ".nodes", "must hold at most " + std::to_string(kMaxNodes) + " nodes");
  std::unordered_map<std::string_view, size_t> nodes;
  for (size_t i = 0; i < r.nodes.size(); ++i) {
    const Node& n = r.nodes[i];
    std::string prefix = at(path, "nodes", i);
    if (auto e = check_node(n, prefix)) return e;
    auto [it, fresh] = nodes.emplace(n.id, i);
    if (!fresh)
      return invalid(prefix + ".id",
                     "duplicate node id " + n.id + " (also " + at(path, "nodes", it->second) + ")");
  }

  if (r.edges.size() > kMaxEdges)
    return invalid(path + ".edges", "must hold at most " + std::to_string(kMaxEdges) + " edges");
  std::unordered_map<std::string_view, size_t> edge_ids;
  std::unordered_map<std::string, size_t> pairs;  // "source\ntarget" -> edge index
  for (size_t i = 0; i < r.edges.size(); ++i) {
    const Edge& e = r.edges[i];
    std::string prefix = at(path, "edges", i);
    if (!valid_id(e.id)) return invalid(prefix + ".id", kIdRule);
    auto [id_it, fresh_id] = edge_ids.emplace(e.id, i);
    if (!fresh_id)
      return invalid(prefix + ".id", "duplicate edge id " + e.id + " (also " +
                                         at(path, "edges", id_it->second) + ")");
    for (auto [key, end] : {std::pair{"source", &e.source}, std::pair{"target", &e.target}}) {
      if (!valid_id(*end)) return invalid(prefix + "." + key, kIdRule);
      if (!nodes.contains(*end))
        return invalid(prefix + "." + key,
                       "edge " + e.id + " refers to node " + *end + ", which does not exist");
    }
    if (e.source == e.target)
      return invalid(prefix, "edge " + e.id + " goes from node " + e.source + " to itself");
    auto [pair_it, fresh_pair] = pairs.emplace(e.source + "\n" + e.target, i);
    if (!fresh_pair) {
      const Edge& first = r.edges[pair_it->second];
      return invalid(prefix, "edge " + e.id + " (" + e.source + " -> " + e.target +
                                 ") repeats edge " + first.id + " (" +
                                 at(path, "edges", pair_it->second) + ")");
    }
  }

  // Edges join the graph in edge order; the first one whose target already
  // reaches its source closes a cycle. Breadth-first search from the target
  // over the edges before it (successors in edge order) finds the shortest
  // such path, the same one every time.
  std::vector<std::vector<size_t>> succ(r.nodes.size());
  std::vector<size_t> from(r.nodes.size());
  std::vector<size_t> seen(r.nodes.size(), 0);  // the edge index + 1 that last visited
  for (size_t i = 0; i < r.edges.size(); ++i) {
    const Edge& e = r.edges[i];
    size_t s = nodes.at(e.source), t = nodes.at(e.target);
    std::deque<size_t> queue{t};
    seen[t] = i + 1;
    bool closes = false;
    while (!queue.empty() && !closes) {
      size_t u = queue.front();
      queue.pop_front();
      for (size_t v : succ[u]) {
        if (seen[v] == i + 1) continue;
        seen[v] = i + 1;
        from[v] = u;
        if (v == s) {
          closes = true;
          break;
        }
        queue.push_back(v);
      }
    }
    if (closes) {
      std::vector<size_t> cycle{s};
      while (cycle.back() != t) cycle.push_back(from[cycle.back()]);
      std::string text;
      for (auto it = cycle.rbegin(); it != cycle.rend(); ++it) text += r.nodes[*it].id + " -> ";
      text += e.target;
      return invalid(at(path, "edges", i), "edge " + e.id + " (" + e.source + " -> " + e.target +
                                               ") closes a cycle: " + text);
    }
    succ[s].push_back(t);
  }
  return std::nullopt;
}

void lay_out(Roadmap& r) {
  size_t n = r.nodes.size();
  if (n == 0) return;
  auto preds = predecessors(r);
  std::vector<std::vector<size_t>> succ(n);
  std::vector<size_t> waiting(n);
  for (size_t v = 0; v < n; ++v) {
    waiting[v] = preds[v].size();
    for (size_t u : preds[v]) succ[u].push_back(v);
  }
  // Longest path from a root, in topological order (Kahn; roots in node order).
  std::vector<size_t> layer(n, 0);
  std::vector<bool> placed(n, false);
  std::deque<size_t> ready;
  for (size_t v = 0; v < n; ++v)
    if (waiting[v] == 0) ready.push_back(v);
  size_t deepest = 0;
  while (!ready.empty()) {
    size_t u = ready.front();
    ready.pop_front();
    placed[u] = true;
    deepest = std::max(deepest, layer[u]);
    for (size_t v : succ[u]) {
      layer[v] = std::max(layer[v], layer[u] + 1);
      if (--waiting[v] == 0) ready.push_back(v);
    }
  }
  // Nodes on a cycle (an invalid roadmap) never became ready: one layer below
  // all the others.
  bool stranded = false;
  for (size_t v = 0; v < n; ++v) {
    if (placed[v]) continue;
    layer[v] = deepest + 1;
    stranded = true;
  }
  size_t layers = deepest + 1 + (stranded ? 1 : 0);

  std::vector<std::vector<size_t>> rows(layers);
  for (size_t v = 0; v < n; ++v) rows[layer[v]].push_back(v);
  size_t widest = 0;
  for (const auto& row : rows) widest = std::max(widest, row.size());

  std::vector<bool> positioned(n, false);
  // Barycenter of the predecessors already positioned: sum / count,
  // compared as fractions; a node without any goes last.
  std::vector<std::pair<int64_t, int64_t>> bary(n, {0, 0});
  for (size_t k = 0; k < layers; ++k) {
    auto& row = rows[k];
    for (size_t v : row)
      for (size_t u : preds[v])
        if (positioned[u]) {
          bary[v].first += r.nodes[u].position.x;
          ++bary[v].second;
        }
    if (k > 0)
      std::stable_sort(row.begin(), row.end(), [&](size_t a, size_t b) {
        auto [sa, ca] = bary[a];
        auto [sb, cb] = bary[b];
        if (ca == 0 || cb == 0) return ca != 0 && cb == 0;
        return sa * cb < sb * ca;
      });
    int64_t offset = static_cast<int64_t>(widest - row.size()) * (kColumn / 2);
    for (size_t slot = 0; slot < row.size(); ++slot) {
      Node& node = r.nodes[row[slot]];
      node.position.x = kLeft + offset + kColumn * static_cast<int64_t>(slot);
      node.position.y = kTop + kRow * static_cast<int64_t>(k);
      positioned[row[slot]] = true;
    }
  }
}

int progress(const Roadmap& r) {
  int64_t counted = 0, completed = 0;
  for (const Node& n : r.nodes) {
    if (n.skipped) continue;
    ++counted;
    if (n.completed) ++completed;
  }
  if (counted == 0) return 0;
  // round(100 c / n) half-up = floor((200 c + n) / 2n).
  return static_cast<int>((200 * completed + counted) / (2 * counted));
}

std::vector<std::string> next_nodes(const Roadmap& r) {
  auto preds = predecessors(r);
  std::vector<std::string> out;
  for (size_t v = 0; v < r.nodes.size(); ++v) {
    if (done(r.nodes[v])) continue;
    if (std::all_of(preds[v].begin(), preds[v].end(), [&](size_t u) { return done(r.nodes[u]); }))
      out.push_back(r.nodes[v].id);
  }
  return out;
}

std::vector<bool> blocked(const Roadmap& r) {
  auto preds = predecessors(r);
  std::vector<bool> out(r.nodes.size(), false);
  for (size_t v = 0; v < r.nodes.size(); ++v)
    out[v] =
        std::any_of(preds[v].begin(), preds[v].end(), [&](size_t u) { return !done(r.nodes[u]); });
  return out;
}

Roadmap merge_regenerated(const Roadmap& old, Roadmap fresh) {
  std::vector<bool> used(old.nodes.size(), false);
  std::vector<bool> matched(fresh.nodes.size(), false);
  auto take = [&](size_t f, size_t o) {
    fresh.nodes[f].completed = old.nodes[o].completed;
    fresh.nodes[f].skipped = old.nodes[o].skipped;
    used[o] = true;
    matched[f] = true;
  };
  // Ids first, for every fresh node, so that a label match never takes an
  // old node that a later fresh node has by id.
  std::unordered_map<std::string_view, size_t> by_id;
  for (size_t o = 0; o < old.nodes.size(); ++o) by_id.emplace(old.nodes[o].id, o);
  for (size_t f = 0; f < fresh.nodes.size(); ++f) {
    auto it = by_id.find(fresh.nodes[f].id);
    if (it != by_id.end() && !used[it->second]) take(f, it->second);
  }
  std::vector<std::string> old_keys;
  old_keys.reserve(old.nodes.size());
  for (const Node& n : old.nodes) old_keys.push_back(label_key(n.label));
  for (size_t f = 0; f < fresh.nodes.size(); ++f) {
    if (matched[f]) continue;
    std::string key = label_key(fresh.nodes[f].label);
    for (size_t o = 0; o < old.nodes.size(); ++o)
      if (!used[o] && old_keys[o] == key) {
        take(f, o);
        break;
      }
  }
  return fresh;
}

ojson to_json(const Roadmap& r) {
  ojson nodes = ojson::array();
  for (const Node& n : r.nodes) {
    ojson j;
    j["id"] = n.id;
    j["label"] = n.label;
    j["completed"] = n.completed;
    ojson position;
    position["x"] = n.position.x;
    position["y"] = n.position.y;
    j["position"] = std::move(position);
    j["skipped"] = n.skipped;
    j["details"] = n.details ? ojson(*n.details) : ojson(nullptr);
    j["estimated_time"] = n.estimated_time ? ojson(*n.estimated_time) : ojson(nullptr);
    j["resources"] = ojson::array();
    for (const auto& res : n.resources) j["resources"].push_back(res);
    nodes.push_back(std::move(j));
  }
  ojson edges = ojson::array();
  for (const Edge& e : r.edges) {
    ojson j;
    j["id"] = e.id;
    j["source"] = e.source;
    j["target"] = e.target;
    edges.push_back(std::move(j));
  }
  ojson out;
  out["nodes"] = std::move(nodes);
  out["edges"] = std::move(edges);
  return out;
}

}  // namespace gs::roadmap
