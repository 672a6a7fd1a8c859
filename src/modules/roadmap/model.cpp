#include "modules/roadmap/model.h"

#include <algorithm>
#include <initializer_list>
#include <utility>

#include "base/crypto.h"
#include "base/text.h"
#include "base/time.h"

namespace gs::roadmap {
namespace {

// Requests are checked in full (the text rule, the date forms, unknown
// members); stored forms and command payloads by type and length only, so
// that whatever an earlier version accepted still folds the same way
// (docs/decisions.md, "Requests are strict, stored forms are lenient").
enum class Mode { request, stored };

// The members of one JSON object, named by their path in errors
// (prefix + member).
class Members {
 public:
  Members(const json& obj, std::string prefix, Mode mode)
      : obj_(obj), prefix_(std::move(prefix)), mode_(mode) {}

  std::string path(std::string_view key) const { return prefix_ + std::string(key); }
  Error error(std::string_view key, std::string message) const {
    return invalid(path(key), std::move(message));
  }
  // The member `key`, null when absent or JSON null.
  const json* find(const char* key) const {
    auto it = obj_.find(key);
    return it == obj_.end() || it->is_null() ? nullptr : &*it;
  }
  bool present(const char* key) const { return obj_.contains(key); }
  // A request's members are refused beyond `known`, naming the first other.
  std::optional<Error> only(std::initializer_list<const char*> known) const {
    if (mode_ == Mode::stored) return std::nullopt;
    for (auto it = obj_.begin(); it != obj_.end(); ++it) {
      const std::string& key = it.key();
      if (std::any_of(known.begin(), known.end(), [&](const char* k) { return key == k; }))
        continue;
      std::string names;
      for (const char* k : known) names += (names.empty() ? "" : ", ") + std::string(k);
      return error(key, "unknown field; expected one of " + names);
    }
    return std::nullopt;
  }
  // Members that must not be JSON null when present (a PATCH cannot unset them).
  std::optional<Error> not_null(std::initializer_list<const char*> keys) const {
    for (const char* k : keys) {
      auto it = obj_.find(k);
      if (it != obj_.end() && it->is_null()) return error(k, "cannot be null");
    }
    return std::nullopt;
  }

  // A human-readable text.
  std::optional<Error> label(const char* key, size_t max_chars,
                             std::optional<std::string>& out) const {
    const json* m = find(key);
    if (!m) return std::nullopt;
    if (!m->is_string()) return error(key, "must be a string");
    const auto& s = m->get_ref<const std::string&>();
    if (mode_ == Mode::request) {
      if (auto why = text::check_label(s, max_chars)) return error(key, *why);
    } else if (text::code_points(s) > max_chars) {
      return error(key, "must be at most " + std::to_string(max_chars) + " characters");
    }
    out = s;
    return std::nullopt;
  }

  std::optional<Error> boolean(const char* key, std::optional<bool>& out) const {
    const json* m = find(key);
    if (!m) return std::nullopt;
    if (!m->is_boolean()) return error(key, "must be true or false");
    out = m->get<bool>();
    return std::nullopt;
  }

  // A target date. A request's is an ISO 8601 date, kept as it is, or an
  // RFC 3339 date-time, written back in UTC; a stored one is the text
  // written then.
  std::optional<Error> target_date(const char* key, std::optional<std::string>& out) const {
    const json* m = find(key);
    if (!m) return std::nullopt;
    const std::string* s = m->is_string() ? &m->get_ref<const std::string&>() : nullptr;
    if (mode_ == Mode::stored) {
      if (!s || s->empty() || s->size() > kMaxTargetDateChars)
        return error(key, "must be a date or a date-time");
      out = *s;
      return std::nullopt;
    }
    if (s) {
      if (auto day = time::parse_date(*s)) {
        out = time::format_date(*day);
        return std::nullopt;
      }
      if (auto ms = time::parse_rfc3339(*s)) {
        out = time::format_rfc3339(*ms);
        return std::nullopt;
      }
    }
    return error(key,
                 "must be an ISO 8601 date (2026-06-30) or an RFC 3339 date-time "
                 "(2026-06-30T00:00:00Z), from 1970 to 9999");
  }

