#include "base/log.h"
#include "projection/pacing.h"
#include "stream/loop.h"

namespace gs::stream {

using json = nlohmann::json;

// Starts a backfill job for `target` over the events processed so far.
void Loop::start_job(const std::string& tenant, const std::string& target, int64_t generation,
                     store::Batch& batch) {
  json snapshot = json::object();
  for (int p = 0; p < event_partitions; ++p)
    if (ev_next[p] > 0) snapshot[std::to_string(p)] = ev_next[p];
  if (snapshot.empty()) return;
  json job = {{"generation", generation}, {"snapshot", snapshot}, {"progress", json::object()}};
  batch.put_job(tenant, target, job);
  active_jobs[job_id(tenant, target)] = job;
}

void Loop::cancel_job(const std::string& tenant, const std::string& target, store::Batch& batch) {
  auto jid = job_id(tenant, target);
  if (active_jobs.erase(jid)) {
    batch.delete_job(tenant, target);
    handoff.cancel(jid);
  }
}

void Loop::drop_series(const std::string& tenant, const std::string& target, store::Batch& batch) {
  index.remove(tenant, target);
  batch.delete_series(tenant, target);
  cancel_job(tenant, target, batch);
  active_series.erase(job_id(tenant, target));
}

// Brings the series of `tenant` in line with its metrics: a series a
// metric asks for is counted from now on and backfilled over the events
// before; a series no metric asks for any more is dropped. `reset_goal`:
// that conversion goal was (re)defined or deleted, so its series restart.
void Loop::sync_series(const std::string& tenant, int64_t offset, store::Batch& batch,
                       const std::string& reset_goal) {
  std::set<std::string> needed;
  auto mt = metrics_by_tenant.find(tenant);
  if (mt != metrics_by_tenant.end())
    for (const auto& [name, m] : mt->second) {
      auto series = model::series_of(m);
      if (series && !series->empty() && index.find(tenant, m.conversion_goal))
        needed.insert(projection::series_target(m.conversion_goal, *series));
    }
  std::string prefix = tenant + '\0';
  for (auto it = active_series.lower_bound(prefix);
       it != active_series.end() && it->starts_with(prefix);) {
    std::string target = it->substr(prefix.size());
    ++it;
    if (!needed.count(target) ||
        (!reset_goal.empty() && projection::split_target(target).first == reset_goal))
      drop_series(tenant, target, batch);
  }
  for (const auto& target : needed)
    if (!active_series.count(job_id(tenant, target)) && add_series(tenant, target))
      start_job(tenant, target, offset, batch);
}

// Compiles series `target` against its goal's definition and counts it
// from now on; false when its goal is not defined.
bool Loop::add_series(const std::string& tenant, const std::string& target) {
  auto [goal_id, series] = projection::split_target(target);
  const auto* base = index.find(tenant, goal_id);
  if (!base) return false;
  auto compiled = projection::compile(base->def, std::string(series));
  if (!compiled.ok()) {
    log::warn("metric series " + std::string(series) + " of " + std::string(goal_id) + ": " +
              compiled.error().message);
    return false;
  }
  index.put(*compiled);
  active_series.insert(job_id(tenant, target));
  return true;
}

// Applies a growth-goal, metric or time-zone command: an Error when the
// command is invalid, nullopt when its type is none of these.
std::optional<Status> Loop::apply_growth_command(const model::Command& cmd, int64_t offset,
                                                 store::Batch& batch) {
  const auto& type = cmd.type;
  const auto& tenant = cmd.tenant_id;
  auto string_member = [&](const char* key) {
    auto i = cmd.data.find(key);
    return i != cmd.data.end() && i->is_string() ? i->get<std::string>() : std::string();
  };
  if (type == model::command_type::growth_goal_created) {
    auto g = model::growth_goal_from_json(cmd.data, tenant);
    if (!g.ok()) return Status(g.error());
    batch.put_growth_goal(*g);
    growth_goals[job_id(tenant, g->id)] = std::move(g).value();
  } else if (type == model::command_type::growth_goal_updated) {
    auto patch = model::goal_patch_from_json(cmd.data);
    if (!patch.ok()) return Status(patch.error());
    auto it = growth_goals.find(job_id(tenant, patch->id));
    if (it == growth_goals.end()) return Status(invalid("data.id", "no goal " + patch->id));
    auto g = model::apply(it->second, *patch);
    if (!g.ok()) return Status(g.error());
    batch.put_growth_goal(*g);
    it->second = std::move(g).value();
  } else if (type == model::command_type::growth_goal_deleted) {
    auto id = string_member("id");
    if (id.empty()) return Status(invalid("data.id", "is required"));
    growth_goals.erase(job_id(tenant, id));
    batch.delete_growth_goal(tenant, id);
  } else if (type == model::command_type::metric_defined) {
    auto m = model::metric_from_json(cmd.data, tenant);
    if (!m.ok()) return Status(m.error());
    if (!projection::parse_window(m->window).ok())
      return Status(invalid("data.window", "is not a window"));
    batch.put_metric(*m);
    metrics_by_tenant[tenant][m->name] = std::move(m).value();
    sync_series(tenant, offset, batch);
  } else if (type == model::command_type::metric_deleted) {
    auto name = string_member("name");
    if (name.empty()) return Status(invalid("data.name", "is required"));
    metrics_by_tenant[tenant].erase(name);
    batch.delete_metric(tenant, name);
    sync_series(tenant, offset, batch);
  } else if (type == model::command_type::timezone_set) {
    auto tz = string_member("timezone");
    if (!projection::valid_time_zone(tz))
      return Status(invalid("data.timezone", "is not an IANA time zone"));
    batch.put_timezone(tenant, tz);
  } else {
    return std::nullopt;
  }
  return Status();
}

void Loop::apply_command(const rd_kafka_message_t* m, store::Batch& batch) {
  std::string_view bytes(static_cast<const char*>(m->payload), m->payload ? m->len : 0);
  auto cmd = model::parse_command(bytes);
  auto reject = [&](const Error& e) {
    metrics.commands_rejected++;
    log::warn("command at offset " + std::to_string(m->offset) + " rejected: " + reason(e));
    deadletter(m, reason(e), e.field);
  };
  if (!cmd.ok()) return reject(cmd.error());
  // Cells aggregated so far must land before a command that may delete them.
  fold_delta(batch);
  prune_idempotency(cmd->issued_at_ms, batch);
  std::string idem_id;
  if (!cmd->idempotency_key.empty()) {
    idem_id = job_id(cmd->tenant_id, cmd->idempotency_key);
    if (idempotency.count(idem_id)) {
      // A retry of a write that was stored already: its first command's
      // outcome is recorded, and that is what the API answers.
      metrics.commands_duplicate++;
      log::info("command at offset " + std::to_string(m->offset) + " skipped: tenant " +
                cmd->tenant_id + " used its Idempotency-Key before");
      return;
    }
  }
  if (opts.on_applied) touched.emplace(cmd->tenant_id + '\0', 0);
  auto st = apply(*cmd, m->offset, batch);
  if (st.ok())
    metrics.commands_applied++;
  else
    reject(st.error());
  if (!idem_id.empty()) record_idempotency(*cmd, st, batch);
}

// Applies a parsed command; an Error when it is invalid (nothing applied).
Status Loop::apply(const model::Command& cmd, int64_t offset, store::Batch& batch) {
  const auto& type = cmd.type;
  if (auto growth = apply_growth_command(cmd, offset, batch)) return *growth;
  if (type == model::command_type::key_issued) {
    auto h = cmd.data.find("key_hash");
    std::string hash = h != cmd.data.end() && h->is_string() ? h->get<std::string>() : "";
    auto key = model::api_key_from_json(cmd.data);
    if (hash.size() != 64 || !key.ok())
      return key.ok() ? invalid("data.key_hash", "must be a SHA-256 hex digest") : key.error();
    if (key->tenant_id != cmd.tenant_id)
      return invalid("data.tenant_id", "does not match tenant_id");
    batch.put_key(hash, *key);
  } else if (type == model::command_type::conversion_goal_defined) {
    auto def = model::conversion_goal_from_json(cmd.data, cmd.tenant_id);
    if (!def.ok()) return def.error();
    auto compiled = projection::compile(def.value());
    if (!compiled.ok()) return compiled.error();
    if (index.find(def->tenant_id, def->id)) remove_goal(def->tenant_id, def->id, batch);
    index.put(*compiled);
    batch.put_goal(*def);
    // Events below the live positions were processed before this goal existed:
    // a backfill job counts them (and one per series a metric asks for).
    start_job(def->tenant_id, def->id, offset, batch);
    sync_series(def->tenant_id, offset, batch, def->id);
  } else if (type == model::command_type::conversion_goal_deleted) {
    auto i = cmd.data.find("id");
    std::string id = i != cmd.data.end() && i->is_string() ? i->get<std::string>() : "";
    if (id.empty()) return invalid("data.id", "is required");
    remove_goal(cmd.tenant_id, id, batch);
    sync_series(cmd.tenant_id, offset, batch, id);
  } else {
    return invalid("type", "unknown command type " + type);
  }
  return {};
}

// ---- Idempotency-Key ------------------------------------------------------

// Forgets the keys first used more than the window before `now_ms`, the
// issued_at of the command being applied.
void Loop::prune_idempotency(int64_t now_ms, store::Batch& batch) {
  int64_t horizon = now_ms - model::kIdempotencyWindowMs;
  while (!idempotency_by_time.empty() && idempotency_by_time.begin()->first < horizon) {
    const std::string& id = idempotency_by_time.begin()->second;
    auto nul = id.find('\0');
    batch.delete_idempotency(id.substr(0, nul), id.substr(nul + 1));
    idempotency.erase(id);
    idempotency_by_time.erase(idempotency_by_time.begin());
  }
}

// Records the outcome of the first command with its Idempotency-Key: what
// the API answers to every attempt with that key (docs/api.md).
void Loop::record_idempotency(const model::Command& cmd, const Status& st, store::Batch& batch) {
  json record = {{"command_id", cmd.command_id},
                 {"type", cmd.type},
                 {"request", cmd.request_hash},
                 {"issued_at", time::format_rfc3339(cmd.issued_at_ms)},
                 {"outcome", st.ok() ? "applied" : "rejected"}};
  for (const char* member : {"id", "name"})
    if (auto it = cmd.data.find(member); it != cmd.data.end() && it->is_string()) {
      record["resource"] = *it;
      break;
    }
  if (!st.ok()) record["error"] = {{"field", st.error().field}, {"message", reason(st.error())}};
  batch.put_idempotency(cmd.tenant_id, cmd.idempotency_key, record);
  auto id = job_id(cmd.tenant_id, cmd.idempotency_key);
  idempotency[id] = cmd.issued_at_ms;
  idempotency_by_time.emplace(cmd.issued_at_ms, std::move(id));
}

void Loop::remove_goal(const std::string& tenant, const std::string& id, store::Batch& batch) {
  index.remove(tenant, id);
  batch.delete_goal(tenant, id);
  cancel_job(tenant, id, batch);
}

// Applies the backfill results handed over so far (processor thread).
uint64_t Loop::apply_partials(store::Batch& batch) {
  std::deque<Partial> ready = handoff.take();
  uint64_t last = 0;
  for (auto& p : ready) {
    last = p.seq;
    auto jid = job_id(p.tenant, p.goal_id);
    auto it = active_jobs.find(jid);
    if (it == active_jobs.end() || it->second.value("generation", int64_t{-1}) != p.generation)
      continue;  // deleted meanwhile
    touch_cells(p.counts);
    batch.fold(p.counts, fingerprint_seq);  // cells and presences only
    if (p.done) {
      batch.delete_job(p.tenant, p.goal_id);
      active_jobs.erase(it);
      metrics.backfill_jobs_completed++;
    } else {
      json progress = json::object();
      for (auto& [part, off] : p.progress) progress[std::to_string(part)] = off;
      it->second["progress"] = progress;
      batch.put_job(p.tenant, p.goal_id, it->second);
    }
  }
  return last;
}
}  // namespace gs::stream
