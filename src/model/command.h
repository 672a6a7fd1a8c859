// The commands that carry every API write (and CLI write) through the
// commands topic, and the API keys. Plain value types; parsing never throws
// and names the offending field.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/crypto.h"
#include "base/json_depth.h"
#include "base/result.h"

namespace gs::model {

using json = nlohmann::json;

// A command: one API write (or CLI write) as it travels on the commands topic
// (schemas/command.schema.json).
struct Command {
  std::string command_id;
  std::string type;  // <family>.<verb>: the kernel's below, each module's in its model.h
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

// The kernel's own command types (kernel/commands.cpp applies them); the
// goal families' are in src/modules/<family>/model.h.
namespace command_type {
inline constexpr const char* key_issued = "key.issued";
inline constexpr const char* timezone_set = "tenant.timezone_set";
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
