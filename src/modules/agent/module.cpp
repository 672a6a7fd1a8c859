#include "modules/agent/module.h"

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "base/keys.h"
#include "kernel/cells.h"
#include "modules/agent/keyspace.h"

namespace gs::agent {

namespace {

using simdjson::dom::element;

constexpr std::string_view kVerdicts[] = {"success", "failure", "unknown", "not_applicable"};

// goal_results: [{goal_id, achieved | verdict}, ...]: at most
// kMaxGoalResults, each goal once, `verdict` one of kVerdicts, `achieved` a
// boolean; when both are sent they agree (true: success, false: failure).
// On the ingest path: nothing is allocated for a valid list (the field's
// name is made only for an error).
std::optional<Error> check_goal_results(element e) {
  simdjson::dom::array arr;
  if (e.get_array().get(arr) != simdjson::SUCCESS)
    return invalid("goal_results", "must be an array");
  if (arr.size() > kMaxGoalResults)
    return invalid("goal_results",
                   "must hold at most " + std::to_string(kMaxGoalResults) + " results");
  std::array<std::string_view, kMaxGoalResults> seen;
  size_t i = 0;
  auto at = [&i](const char* member) { return "goal_results[" + std::to_string(i) + "]" + member; };
  for (element item : arr) {
    simdjson::dom::object o;
    if (item.get_object().get(o) != simdjson::SUCCESS) return invalid(at(""), "must be an object");
    element gid;
    if (o["goal_id"].get(gid) != simdjson::SUCCESS) return invalid(at(".goal_id"), "is required");
    if (model::check_id(gid, "")) return model::check_id(gid, at(".goal_id"));
    std::string_view id = gid.get_string().value_unsafe();
    if (std::find(seen.begin(), seen.begin() + i, id) != seen.begin() + i)
      return invalid(at(".goal_id"), "goal " + std::string(id) + " is listed twice");
    seen[i] = id;
    element achieved, verdict;
    bool has_achieved = o["achieved"].get(achieved) == simdjson::SUCCESS;
    bool has_verdict = o["verdict"].get(verdict) == simdjson::SUCCESS;
    if (!has_achieved && !has_verdict)
      return invalid(at(".verdict"),
                     "is required (or achieved): one of success, failure, unknown, "
                     "not_applicable");
    if (has_achieved && achieved.type() != simdjson::dom::element_type::BOOL)
      return invalid(at(".achieved"), "must be a boolean");
    if (has_verdict) {
      std::string_view v;
      if (verdict.get_string().get(v) != simdjson::SUCCESS ||
          std::find(std::begin(kVerdicts), std::end(kVerdicts), v) == std::end(kVerdicts))
        return invalid(at(".verdict"), "must be one of success, failure, unknown, not_applicable");
      if (has_achieved && v != (achieved.get_bool().value_unsafe() ? "success" : "failure"))
        return invalid(at(".verdict"),
                       "disagrees with achieved (true is success, false is "
                       "failure); send one of them");
    }
    ++i;
  }
  return std::nullopt;
}

// channel_id: the API's id shape (so that it can name a cell, and be
// filtered on): 1 to kMaxIdChars of [A-Za-z0-9_.:-].
std::optional<Error> check_channel(element e) {
  std::string_view s;
  if (e.get_string().get(s) != simdjson::SUCCESS) return invalid("channel_id", "must be a string");
  if (!valid_ref_id(s))
    return invalid("channel_id", "must be 1 to " + std::to_string(kMaxIdChars) +
                                     " characters of A-Z a-z 0-9 _ . : -");
  return std::nullopt;
}

// Every verdict a call_outcome reports for a goal of the tenant counts in
// the cells of counter <goal_id>\x1f<verdict>\x1f<channel_id>
// (docs/architecture.md, "Tallies").
const projection::TallyRule kTallies[] = {
    {"call_outcome", "goal_results", "goal_id", "verdict", kVerdicts, "achieved", "channel_id"}};

using Kind = model::EventMemberRule::Kind;
const model::EventMemberRule kMembers[] = {
    {"agent_id", Kind::id, nullptr, "call_outcome"},
    {"channel_id", Kind::custom, check_channel},
    {"call_id", Kind::id, nullptr, "call_outcome"},
    {"goal_results", Kind::custom, check_goal_results, "call_outcome",
     "is required for call_outcome events"},
};

namespace type = command_type;
const std::string_view kCommands[] = {type::agent_goal_created, type::agent_goal_updated,
                                      type::agent_goal_deleted};

}  // namespace

std::span<const model::EventMemberRule> Module::event_members() const { return kMembers; }

std::span<const projection::TallyRule> Module::tally_rules() const { return kTallies; }

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
    ctx.tallies().add(tenant, g->id);
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
  const auto& goal_id = id->get_ref<const std::string&>();
  goals_.erase(keys::join(tenant, goal_id));
  delete_goal(ctx.batch(), tenant, goal_id);
  // Its verdicts go with it (a rebuild, which applies the commands before
  // the events, never counts them).
  ctx.tallies().remove(tenant, goal_id);
  cells::delete_counters(ctx.batch(), tenant, projection::tally_prefix(goal_id));
  delete_announced(ctx.batch(), tenant, goal_id);
  return {};
}

Status Module::load(const storage::Store& store, kernel::CommandContext& ctx) {
  auto all = all_goals(store);
  if (!all.ok()) return all.error();
  for (auto& g : *all) {
    ctx.tallies().add(g.tenant_id, g.id);
    goals_[keys::join(g.tenant_id, g.id)] = std::move(g);
  }
  return {};
}

}  // namespace gs::agent
