// Roadmaps (design.md §8): the DAG rules with the field and sentence of each
// refusal, the deterministic layered layout, progress rounding, the nodes to
// do next, the merge of a regenerated roadmap, and the JSON form.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "modules/roadmap/graph.h"

using nlohmann::json;
using namespace gs::roadmap;

namespace {

json body(const std::string& text) {
  auto j = json::parse(text, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  return j;
}

// {"nodes": [...], "edges": [...]} from the insides of both arrays.
json roadmap_json(const std::string& nodes, const std::string& edges) {
  return body(R"({"nodes":[)" + nodes + R"(],"edges":[)" + edges + "]}");
}

// Nodes with ids `ids` and labels "Label <id>".
std::string nodes_named(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids)
    out += std::string(out.empty() ? "" : ",") + R"({"id":")" + id + R"(","label":"Label )" + id +
           R"("})";
  return out;
}

std::string edge(const std::string& id, const std::string& source, const std::string& target) {
  return R"({"id":")" + id + R"(","source":")" + source + R"(","target":")" + target + R"("})";
}

std::string edge(const std::string& source, const std::string& target) {
  return R"({"source":")" + source + R"(","target":")" + target + R"("})";
}

Node node(const std::string& id, const std::string& label = "") {
  Node n;
  n.id = id;
  n.label = label.empty() ? "Label " + id : label;
  return n;
}

// A -> B, A -> C, B -> D, C -> D.
Roadmap diamond() {
  Roadmap r;
  r.nodes = {node("A"), node("B"), node("C"), node("D")};
  r.edges = {{"e1", "A", "B"}, {"e2", "A", "C"}, {"e3", "B", "D"}, {"e4", "C", "D"}};
  return r;
}

std::vector<Position> positions(const Roadmap& r) {
  std::vector<Position> out;
  for (const auto& n : r.nodes) out.push_back(n.position);
  return out;
}

}  // namespace

