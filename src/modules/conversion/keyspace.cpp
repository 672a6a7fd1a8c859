#include "modules/conversion/keyspace.h"

#include "base/keys.h"
#include "kernel/cells.h"

namespace gs::conversion {

namespace {
const storage::ColumnFamilySpec kColumnFamilies[] = {
    {"goals", storage::Tuning::plain, nullptr, 20},
};

Result<json> parse_goal(const storage::Store& s, std::string_view key, std::string_view value) {
  auto j = json::parse(value, nullptr, false);
  if (!j.is_object()) return s.unreadable("conversion goal", key, "not a JSON object");
  return j;
}
}  // namespace

std::span<const storage::ColumnFamilySpec> column_families() { return kColumnFamilies; }

void put_goal(storage::Batch& b, const conversion::ConversionGoal& goal) {
  b.put(b.store().cf("goals"), keys::join(goal.tenant_id, goal.id),
        conversion::to_json(goal).dump());
}

void delete_goal(storage::Batch& b, const std::string& tenant, const std::string& goal_id) {
  b.del(b.store().cf("goals"), keys::join(tenant, goal_id));
  cells::delete_counter(b, tenant, goal_id);
}

Result<std::optional<json>> goal(const storage::Store& s, const std::string& tenant,
                                 const std::string& goal_id) {
  auto key = keys::join(tenant, goal_id);
  auto v = s.get(s.cf("goals"), key);
  if (!v.ok()) return v.error();
  if (!*v) return std::optional<json>();
  auto j = parse_goal(s, key, **v);
  if (!j.ok()) return j.error();
  return std::optional<json>(std::move(j).value());
}

Result<GoalPage> goals(const storage::Store& s, const std::string& tenant, int64_t offset,
                       int64_t limit) {
  auto page = s.page(s.cf("goals"), tenant + '\0', offset, limit);
  if (!page.ok()) return page.error();
  GoalPage out;
  out.total = page->total;
  for (auto& [key, value] : page->rows) {
    auto j = parse_goal(s, key, value);
    if (!j.ok()) return j.error();
    out.goals.push_back(std::move(j).value());
  }
  return out;
}

Result<std::vector<conversion::ConversionGoal>> all_goals(const storage::Store& s) {
  return storage::collect<conversion::ConversionGoal>(
      s, s.cf("goals"), "",
      [&](std::string_view key, std::string_view value) -> Result<conversion::ConversionGoal> {
        auto j = parse_goal(s, key, value);
        if (!j.ok()) return j.error();
        auto g =
            conversion::conversion_goal_from_json(*j, std::string(key.substr(0, key.find('\0'))));
        if (!g.ok()) return s.unreadable("conversion goal", key, g.error().message);
        return g;
      });
}

}  // namespace gs::conversion
