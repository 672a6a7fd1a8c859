// Conversion-goal definitions (docs/api.md: POST /api/conversion-goals) and
// the commands that carry every API write through the commands topic.
// Plain value types; parsing never throws and names the offending field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/crypto.h"
#include "base/json_depth.h"
#include "base/result.h"

namespace gs::model {

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

// A command: one API write (or CLI write) as it travels on the commands topic
// (schemas/command.schema.json).
struct Command {
  std::string command_id;
  std::string type;  // see kCommandTypes in conversion_goal.cpp
  std::string tenant_id;
  int64_t issued_at_ms = 0;
  json data;  // type-specific payload
  // The request's Idempotency-Key header and the SHA-256 (hex) of its method,
  // target and body; empty when the request had no key. See docs/api.md.
  std::string idempotency_key{};
  std::string request_hash{};
};

// How long the processor remembers a command's Idempotency-Key, in command
// time (issued_at): a later command with the same key of the same tenant is a
// no-op while its issued_at is less than this after the first one's.
inline constexpr int64_t kIdempotencyWindowMs = 24 * 3600 * 1000;
// An Idempotency-Key: 1 to 255 visible ASCII characters (0x21-0x7e).
bool valid_idempotency_key(std::string_view key);

namespace command_type {
inline constexpr const char* key_issued = "key.issued";
inline constexpr const char* conversion_goal_defined = "conversion_goal.defined";
inline constexpr const char* conversion_goal_deleted = "conversion_goal.deleted";
}  // namespace command_type

// Nesting limits, in one place. A command's data keeps the nesting of the
// request body it came from (a conversion goal's `conditions` sit as deep in
// both), and serialize() wraps the data in kCommandEnvelopeDepth more
// level(s). parse_command refuses commands nested deeper than
// kMaxCommandDepth, so the API refuses bodies nested deeper than
// kMaxRequestDepth: whatever the API accepts, the processor accepts.
inline constexpr int kCommandEnvelopeDepth = 1;
inline constexpr int kMaxCommandDepth = kMaxJsonDepth + kCommandEnvelopeDepth;
inline constexpr int kMaxRequestDepth = kMaxCommandDepth - kCommandEnvelopeDepth;

std::string serialize(const Command& c);
// Parses and validates a command payload; never throws.
Result<Command> parse_command(std::string_view bytes);

// A stored API key: only its SHA-256 hash is kept (as the store's key).
struct ApiKey {
  std::string key_id;  // short public id, e.g. "key_3f2a…"
  std::string tenant_id;
  std::vector<std::string> scopes;
  int64_t created_at_ms = 0;
  bool has_scope(std::string_view s) const;
};
json to_json(const ApiKey& k);
Result<ApiKey> api_key_from_json(const json& j);

inline constexpr const char* kScopeRead = "goals:read";
inline constexpr const char* kScopeWrite = "goals:write";

using crypto::random_hex;
using crypto::sha256_hex;

}  // namespace gs::model