TEST_CASE("roadmap: the DAG rules, each refusal naming its field") {
  std::string many_nodes;
  for (int i = 0; i < 201; ++i)
    many_nodes += (i ? "," : "") + nodes_named({"n" + std::to_string(i)});
  std::string many_edges;
  for (int i = 0; i < 1001; ++i) many_edges += (i ? "," : "") + edge("n1", "n2");
  const std::string kIdRule = "must be 1 to 64 characters of A-Z a-z 0-9 _ . : -";

  struct Case {
    const char* name;
    json input;
    std::string field;
    std::string message;
  };
  std::vector<Case> cases = {
      {"cycle of 2",
       roadmap_json(nodes_named({"n1", "n2"}),
                    edge("e1", "n1", "n2") + "," + edge("e2", "n2", "n1")),
       "roadmap.edges[1]", "edge e2 (n2 -> n1) closes a cycle: n1 -> n2 -> n1"},
      {"cycle of 3, edges without ids",
       roadmap_json(nodes_named({"node_1", "node_2", "node_3"}),
                    edge("node_1", "node_2") + "," + edge("node_2", "node_3") + "," +
                        edge("node_3", "node_1")),
       "roadmap.edges[2]",
       "edge edge_3 (node_3 -> node_1) closes a cycle: node_1 -> node_2 -> node_3 -> node_1"},
      {"a cycle below the roots, then a later one",
       roadmap_json(nodes_named({"a", "b", "c", "d"}),
                    edge("e1", "a", "b") + "," + edge("e2", "b", "c") + "," + edge("e3", "c", "d") +
                        "," + edge("e4", "d", "b") + "," + edge("e5", "c", "a")),
       "roadmap.edges[3]", "edge e4 (d -> b) closes a cycle: b -> c -> d -> b"},
      {"the shortest cycle the closing edge makes",
       roadmap_json(nodes_named({"a", "b", "c", "d"}),
                    edge("e1", "a", "b") + "," + edge("e2", "b", "c") + "," + edge("e3", "c", "d") +
                        "," + edge("e4", "a", "d") + "," + edge("e5", "d", "a")),
       "roadmap.edges[4]", "edge e5 (d -> a) closes a cycle: a -> d -> a"},
      {"self-loop", roadmap_json(nodes_named({"n1"}), edge("e1", "n1", "n1")), "roadmap.edges[0]",
       "edge e1 goes from node n1 to itself"},
      {"dangling source", roadmap_json(nodes_named({"n1"}), edge("e1", "n9", "n1")),
       "roadmap.edges[0].source", "edge e1 refers to node n9, which does not exist"},
      {"dangling target",
       roadmap_json(nodes_named({"n1", "n2"}), edge("e1", "n1", "n2") + "," + edge("n2", "n7")),
       "roadmap.edges[1].target", "edge edge_2 refers to node n7, which does not exist"},
      {"duplicate node id", roadmap_json(nodes_named({"n1", "n2", "n1"}), ""),
       "roadmap.nodes[2].id", "duplicate node id n1 (also roadmap.nodes[0])"},
      {"duplicate edge id",
       roadmap_json(nodes_named({"n1", "n2", "n3"}),
                    edge("e1", "n1", "n2") + "," + edge("e1", "n2", "n3")),
       "roadmap.edges[1].id", "duplicate edge id e1 (also roadmap.edges[0])"},
      {"an edge's default id taken",
       roadmap_json(nodes_named({"n1", "n2", "n3"}),
                    edge("edge_2", "n1", "n2") + "," + edge("n2", "n3")),
       "roadmap.edges[1].id", "duplicate edge id edge_2 (also roadmap.edges[0])"},
      {"duplicate pair",
       roadmap_json(nodes_named({"n1", "n2"}),
                    edge("e1", "n1", "n2") + "," + edge("e2", "n1", "n2")),
       "roadmap.edges[1]", "edge e2 (n1 -> n2) repeats edge e1 (roadmap.edges[0])"},
      {"too many nodes", roadmap_json(many_nodes, ""), "roadmap.nodes",
       "must hold at most 200 nodes"},
      {"too many edges", roadmap_json(nodes_named({"n1", "n2"}), many_edges), "roadmap.edges",
       "must hold at most 1000 edges"},
      {"no node", roadmap_json("", ""), "roadmap.nodes", "must hold at least one node"},
      {"bad node id shape",
       roadmap_json(nodes_named({"n1"}) + R"(,{"id":"node 2","label":"B"})", ""),
       "roadmap.nodes[1].id", kIdRule},
      {"node id too long", roadmap_json(nodes_named({std::string(65, 'n')}), ""),
       "roadmap.nodes[0].id", kIdRule},
      {"bad edge id shape", roadmap_json(nodes_named({"n1", "n2"}), edge("e/1", "n1", "n2")),
       "roadmap.edges[0].id", kIdRule},
      {"empty label", roadmap_json(R"({"id":"n1","label":""})", ""), "roadmap.nodes[0].label",
       "must be 1 to 200 characters (Unicode code points)"},
      {"blank label", roadmap_json(R"({"id":"n1","label":"   "})", ""), "roadmap.nodes[0].label",
       "must not be blank"},
      {"label too long",
       roadmap_json(R"({"id":"n1","label":")" + std::string(201, 'x') + R"("})", ""),
       "roadmap.nodes[0].label", "must be 1 to 200 characters (Unicode code points)"},
      {"label missing", roadmap_json(R"({"id":"n1"})", ""), "roadmap.nodes[0].label",
       "is required"},
      {"id not a string", roadmap_json(R"({"id":1,"label":"A"})", ""), "roadmap.nodes[0].id",
       "must be a string"},
      {"completed not a boolean", roadmap_json(R"({"id":"n1","label":"A","completed":"yes"})", ""),
       "roadmap.nodes[0].completed", "must be true or false"},
      {"estimated_time too long",
       roadmap_json(
           R"({"id":"n1","label":"A","estimated_time":")" + std::string(101, 'w') + R"("})", ""),
       "roadmap.nodes[0].estimated_time", "must be 1 to 100 characters (Unicode code points)"},
      {"a resource with a control character",
       roadmap_json(R"({"id":"n1","label":"A","resources":["https://a.example","x\ny"]})", ""),
       "roadmap.nodes[0].resources[1]",
       "must not contain control characters (U+0000-U+001F, U+007F-U+009F)"},
      {"too many resources",
       roadmap_json(R"({"id":"n1","label":"A","resources":[)" +
                        [] {
                          std::string s;
                          for (int i = 0; i < 21; ++i) s += std::string(i ? "," : "") + "\"r\"";
                          return s;
                        }() +
                        "]}",
                    ""),
       "roadmap.nodes[0].resources", "must hold at most 20 resources"},
      {"unknown node member", roadmap_json(R"({"id":"n1","label":"A","color":"red"})", ""),
       "roadmap.nodes[0].color",
       "unknown field; expected one of id, label, completed, skipped, details, estimated_time, "
       "resources, position"},
      {"unknown edge member",
       roadmap_json(nodes_named({"n1", "n2"}), R"({"source":"n1","target":"n2","weight":2})"),
       "roadmap.edges[0].weight", "unknown field; expected one of id, source, target"},
      {"unknown roadmap member", body(R"({"nodes":[{"id":"n1","label":"A"}],"title":"x"})"),
       "roadmap.title", "unknown field; expected one of nodes, edges"},
      {"edge without target", roadmap_json(nodes_named({"n1"}), R"({"source":"n1"})"),
       "roadmap.edges[0].target", "is required"},
      {"not an object", body("[]"), "roadmap", "must be an object with nodes and edges"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    auto r = roadmap_from_json(c.input);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().field == c.field);
    CHECK(r.error().message == c.message);
    CHECK(r.error().code == gs::ErrorCode::invalid);
  }
}

TEST_CASE("roadmap: reading a valid roadmap") {
  auto r = roadmap_from_json(body(R"({"nodes":[
      {"id":"node_1","label":"Complete Python basics","completed":true,"position":{"x":7,"y":9}},
      {"id":"node_2","label":"Study linear algebra","completed":false,"skipped":null,
       "details":"Vectors, matrices","estimated_time":"2 weeks",
       "resources":["https://example.com/la","Strang, Linear Algebra"]}],
      "edges":[{"source":"node_1","target":"node_2"}]})"));
  REQUIRE(r.ok());
  REQUIRE(r->nodes.size() == 2);
  CHECK(r->nodes[0].completed);
  CHECK_FALSE(r->nodes[1].completed);
  CHECK_FALSE(r->nodes[1].skipped);
  CHECK(r->nodes[0].details == std::nullopt);
  CHECK(r->nodes[1].details == "Vectors, matrices");
  CHECK(r->nodes[1].estimated_time == "2 weeks");
  CHECK(r->nodes[1].resources ==
        std::vector<std::string>{"https://example.com/la", "Strang, Linear Algebra"});
  // The client's position is ignored: the roadmap comes back laid out.
  CHECK(r->nodes[0].position == Position{100, 100});
  CHECK(r->nodes[1].position == Position{100, 250});
  REQUIRE(r->edges.size() == 1);
  CHECK(r->edges[0] == Edge{"edge_1", "node_1", "node_2"});

  // Another path prefixes the fields.
  auto bad = roadmap_from_json(body(R"({"nodes":[{"id":"","label":"A"}]})"), "data.roadmap");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().field == "data.roadmap.nodes[0].id");
}

