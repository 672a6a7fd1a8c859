// goalstream keys create: a key is issued as a key_issued command on the
// commands topic carrying only the secret's SHA-256; the secret is printed once.
#include <cstdio>
#include <vector>

#include "base/time.h"
#include "commands.h"
#include "fail.h"
#include "kernel/kafka.h"
#include "model/command.h"
#include "model/event.h"

namespace gs::app {

int run_keys_create(const Common& c, const std::string& tenant, const std::string& scopes_csv) {
  if (!model::valid_tenant_id(tenant)) return fail("--tenant: must match ^[A-Za-z0-9_.-]{1,64}$");
  std::vector<std::string> scopes;
  std::string cur;
  for (char ch : scopes_csv + ",") {
    if (ch == ',') {
      if (!cur.empty()) {
        if (cur != model::kScopeRead && cur != model::kScopeWrite)
          return fail("--scopes: unknown scope '" + cur + "' (known: goals:read, goals:write)");
        scopes.push_back(cur);
      }
      cur.clear();
    } else if (ch != ' ') {
      cur.push_back(ch);
    }
  }
  if (scopes.empty()) return fail("--scopes: at least one scope is required");
  if (!ensure_topics(c, false, true)) return 1;
  std::string secret = "gs_" + model::random_hex(24);
  model::ApiKey key{"key_" + model::random_hex(4), tenant, scopes, time::now_ms()};
  nlohmann::json data = model::to_json(key);
  data["key_hash"] = model::sha256_hex(secret);
  model::Command cmd{"cmd_" + model::random_hex(12), model::command_type::key_issued, tenant,
                     time::now_ms(), data};
  auto producer = kernel::Producer::create(c.kafka);
  if (!producer.ok()) return fail(producer.error());
  auto r = (*producer)->produce_sync(c.kafka.commands(), tenant, model::serialize(cmd));
  if (!r.ok()) return fail(r.error());
  std::fprintf(
      stderr,
      "issued %s for tenant %s with scopes %s (command offset %lld); the key is shown once:\n",
      key.key_id.c_str(), tenant.c_str(), scopes_csv.c_str(), static_cast<long long>(r->second));
  std::printf("%s\n", secret.c_str());
  return 0;
}

}  // namespace gs::app
