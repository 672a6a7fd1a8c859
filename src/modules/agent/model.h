// Agent goals (docs/api.md: /v1/goals): binary success goals of an AI call
// agent, optionally scoped to one channel, with period targets (`count` or
// `rate`). Plain value types and their commands; request parsing never
// throws and names the offending field ("targets[1].target_rate"). No I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.h"

namespace gs::agent {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

// Limits (docs/api.md#agent-goals). Texts are counted in code points and
// follow the API's text rule (text::check_label); agent and channel ids are
// 1 to kMaxIdChars of [A-Za-z0-9_.:-] (a uuid, or `agent_abc123`).
inline constexpr size_t kMaxTitleChars = 200;
inline constexpr size_t kMaxDescriptionChars = 2000;
inline constexpr size_t kMaxIdChars = 200;
inline constexpr size_t kMaxTargets = 10;
// A call outcome's goal_results hold at most this many verdicts.
inline constexpr size_t kMaxGoalResults = 100;
inline constexpr int64_t kMaxTargetCount = 1'000'000'000;
inline constexpr int64_t kDefaultMinSample = 20;
inline constexpr int64_t kMaxMinSample = 1'000'000;

enum class Period { day, week, month };
// The first day of a goal's weeks: Monday (ISO 8601 weeks, the default) or
// Sunday.
enum class WeekStart { monday, sunday };
enum class TargetType { count, rate };
std::string_view to_string(Period p);
std::string_view to_string(WeekStart w);
std::string_view to_string(TargetType t);
// A number as the API writes it: whole ones as integers (70, as the
// reference writes target_rate), others as they are.
ojson number_json(double v);

// One period target of a goal. A `count` target is met when the successes of
// a period reach target_count; a `rate` target when the success rate of a
// period, over at least min_sample verdicts, reaches target_rate (percent).
struct Target {
  std::string id;  // target_<16 hex>, new for every target a write sends
  Period period = Period::week;
  TargetType type = TargetType::count;
  int64_t target_count = 0;  // count targets: 1 to kMaxTargetCount
  double target_rate = 0;    // rate targets: (0, 100], 6 decimal places
  bool is_primary = false;
  int64_t min_sample = kDefaultMinSample;  // rate targets (ours, beyond the reference)
};

struct AgentGoal {
  std::string id;  // goal_<16 hex>
  std::string tenant_id;
  std::string agent_id;
  std::optional<std::string> channel_id;  // none: every channel
  std::string title;
  std::string description;  // the success criteria calls are evaluated against
  bool active = true;
  std::vector<Target> targets;  // at most one is_primary; the first is when any exist
  // The IANA time zone of its periods (ours, beyond the reference); none:
  // the tenant's (/api/settings).
  std::optional<std::string> timezone;
  WeekStart week_start = WeekStart::monday;  // ours, beyond the reference
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

// The API form, which is also the stored form and the payload of
// agent_goal.created: the reference's members in its order (id, agent_id,
// channel_id, title, description, active, goal_targets[{id, period,
// target_type, target_count, target_rate, is_primary}]), then ours
// (min_sample in each target; timezone, week_start, created_at,
// updated_at). Whole numbers are
// JSON integers (70, not 70.0). tenant_id is not part of it.
ojson to_json(const AgentGoal& g);
// Reads the stored form (or a command's payload) back. Lenient as stored
// forms are (docs/decisions.md: types and lengths only), never throws; an
// Error names the member ("goal_targets[0].period").
Result<AgentGoal> goal_from_json(const json& j, std::string tenant_id);

// Validates a POST /v1/goals body: agent_id, title, description required;
// channel_id, active, targets, timezone, week_start optional; unknown members refused. Targets
// get no ids (new_target_id() is the caller's, so that the command carries
// them); when targets exist and none is primary, the first becomes primary.
// id, tenant_id and the times are left for the caller.
Result<AgentGoal> goal_from_request(const json& body);

// A validated PATCH /v1/goals/{id} body: a member present is written; absent
// ones keep their value. `channel_id: null` removes the channel scope;
// `targets` replaces every target (with new ids; [] removes them all);
// `timezone: null` follows the tenant's time zone again.
struct GoalPatch {
  std::string id;  // from the path
  std::optional<std::string> agent_id;
  bool channel_set = false;
  std::optional<std::string> channel_id;
  std::optional<std::string> title;
  std::optional<std::string> description;
  std::optional<bool> active;
  std::optional<std::vector<Target>> targets;
  bool timezone_set = false;
  std::optional<std::string> timezone;
  std::optional<WeekStart> week_start;
};
Result<GoalPatch> patch_from_request(const json& body);
// The payload of agent_goal.updated: {"id", the members sent, targets with
// their ids}; and back (lenient, as goal_from_json).
json to_json(const GoalPatch& p);
Result<GoalPatch> patch_from_json(const json& j);
// The goal after the patch; `at_ms` becomes its updated_at.
AgentGoal apply(AgentGoal g, const GoalPatch& p, int64_t at_ms);

// Fresh ids: goal_ and target_ + 16 hex digits (8 random bytes).
std::string new_goal_id();
std::string new_target_id();
// Whether `id` has the shape of a goal id (anything else is never found).
bool valid_goal_id(std::string_view id);
// An agent or channel id: 1 to kMaxIdChars of [A-Za-z0-9_.:-].
bool valid_ref_id(std::string_view id);

namespace command_type {
inline constexpr const char* agent_goal_created = "agent_goal.created";
inline constexpr const char* agent_goal_updated = "agent_goal.updated";
inline constexpr const char* agent_goal_deleted = "agent_goal.deleted";
}  // namespace command_type

}  // namespace gs::agent
