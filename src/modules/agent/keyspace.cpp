#include "modules/agent/keyspace.h"

#include <algorithm>

#include "base/keys.h"

namespace gs::agent {

namespace {

constexpr const char* kWhat = "agent goal";

// Adding the family left every existing store's digest as it was.
void digest_when_used(const storage::Rows& rows, storage::DigestSink& sink) {
  storage::digest_when_used("agent", rows, sink);
}

const storage::ColumnFamilySpec kColumnFamilies[] = {
    {"agent", storage::Tuning::plain, nullptr, 70, digest_when_used},
};

Result<AgentGoal> read_row(const storage::Store& s, std::string_view key, std::string_view value) {
  auto nul = key.find('\0');
  auto j = json::parse(value, nullptr, false);
  if (nul == std::string_view::npos || !j.is_object())
    return s.unreadable(kWhat, key, "not a tenant key and a JSON object");
  auto g = goal_from_json(j, std::string(key.substr(0, nul)));
  if (!g.ok()) return s.unreadable(kWhat, key, g.error().field + ": " + g.error().message);
  return g;
}

}  // namespace

std::span<const storage::ColumnFamilySpec> column_families() { return kColumnFamilies; }

void put_goal(storage::Batch& b, const AgentGoal& g) {
  b.put(b.store().cf("agent"), keys::join(g.tenant_id, g.id), to_json(g).dump());
}

void delete_goal(storage::Batch& b, const std::string& tenant, const std::string& id) {
  b.del(b.store().cf("agent"), keys::join(tenant, id));
}

Result<std::optional<AgentGoal>> goal(const storage::Store& s, const std::string& tenant,
                                      const std::string& id) {
  auto key = keys::join(tenant, id);
  auto v = s.get(s.cf("agent"), key);
  if (!v.ok()) return v.error();
  if (!*v) return std::optional<AgentGoal>();
  auto g = read_row(s, key, **v);
  if (!g.ok()) return g.error();
  return std::optional<AgentGoal>(std::move(g).value());
}

Result<std::vector<AgentGoal>> all_goals(const storage::Store& s) {
  return storage::collect<AgentGoal>(
      s, s.cf("agent"), "",
      [&](std::string_view key, std::string_view value) { return read_row(s, key, value); });
}

Result<std::vector<AgentGoal>> tenant_goals(const storage::Store& s, const std::string& tenant) {
  return storage::collect<AgentGoal>(
      s, s.cf("agent"), tenant + '\0',
      [&](std::string_view key, std::string_view value) { return read_row(s, key, value); });
}

namespace {
std::string announced_prefix(const std::string& tenant, const std::string& goal_id) {
  std::string k = "ast/" + keys::join(tenant, goal_id);
  k.push_back('\0');
  return k;
}
}  // namespace

void put_announced(storage::Batch& b, const std::string& tenant, const std::string& goal_id,
                   const std::string& target_id, const json& state) {
  b.put(b.store().cf("meta"), announced_prefix(tenant, goal_id) + target_id, state.dump());
}

Result<std::optional<json>> announced(const storage::Store& s, const std::string& tenant,
                                      const std::string& goal_id, const std::string& target_id) {
  auto key = announced_prefix(tenant, goal_id) + target_id;
  auto v = s.get(s.cf("meta"), key);
  if (!v.ok()) return v.error();
  if (!*v) return std::optional<json>();
  auto j = json::parse(**v, nullptr, false);
  if (!j.is_object()) return s.unreadable("announced agent target", key, "not a JSON object");
  return std::optional<json>(std::move(j));
}

void delete_announced(storage::Batch& b, const std::string& tenant, const std::string& goal_id) {
  auto p = announced_prefix(tenant, goal_id);
  b.delete_range(b.store().cf("meta"), p, keys::prefix_end(p));
}

bool GoalFilter::matches(const AgentGoal& g) const {
  return (!agent_id || g.agent_id == *agent_id) && (!channel_id || g.channel_id == channel_id) &&
         (!active || g.active == *active);
}

Result<GoalPage> goals(const storage::Store& s, const std::string& tenant, const GoalFilter& filter,
                       int64_t offset, int64_t limit) {
  // A tenant's goals are few (people define them): read them all, filter,
  // order, cut. Every row is read, so an unreadable one fails the list
  // rather than shortening it.
  auto all = tenant_goals(s, tenant);
  if (!all.ok()) return all.error();
  std::vector<AgentGoal> kept;
  for (auto& g : *all)
    if (filter.matches(g)) kept.push_back(std::move(g));
  std::sort(kept.begin(), kept.end(), [](const AgentGoal& a, const AgentGoal& b) {
    return a.created_at_ms != b.created_at_ms ? a.created_at_ms < b.created_at_ms : a.id < b.id;
  });
  GoalPage page;
  page.total = static_cast<int64_t>(kept.size());
  int64_t begin = std::min(offset, page.total), end = std::min(offset + limit, page.total);
  for (int64_t i = begin; i < end; ++i) page.goals.push_back(std::move(kept[i]));
  return page;
}

}  // namespace gs::agent