TEST_CASE("roadmap: validate checks roadmaps built in code too") {
  CHECK_FALSE(validate(diamond()).has_value());
  Roadmap r = diamond();
  r.edges.push_back({"e5", "D", "A"});
  auto e = validate(r);
  REQUIRE(e.has_value());
  CHECK(e->field == "roadmap.edges[4]");
  CHECK(e->message == "edge e5 (D -> A) closes a cycle: A -> B -> D -> A");
  // The same input names the same edge every time.
  for (int i = 0; i < 5; ++i) CHECK(validate(r)->message == e->message);
  r = diamond();
  r.nodes[2].details = "";
  e = validate(r);
  REQUIRE(e.has_value());
  CHECK(e->field == "roadmap.nodes[2].details");
}

TEST_CASE("roadmap: layered layout, deterministic") {
  SUBCASE("diamond: layers 0, 1, 1, 2, narrower layers centred") {
    Roadmap r = diamond();
    lay_out(r);
    CHECK(positions(r) == std::vector<Position>{{200, 100}, {100, 250}, {300, 250}, {200, 400}});
    Roadmap again = diamond();
    lay_out(again);
    CHECK(positions(again) == positions(r));
    CHECK(to_json(again).dump() == to_json(r).dump());
    lay_out(r);
    CHECK(positions(again) == positions(r));
  }
  SUBCASE("chain") {
    Roadmap r;
    r.nodes = {node("c"), node("a"), node("b")};  // node order is not path order
    r.edges = {{"e1", "a", "b"}, {"e2", "b", "c"}};
    lay_out(r);
    CHECK(positions(r) == std::vector<Position>{{100, 400}, {100, 100}, {100, 250}});
  }
  SUBCASE("a node's layer is its longest path from a root") {
    Roadmap r;
    r.nodes = {node("a"), node("b"), node("c")};
    r.edges = {{"e1", "a", "c"}, {"e2", "a", "b"}, {"e3", "b", "c"}};
    lay_out(r);
    CHECK(positions(r) == std::vector<Position>{{100, 100}, {100, 250}, {100, 400}});
  }
  SUBCASE("disconnected nodes share layer 0 in node order") {
    Roadmap r;
    r.nodes = {node("x"), node("y"), node("z")};
    lay_out(r);
    CHECK(positions(r) == std::vector<Position>{{100, 100}, {300, 100}, {500, 100}});
  }
  SUBCASE("a lower layer follows its predecessors' order (barycenter)") {
    Roadmap r;
    r.nodes = {node("r1"), node("r2"), node("x"), node("y"), node("z")};
    r.edges = {{"e1", "r2", "x"}, {"e2", "r1", "y"}, {"e3", "r1", "z"}, {"e4", "r2", "z"}};
    lay_out(r);
    // Layer 1 is three wide: r1 and r2 are centred over it (x 200, 400);
    // y (under r1, 200) comes before z (300), then x (400).
    CHECK(positions(r) ==
          std::vector<Position>{{200, 100}, {400, 100}, {500, 250}, {100, 250}, {300, 250}});
  }
  SUBCASE("a cyclic roadmap still gets positions") {
    Roadmap r;
    r.nodes = {node("a"), node("b"), node("c")};
    r.edges = {{"e1", "a", "b"}, {"e2", "b", "c"}, {"e3", "c", "b"}};
    lay_out(r);
    CHECK(positions(r) == std::vector<Position>{{200, 100}, {100, 250}, {300, 250}});
  }
}

