#include "base/log.h"
#include "base/zone.h"
#include "kernel/loop.h"

namespace gs::kernel {

using json = nlohmann::json;

// Starts a backfill job for `counter` over the events processed so far; its
// generation is the offset of the command being applied.
void Loop::start_job(const std::string& tenant, const std::string& counter) {
  json snapshot = json::object();
  for (int p = 0; p < event_partitions; ++p)
    if (ev_next[p] > 0) snapshot[std::to_string(p)] = ev_next[p];
  if (snapshot.empty()) return;
  json job = {{"generation", command_offset}, {"snapshot", snapshot}, {"progress", json::object()}};
  state::put_job(*command_batch, tenant, counter, job);
  active_jobs[job_key(tenant, counter)] = job;
}

void Loop::cancel_job(const std::string& tenant, const std::string& counter) {
  auto jid = job_key(tenant, counter);
  if (active_jobs.erase(jid)) {
    state::delete_job(*command_batch, tenant, counter);
    handoff.cancel(jid);
  }
}

void Loop::counters_reset(const std::string& tenant, const std::string& rule_id) {
  for (Module* m : opts.modules) m->on_counters_reset(tenant, rule_id, *this);
}

void Loop::apply_command(const rd_kafka_message_t* m, storage::Batch& batch) {
  std::string_view bytes(static_cast<const char*>(m->payload), m->payload ? m->len : 0);
  auto cmd = model::parse_command(bytes);
  auto reject = [&](const Error& e) {
    telemetry.commands_rejected++;
    log::warn("command at offset " + std::to_string(m->offset) + " rejected: " + reason(e));
    // Every instance applies every command; the owner of events partition 0
    // deadletters it.
    if (owned.empty() || owned[0]) deadletter(m, reason(e), e.field);
  };
  if (!cmd.ok()) return reject(cmd.error());
  // Cells aggregated so far must land before a command that may delete them.
  fold_delta(batch);
  prune_idempotency(cmd->issued_at_ms, batch);
  std::string idem_id;
  if (!cmd->idempotency_key.empty()) {
    idem_id = keys::join(cmd->tenant_id, cmd->idempotency_key);
    if (idempotency.count(idem_id)) {
      // A retry of a write that was stored already: its first command's
      // outcome is recorded, and that is what the API answers.
      telemetry.commands_duplicate++;
      log::info("command at offset " + std::to_string(m->offset) + " skipped: tenant " +
                cmd->tenant_id + " used its Idempotency-Key before");
      return;
    }
  }
  if (opts.on_applied || opts.versions) touched.emplace(cmd->tenant_id + '\0', 0);
  auto st = apply(*cmd, m->offset, batch);
  if (st.ok())
    telemetry.commands_applied++;
  else
    reject(st.error());
  if (!idem_id.empty()) record_idempotency(*cmd, st, batch);
}

// Applies a parsed command; an Error when it is invalid (nothing applied).
// The kernel's own commands (API keys, tenant settings) are here; the others
// go to the module that declared their type.
Status Loop::apply(const model::Command& cmd, int64_t offset, storage::Batch& batch) {
  command_batch = &batch;
  command_offset = offset;
  const auto& type = cmd.type;
  if (type == model::command_type::key_issued) {
    auto h = cmd.data.find("key_hash");
    std::string hash = h != cmd.data.end() && h->is_string() ? h->get<std::string>() : "";
    auto key = model::api_key_from_json(cmd.data);
    if (hash.size() != 64 || !key.ok())
      return key.ok() ? invalid("data.key_hash", "must be a SHA-256 hex digest") : key.error();
    if (key->tenant_id != cmd.tenant_id)
      return invalid("data.tenant_id", "does not match tenant_id");
    state::put_key(batch, hash, *key);
    return {};
  }
  if (type == model::command_type::timezone_set) {
    auto i = cmd.data.find("timezone");
    auto tz = i != cmd.data.end() && i->is_string() ? i->get<std::string>() : std::string();
    if (!time::valid_time_zone(tz)) return invalid("data.timezone", "is not an IANA time zone");
    state::put_timezone(batch, cmd.tenant_id, tz);
    return {};
  }
  auto owner = command_owner.find(type);
  if (owner == command_owner.end()) return invalid("type", "unknown command type " + type);
  return owner->second->apply(cmd, *this);
}

// ---- Idempotency-Key ------------------------------------------------------

// Forgets the keys first used more than the window before `now_ms`, the
// issued_at of the command being applied.
void Loop::prune_idempotency(int64_t now_ms, storage::Batch& batch) {
  int64_t horizon = now_ms - model::kIdempotencyWindowMs;
  while (!idempotency_by_time.empty() && idempotency_by_time.begin()->first < horizon) {
    const std::string& id = idempotency_by_time.begin()->second;
    auto nul = id.find('\0');
    state::delete_idempotency(batch, id.substr(0, nul), id.substr(nul + 1));
    idempotency.erase(id);
    idempotency_by_time.erase(idempotency_by_time.begin());
  }
}

// Records the outcome of the first command with its Idempotency-Key: what
// the API answers to every attempt with that key (docs/api.md).
void Loop::record_idempotency(const model::Command& cmd, const Status& st, storage::Batch& batch) {
  json record = {{"command_id", cmd.command_id},
                 {"type", cmd.type},
                 {"request", cmd.request_hash},
                 {"issued_at", time::format_rfc3339(cmd.issued_at_ms)},
                 {"outcome", st.ok() ? "applied" : "rejected"}};
  // The item the write concerns: "id" or "name", else "goal_id" (a roadmap
  // node update names its goal).
  for (const char* member : {"id", "name", "goal_id"})
    if (auto it = cmd.data.find(member); it != cmd.data.end() && it->is_string()) {
      record["resource"] = *it;
      break;
    }
  if (!st.ok()) record["error"] = {{"field", st.error().field}, {"message", reason(st.error())}};
  state::put_idempotency(batch, cmd.tenant_id, cmd.idempotency_key, record);
  auto id = keys::join(cmd.tenant_id, cmd.idempotency_key);
  idempotency[id] = cmd.issued_at_ms;
  idempotency_by_time.emplace(cmd.issued_at_ms, std::move(id));
}

// Applies the backfill results handed over so far (processor thread).
uint64_t Loop::apply_partials(storage::Batch& batch) {
  std::deque<Partial> ready = handoff.take();
  uint64_t last = 0;
  for (auto& p : ready) {
    last = p.seq;
    auto jid = job_key(p.tenant, p.counter);
    auto it = active_jobs.find(jid);
    if (it == active_jobs.end() || it->second.value("generation", int64_t{-1}) != p.generation)
      continue;  // deleted meanwhile
    touch_cells(p.counts);
    cells::fold(batch, p.counts, fingerprint_seq);  // cells and presences only
    if (p.done) {
      state::delete_job(batch, p.tenant, p.counter);
      active_jobs.erase(it);
      telemetry.backfill_jobs_completed++;
    } else {
      json progress = json::object();
      for (auto& [part, off] : p.progress) progress[std::to_string(part)] = off;
      it->second["progress"] = progress;
      state::put_job(batch, p.tenant, p.counter, it->second);
    }
  }
  return last;
}
}  // namespace gs::kernel
