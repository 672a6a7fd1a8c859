#include "stream/processor.h"

#include <pthread.h>

#include <algorithm>
#include <deque>
#include <future>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include <rocksdb/perf_level.h>

#include "base/log.h"
#include "model/conversion_goal.h"
#include "model/event.h"
#include "model/growth.h"
#include "projection/pacing.h"
#include "projection/projection.h"

namespace gs::stream {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string job_id(std::string_view tenant, std::string_view goal) {
  std::string k(tenant);
  k.push_back('\0');
  k.append(goal);
  return k;
}

std::string reason(const Error& e) {
  return e.field.empty() ? e.message : e.field + ": " + e.message;
}

// A header value cut to `max` bytes (on a UTF-8 boundary), so that a
// deadletter message stays within kDeadletterHeaderBytes of its event.
std::string bounded(std::string_view s, size_t max) {
  if (s.size() <= max) return std::string(s);
  size_t n = max - 3;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return std::string(s.substr(0, n)) + "...";
}

// Counts handed from the backfill thread to the processor thread.
struct Partial {
  std::string tenant, goal_id;
  int64_t generation = 0;
  std::unordered_map<std::string, projection::Cell> cells;
  std::unordered_set<std::string> presence;
  std::map<int32_t, int64_t> progress;
  bool done = false;
  uint64_t seq = 0;
};

}  // namespace

struct Processor::Impl {
  store::Store& store;
  ProcessorOptions opts;
  Metrics& metrics;

  KafkaHandle consumer;
  std::unique_ptr<Producer> producer;  // deadletter
  // The deadletter messages of the batch being built: the writer waits until
  // they are delivered before it writes the batch (and so its offsets).
  std::shared_ptr<DeliveryGroup> deadletters;
  int event_partitions = 0;
  std::vector<int64_t> ev_next;
  int64_t cmd_next = 0;
  std::vector<bool> ev_dirty;
  bool cmd_dirty = false;
  // High watermarks when the processor started: readiness means reaching them.
  std::vector<int64_t> start_ends;  // per events partition
  int64_t start_cmd_end = 0;

  projection::GoalIndex index;
  projection::Aggregator agg;
  std::vector<rd_kafka_message_t*> msgs;  // the batch being built

  // The poller thread consumes while the processor thread processes: it
  // hands over consumed batches in order, at most kPolledMax waiting.
  struct Polled {
    std::vector<rd_kafka_message_t*> msgs;
    Clock::time_point t0;  // when its first message was consumed
  };
  static constexpr size_t kPolledMax = 2;
  std::thread poller_thread;
  std::mutex poll_mu;
  std::condition_variable poll_cv;
  std::deque<Polled> polled;  // guarded by poll_mu
  // Event preparation (parse, validate, fingerprint, match) needs no shared
  // mutable state, so a run of events is split in two halves prepared on two
  // threads; dedup and aggregation then go through the results in log order.
  struct Contribution {
    const projection::CompiledGoal* goal;
    int64_t timestamp_ms;
    double value;
    uint32_t subject_at = 0, subject_len = 0;  // in Chunk::subjects; unique series only
  };
  struct Prepared {
    bool valid = false;
    projection::Fingerprint fp;
    uint32_t first = 0, count = 0;  // its range in Chunk::contributions
    uint32_t goals = 0;             // conversion goals matched (series excluded)
  };
  struct Chunk {
    model::EventParser parser;
    std::vector<Prepared> items;
    std::vector<Contribution> contributions;
    std::string subjects;
    uint64_t invalid = 0;
  };
  Chunk chunks[2];
  static constexpr size_t kParallelMin = 512;  // smaller runs are prepared inline
  // Dedup: every event seen, in memory; the batch's new fingerprints and
  // duplicate positions go into its WriteBatch (see projection/dedup.h).
  projection::FingerprintSet seen;
  uint64_t fingerprint_seq = 0;
  std::vector<projection::Fingerprint> new_fingerprints;
  std::vector<store::Position> duplicates;
  // Active backfill jobs: tenant\0goal -> job record (its "generation" is the
  // offset of the command that created it). Kept here, not read back from
  // the store, because the latest record may still be in the batch being
  // written.
  std::unordered_map<std::string, json> active_jobs;

  // The writer thread writes one batch while the processor builds the next.
  // At most one batch is in flight.
  struct Write {
    store::Batch batch;
    int64_t cmd_next = 0;
    uint64_t seq = 0;  // last backfill partial in this batch
    bool wake_backfill = false;
    bool timed = false;
    Clock::time_point t0;
    std::vector<int64_t> ev_next;
    std::unordered_map<std::string, int64_t> touched;
    std::shared_ptr<DeliveryGroup> deadletters{};  // null when the batch deadlettered nothing
    uint64_t invalid_events = 0;                   // of which are invalid events
  };
  std::thread writer_thread;
  std::atomic<bool> failed{false};
  // The writer gave up on a batch whose deadletter messages were not
  // delivered when the processor stopped: it and what follows are not
  // written (they are processed again at the next start).
  std::atomic<bool> abandoned{false};

  std::thread loop_thread, backfill_thread;
  std::atomic<bool> stopping{false};

  mutable std::mutex mu;  // guards everything below
  std::condition_variable applied_cv;
  int64_t applied_cmd_next = 0;
  std::string fatal;
  Error fatal_err;  // the error behind `fatal`, with its field
  std::deque<Partial> partials;
  uint64_t partial_applied_seq = 0;
  std::condition_variable backfill_cv;  // wakes the backfill thread
  std::condition_variable writer_cv;
  std::optional<Write> slot;  // the batch handed to the writer
  bool writer_busy = false;   // a batch is handed over and not yet durable
  bool writer_stop = false;
  bool backfill_wake = false;
  std::set<std::string> cancelled;
  std::map<std::string, std::pair<int64_t, int64_t>> backfill_status;  // job -> (scanned, total)

  Impl(store::Store& s, ProcessorOptions o, Metrics& m)
      : store(s), opts(std::move(o)), metrics(m) {}

