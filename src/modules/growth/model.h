// Growth goals (docs/api.md: /api/goals), the metrics they measure
// (docs/api.md; /api/metrics is goalstream's own) and tenant settings.
// Plain value types; request parsing never throws and names the offending
// field. Window names are checked here by shape only; pacing.h gives them
// meaning.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "base/result.h"

namespace gs::growth {

using json = nlohmann::json;

// Text limits in code points (the rule: text::check_label), and the range
// of a target (6 decimal places, at most 10^15).
inline constexpr size_t kMaxDescriptionChars = 1000;
inline constexpr size_t kMaxUnitChars = 64;
inline constexpr double kMinTarget = 0.000001;
inline constexpr double kMaxTarget = 1e15;

// What a growth goal measures. `count`: matches of a conversion goal; `sum`:
// a numeric property over them; `unique`: distinct subject_ids among them;
// `ratio`: numerator metric / denominator metric × 100.
struct Metric {
  std::string name;  // ^[A-Za-z0-9_.:-]{1,64}$, e.g. monthly_signups
  std::string tenant_id;
  std::string aggregation;             // count | sum | unique | ratio
  std::string conversion_goal;         // count, sum, unique: a conversion goal id
  std::string property;                // sum: a property path (plan.amount)
  std::string numerator, denominator;  // ratio: metric names
  std::string window;                  // day | week | month | quarter | span | <N>d
  std::optional<std::string> description;
  int64_t created_at_ms = 0;
};

// The public and stored form (camelCase; members that do not apply are omitted).
json to_json(const Metric& m);
Result<Metric> metric_from_json(const json& j, std::string tenant_id);
// Validates a POST /api/metrics body. `window` defaults to "span".
Result<Metric> metric_from_request(const json& body);
bool valid_metric_name(std::string_view s);

// The series of cells a metric reads: "" for a conversion goal's own cells
// (count, and the sum of properties.value), "sum:<path>" or "unique" for
// cells kept only because a metric asks for them; nullopt for ratios.
std::optional<std::string> series_of(const Metric& m);

struct GrowthGoal {
  std::string id;  // goal_<hex>
  std::string tenant_id;
  std::string metric;
  double target = 0;
  int64_t deadline_date = 0;          // days since the epoch
  std::optional<int64_t> start_date;  // days since the epoch; default: the day of createdAt
  std::optional<std::string> description;
  std::optional<std::string> unit;
  std::optional<std::string> status_override;  // set by PATCH, cleared by "status": null
  int64_t created_at_ms = 0;
};

// The stored form (also the base of the API form, which adds current, status,
// expected and forecast).
json to_json(const GrowthGoal& g);
Result<GrowthGoal> growth_goal_from_json(const json& j, std::string tenant_id);
// Validates a POST /api/goals body: metric, target (0.000001 to 10^15,
// rounded to 6 decimal places), deadline (ISO 8601 date), description,
// unit, start. Unknown fields are refused.
Result<GrowthGoal> growth_goal_from_request(const json& body);

// A validated PATCH /api/goals body. `status` present and null clears the
// manual override; null `start`, `description` or `unit` clears that member.
struct GoalPatch {
  std::string id;
  std::optional<std::string> metric;
  std::optional<double> target;
  std::optional<int64_t> deadline_date;
  std::optional<int64_t> start_date;
  std::optional<std::string> description;
  std::optional<std::string> unit;
  bool status_set = false;
  std::optional<std::string> status;
  bool clear_start = false, clear_description = false, clear_unit = false;
};
Result<GoalPatch> goal_patch_from_request(const json& body);
json to_json(const GoalPatch& p);  // the command payload
Result<GoalPatch> goal_patch_from_json(const json& j);
// Applies a patch; Error when the result is inconsistent (start after deadline).
Result<GrowthGoal> apply(GrowthGoal g, const GoalPatch& p);

// Statuses a PATCH may set.
bool valid_status(std::string_view s);

namespace command_type {
inline constexpr const char* growth_goal_created = "growth_goal.created";
inline constexpr const char* growth_goal_updated = "growth_goal.updated";
inline constexpr const char* growth_goal_deleted = "growth_goal.deleted";
inline constexpr const char* metric_defined = "metric.defined";
inline constexpr const char* metric_deleted = "metric.deleted";
}  // namespace command_type

}  // namespace gs::growth
