#include "modules/agent/module.h"

#include <string>

#include "base/keys.h"
#include "modules/agent/keyspace.h"

namespace gs::agent {

namespace {

using simdjson::dom::element;

// goal_results: [{goal_id, achieved}, ...]
std::optional<Error> check_goal_results(element e) {
  simdjson::dom::array arr;
  if (e.get_array().get(arr) != simdjson::SUCCESS)
    return invalid("goal_results", "must be an array");
  size_t i = 0;
  for (element item : arr) {
    std::string base = "goal_results[" + std::to_string(i++) + "]";
    simdjson::dom::object o;
    if (item.get_object().get(o) != simdjson::SUCCESS) return invalid(base, "must be an object");
    element gid;
    if (o["goal_id"].get(gid) != simdjson::SUCCESS)
      return invalid(base + ".goal_id", "is required");
    if (auto er = model::check_id(gid, base + ".goal_id")) return er;
    element achieved;
    if (o["achieved"].get(achieved) != simdjson::SUCCESS)
      return invalid(base + ".achieved", "is required");
    if (achieved.type() != simdjson::dom::element_type::BOOL)
      return invalid(base + ".achieved", "must be a boolean");
  }
  return std::nullopt;
}

using Kind = model::EventMemberRule::Kind;
const model::EventMemberRule kMembers[] = {
    {"agent_id", Kind::id, nullptr, "call_outcome"},
    {"channel_id", Kind::id},
    {"call_id", Kind::id, nullptr, "call_outcome"},
    {"goal_results", Kind::custom, check_goal_results, "call_outcome",
     "is required for call_outcome events"},
};

namespace type = command_type;
const std::string_view kCommands[] = {type::agent_goal_created, type::agent_goal_updated,
                                      type::agent_goal_deleted};

}  // namespace

std::span<const model::EventMemberRule> Module::event_members() const { return kMembers; }

std::span<const storage::ColumnFamilySpec> Module::column_families() const {
  return agent::column_families();
}

std::span<const std::string_view> Module::command_types() const { return kCommands; }

Status Module::apply(const model::Command& cmd, kernel::CommandContext& ctx) {
  const auto& tenant = cmd.tenant_id;
  if (cmd.type == type::agent_goal_created) {
    auto g = goal_from_json(cmd.data, tenant);
    if (!g.ok()) return g.error();
    put_goal(ctx.batch(), *g);
    goals_[keys::join(tenant, g->id)] = std::move(g).value();
    return {};
  }
  if (cmd.type == type::agent_goal_updated) {
    auto patch = patch_from_json(cmd.data);
    if (!patch.ok()) return patch.error();
    auto it = goals_.find(keys::join(tenant, patch->id));
    if (it == goals_.end()) return invalid("data.id", "no agent goal " + patch->id);
    it->second = agent::apply(std::move(it->second), *patch, cmd.issued_at_ms);
    put_goal(ctx.batch(), it->second);
    return {};
  }
  auto id = cmd.data.find("id");
  if (id == cmd.data.end() || !id->is_string() || id->get_ref<const std::string&>().empty())
    return invalid("data.id", "is required");
  goals_.erase(keys::join(tenant, id->get<std::string>()));
  delete_goal(ctx.batch(), tenant, id->get<std::string>());
  return {};
}

Status Module::load(const storage::Store& store, kernel::CommandContext&) {
  auto all = all_goals(store);
  if (!all.ok()) return all.error();
  for (auto& g : *all) goals_[keys::join(g.tenant_id, g.id)] = std::move(g);
  return {};
}

}  // namespace gs::agent
