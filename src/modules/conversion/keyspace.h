// The conversion module's keyspace: its column family `goals`,
//   <tenant>\0<goal_id> -> conversion goal JSON (the public form),
// in the digest (rank 20). A goal's cells are the kernel's (stream/cells.h),
// under the counter named by the goal id.
#pragma once

#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.h"
#include "modules/conversion/model.h"
#include "storage/store.h"

namespace gs::conversion {

using json = nlohmann::json;

std::span<const storage::ColumnFamilySpec> column_families();

void put_goal(storage::Batch& b, const conversion::ConversionGoal& goal);
// Removes the definition and all its cells.
void delete_goal(storage::Batch& b, const std::string& tenant, const std::string& goal_id);

// The stored (public) form.
Result<std::optional<json>> goal(const storage::Store& s, const std::string& tenant,
                                 const std::string& goal_id);
struct GoalPage {
  std::vector<json> goals;  // in id order
  int64_t total = 0;
};
Result<GoalPage> goals(const storage::Store& s, const std::string& tenant, int64_t offset = 0,
                       int64_t limit = INT64_MAX);
Result<std::vector<conversion::ConversionGoal>> all_goals(const storage::Store& s);

}  // namespace gs::conversion
