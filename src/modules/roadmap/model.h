// Roadmap goals (the personal-goals reference, /api/v1/goals; design.md §8):
// a goal with a title, an optional description and target date, and the
// roadmap generated for it (graph.h). Plain value types, the requests that
// create and change them (parsing never throws and names the offending
// field, "target_date"), the API and stored forms, and the payloads of the
// family's commands. No I/O; everything here is thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/result.h"
#include "modules/roadmap/graph.h"

namespace gs::roadmap {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

// Limits. Texts follow the API's text rule (text::check_label) and are
// counted in code points.
inline constexpr size_t kMaxTitleChars = 200;
inline constexpr size_t kMaxDescriptionChars = 2000;
// A stored target_date is read back by type and this length only.
inline constexpr size_t kMaxTargetDateChars = 64;

// A goal's status, derived on read (status()), never stored.
enum class GoalStatus { active, completed, abandoned };
std::string_view to_string(GoalStatus s);
// "active", "completed" or "abandoned"; nullopt for anything else.
std::optional<GoalStatus> parse_status(std::string_view s);

struct RoadmapGoal {
  std::string id;  // goal_<16 hex>
  std::string tenant_id;
  std::string title;
  std::optional<std::string> description;
  // The text the request's date was normalised to: an ISO 8601 date
  // ("2026-06-30") as sent, a date-time as format_rfc3339 writes it in UTC
  // ("2026-12-31T00:00:00+02:00" becomes "2026-12-30T22:00:00Z").
  std::optional<std::string> target_date;
  std::optional<Roadmap> roadmap;  // none until generated
  // Since when each node of the roadmap counts its signals (signals.h): the
  // issued_at of the generation that introduced its id. Stored, never shown.
  std::map<std::string, int64_t, std::less<>> node_since;
  bool abandoned = false;  // set and cleared by the user (PATCH status)
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  bool operator==(const RoadmapGoal&) const = default;
};

// abandoned when the user abandoned it; else completed when it has a
// roadmap with at least one counted (non-skipped) node and every counted
// node is completed; else active. So reopening a node of a completed goal
// makes it active again, and un-abandoning a finished goal makes it
// completed.
GoalStatus status(const RoadmapGoal& g);
// The roadmap's progress (graph.h: one function, half-up), 0 without one.
int progress(const RoadmapGoal& g);

// The API form: the reference's members in its order: id, title,
// description, target_date (null when absent), roadmap (null until
// generated; else graph's to_json with, derived on read, `blocked` in each
// node and `next_nodes` (ids) after the edges), progress, status,
// created_at, updated_at. tenant_id is not part of it.
ojson to_json(const RoadmapGoal& g);

// The stored form, which is also the payload of roadmap_goal.created: id,
// title, description, target_date, roadmap (graph's to_json, nothing
// derived; null until generated), node_since (node id -> RFC 3339 time;
// left out while empty), abandoned, created_at, updated_at.
ojson stored_json(const RoadmapGoal& g);
// Reads the stored form back. Lenient as stored forms are (docs/decisions.md:
// types and lengths; members of a later version are ignored); a stored
// roadmap is read by roadmap_from_json, the checks its command passed.
// Never throws; an Error names the member ("roadmap.nodes[0].id").
Result<RoadmapGoal> goal_from_stored(const json& j, std::string tenant_id);

// Validates a POST /api/v1/goals body: title required; description and
// target_date optional (null is leaving them out); unknown members refused.
// id, tenant_id and the times are left for the caller.
Result<RoadmapGoal> goal_from_request(const json& body);

// A validated PATCH /api/v1/goals/{goal_id} body: a member present is
// written, absent ones keep their value. description and target_date null
// clear them; status is "abandoned" or "active" (which clears abandoned: the
// goal reads completed again if its roadmap is done). "completed" is
// refused: it is reached through the nodes.
struct GoalPatch {
  std::string id;  // from the path
  std::optional<std::string> title;
  bool description_set = false;
  std::optional<std::string> description;
  bool target_date_set = false;
  std::optional<std::string> target_date;
  std::optional<GoalStatus> status;  // active or abandoned
};
Result<GoalPatch> patch_from_request(const json& body);
// The payload of roadmap_goal.updated: {"id", the members sent (null for a
// clearing)}; and back (lenient; an Error names "data.id" without the id).
json to_json(const GoalPatch& p);
Result<GoalPatch> patch_from_json(const json& j);
// The goal after the patch; `at_ms` becomes its updated_at.
RoadmapGoal apply(RoadmapGoal g, const GoalPatch& p, int64_t at_ms);

// A validated PATCH /api/v1/goals/{goal_id}/roadmap/nodes/{node_id} body,
// or a todo_completed/todo_reopened event's effect: {"completed": bool}
// (or the vendor clients' {"is_complete": bool}; both sent must agree),
// {"skipped": bool}, or both; at least one. A node is open, completed or
// skipped: completing one un-skips it and skipping one un-completes it, so
// {"completed": true, "skipped": true} is refused.
struct NodePatch {
  std::string goal_id;  // from the path
  std::string node_id;  // from the path
  std::optional<bool> completed;
  std::optional<bool> skipped;
};
Result<NodePatch> node_patch_from_request(const json& body);
// The payload of roadmap.node_updated: {goal_id, node_id, completed?,
// skipped?}; and back (lenient; "data.goal_id", "data.node_id" name a
// missing id).
json to_json(const NodePatch& p);
Result<NodePatch> node_patch_from_json(const json& j);
// The goal after the patch; `at_ms` becomes its updated_at. A goal without
// a roadmap, or a node id its roadmap does not have, is a not_found Error
// naming node_id.
Result<RoadmapGoal> apply(RoadmapGoal g, const NodePatch& p, int64_t at_ms);

// The payload of roadmap.generated: a finished generation, recorded so that
// a replay never generates again (design.md invariant 9).
struct GeneratedRoadmap {
  std::string goal_id;
  Roadmap roadmap;
};
// {goal_id, roadmap (the stored form)}; and back ("data.goal_id",
// "data.roadmap.nodes[2].label" name what is wrong).
json to_json(const GeneratedRoadmap& g);
Result<GeneratedRoadmap> generated_from_json(const json& j);
// The goal with `fresh` as its roadmap; when it had one, the completed and
// skipped state of the nodes the new one still has is kept
// (merge_regenerated). `at_ms` becomes its updated_at.
RoadmapGoal with_roadmap(RoadmapGoal g, Roadmap fresh, int64_t at_ms);

// A fresh id: goal_ + 16 hex digits (8 random bytes).
std::string new_goal_id();
// Whether `id` has the shape of a goal id (anything else is never found).
bool valid_goal_id(std::string_view id);

// Payloads: created: stored_json; updated: to_json(GoalPatch); deleted:
// {"id"}; generated: to_json(GeneratedRoadmap); node_updated:
// to_json(NodePatch).
namespace command_type {
inline constexpr const char* roadmap_goal_created = "roadmap_goal.created";
inline constexpr const char* roadmap_goal_updated = "roadmap_goal.updated";
inline constexpr const char* roadmap_goal_deleted = "roadmap_goal.deleted";
inline constexpr const char* roadmap_generated = "roadmap.generated";
inline constexpr const char* roadmap_node_updated = "roadmap.node_updated";
}  // namespace command_type

}  // namespace gs::roadmap
