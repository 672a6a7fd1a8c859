#include "modules/growth/module.h"

#include "base/keys.h"
#include "base/log.h"
#include "kernel/cells.h"
#include "modules/growth/keyspace.h"
#include "modules/growth/pacing.h"

namespace gs::growth {

namespace {
namespace type = growth::command_type;
const std::string_view kCommands[] = {type::growth_goal_created, type::growth_goal_updated,
                                      type::growth_goal_deleted, type::metric_defined,
                                      type::metric_deleted};
}  // namespace

std::span<const std::string_view> Module::command_types() const { return kCommands; }

Status Module::apply(const model::Command& cmd, kernel::CommandContext& ctx) {
  const auto& tenant = cmd.tenant_id;
  auto& batch = ctx.batch();
  auto string_member = [&](const char* key) {
    auto i = cmd.data.find(key);
    return i != cmd.data.end() && i->is_string() ? i->get<std::string>() : std::string();
  };
  if (cmd.type == type::growth_goal_created) {
    auto g = growth::growth_goal_from_json(cmd.data, tenant);
    if (!g.ok()) return g.error();
    put_goal(batch, *g);
    goals_[keys::join(tenant, g->id)] = std::move(g).value();
  } else if (cmd.type == type::growth_goal_updated) {
    auto patch = growth::goal_patch_from_json(cmd.data);
    if (!patch.ok()) return patch.error();
    auto it = goals_.find(keys::join(tenant, patch->id));
    if (it == goals_.end()) return invalid("data.id", "no goal " + patch->id);
    auto g = growth::apply(it->second, *patch);
    if (!g.ok()) return g.error();
    put_goal(batch, *g);
    it->second = std::move(g).value();
  } else if (cmd.type == type::growth_goal_deleted) {
    auto id = string_member("id");
    if (id.empty()) return invalid("data.id", "is required");
    goals_.erase(keys::join(tenant, id));
    delete_goal(batch, tenant, id);
  } else if (cmd.type == type::metric_defined) {
    auto m = growth::metric_from_json(cmd.data, tenant);
    if (!m.ok()) return m.error();
    if (!growth::parse_window(m->window).ok()) return invalid("data.window", "is not a window");
    put_metric(batch, *m);
    metrics_by_tenant_[tenant][m->name] = std::move(m).value();
    sync_series(tenant, ctx);
  } else {  // metric_deleted
    auto name = string_member("name");
    if (name.empty()) return invalid("data.name", "is required");
    metrics_by_tenant_[tenant].erase(name);
    delete_metric(batch, tenant, name);
    sync_series(tenant, ctx);
  }
  return {};
}

void Module::on_counters_reset(const std::string& tenant, const std::string& goal_id,
                               kernel::CommandContext& ctx) {
  sync_series(tenant, ctx, goal_id);
}

// Brings the series of `tenant` in line with its metrics: a series a
// metric asks for is counted from now on and backfilled over the events
// before; a series no metric asks for any more is dropped. `reset_goal`:
// that conversion goal was (re)defined or deleted, so its series restart.
void Module::sync_series(const std::string& tenant, kernel::CommandContext& ctx,
                         const std::string& reset_goal) {
  std::set<std::string> needed;
  auto mt = metrics_by_tenant_.find(tenant);
  if (mt != metrics_by_tenant_.end())
    for (const auto& [name, m] : mt->second) {
      auto series = growth::series_of(m);
      if (series && !series->empty() && ctx.counters().find(tenant, m.conversion_goal))
        needed.insert(projection::counter_id(m.conversion_goal, *series));
    }
  std::string prefix = tenant + '\0';
  for (auto it = active_series_.lower_bound(prefix);
       it != active_series_.end() && it->starts_with(prefix);) {
    std::string counter = it->substr(prefix.size());
    ++it;
    if (!needed.count(counter) ||
        (!reset_goal.empty() && projection::split_counter_id(counter).first == reset_goal))
      drop_series(tenant, counter, ctx);
  }
  for (const auto& counter : needed)
    if (!active_series_.count(keys::join(tenant, counter)) && add_series(tenant, counter, ctx))
      ctx.start_job(tenant, counter);
}

void Module::drop_series(const std::string& tenant, const std::string& counter,
                         kernel::CommandContext& ctx) {
  ctx.counters().remove(tenant, counter);
  cells::delete_counter(ctx.batch(), tenant, counter);
  ctx.cancel_job(tenant, counter);
  active_series_.erase(keys::join(tenant, counter));
}

// Compiles series `counter` against its goal's definition and counts it
// from now on; false when its goal is not defined.
bool Module::add_series(const std::string& tenant, const std::string& counter,
                        kernel::CommandContext& ctx) {
  auto [goal_id, series] = projection::split_counter_id(counter);
  const auto* base = ctx.counters().find(tenant, goal_id);
  if (!base) return false;
  auto compiled = projection::compile(base->rule, std::string(series));
  if (!compiled.ok()) {
    log::warn("metric series " + std::string(series) + " of " + std::string(goal_id) + ": " +
              compiled.error().message);
    return false;
  }
  ctx.counters().put(*compiled);
  active_series_.insert(keys::join(tenant, counter));
  return true;
}

Status Module::load(const storage::Store& store, kernel::CommandContext& ctx) {
  auto goals = all_goals(store);
  if (!goals.ok()) return goals.error();
  for (auto& g : *goals) goals_[keys::join(g.tenant_id, g.id)] = g;
  auto metrics = all_metrics(store);
  if (!metrics.ok()) return metrics.error();
  for (auto& m : *metrics) metrics_by_tenant_[m.tenant_id][m.name] = m;
  // The series metrics ask for, as they were when the store was written.
  for (auto& [tenant, by_name] : metrics_by_tenant_)
    for (auto& [name, m] : by_name)
      if (auto series = growth::series_of(m); series && !series->empty())
        add_series(tenant, projection::counter_id(m.conversion_goal, *series), ctx);
  return {};
}

}  // namespace gs::growth
