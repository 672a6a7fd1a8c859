#include "modules/growth/keyspace.h"

#include <nlohmann/json.hpp>

#include "base/keys.h"

namespace gs::growth {

using json = nlohmann::json;

namespace {

// One row of prefix `kind` ("g/" or "m/") read with `parse`; a row that
// does not parse is unreadable.
template <class T, class Parse>
Result<T> read_row(const storage::Store& s, const char* what, std::string_view key,
                   std::string_view value, Parse parse) {
  auto k = key.substr(2);
  auto nul = k.find('\0');
  auto j = json::parse(value, nullptr, false);
  if (nul == std::string_view::npos || j.is_discarded())
    return s.unreadable(what, key, "not a tenant key and a JSON value");
  auto r = parse(j, std::string(k.substr(0, nul)));
  if (!r.ok()) return s.unreadable(what, key, r.error().field + ": " + r.error().message);
  return std::move(r).value();
}

template <class T, class Parse>
Result<std::vector<T>> scan_rows(const storage::Store& s, const char* what,
                                 const std::string& prefix, Parse parse) {
  return storage::collect<T>(s, s.cf("growth"), prefix,
                             [&](std::string_view key, std::string_view value) {
                               return read_row<T>(s, what, key, value, parse);
                             });
}

template <class T, class Parse>
Result<std::optional<T>> get_row(const storage::Store& s, const char* what, const std::string& key,
                                 Parse parse) {
  auto v = s.get(s.cf("growth"), key);
  if (!v.ok()) return v.error();
  if (!*v) return std::optional<T>();
  auto r = read_row<T>(s, what, key, **v, parse);
  if (!r.ok()) return r.error();
  return std::optional<T>(std::move(r).value());
}

std::string metric_key(const std::string& tenant, const std::string& name) {
  return "m/" + keys::join(tenant, name);
}
std::string goal_key(const std::string& tenant, const std::string& id) {
  return "g/" + keys::join(tenant, id);
}
std::string status_key(const std::string& tenant, const std::string& id) {
  return "st/" + keys::join(tenant, id);
}

}  // namespace

void put_metric(storage::Batch& b, const growth::Metric& m) {
  b.put(b.store().cf("growth"), metric_key(m.tenant_id, m.name), growth::to_json(m).dump());
}
void delete_metric(storage::Batch& b, const std::string& tenant, const std::string& name) {
  b.del(b.store().cf("growth"), metric_key(tenant, name));
}
Result<std::optional<growth::Metric>> metric(const storage::Store& s, const std::string& tenant,
                                             const std::string& name) {
  return get_row<growth::Metric>(s, "metric", metric_key(tenant, name), growth::metric_from_json);
}
Result<std::vector<growth::Metric>> metrics(const storage::Store& s, const std::string& tenant) {
  return scan_rows<growth::Metric>(s, "metric", "m/" + tenant + '\0', growth::metric_from_json);
}
Result<std::vector<growth::Metric>> all_metrics(const storage::Store& s) {
  return scan_rows<growth::Metric>(s, "metric", "m/", growth::metric_from_json);
}

void put_goal(storage::Batch& b, const growth::GrowthGoal& g) {
  b.put(b.store().cf("growth"), goal_key(g.tenant_id, g.id), growth::to_json(g).dump());
}
void delete_goal(storage::Batch& b, const std::string& tenant, const std::string& id) {
  b.del(b.store().cf("growth"), goal_key(tenant, id));
}
Result<std::optional<growth::GrowthGoal>> goal(const storage::Store& s, const std::string& tenant,
                                               const std::string& id) {
  return get_row<growth::GrowthGoal>(s, "growth goal", goal_key(tenant, id),
                                     growth::growth_goal_from_json);
}
Result<std::vector<growth::GrowthGoal>> goals(const storage::Store& s, const std::string& tenant) {
  return scan_rows<growth::GrowthGoal>(s, "growth goal", "g/" + tenant + '\0',
                                       growth::growth_goal_from_json);
}
Result<std::vector<growth::GrowthGoal>> all_goals(const storage::Store& s) {
  return scan_rows<growth::GrowthGoal>(s, "growth goal", "g/", growth::growth_goal_from_json);
}

void put_status(storage::Batch& b, const std::string& tenant, const std::string& goal_id,
                const std::string& status) {
  b.put(b.store().cf("meta"), status_key(tenant, goal_id), status);
}
void delete_status(storage::Batch& b, const std::string& tenant, const std::string& goal_id) {
  b.del(b.store().cf("meta"), status_key(tenant, goal_id));
}
Result<std::optional<std::string>> status(const storage::Store& s, const std::string& tenant,
                                          const std::string& goal_id) {
  return s.get(s.cf("meta"), status_key(tenant, goal_id));
}

}  // namespace gs::growth
