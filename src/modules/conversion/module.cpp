#include "modules/conversion/module.h"

#include "base/keys.h"
#include "base/log.h"
#include "modules/conversion/keyspace.h"

namespace gs::conversion {

namespace {

const std::string_view kCommands[] = {conversion::command_type::conversion_goal_defined,
                                      conversion::command_type::conversion_goal_deleted};

// Stops counting goal `id`: its definition, cells and backfill job go.
void remove(const std::string& tenant, const std::string& id, kernel::CommandContext& ctx) {
  ctx.counters().remove(tenant, id);
  delete_goal(ctx.batch(), tenant, id);
  ctx.cancel_job(tenant, id);
}

// Counts the events a goal's counter (or one of its series) matches.
class Backfilled final : public kernel::BackfillCounter {
 public:
  explicit Backfilled(std::shared_ptr<const projection::Counter> counter)
      : counter_(std::move(counter)) {}
  bool matches(const model::Event& e) const override {
    return e.type == counter_->rule.event_type && counter_->counts(e);
  }
  void add(const model::Event& e, projection::Delta& delta) const override {
    delta.cells.add(*counter_, e);
  }

 private:
  std::shared_ptr<const projection::Counter> counter_;
};

}  // namespace

Result<std::unique_ptr<kernel::BackfillCounter>> Module::backfill(
    const storage::Store& store, const std::string& tenant, const std::string& counter) const {
  using Out = std::unique_ptr<kernel::BackfillCounter>;
  auto [base_id, series] = projection::split_counter_id(counter);
  auto stored = goal(store, tenant, std::string(base_id));
  if (!stored.ok()) return stored.error();
  if (!*stored) return Out();  // deleted meanwhile: its job is gone too
  auto def = conversion::conversion_goal_from_json(**stored, tenant);
  if (!def.ok())
    return store.unreadable("conversion goal", keys::join(tenant, base_id), def.error().message);
  auto compiled = projection::compile(counter_rule(*def), std::string(series));
  if (!compiled.ok()) return Out();  // a series its goal's redefinition no longer allows
  return Out(std::make_unique<Backfilled>(std::move(compiled).value()));
}

std::span<const storage::ColumnFamilySpec> Module::column_families() const {
  return conversion::column_families();
}

std::span<const std::string_view> Module::command_types() const { return kCommands; }

Status Module::apply(const model::Command& cmd, kernel::CommandContext& ctx) {
  if (cmd.type == conversion::command_type::conversion_goal_defined) {
    auto def = conversion::conversion_goal_from_json(cmd.data, cmd.tenant_id);
    if (!def.ok()) return def.error();
    auto compiled = projection::compile(counter_rule(*def));
    if (!compiled.ok()) return compiled.error();
    if (ctx.counters().find(def->tenant_id, def->id)) remove(def->tenant_id, def->id, ctx);
    ctx.counters().put(*compiled);
    put_goal(ctx.batch(), *def);
    // Events below the live positions were processed before this goal existed:
    // a backfill job counts them (and one per series a metric asks for).
    ctx.start_job(def->tenant_id, def->id);
    ctx.counters_reset(def->tenant_id, def->id);
    return {};
  }
  auto i = cmd.data.find("id");
  std::string id = i != cmd.data.end() && i->is_string() ? i->get<std::string>() : "";
  if (id.empty()) return invalid("data.id", "is required");
  remove(cmd.tenant_id, id, ctx);
  ctx.counters_reset(cmd.tenant_id, id);
  return {};
}

Status Module::load(const storage::Store& store, kernel::CommandContext& ctx) {
  auto goals = all_goals(store);
  if (!goals.ok()) return goals.error();
  for (auto& def : *goals) {
    auto g = projection::compile(counter_rule(def));
    if (g.ok())
      ctx.counters().put(*g);
    else
      log::warn("stored goal " + def.id + " does not compile: " + g.error().message);
  }
  return {};
}

}  // namespace gs::conversion