  // ---- processor thread -------------------------------------------------

  // Produces `m` to the deadletter topic with the reason, as part of the
  // batch being built (thread-safe: prepare() calls it from two threads).
  // Headers are bounded (at most kDeadletterHeaderBytes in all: a topic name
  // has at most 249 bytes), so every event the events topic takes fits.
  void deadletter(const rd_kafka_message_t* m, const std::string& why, const std::string& field) {
    if (!opts.emit_deadletter) return;
    std::string_view key = m->key ? std::string_view(static_cast<const char*>(m->key), m->key_len)
                                  : std::string_view();
    std::string_view value(static_cast<const char*>(m->payload), m->payload ? m->len : 0);
    Headers h = {{"error", bounded(why, 1024)},
                 {"error.field", bounded(field, 256)},
                 {"source.topic", rd_kafka_topic_name(m->rkt)},
                 {"source.partition", std::to_string(m->partition)},
                 {"source.offset", std::to_string(m->offset)}};
    // A refusal is recorded in the group and retried like a failed delivery.
    (void)producer->produce_async(opts.kafka.deadletter(), key, value, h, deadletters);
  }

  // Parses, validates and matches msgs[begin, end) into `c`. Thread-safe
  // with respect to other chunks: reads the goal index, writes only `c`
  // (invalid events go to the deadletter producer, which is thread-safe).
  void prepare(Chunk& c, size_t begin, size_t end) {
    c.items.clear();
    c.contributions.clear();
    c.subjects.clear();
    c.invalid = 0;
    for (size_t k = begin; k < end; ++k) {
      const rd_kafka_message_t* m = msgs[k];
      std::string_view bytes(static_cast<const char*>(m->payload), m->payload ? m->len : 0);
      auto ev = c.parser.parse(bytes);
      if (!ev.ok()) {
        ++c.invalid;
        deadletter(m, reason(ev.error()), ev.error().field);
        c.items.push_back({});
        continue;
      }
      Prepared p{true, projection::fingerprint(ev->tenant_id, ev->event_id),
                 static_cast<uint32_t>(c.contributions.size()), 0, 0};
      for (const projection::GoalFamily* family : index.candidates(ev->tenant_id, ev->type)) {
        if (!family->base->counts(*ev)) continue;
        ++p.goals;
        c.contributions.push_back({family->base.get(), ev->timestamp_ms, ev->value});
        for (const auto& series : family->series) {
          Contribution x{series.get(), ev->timestamp_ms, series->value_of(*ev)};
          if (series->unique && ev->subject_id) {
            x.subject_at = static_cast<uint32_t>(c.subjects.size());
            x.subject_len = static_cast<uint32_t>(ev->subject_id->size());
            c.subjects.append(*ev->subject_id);
          }
          c.contributions.push_back(x);
        }
      }
      p.count = static_cast<uint32_t>(c.contributions.size()) - p.first;
      c.items.push_back(p);
    }
  }

  // Ingests the run of event messages msgs[begin, end): prepares them (two
  // threads for long runs), then dedups and aggregates in log order. The
  // first occurrence of an event (tenant, event_id) counts; later ones are
  // duplicates, recorded by position so that backfills skip them too.
  void ingest_run(size_t begin, size_t end, uint64_t& invalid, uint64_t& dups, uint64_t& matched) {
    size_t n = end - begin;
    size_t mid = n >= kParallelMin ? begin + n / 2 : end;
    std::future<void> second;
    if (mid < end) {
      try {
        second = std::async(std::launch::async, [&] {
          pthread_setname_np(pthread_self(), "gs-prepare");
          prepare(chunks[1], mid, end);
        });
      } catch (const std::system_error& e) {  // no thread to be had: prepare inline
        log::warn(std::string("prepare thread: ") + e.what());
        mid = end;
      }
    }
    prepare(chunks[0], begin, mid);
    if (second.valid()) second.get();
    for (int c = 0; c < (mid < end ? 2 : 1); ++c) {
      Chunk& chunk = chunks[c];
      size_t first_msg = c == 0 ? begin : mid;
      invalid += chunk.invalid;
      constexpr size_t kAhead = 16;
      for (size_t i = 0; i < std::min(kAhead, chunk.items.size()); ++i)
        seen.prefetch(chunk.items[i].fp);
      for (size_t i = 0; i < chunk.items.size(); ++i) {
        if (i + kAhead < chunk.items.size()) seen.prefetch(chunk.items[i + kAhead].fp);
        const Prepared& p = chunk.items[i];
        if (!p.valid) continue;
        if (!seen.insert(p.fp)) {
          ++dups;
          const rd_kafka_message_t* m = msgs[first_msg + i];
          duplicates.push_back({m->partition, m->offset});
          continue;
        }
        new_fingerprints.push_back(p.fp);
        for (uint32_t k = p.first; k < p.first + p.count; ++k) {
          const Contribution& x = chunk.contributions[k];
          agg.add(*x.goal, x.timestamp_ms, x.value,
                  std::string_view(chunk.subjects).substr(x.subject_at, x.subject_len));
        }
        matched += p.goals;
      }
    }
  }

  void flush_dedup(store::Batch& batch) {
    if (!new_fingerprints.empty()) batch.put_fingerprints(fingerprint_seq++, new_fingerprints);
    for (auto pos : duplicates) batch.put_duplicate(pos);
    new_fingerprints.clear();
    duplicates.clear();
  }

  // Whether `m` comes from the commands topic. Topic handles are stable per
  // client, so the name is compared once per handle.
  rd_kafka_topic_t* commands_rkt = nullptr;
  rd_kafka_topic_t* events_rkt = nullptr;
  bool is_command(const rd_kafka_message_t* m) {
    if (m->rkt == commands_rkt) return true;
    if (m->rkt == events_rkt) return false;
    bool cmd = std::string_view(rd_kafka_topic_name(m->rkt)) == opts.kafka.commands();
    (cmd ? commands_rkt : events_rkt) = m->rkt;
    return cmd;
  }

