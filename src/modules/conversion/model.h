// Conversion-goal definitions (docs/api.md: POST /api/conversion-goals) and
// their commands. Plain value types; parsing never throws and names the
// offending field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.h"
#include "projection/projection.h"

namespace gs::conversion {

using json = nlohmann::json;

struct ConversionGoal {
  std::string id;
  std::string tenant_id;
  std::string name;
  std::string event_type;
  std::optional<std::string> url_pattern;
  json conditions;                  // null or an object
  std::optional<int64_t> since_ms;  // count only events at or after this event time
  int64_t created_at_ms = 0;
};

// The public (API and stored) form: camelCase as the reference spells it;
// optional members are omitted when unset. tenant_id is not part of it.
json to_json(const ConversionGoal& g);

// Reads the stored form back (trusted input written by to_json).
Result<ConversionGoal> conversion_goal_from_json(const json& j, std::string tenant_id);

// Longest conversion goal name, in code points (the rule: text::check_label).
inline constexpr size_t kMaxNameChars = 200;

// Validates a POST body's shape and types: name, eventType, urlPattern,
// conditions, since. Pattern and operator semantics are checked by
// match::Matcher::compile. `id`, `tenant_id` and `created_at_ms` are left
// for the caller to fill in.
Result<ConversionGoal> conversion_goal_from_request(const json& body);

// The counter a conversion goal is: what the kernel matches events against.
projection::CounterRule counter_rule(const ConversionGoal& g);

namespace command_type {
inline constexpr const char* conversion_goal_defined = "conversion_goal.defined";
inline constexpr const char* conversion_goal_deleted = "conversion_goal.deleted";
}  // namespace command_type

}  // namespace gs::conversion
