#include "model/command.h"

#include <algorithm>

#include "base/json_depth.h"
#include "base/time.h"
#include "model/event.h"

namespace gs::model {
namespace {

const json* member(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

}  // namespace

std::string serialize(const Command& c) {
  json j = {{"command_id", c.command_id},
            {"type", c.type},
            {"tenant_id", c.tenant_id},
            {"issued_at", time::format_rfc3339(c.issued_at_ms)},
            {"data", c.data}};
  // Absent without a key, so such commands stay as they always were.
  if (!c.idempotency_key.empty()) j["idempotency_key"] = c.idempotency_key;
  if (!c.request_hash.empty()) j["request_hash"] = c.request_hash;
  return j.dump();
}

bool valid_idempotency_key(std::string_view key) {
  if (key.empty() || key.size() > 255) return false;
  return std::all_of(key.begin(), key.end(), [](char ch) { return ch >= 0x21 && ch <= 0x7e; });
}

Result<Command> parse_command(std::string_view bytes) {
  // The limit counts the levels below the envelope (kMaxJsonDepth), as the
  // API counts a request body's.
  if (!json_depth_within(bytes, kMaxCommandDepth))
    return invalid("", "command nests deeper than " +
                           std::to_string(kMaxCommandDepth - kCommandEnvelopeDepth) + " levels");
  json j = json::parse(bytes, nullptr, false);
  if (j.is_discarded()) return invalid("", "command is not valid JSON");
  if (!j.is_object()) return invalid("", "command must be a JSON object");
  Command c;
  for (auto [key, out] : {std::pair{"command_id", &c.command_id}, std::pair{"type", &c.type},
                          std::pair{"tenant_id", &c.tenant_id}}) {
    auto* m = member(j, key);
    if (!m || !m->is_string() || m->get_ref<const std::string&>().empty())
      return invalid(key, "is required and must be a non-empty string");
    *out = m->get<std::string>();
  }
  if (!valid_tenant_id(c.tenant_id))
    return invalid("tenant_id", "must match ^[A-Za-z0-9_.-]{1,64}$");
  auto* issued = member(j, "issued_at");
  if (!issued || !issued->is_string()) return invalid("issued_at", "is required");
  auto ts = time::parse_rfc3339(issued->get<std::string>());
  if (!ts) return invalid("issued_at", "must be an RFC 3339 date-time");
  c.issued_at_ms = *ts;
  auto* data = member(j, "data");
  if (!data || !data->is_object()) return invalid("data", "is required and must be an object");
  c.data = *data;
  if (auto* k = member(j, "idempotency_key")) {
    if (!k->is_string() || !valid_idempotency_key(k->get_ref<const std::string&>()))
      return invalid("idempotency_key", "must be 1 to 255 visible ASCII characters");
    c.idempotency_key = k->get<std::string>();
  }
  if (auto* h = member(j, "request_hash")) {
    if (!h->is_string() || h->get_ref<const std::string&>().size() != 64 ||
        !std::all_of(h->get_ref<const std::string&>().begin(),
                     h->get_ref<const std::string&>().end(),
                     [](char ch) { return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'); }))
      return invalid("request_hash", "must be a lowercase hex SHA-256");
    c.request_hash = h->get<std::string>();
  }
  return c;
}

bool ApiKey::has_scope(std::string_view s) const {
  return std::find(scopes.begin(), scopes.end(), s) != scopes.end();
}

json to_json(const ApiKey& k) {
  return {{"key_id", k.key_id},
          {"tenant_id", k.tenant_id},
          {"scopes", k.scopes},
          {"created_at", time::format_rfc3339(k.created_at_ms)}};
}

Result<ApiKey> api_key_from_json(const json& j) {
  ApiKey k;
  try {
    k.key_id = j.at("key_id").get<std::string>();
    k.tenant_id = j.at("tenant_id").get<std::string>();
    k.scopes = j.at("scopes").get<std::vector<std::string>>();
    auto t = time::parse_rfc3339(j.at("created_at").get<std::string>());
    if (!t) return invalid("created_at", "must be an RFC 3339 date-time");
    k.created_at_ms = *t;
  } catch (const json::exception& e) {
    return invalid("", std::string("malformed key record: ") + e.what());
  }
  if (!valid_tenant_id(k.tenant_id))
    return invalid("tenant_id", "must match ^[A-Za-z0-9_.-]{1,64}$");
  return k;
}

}  // namespace gs::model
