// The agent module's keyspace: its column family `agent`,
//   <tenant>\0<goal_id> -> agent goal (its API form, agent::to_json),
// and in the kernel's `meta` (not in the digest: it follows the clock)
//   "ast/<tenant>\0<goal_id>\0<target_id>" -> what the changes topic was
//   last told of a target: {"period", "status", "met"} (announcer.h).
// targets inside their goal (so deleting a goal deletes its targets). In the
// digest at rank 70, after the kernel's and the other families' (60 and
// below), and only once it holds a row: a store without agent goals keeps
// the digest it had before this family existed.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "modules/agent/model.h"
#include "storage/store.h"

namespace gs::agent {

std::span<const storage::ColumnFamilySpec> column_families();

void put_goal(storage::Batch& b, const AgentGoal& g);
void delete_goal(storage::Batch& b, const std::string& tenant, const std::string& id);

// One goal; an unreadable row is an Error (Store::unreadable).
Result<std::optional<AgentGoal>> goal(const storage::Store& s, const std::string& tenant,
                                      const std::string& id);
// Every goal of every tenant (the module's load at start).
Result<std::vector<AgentGoal>> all_goals(const storage::Store& s);

// Every goal of `tenant`, in id order.
Result<std::vector<AgentGoal>> tenant_goals(const storage::Store& s, const std::string& tenant);

// The announced state of a target, and the removal of a goal's.
void put_announced(storage::Batch& b, const std::string& tenant, const std::string& goal_id,
                   const std::string& target_id, const json& state);
Result<std::optional<json>> announced(const storage::Store& s, const std::string& tenant,
                                      const std::string& goal_id, const std::string& target_id);
void delete_announced(storage::Batch& b, const std::string& tenant, const std::string& goal_id);

// What GET /v1/goals filters on; an unset member does not filter.
struct GoalFilter {
  std::optional<std::string> agent_id;
  std::optional<std::string> channel_id;
  std::optional<bool> active;
  bool matches(const AgentGoal& g) const;
};
struct GoalPage {
  std::vector<AgentGoal> goals;  // in creation order (created_at, then id)
  int64_t total = 0;             // goals that match the filter, in all
};
// The goals of `tenant` that match `filter`, `limit` of them from `offset`,
// in creation order: a page stays what it was while goals are added.
Result<GoalPage> goals(const storage::Store& s, const std::string& tenant, const GoalFilter& filter,
                       int64_t offset, int64_t limit);

}  // namespace gs::agent
