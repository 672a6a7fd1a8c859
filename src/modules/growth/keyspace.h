// The growth module's keyspaces, in the kernel's column family `growth`
// (historical name; in the digest) and `meta` (not in the digest):
//   growth "g/<tenant>\0<id>"   -> growth goal (JSON)
//   growth "m/<tenant>\0<name>" -> metric (JSON)
//   meta   "st/<tenant>\0<id>"  -> the last status announced on the changes
//                                  topic for a growth goal
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "modules/growth/model.h"
#include "storage/store.h"

namespace gs::growth {

void put_metric(storage::Batch& b, const growth::Metric& m);
void delete_metric(storage::Batch& b, const std::string& tenant, const std::string& name);
Result<std::optional<growth::Metric>> metric(const storage::Store& s, const std::string& tenant,
                                             const std::string& name);
Result<std::vector<growth::Metric>> metrics(const storage::Store& s,
                                            const std::string& tenant);  // in name order
Result<std::vector<growth::Metric>> all_metrics(const storage::Store& s);

void put_goal(storage::Batch& b, const growth::GrowthGoal& g);
void delete_goal(storage::Batch& b, const std::string& tenant, const std::string& id);
Result<std::optional<growth::GrowthGoal>> goal(const storage::Store& s, const std::string& tenant,
                                               const std::string& id);
Result<std::vector<growth::GrowthGoal>> goals(const storage::Store& s,
                                              const std::string& tenant);  // in id order
Result<std::vector<growth::GrowthGoal>> all_goals(const storage::Store& s);

void put_status(storage::Batch& b, const std::string& tenant, const std::string& goal_id,
                const std::string& status);
void delete_status(storage::Batch& b, const std::string& tenant, const std::string& goal_id);
Result<std::optional<std::string>> status(const storage::Store& s, const std::string& tenant,
                                          const std::string& goal_id);

}  // namespace gs::growth