  // What the batch being built changed, for ProcessorOptions::on_applied.
  std::unordered_map<std::string, int64_t> touched;
  void touch(const std::string& cell_key, int64_t ts) {
    if (!opts.on_applied || cell_key.size() < 9) return;
    auto& t = touched[cell_key.substr(0, cell_key.size() - 9)];
    t = std::max(t, ts);
  }

  void flush_agg(store::Batch& batch) {
    for (const auto& [key, cell] : agg.cells()) {
      batch.merge_cell(key, cell);
      touch(key, cell.max_ts_ms);
    }
    for (const auto& key : agg.presence()) batch.put_presence(key);
    agg.clear();
  }

  // ---- growth goals and metrics ------------------------------------------

  // Growth goals and metrics as of the last applied command. Kept here, not
  // read back from the store, because the latest state may still be in the
  // batch being written.
  std::unordered_map<std::string, model::GrowthGoal> growth_goals;  // tenant\0id
  std::unordered_map<std::string, std::map<std::string, model::Metric>> metrics_by_tenant;
  // Series kept because a metric asks for them: tenant\0target.
  std::set<std::string> active_series;

  // Starts a backfill job for `target` over the events processed so far.
  void start_job(const std::string& tenant, const std::string& target, int64_t generation,
                 store::Batch& batch) {
    json snapshot = json::object();
    for (int p = 0; p < event_partitions; ++p)
      if (ev_next[p] > 0) snapshot[std::to_string(p)] = ev_next[p];
    if (snapshot.empty()) return;
    json job = {{"generation", generation}, {"snapshot", snapshot}, {"progress", json::object()}};
    batch.put_job(tenant, target, job);
    active_jobs[job_id(tenant, target)] = job;
  }

  void cancel_job(const std::string& tenant, const std::string& target, store::Batch& batch) {
    auto jid = job_id(tenant, target);
    if (active_jobs.erase(jid)) {
      batch.delete_job(tenant, target);
      std::lock_guard lock(mu);
      cancelled.insert(jid);
    }
  }

  void drop_series(const std::string& tenant, const std::string& target, store::Batch& batch) {
    index.remove(tenant, target);
    batch.delete_series(tenant, target);
    cancel_job(tenant, target, batch);
    active_series.erase(job_id(tenant, target));
  }