TEST_CASE("roadmap: progress rounds half-up in integers") {
  struct Case {
    int completed;
    int open;
    int skipped_completed;
    int skipped_open;
    int expected;
  };
  // completed, open, skipped (completed), skipped (open) -> progress
  std::vector<Case> cases = {
      {1, 2, 0, 0, 33}, {2, 1, 0, 0, 67},    {1, 1, 0, 0, 50},  {1, 7, 0, 0, 13}, {0, 0, 0, 0, 0},
      {0, 5, 0, 0, 0},  {4, 0, 0, 0, 100},   {1, 199, 0, 0, 1}, {1, 2, 3, 4, 33}, {0, 0, 2, 1, 0},
      {3, 1, 0, 4, 75}, {199, 1, 0, 0, 100}, {1, 0, 0, 3, 100}, {5, 3, 1, 1, 63},
  };
  for (const auto& c : cases) {
    CAPTURE(c.completed);
    CAPTURE(c.open);
    CAPTURE(c.skipped_completed);
    CAPTURE(c.skipped_open);
    Roadmap r;
    auto add = [&](int count, bool completed, bool skipped) {
      for (int i = 0; i < count; ++i) {
        Node n = node("n" + std::to_string(r.nodes.size()));
        n.completed = completed;
        n.skipped = skipped;
        r.nodes.push_back(n);
      }
    };
    add(c.completed, true, false);
    add(c.open, false, false);
    add(c.skipped_completed, true, true);
    add(c.skipped_open, false, true);
    CHECK(progress(r) == c.expected);
  }
}