  // A stored RFC 3339 date-time.
  std::optional<Error> date_time(const char* key, std::optional<int64_t>& out) const {
    const json* m = find(key);
    if (!m) return std::nullopt;
    if (m->is_string()) out = time::parse_rfc3339(m->get_ref<const std::string&>());
    if (!out) return error(key, "must be an RFC 3339 date-time");
    return std::nullopt;
  }

  // A stored, non-empty id (a command's goal or node id).
  std::optional<Error> id(const char* key, std::string& out) const {
    const json* m = find(key);
    if (!m || !m->is_string() || m->get_ref<const std::string&>().empty())
      return error(key, "is required");
    out = m->get<std::string>();
    return std::nullopt;
  }

 private:
  const json& obj_;
  std::string prefix_;
  Mode mode_;
};

// The members POST and the stored form share, into `g`.
std::optional<Error> read_goal_members(const Members& m, RoadmapGoal& g) {
  if (!m.find("title")) return m.error("title", "is required");
  std::optional<std::string> title;
  if (auto e = m.label("title", kMaxTitleChars, title)) return *e;
  g.title = std::move(*title);
  if (auto e = m.label("description", kMaxDescriptionChars, g.description)) return *e;
  return m.target_date("target_date", g.target_date);
}

ojson optional_text(const std::optional<std::string>& s) { return s ? ojson(*s) : ojson(nullptr); }

Result<GoalPatch> patch_fields(const json& body, Mode mode) {
  if (!body.is_object()) return invalid("", "request body must be a JSON object");
  Members m(body, "", mode);
  if (auto e = m.only({"title", "description", "target_date", "status"})) return *e;
  GoalPatch p;
  if (mode == Mode::stored)
    if (auto e = Members(body, "data.", mode).id("id", p.id)) return *e;
  if (auto e = m.not_null({"title", "status"})) return *e;
  if (auto e = m.label("title", kMaxTitleChars, p.title)) return *e;
  p.description_set = m.present("description");
  if (auto e = m.label("description", kMaxDescriptionChars, p.description)) return *e;
  p.target_date_set = m.present("target_date");
  if (auto e = m.target_date("target_date", p.target_date)) return *e;
  if (const json* s = m.find("status")) {
    auto status = s->is_string() ? parse_status(s->get_ref<const std::string&>()) : std::nullopt;
    if (status == GoalStatus::completed)
      return m.error("status", "completed is reached by completing the roadmap's nodes");
    if (!status) return m.error("status", "must be active or abandoned");
    p.status = status;
  }
  return p;
}

Result<NodePatch> node_fields(const json& body, Mode mode) {
  if (!body.is_object()) return invalid("", "request body must be a JSON object");
  Members m(body, "", mode);
  NodePatch p;
  if (mode == Mode::stored) {
    Members data(body, "data.", mode);
    if (auto e = data.id("goal_id", p.goal_id)) return *e;
    if (auto e = data.id("node_id", p.node_id)) return *e;
  }
  if (auto e = m.only({"completed", "is_complete", "skipped"})) return *e;
  if (auto e = m.not_null({"completed", "is_complete", "skipped"})) return *e;
  if (auto e = m.boolean("completed", p.completed)) return *e;
  std::optional<bool> alias;
  if (mode == Mode::request) {
    if (auto e = m.boolean("is_complete", alias)) return *e;
    if (alias && p.completed && *alias != *p.completed)
      return m.error("is_complete", "must agree with completed when both are sent");
    if (alias) p.completed = alias;
  }
  if (auto e = m.boolean("skipped", p.skipped)) return *e;
  if (mode == Mode::request) {
    if (!p.completed && !p.skipped)
      return m.error("completed", "is required (or is_complete, or skipped)");
    if (p.completed == true && p.skipped == true)
      return m.error("skipped", "cannot be true with completed: a node is completed or skipped");
  }
  return p;
}

// The roadmap as the API shows it: graph's form with what is derived on read.
ojson roadmap_api_json(const Roadmap& r) {
  ojson j = to_json(r);
  auto is_blocked = blocked(r);
  for (size_t i = 0; i < r.nodes.size(); ++i) j["nodes"][i]["blocked"] = bool(is_blocked[i]);
  j["next_nodes"] = next_nodes(r);
  return j;
}

}  // namespace

std::string_view to_string(GoalStatus s) {
  switch (s) {
    case GoalStatus::active:
      return "active";
    case GoalStatus::completed:
      return "completed";
    case GoalStatus::abandoned:
      return "abandoned";
  }
  return "?";
}

std::optional<GoalStatus> parse_status(std::string_view s) {
  if (s == "active") return GoalStatus::active;
  if (s == "completed") return GoalStatus::completed;
  if (s == "abandoned") return GoalStatus::abandoned;
  return std::nullopt;
}

GoalStatus status(const RoadmapGoal& g) {
  if (g.abandoned) return GoalStatus::abandoned;
  if (!g.roadmap) return GoalStatus::active;
  bool counted = false;
  for (const Node& n : g.roadmap->nodes) {
    if (n.skipped) continue;
    if (!n.completed) return GoalStatus::active;
    counted = true;
  }
  return counted ? GoalStatus::completed : GoalStatus::active;
}

int progress(const RoadmapGoal& g) { return g.roadmap ? progress(*g.roadmap) : 0; }

ojson to_json(const RoadmapGoal& g) {
  ojson j;
  j["id"] = g.id;
  j["title"] = g.title;
  j["description"] = optional_text(g.description);
  j["target_date"] = optional_text(g.target_date);
  j["roadmap"] = g.roadmap ? roadmap_api_json(*g.roadmap) : ojson(nullptr);
  j["progress"] = progress(g);
  j["status"] = to_string(status(g));
  j["created_at"] = time::format_rfc3339(g.created_at_ms);
  j["updated_at"] = time::format_rfc3339(g.updated_at_ms);
  return j;
}

ojson stored_json(const RoadmapGoal& g) {
  ojson j;
  j["id"] = g.id;
  j["title"] = g.title;
  j["description"] = optional_text(g.description);
  j["target_date"] = optional_text(g.target_date);
  j["roadmap"] = g.roadmap ? to_json(*g.roadmap) : ojson(nullptr);
  if (!g.node_since.empty()) {
    ojson since = ojson::object();
    for (const auto& [id, at] : g.node_since) since[id] = time::format_rfc3339(at);
    j["node_since"] = std::move(since);
  }
  j["abandoned"] = g.abandoned;
  j["created_at"] = time::format_rfc3339(g.created_at_ms);
  j["updated_at"] = time::format_rfc3339(g.updated_at_ms);
  return j;
}

Result<RoadmapGoal> goal_from_stored(const json& j, std::string tenant_id) {
  if (!j.is_object()) return invalid("", "stored roadmap goal is not an object");
  Members m(j, "", Mode::stored);
  RoadmapGoal g;
  if (auto e = m.id("id", g.id)) return *e;
  if (auto e = read_goal_members(m, g)) return *e;
  if (const json* r = m.find("roadmap")) {
    auto roadmap = roadmap_from_json(*r, "roadmap");
    if (!roadmap.ok()) return roadmap.error();
    g.roadmap = std::move(roadmap).value();
  }
  if (const json* since = m.find("node_since")) {
    if (!since->is_object()) return invalid("node_since", "must be an object");
    for (const auto& [id, at] : since->items()) {
      auto t = at.is_string() ? time::parse_rfc3339(at.get_ref<const std::string&>())
                              : std::optional<int64_t>();
      if (!t) return invalid("node_since." + id, "must be an RFC 3339 date-time");
      g.node_since.emplace(id, *t);
    }
  }
  std::optional<bool> abandoned;
  if (auto e = m.boolean("abandoned", abandoned)) return *e;
  g.abandoned = abandoned.value_or(false);
  std::optional<int64_t> created, updated;
  if (auto e = m.date_time("created_at", created)) return *e;
  if (!created) return invalid("created_at", "is required");
  if (auto e = m.date_time("updated_at", updated)) return *e;
  g.created_at_ms = *created;
  g.updated_at_ms = updated.value_or(*created);
  g.tenant_id = std::move(tenant_id);
  return g;
}

Result<RoadmapGoal> goal_from_request(const json& body) {
  if (!body.is_object()) return invalid("", "request body must be a JSON object");
  Members m(body, "", Mode::request);
  if (auto e = m.only({"title", "description", "target_date"})) return *e;
  RoadmapGoal g;
  if (auto e = read_goal_members(m, g)) return *e;
  return g;
}

Result<GoalPatch> patch_from_request(const json& body) { return patch_fields(body, Mode::request); }

Result<GoalPatch> patch_from_json(const json& j) { return patch_fields(j, Mode::stored); }

json to_json(const GoalPatch& p) {
  ojson j;
  j["id"] = p.id;
  if (p.title) j["title"] = *p.title;
  if (p.description_set) j["description"] = optional_text(p.description);
  if (p.target_date_set) j["target_date"] = optional_text(p.target_date);
  if (p.status) j["status"] = to_string(*p.status);
  return json(j);
}

RoadmapGoal apply(RoadmapGoal g, const GoalPatch& p, int64_t at_ms) {
  if (p.title) g.title = *p.title;
  if (p.description_set) g.description = p.description;
  if (p.target_date_set) g.target_date = p.target_date;
  if (p.status) g.abandoned = *p.status == GoalStatus::abandoned;
  g.updated_at_ms = at_ms;
  return g;
}

Result<NodePatch> node_patch_from_request(const json& body) {
  return node_fields(body, Mode::request);
}

Result<NodePatch> node_patch_from_json(const json& j) { return node_fields(j, Mode::stored); }

json to_json(const NodePatch& p) {
  ojson j;
  j["goal_id"] = p.goal_id;
  j["node_id"] = p.node_id;
  if (p.completed) j["completed"] = *p.completed;
  if (p.skipped) j["skipped"] = *p.skipped;
  return json(j);
}

Result<RoadmapGoal> apply(RoadmapGoal g, const NodePatch& p, int64_t at_ms) {
  if (!g.roadmap)
    return Error{ErrorCode::not_found, "node_id", "goal " + g.id + " has no roadmap yet"};
  auto& nodes = g.roadmap->nodes;
  auto it =
      std::find_if(nodes.begin(), nodes.end(), [&](const Node& n) { return n.id == p.node_id; });
  if (it == nodes.end())
    return Error{ErrorCode::not_found, "node_id",
                 "the roadmap of goal " + g.id + " has no node " + p.node_id};
  // A node is open, completed or skipped: completing un-skips, skipping un-completes.
  if (p.completed) {
    it->completed = *p.completed;
    if (*p.completed) it->skipped = false;
  }
  if (p.skipped) {
    it->skipped = *p.skipped;
    if (*p.skipped) it->completed = false;
  }
  g.updated_at_ms = at_ms;
  return g;
}

json to_json(const GeneratedRoadmap& g) {
  ojson j;
  j["goal_id"] = g.goal_id;
  j["roadmap"] = to_json(g.roadmap);
  return json(j);
}

Result<GeneratedRoadmap> generated_from_json(const json& j) {
  if (!j.is_object()) return invalid("data", "must be an object");
  GeneratedRoadmap g;
  if (auto e = Members(j, "data.", Mode::stored).id("goal_id", g.goal_id)) return *e;
  auto it = j.find("roadmap");
  if (it == j.end() || it->is_null()) return invalid("data.roadmap", "is required");
  auto r = roadmap_from_json(*it, "data.roadmap");
  if (!r.ok()) return r.error();
  g.roadmap = std::move(r).value();
  return g;
}

RoadmapGoal with_roadmap(RoadmapGoal g, Roadmap fresh, int64_t at_ms) {
  g.roadmap = g.roadmap ? merge_regenerated(*g.roadmap, std::move(fresh)) : std::move(fresh);
  g.updated_at_ms = at_ms;
  return g;
}

std::string new_goal_id() { return "goal_" + crypto::random_hex(8); }

bool valid_goal_id(std::string_view id) {
  constexpr std::string_view kPrefix = "goal_";
  if (id.size() != kPrefix.size() + 16 || !id.starts_with(kPrefix)) return false;
  return std::all_of(id.begin() + kPrefix.size(), id.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace gs::roadmap