  // Brings the series of `tenant` in line with its metrics: a series a
  // metric asks for is counted from now on and backfilled over the events
  // before; a series no metric asks for any more is dropped. `reset_goal`:
  // that conversion goal was (re)defined or deleted, so its series restart.
  void sync_series(const std::string& tenant, int64_t offset, store::Batch& batch,
                   const std::string& reset_goal = "") {
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
  bool add_series(const std::string& tenant, const std::string& target) {
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
  std::optional<Status> apply_growth_command(const model::Command& cmd, int64_t offset,
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

  void apply_command(const rd_kafka_message_t* m, store::Batch& batch) {
    std::string_view bytes(static_cast<const char*>(m->payload), m->payload ? m->len : 0);
    auto cmd = model::parse_command(bytes);
    auto reject = [&](const Error& e) {
      metrics.commands_rejected++;
      log::warn("command at offset " + std::to_string(m->offset) + " rejected: " + reason(e));
      deadletter(m, reason(e), e.field);
    };
    if (!cmd.ok()) return reject(cmd.error());
    // Cells aggregated so far must land before a command that may delete them.
    flush_agg(batch);
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
  Status apply(const model::Command& cmd, int64_t offset, store::Batch& batch) {
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

  // The first command of each (tenant, Idempotency-Key) within
  // model::kIdempotencyWindowMs: tenant\0key -> its issued_at, and the same
  // ordered by issued_at for pruning. As of the last applied command (the
  // latest may still be in the batch being written). Both the records and
  // their pruning follow the commands log alone (issued_at, log order), so a
  // rebuild reproduces them and the digest covers them.
  std::unordered_map<std::string, int64_t> idempotency;
  std::multimap<int64_t, std::string> idempotency_by_time;

  // Forgets the keys first used more than the window before `now_ms`, the
  // issued_at of the command being applied.
  void prune_idempotency(int64_t now_ms, store::Batch& batch) {
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
  void record_idempotency(const model::Command& cmd, const Status& st, store::Batch& batch) {
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

  void remove_goal(const std::string& tenant, const std::string& id, store::Batch& batch) {
    index.remove(tenant, id);
    batch.delete_goal(tenant, id);
    cancel_job(tenant, id, batch);
  }

  // Applies the backfill results handed over so far (processor thread).
  uint64_t apply_partials(store::Batch& batch) {
    std::deque<Partial> ready;
    {
      std::lock_guard lock(mu);
      ready.swap(partials);
    }
    uint64_t last = 0;
    for (auto& p : ready) {
      last = p.seq;
      auto jid = job_id(p.tenant, p.goal_id);
      auto it = active_jobs.find(jid);
      if (it == active_jobs.end() || it->second.value("generation", int64_t{-1}) != p.generation)
        continue;  // deleted meanwhile
      for (auto& [key, cell] : p.cells) {
        batch.merge_cell(key, cell);
        touch(key, cell.max_ts_ms);
      }
      for (auto& key : p.presence) batch.put_presence(key);
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

  void commit_kafka(const std::vector<int64_t>& events_next, int64_t commands_next) {
    if (opts.group_id.empty()) return;
    rd_kafka_topic_partition_list_t* l = rd_kafka_topic_partition_list_new(event_partitions + 1);
    for (int p = 0; p < event_partitions; ++p)
      rd_kafka_topic_partition_list_add(l, opts.kafka.events().c_str(), p)->offset = events_next[p];
    rd_kafka_topic_partition_list_add(l, opts.kafka.commands().c_str(), 0)->offset = commands_next;
    rd_kafka_commit(consumer.get(), l, 1);
    rd_kafka_topic_partition_list_destroy(l);
  }

  void update_lag() {
    int64_t lag = 0, lo, hi;
    bool caught_up = true;
    // Cached watermarks are unknown until the first fetch of a partition:
    // the ends queried at start are a floor.
    for (int p = 0; p < event_partitions; ++p) {
      if (rd_kafka_get_watermark_offsets(consumer.get(), opts.kafka.events().c_str(), p, &lo,
                                         &hi) != RD_KAFKA_RESP_ERR_NO_ERROR)
        hi = 0;
      lag += std::max<int64_t>(0, std::max(hi, start_ends[p]) - ev_next[p]);
      if (ev_next[p] < start_ends[p]) caught_up = false;
    }
    metrics.events_lag = lag;
    if (rd_kafka_get_watermark_offsets(consumer.get(), opts.kafka.commands().c_str(), 0, &lo,
                                       &hi) != RD_KAFKA_RESP_ERR_NO_ERROR)
      hi = 0;
    metrics.commands_lag = std::max<int64_t>(0, std::max(hi, start_cmd_end) - cmd_next);
    if (cmd_next < start_cmd_end) caught_up = false;
    if (caught_up) owner_ready->store(true);
    metrics.backfill_jobs_pending = static_cast<int64_t>(active_jobs.size());
  }
  std::atomic<bool>* owner_ready = nullptr;

  // While the commands topic is behind the end it had at start, events wait:
  // goals defined then are known before the events they count, so a restart
  // or a rebuild needs no backfill scans. (Any interleaving gives the same
  // state; this one is the cheapest.)
  bool events_paused = false;
  void pause_events(bool pause) {
    rd_kafka_topic_partition_list_t* l = rd_kafka_topic_partition_list_new(event_partitions);
    for (int p = 0; p < event_partitions; ++p)
      rd_kafka_topic_partition_list_add(l, opts.kafka.events().c_str(), p);
    if (pause)
      rd_kafka_pause_partitions(consumer.get(), l);
    else
      rd_kafka_resume_partitions(consumer.get(), l);
    rd_kafka_topic_partition_list_destroy(l);
    events_paused = pause;
  }
  void maybe_resume_events(bool idle) {
    if (!events_paused) return;
    bool done = cmd_next >= start_cmd_end;
    if (!done && idle) {
      // Offsets may have gaps: trust the consumer's position when idle.
      rd_kafka_topic_partition_list_t* l = rd_kafka_topic_partition_list_new(1);
      rd_kafka_topic_partition_list_add(l, opts.kafka.commands().c_str(), 0);
      rd_kafka_position(consumer.get(), l);
      done = l->elems[0].offset >= start_cmd_end;
      rd_kafka_topic_partition_list_destroy(l);
    }
    if (done) pause_events(false);
  }

  // Marks a write durable: read-your-writes waiters and the backfill thread
  // may go on. Call with `mu` held.
  void publish_locked(const Write& w) {
    applied_cmd_next = w.cmd_next;
    if (w.seq) partial_applied_seq = w.seq;
    if (w.wake_backfill) backfill_wake = true;
  }

  void notify_all() {
    writer_cv.notify_all();
    applied_cv.notify_all();
    backfill_cv.notify_all();
  }

  // Hands a finished batch to the writer once the previous one is durable.
  // Returns false when the writer failed.
  bool hand_to_writer(Write w) {
    {
      std::unique_lock lock(mu);
      // A batch with nothing to write or publish (no message, no backfill
      // hand-over) does not wait for the batch in flight, which publishes
      // the same positions: so while the writer waits for deadletter
      // deliveries, the processor goes on to build the next real batch.
      if (writer_busy && w.batch.count() == 0 && !w.deadletters && w.seq == 0) return true;
      writer_cv.wait(lock, [&] { return !writer_busy || failed.load() || abandoned.load(); });
      if (failed || abandoned) return false;
      if (w.batch.count() == 0 && !w.deadletters) {
        publish_locked(w);
      } else {
        slot = std::move(w);
        writer_busy = true;
      }
    }
    notify_all();
    return true;
  }

  void run_writer() {
    rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
    while (true) {
      std::unique_lock lock(mu);
      writer_cv.wait(lock, [&] { return slot.has_value() || writer_stop; });
      if (!slot) return;
      Write w = std::move(*slot);
      slot.reset();
      lock.unlock();
      if (w.deadletters && !await_deadletters(w)) {
        log::warn(
            "processor stopped before the deadletter messages of a batch were delivered: the batch "
            "is "
            "not committed and is processed again at the next start");
        lock.lock();
        abandoned = true;
        writer_busy = false;
        lock.unlock();
        notify_all();
        return;
      }
      auto st = store.write(w.batch);
      lock.lock();
      if (!st.ok()) {
        fatal = st.error().message;
        fatal_err = st.error();  // field "data-dir" for a store write
        failed = true;
        writer_busy = false;
        log::error("store write failed, stopping the processor: " + fatal);
        lock.unlock();
        notify_all();
        return;
      }
      publish_locked(w);
      writer_busy = false;
      lock.unlock();
      notify_all();
      metrics.batches++;
      if (opts.on_applied && !w.touched.empty()) opts.on_applied(w.touched);
      if (w.timed)
        metrics.observe_batch_latency(std::chrono::duration<double>(Clock::now() - w.t0).count());
      commit_kafka(w.ev_next, w.cmd_next);
    }
  }

  // Waits until every deadletter message of `w` is delivered, producing
  // failed ones again (logged, with backoff), so that a batch's offsets are
  // never written before the invalid messages it skips are on the deadletter
  // topic. Returns false when the processor stops first: failures are no
  // longer retried then, and pending deliveries get up to 10 s.
  bool await_deadletters(Write& w) {
    DeliveryGroup& g = *w.deadletters;
    auto backoff = std::chrono::milliseconds(500);
    std::optional<Clock::time_point> stop_deadline;
    while (true) {
      while (!g.wait_until(Clock::now() + std::chrono::milliseconds(100))) {
        if (!stopping) continue;
        if (!stop_deadline) stop_deadline = Clock::now() + std::chrono::seconds(10);
        if (Clock::now() > *stop_deadline) return false;
      }
      auto failures = g.take_failed();
      if (failures.empty()) break;
      metrics.deadletter_failures += failures.size();
      log::warn("deadletter: " + std::to_string(failures.size()) +
                " message(s) of a batch not delivered to " + opts.kafka.deadletter() + " (" +
                failures.front().error + "); retrying in " + std::to_string(backoff.count()) +
                " ms; the batch is committed once they are");
      {
        std::unique_lock lock(mu);
        writer_cv.wait_for(lock, backoff, [&] { return stopping.load(); });
      }
      if (stopping) return false;
      for (auto& f : failures) {
        if (f.err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
            f.err == RD_KAFKA_RESP_ERR_INVALID_RECORD ||
            f.err == RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE) {
          // Larger than the deadletter topic takes (a compressed event can be
          // much larger once decompressed, or the topic was not altered): keep
          // the reason and the position, and as much of the value as fits.
          constexpr size_t kKept = 512 * 1024;
          if (f.value.size() > kKept) {
            f.headers.emplace_back("value.truncated", std::to_string(f.value.size()));
            f.value.resize(kKept);
          }
        }
        (void)producer->produce_async(f.topic, f.key, f.value, f.headers, w.deadletters);
      }
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    }
    metrics.events_deadlettered += w.invalid_events;
    return true;
  }

  // Waits for the batch in flight, then stops the writer thread.
  void stop_writer() {
    {
      std::unique_lock lock(mu);
      writer_cv.wait(lock, [&] { return !writer_busy || failed.load() || abandoned.load(); });
      writer_stop = true;
    }
    notify_all();
    if (writer_thread.joinable()) writer_thread.join();
  }

  void run_poller() {
    while (!stopping && !failed) {
      Polled b;
      while (b.msgs.size() < opts.batch_max_messages && !stopping) {
        rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer.get(), b.msgs.empty() ? 100 : 0);
        if (!m) break;
        if (b.msgs.empty()) b.t0 = Clock::now();
        b.msgs.push_back(m);
        if ((b.msgs.size() & 1023) == 0 && Clock::now() - b.t0 > opts.batch_max_time) break;
      }
      if (b.msgs.empty()) continue;
      std::unique_lock lock(poll_mu);
      poll_cv.wait(lock, [&] { return polled.size() < kPolledMax || stopping || failed; });
      if (stopping || failed) {
        for (auto* m : b.msgs)
          rd_kafka_message_destroy(m);  // not processed: consumed again next start
        break;
      }
      polled.push_back(std::move(b));
      lock.unlock();
      poll_cv.notify_all();
    }
  }

  // Takes the next consumed batch into `msgs`, waiting up to 100 ms; returns
  // when it first consumed message was consumed (now when none).
  Clock::time_point next_polled() {
    std::unique_lock lock(poll_mu);
    poll_cv.wait_for(lock, std::chrono::milliseconds(100),
                     [&] { return !polled.empty() || stopping.load(); });
    if (polled.empty()) return Clock::now();
    Polled b = std::move(polled.front());
    polled.pop_front();
    lock.unlock();
    poll_cv.notify_all();
    msgs = std::move(b.msgs);
    return b.t0;
  }

  void stop_poller() {
    poll_cv.notify_all();
    if (poller_thread.joinable()) poller_thread.join();
    for (auto& b : polled)
      for (auto* m : b.msgs) rd_kafka_message_destroy(m);
    polled.clear();
  }

  void run() {
    // RocksDB's per-call perf bookkeeping is measurable on the hot path.
    rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
    auto last_lag = Clock::now() - std::chrono::seconds(10);
    while (!stopping && !failed) {
      store::Batch batch = store.batch();
      if (opts.emit_deadletter) deadletters = std::make_shared<DeliveryGroup>();
      msgs.clear();
      Clock::time_point t0 = next_polled();
      size_t n = msgs.size();
      uint64_t events = 0, invalid = 0, dups = 0, matched = 0;
      size_t run_begin = 0;  // start of the pending run of event messages
      auto flush_run = [&](size_t i) {
        if (i > run_begin) ingest_run(run_begin, i, invalid, dups, matched);
        run_begin = i + 1;
      };
      for (size_t i = 0; i < n; ++i) {
        rd_kafka_message_t* m = msgs[i];
        if (m->err) {
          flush_run(i);
          if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            metrics.kafka_errors++;
            log::warn(std::string("consumer: ") + rd_kafka_message_errstr(m));
          }
        } else if (is_command(m)) {
          flush_run(i);
          apply_command(m, batch);
          cmd_next = m->offset + 1;
          cmd_dirty = true;
        } else if (m->partition >= 0 && m->partition < event_partitions) {
          ++events;
          ev_next[m->partition] = m->offset + 1;
          ev_dirty[m->partition] = true;
        } else {
          flush_run(i);
        }
      }
      flush_run(n);
      metrics.events_in += events;
      metrics.events_valid += events - invalid;
      metrics.events_invalid += invalid;
      metrics.events_duplicate += dups;
      metrics.events_matched += matched;
      flush_dedup(batch);
      flush_agg(batch);
      maybe_resume_events(n == 0);
      uint64_t seq = apply_partials(batch);
      bool applied_commands = false;  // one may have created a backfill job
      for (int p = 0; p < event_partitions; ++p)
        if (ev_dirty[p])
          batch.set_offset(store::Source::events, p, ev_next[p]), ev_dirty[p] = false;
      if (cmd_dirty) {
        batch.set_offset(store::Source::commands, 0, cmd_next);
        cmd_dirty = false;
        applied_commands = true;
      }
      Write w{std::move(batch), cmd_next,          seq, applied_commands || seq, n > 0, t0,
              ev_next,          std::move(touched)};
      touched.clear();
      if (deadletters && deadletters->produced() > 0) {
        w.deadletters = std::move(deadletters);
        w.invalid_events = invalid;
      }
      if (!hand_to_writer(std::move(w))) break;
      for (auto* m : msgs) rd_kafka_message_destroy(m);
      msgs.clear();
      if (Clock::now() - last_lag > std::chrono::milliseconds(500)) {
        update_lag();
        last_lag = Clock::now();
      }
    }
    // A batch the writer did not take: its messages hold references that
    // would keep rd_kafka_destroy() of the consumer waiting for ever.
    for (auto* m : msgs) rd_kafka_message_destroy(m);
    msgs.clear();
  }

  // ---- backfill thread ----------------------------------------------------

  // Hands a partial to the processor and waits until it is committed.
  bool hand_over(Partial p) {
    std::unique_lock lock(mu);
    static uint64_t next_seq = 0;
    p.seq = ++next_seq;
    uint64_t seq = p.seq;
    partials.push_back(std::move(p));
    backfill_cv.wait(lock,
                     [&] { return partial_applied_seq >= seq || stopping || !fatal.empty(); });
    return partial_applied_seq >= seq;
  }

  bool is_cancelled(const std::string& jid) {
    std::lock_guard lock(mu);
    return cancelled.count(jid) > 0;
  }

  void run_job(const std::string& tenant, const std::string& goal_id, const json& job) {
    auto jid = job_id(tenant, goal_id);
    auto [base_id, series] = projection::split_target(goal_id);
    auto stored = store.goal(tenant, std::string(base_id));
    if (!stored) return;
    auto def = model::conversion_goal_from_json(*stored, tenant);
    if (!def.ok()) return;
    auto goal = projection::compile(std::move(def).value(), std::string(series));
    if (!goal.ok()) return;
    int64_t generation = job.value("generation", int64_t{0});
    std::map<int32_t, int64_t> snapshot, position;
    for (auto& [p, off] : job["snapshot"].items()) snapshot[std::stoi(p)] = off.get<int64_t>();
    for (auto& [p, off] : job["progress"].items()) position[std::stoi(p)] = off.get<int64_t>();
    int64_t total = 0, scanned = 0;
    for (auto& [p, end] : snapshot) {
      total += end;
      scanned += position.count(p) ? position[p] : 0;
    }
    auto consumer_h = make_client(RD_KAFKA_CONSUMER, opts.kafka,
                                  {{"group.id", opts.kafka.topic_prefix + "backfill"},
                                   {"enable.auto.commit", "false"},
                                   {"enable.auto.offset.store", "false"},
                                   {"auto.offset.reset", "earliest"}});
    if (!consumer_h.ok()) {
      log::error("backfill: " + consumer_h.error().message);
      return;
    }
    rd_kafka_t* rk = consumer_h->get();
    rd_kafka_poll_set_consumer(rk);
    std::set<int32_t> remaining;
    rd_kafka_topic_partition_list_t* l = rd_kafka_topic_partition_list_new(snapshot.size());
    for (auto& [p, end] : snapshot) {
      int64_t from = position.count(p) ? position[p] : 0;
      if (from >= end) continue;
      rd_kafka_topic_partition_list_add(l, opts.kafka.events().c_str(), p)->offset =
          from == 0 ? RD_KAFKA_OFFSET_BEGINNING : from;
      remaining.insert(p);
    }
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    // Series targets hold a 0x1f separator: show it as " series ".
    std::string shown = tenant + "/" + std::string(base_id) +
                        (series.empty() ? "" : " series " + std::string(series));
    log::info("backfill of " + shown + " started: " + std::to_string(total - scanned) +
              " events to scan");

    model::EventParser local_parser;
    projection::Aggregator local_agg;
    size_t since_flush = 0;
    auto last_flush = Clock::now();
    auto flush = [&](bool done) {
      Partial part{tenant,   goal_id, generation, local_agg.cells(), local_agg.presence(),
                   position, done,    0};
      local_agg.clear();
      since_flush = 0;
      last_flush = Clock::now();
      {
        std::lock_guard lock(mu);
        backfill_status[jid] = {scanned, total};
      }
      return hand_over(std::move(part));
    };
    bool ok = true;
    while (!remaining.empty()) {
      if (stopping || is_cancelled(jid)) {
        ok = false;
        break;
      }
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 200);
      if (!m) {
        // Offsets can have gaps (e.g. transaction markers): trust the position.
        rd_kafka_topic_partition_list_t* pos = rd_kafka_topic_partition_list_new(remaining.size());
        for (int32_t p : remaining)
          rd_kafka_topic_partition_list_add(pos, opts.kafka.events().c_str(), p);
        rd_kafka_position(rk, pos);
        for (int i = 0; i < pos->cnt; ++i)
          if (pos->elems[i].offset >= snapshot[pos->elems[i].partition])
            remaining.erase(pos->elems[i].partition);
        rd_kafka_topic_partition_list_destroy(pos);
        if (since_flush && Clock::now() - last_flush > std::chrono::seconds(1) && !flush(false)) {
          ok = false;
          break;
        }
        continue;
      }
      if (!m->err && remaining.count(m->partition) && m->offset < snapshot[m->partition]) {
        std::string_view bytes(static_cast<const char*>(m->payload), m->payload ? m->len : 0);
        auto ev = local_parser.parse(bytes);
        if (ev.ok() && ev->tenant_id == tenant && ev->type == (*goal)->def.event_type &&
            (*goal)->counts(*ev)) {
          // Count only first occurrences: live processing recorded the rest.
          if (!store.is_duplicate({m->partition, m->offset})) local_agg.add(**goal, *ev);
        }
        position[m->partition] = m->offset + 1;
        ++scanned;
        ++since_flush;
        metrics.backfill_events_scanned++;
        if (m->offset + 1 >= snapshot[m->partition]) remaining.erase(m->partition);
      }
      rd_kafka_message_destroy(m);
      if (since_flush >= 50000 && !flush(false)) {
        ok = false;
        break;
      }
    }
    rd_kafka_consumer_close(rk);
    if (ok) {
      for (auto& [p, end] : snapshot) position[p] = end;
      scanned = total;
      if (flush(true)) log::info("backfill of " + shown + " done");
    }
    std::lock_guard lock(mu);
    backfill_status.erase(jid);
  }

  void run_backfill() {
    while (!stopping) {
      auto jobs = store.jobs();
      for (auto& [tenant, goal_id, job] : jobs) {
        if (stopping) return;
        if (!is_cancelled(job_id(tenant, goal_id))) run_job(tenant, goal_id, job);
      }
      std::unique_lock lock(mu);
      cancelled.clear();
      backfill_cv.wait_for(lock, std::chrono::seconds(1),
                           [&] { return backfill_wake || stopping.load(); });
      backfill_wake = false;
    }
  }
};

Processor::Processor(store::Store& store, ProcessorOptions opts, Metrics& metrics)
    : impl_(std::make_unique<Impl>(store, std::move(opts), metrics)) {
  impl_->owner_ready = &ready_;
}

Processor::~Processor() { stop(); }

Status Processor::start() {
  auto& I = *impl_;
  auto producer = Producer::create(I.opts.kafka, ProducerOptions::deadletter());
  if (!producer.ok()) return producer.error();
  I.producer = std::move(producer).value();
  std::string group =
      I.opts.group_id.empty() ? I.opts.kafka.topic_prefix + "processor-private" : I.opts.group_id;
  auto consumer = make_client(RD_KAFKA_CONSUMER, I.opts.kafka,
                              {{"group.id", group},
                               {"enable.auto.commit", "false"},
                               {"enable.auto.offset.store", "false"},
                               {"auto.offset.reset", "earliest"},
                               {"fetch.wait.max.ms", "100"},
                               {"queued.min.messages", "200000"}});
  if (!consumer.ok()) return consumer.error();
  I.consumer = std::move(consumer).value();
  rd_kafka_poll_set_consumer(I.consumer.get());

  auto parts = partition_count(I.consumer.get(), I.opts.kafka.events());
  if (!parts.ok()) return parts.error();
  auto cparts = partition_count(I.consumer.get(), I.opts.kafka.commands());
  if (!cparts.ok()) return cparts.error();
  I.event_partitions = *parts;
  I.ev_next.assign(I.event_partitions, 0);
  I.ev_dirty.assign(I.event_partitions, false);
  for (auto [p, off] : I.store.offsets(store::Source::events)) {
    if (p >= I.event_partitions)
      return Error{ErrorCode::conflict, "data-dir",
                   "the store has offsets for partition " + std::to_string(p) + " of " +
                       I.opts.kafka.events() + ", which has only " +
                       std::to_string(I.event_partitions) +
                       " partitions; was the topic recreated? rebuild into a new --data-dir"};
    I.ev_next[p] = off;
  }
  auto cmd = I.store.offsets(store::Source::commands);
  I.cmd_next = cmd.count(0) ? cmd[0] : 0;
  I.applied_cmd_next = I.cmd_next;

  // Readiness: caught up with the logs as they are now.
  for (int p = 0; p < I.event_partitions; ++p) {
    auto wm = query_watermarks(I.consumer.get(), I.opts.kafka.events(), p);
    if (!wm.ok()) return wm.error();
    I.start_ends.push_back(wm->second);
  }
  auto cwm = query_watermarks(I.consumer.get(), I.opts.kafka.commands(), 0);
  if (!cwm.ok()) return cwm.error();
  I.start_cmd_end = cwm->second;

  for (auto& def : I.store.all_goals()) {
    auto g = projection::compile(def);
    if (g.ok())
      I.index.put(*g);
    else
      log::warn("stored goal " + def.id + " does not compile: " + g.error().message);
  }
  auto t_fp = std::chrono::steady_clock::now();
  I.fingerprint_seq = I.store.load_fingerprints(I.seen);
  log::info("dedup: " + std::to_string(I.seen.size()) + " events seen before, loaded in " +
            std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now() - t_fp)
                               .count()) +
            " ms");
  for (auto& [tenant, goal, job] : I.store.jobs()) I.active_jobs[job_id(tenant, goal)] = job;
  for (auto& g : I.store.all_growth_goals()) I.growth_goals[job_id(g.tenant_id, g.id)] = g;
  for (auto& m : I.store.all_metrics()) I.metrics_by_tenant[m.tenant_id][m.name] = m;
  for (auto& [tenant, key, record] : I.store.all_idempotency()) {
    auto t = time::parse_rfc3339(record.is_object() ? record.value("issued_at", "") : "");
    if (!t)
      return Error{ErrorCode::internal, "data-dir",
                   "malformed idempotency record of tenant " + tenant};
    auto id = job_id(tenant, key);
    I.idempotency[id] = *t;
    I.idempotency_by_time.emplace(*t, std::move(id));
  }
  // The series metrics ask for, as they were when the store was written.
  for (auto& [tenant, metrics] : I.metrics_by_tenant)
    for (auto& [name, m] : metrics)
      if (auto series = model::series_of(m); series && !series->empty())
        I.add_series(tenant, projection::series_target(m.conversion_goal, *series));

  rd_kafka_topic_partition_list_t* l = rd_kafka_topic_partition_list_new(I.event_partitions + 1);
  rd_kafka_topic_partition_list_add(l, I.opts.kafka.commands().c_str(), 0)->offset =
      I.cmd_next == 0 ? RD_KAFKA_OFFSET_BEGINNING : I.cmd_next;
  for (int p = 0; p < I.event_partitions; ++p)
    rd_kafka_topic_partition_list_add(l, I.opts.kafka.events().c_str(), p)->offset =
        I.ev_next[p] == 0 ? RD_KAFKA_OFFSET_BEGINNING : I.ev_next[p];
  auto err = rd_kafka_assign(I.consumer.get(), l);
  rd_kafka_topic_partition_list_destroy(l);
  if (err)
    return Error{ErrorCode::unavailable, "",
                 std::string("cannot assign partitions: ") + rd_kafka_err2str(err)};

  log::info("processor starting: " + std::to_string(I.index.size() - I.active_series.size()) +
            " conversion goals, " + std::to_string(I.active_series.size()) + " metric series, " +
            std::to_string(I.event_partitions) + " event partitions, commands at offset " +
            std::to_string(I.cmd_next));
  I.update_lag();
  // Named threads show up in top -H, perf and gdb.
  I.writer_thread = std::thread([&I] {
    pthread_setname_np(pthread_self(), "gs-writer");
    I.run_writer();
  });
  if (I.cmd_next < I.start_cmd_end) I.pause_events(true);  // before the first poll
  I.poller_thread = std::thread([&I] {
    pthread_setname_np(pthread_self(), "gs-poller");
    I.run_poller();
  });
  I.loop_thread = std::thread([&I] {
    pthread_setname_np(pthread_self(), "gs-processor");
    I.run();
  });
  I.backfill_thread = std::thread([&I] {
    pthread_setname_np(pthread_self(), "gs-backfill");
    I.run_backfill();
  });
  return {};
}

void Processor::stop() {
  auto& I = *impl_;
  if (I.stopping.exchange(true)) return;
  I.writer_cv.notify_all();  // a writer backing off between deadletter retries
  I.backfill_cv.notify_all();
  I.applied_cv.notify_all();
  I.poll_cv.notify_all();
  if (I.loop_thread.joinable()) I.loop_thread.join();
  I.stop_poller();
  I.stop_writer();
  { std::lock_guard lock(I.mu); }
  I.backfill_cv.notify_all();
  if (I.backfill_thread.joinable()) I.backfill_thread.join();
  if (I.consumer) rd_kafka_consumer_close(I.consumer.get());
  I.consumer.reset();
  if (I.producer) I.producer->flush(10000);
  I.producer.reset();
}

std::string Processor::fatal_error() const {
  std::lock_guard lock(impl_->mu);
  return impl_->fatal;
}

std::optional<Error> Processor::failure() const {
  std::lock_guard lock(impl_->mu);
  if (impl_->fatal.empty()) return std::nullopt;
  return impl_->fatal_err;
}

bool Processor::wait_applied(int64_t offset, std::chrono::milliseconds timeout) {
  auto& I = *impl_;
  std::unique_lock lock(I.mu);
  return I.applied_cv.wait_for(lock, timeout, [&] {
    return I.applied_cmd_next > offset || I.stopping || !I.fatal.empty();
  }) && I.applied_cmd_next > offset;
}

bool Processor::wait_commands_caught_up(std::chrono::milliseconds timeout) {
  auto& I = *impl_;
  if (!I.consumer) return false;
  // The end of the commands topic: asked of the broker once, within the
  // timeout (a key issued a moment ago may not be fetched yet, and the
  // consumer's cached end would not include it); with the broker down or
  // slow, the consumer's cached high watermark, updated by every fetch
  // response, re-read after each wait as fetches move it.
  //
  // Asked with rd_kafka_offsets_for_times (timestamp -1: the end), not
  // rd_kafka_query_watermark_offsets: in librdkafka 2.0.2 the latter ignores
  // its timeout with the broker down (fixed in 2.3.0), this one keeps it.
  auto deadline = Clock::now() + timeout;
  int64_t asked = -1;
  {
    rd_kafka_topic_partition_list_t* l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, I.opts.kafka.commands().c_str(), 0)->offset =
        RD_KAFKA_OFFSET_END;
    if (rd_kafka_offsets_for_times(I.consumer.get(), l, static_cast<int>(timeout.count())) ==
            RD_KAFKA_RESP_ERR_NO_ERROR &&
        l->elems[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
      asked = l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
  }
  while (true) {
    int64_t lo = 0, hi = 0;
    if (rd_kafka_get_watermark_offsets(I.consumer.get(), I.opts.kafka.commands().c_str(), 0, &lo,
                                       &hi) != RD_KAFKA_RESP_ERR_NO_ERROR)
      hi = 0;
    hi = std::max({hi, asked, I.start_cmd_end});
    {
      std::lock_guard lock(I.mu);
      if (I.applied_cmd_next >= hi) return true;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0 || !wait_applied(hi - 1, left)) return false;
  }
}

std::vector<PartitionProgress> Processor::progress(bool& caught_up) {
  auto& I = *impl_;
  std::vector<PartitionProgress> out;
  caught_up = true;
  // Positions are read under no lock: they are only advisory here, and
  // the processor thread is their single writer; take a consistent view from
  // the store instead.
  auto ev = I.store.offsets(store::Source::events);
  auto cmd = I.store.offsets(store::Source::commands);
  for (int p = 0; p < I.event_partitions; ++p) {
    int64_t end = 0, lo = 0;
    rd_kafka_get_watermark_offsets(I.consumer.get(), I.opts.kafka.events().c_str(), p, &lo, &end);
    end = std::max(end, I.start_ends[p]);
    int64_t pos = ev.count(p) ? ev[p] : 0;
    if (pos < end) caught_up = false;
    out.push_back({I.opts.kafka.events(), p, pos, end});
  }
  int64_t cend = 0, lo = 0;
  rd_kafka_get_watermark_offsets(I.consumer.get(), I.opts.kafka.commands().c_str(), 0, &lo, &cend);
  cend = std::max(cend, I.start_cmd_end);
  int64_t cpos = cmd.count(0) ? cmd[0] : 0;
  if (cpos < cend) caught_up = false;
  out.push_back({I.opts.kafka.commands(), 0, cpos, cend});
  if (!I.store.jobs().empty()) caught_up = false;
  return out;
}

std::optional<std::pair<int64_t, int64_t>> Processor::backfill_progress(
    const std::string& tenant, const std::string& goal_id) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->backfill_status.find(job_id(tenant, goal_id));
  if (it == impl_->backfill_status.end()) return std::nullopt;
  return it->second;
}

}  // namespace gs::stream