TEST_CASE("roadmap: next nodes and blocked nodes on a diamond as nodes complete") {
  Roadmap r = diamond();
  CHECK(next_nodes(r) == std::vector<std::string>{"A"});
  CHECK(blocked(r) == std::vector<bool>{false, true, true, true});
  r.nodes[0].completed = true;
  CHECK(next_nodes(r) == std::vector<std::string>{"B", "C"});
  CHECK(blocked(r) == std::vector<bool>{false, false, false, true});
  r.nodes[1].completed = true;
  CHECK(next_nodes(r) == std::vector<std::string>{"C"});
  CHECK(blocked(r) == std::vector<bool>{false, false, false, true});
  r.nodes[2].skipped = true;  // a skipped node unblocks what follows it
  CHECK(next_nodes(r) == std::vector<std::string>{"D"});
  CHECK(blocked(r) == std::vector<bool>{false, false, false, false});
  CHECK(progress(r) == 67);
  r.nodes[3].completed = true;
  CHECK(next_nodes(r).empty());
  CHECK(progress(r) == 100);
}

TEST_CASE("roadmap: a regenerated roadmap keeps the state of the old one's nodes") {
  Roadmap old;
  old.nodes = {node("n1", "Learn Python"), node("n2", "Study linear algebra"),
               node("n3", "Calculus"), node("n4", "Statistics")};
  old.nodes[0].completed = true;
  old.nodes[1].skipped = true;
  old.nodes[2].completed = true;
  old.nodes[3].completed = true;

  Roadmap fresh;
  fresh.nodes = {node("n1", "Python basics"),             // by id: completed
                 node("x2", "  study LINEAR Algebra\t"),  // by label: skipped
                 node("x3", "Calculus"),  // its label is n3's, but n3 goes to the later node by id
                 node("n3", "Calculus II"),   // by id: completed
                 node("x4", "Statistics"),    // by label: completed
                 node("x5", "Statistics"),    // n4 lent its state already
                 node("x6", "Probability")};  // new
  fresh.edges = {{"e1", "n1", "x2"}};
  Roadmap merged = merge_regenerated(old, fresh);
  std::vector<bool> completed, skipped;
  for (const auto& n : merged.nodes) {
    completed.push_back(n.completed);
    skipped.push_back(n.skipped);
  }
  CHECK(completed == std::vector<bool>{true, false, false, true, true, false, false});
  CHECK(skipped == std::vector<bool>{false, true, false, false, false, false, false});
  // Everything else is fresh's.
  CHECK(merged.nodes[1].label == "  study LINEAR Algebra\t");
  CHECK(merged.edges == fresh.edges);

  // A fresh node's own state gives way to the old one's; unmatched nodes keep theirs.
  Roadmap fresh2;
  fresh2.nodes = {node("n2", "Other"), node("y", "New")};
  fresh2.nodes[0].completed = true;
  fresh2.nodes[1].completed = true;
  Roadmap merged2 = merge_regenerated(old, fresh2);
  CHECK_FALSE(merged2.nodes[0].completed);
  CHECK(merged2.nodes[0].skipped);
  CHECK(merged2.nodes[1].completed);
}

TEST_CASE("roadmap: the JSON form, its member order and its round trip") {
  Roadmap r;
  r.nodes = {node("node_1", "Complete Python basics"), node("node_2", "Study linear algebra")};
  r.nodes[0].completed = true;
  r.nodes[1].details = "Vectors";
  r.nodes[1].estimated_time = "2 weeks";
  r.nodes[1].resources = {"https://example.com"};
  r.edges = {{"edge_1", "node_1", "node_2"}};
  lay_out(r);
  CHECK(
      to_json(r).dump() ==
      R"({"nodes":[)"
      R"({"id":"node_1","label":"Complete Python basics","completed":true,"position":{"x":100,"y":100},)"
      R"("skipped":false,"details":null,"estimated_time":null,"resources":[]},)"
      R"({"id":"node_2","label":"Study linear algebra","completed":false,"position":{"x":100,"y":250},)"
      R"("skipped":false,"details":"Vectors","estimated_time":"2 weeks","resources":["https://example.com"]}],)"
      R"("edges":[{"id":"edge_1","source":"node_1","target":"node_2"}]})");
  auto back = roadmap_from_json(json::parse(to_json(r).dump()));
  REQUIRE(back.ok());
  CHECK(*back == r);
}
