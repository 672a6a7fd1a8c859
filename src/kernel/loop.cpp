#include <pthread.h>

#include <algorithm>
#include <future>
#include <optional>

#include <rocksdb/perf_level.h>

#include "base/log.h"
#include "kernel/loop.h"

namespace gs::kernel {

std::string reason(const Error& e) {
  // Some messages name their field already ("urlPattern: invalid RE2 ..."):
  // not twice.
  if (e.field.empty() || e.message.starts_with(e.field + ":")) return e.message;
  return e.field + ": " + e.message;
}

namespace {

// A header value cut to `max` bytes (on a UTF-8 boundary), so that a
// deadletter message stays within kDeadletterHeaderBytes of its event.
std::string bounded(std::string_view s, size_t max) {
  if (s.size() <= max) return std::string(s);
  size_t n = max - 3;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return std::string(s.substr(0, n)) + "...";
}

}  // namespace

// Produces `m` to the deadletter topic with the reason, as part of the
// batch being built (thread-safe: prepare() calls it from two threads).
// Headers are bounded (at most kDeadletterHeaderBytes in all: a topic name
// has at most 249 bytes), so every event the events topic takes fits.
void Loop::deadletter(const rd_kafka_message_t* m, const std::string& why,
                      const std::string& field) {
  if (!opts.emit_deadletter) return;
  std::string_view key =
      m->key ? std::string_view(static_cast<const char*>(m->key), m->key_len) : std::string_view();
  std::string_view value(static_cast<const char*>(m->payload), m->payload ? m->len : 0);
  Headers h = {{"error", bounded(why, 1024)},
               {"error.field", bounded(field, 256)},
               {"source.topic", rd_kafka_topic_name(m->rkt)},
               {"source.partition", std::to_string(m->partition)},
               {"source.offset", std::to_string(m->offset)}};
  // A refusal is recorded in the group and retried like a failed delivery.
  (void)producer->produce_async(opts.kafka.deadletter(), key, value, h, deadletters);
}

// Parses, validates and matches mb[begin, end) into `c`. Thread-safe
// with respect to other chunks: reads the goal index, writes only `c`
// (invalid events go to the deadletter producer, which is thread-safe).
void Loop::prepare(const MessageBatch& mb, Chunk& c, size_t begin, size_t end) {
  c.items.clear();
  c.contributions.clear();
  c.tallies.clear();
  c.subjects.clear();
  c.invalid = 0;
  for (size_t k = begin; k < end; ++k) {
    const rd_kafka_message_t* m = mb[k];
    std::string_view bytes(static_cast<const char*>(m->payload), m->payload ? m->len : 0);
    auto ev = c.parser.parse(bytes);
    if (!ev.ok()) {
      ++c.invalid;
      deadletter(m, reason(ev.error()), ev.error().field);
      c.items.push_back({});
      continue;
    }
    Prepared p{true,
               projection::fingerprint(ev->tenant_id, ev->event_id),
               projection::dedup_hour(ev->timestamp_ms),
               static_cast<uint32_t>(c.contributions.size()),
               0,
               0};
    for (const projection::CounterFamily* family : index.candidates(ev->tenant_id, ev->type)) {
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
    p.tally_first = static_cast<uint32_t>(c.tallies.size());
    for (const projection::TallyRule& rule : tally_rules) {
      c.items_scratch.clear();
      auto breakdown =
          projection::collect_tallies(rule, tally_index, *ev, c.scratch, c.items_scratch);
      if (c.items_scratch.empty()) continue;
      auto at = static_cast<uint32_t>(c.subjects.size());
      c.subjects.append(breakdown);
      for (const auto& item : c.items_scratch) {
        Tally t{item.entry,       &rule, rule.outcomes[item.outcome],
                ev->timestamp_ms, at,    static_cast<uint32_t>(breakdown.size())};
        if (rule.notice) {
          t.name_at = static_cast<uint32_t>(c.subjects.size());
          t.name_len = static_cast<uint32_t>(item.name.size());
          c.subjects.append(item.name);
        }
        c.tallies.push_back(t);
      }
    }
    p.tally_count = static_cast<uint32_t>(c.tallies.size()) - p.tally_first;
    c.items.push_back(p);
  }
}

// The deadletter notice of a notice rule's item (projection/tally.h), if
// it needs one: its entry is unknown, or does not declare its breakdown
// value. Its event is processed all the same.
void Loop::notice(const rd_kafka_message_t* m, const Tally& t, std::string_view subjects) {
  auto name = subjects.substr(t.name_at, t.name_len);
  auto breakdown = subjects.substr(t.breakdown_at, t.breakdown_len);
  std::optional<projection::TallyNotice> n;
  if (!t.entry)
    n = projection::unknown_entry_notice(*t.rule, name);
  else if (!t.entry->declares(breakdown))
    n = projection::undeclared_breakdown_notice(*t.rule, name, breakdown);
  if (n) deadletter(m, n->field + ": " + n->message, n->field);
}

// Ingests the run of event messages mb[begin, end): prepares them (two
// threads for long runs), then dedups and aggregates in log order. The
// first occurrence of an event (tenant, event_id) in its partition counts;
// later ones within the dedup horizon are duplicates (projection/dedup.h),
// recorded by position so that backfills skip them too.
void Loop::ingest_run(const MessageBatch& mb, size_t begin, size_t end, Counts& k) {
  size_t n = end - begin;
  size_t mid = n >= kParallelMin ? begin + n / 2 : end;
  std::future<void> second;
  if (mid < end) {
    try {
      second = std::async(std::launch::async, [&] {
        pthread_setname_np(pthread_self(), "gs-prepare");
        prepare(mb, chunks[1], mid, end);
      });
    } catch (const std::system_error& e) {  // no thread to be had: prepare inline
      log::warn(std::string("prepare thread: ") + e.what());
      mid = end;
    }
  }
  prepare(mb, chunks[0], begin, mid);
  if (second.valid()) second.get();
  for (int c = 0; c < (mid < end ? 2 : 1); ++c) {
    Chunk& chunk = chunks[c];
    size_t first_msg = c == 0 ? begin : mid;
    k.invalid += chunk.invalid;
    constexpr size_t kAhead = 16;
    auto table = [&](size_t i) -> projection::PartitionDedup& {
      return dedup[static_cast<size_t>(mb[first_msg + i]->partition)];
    };
    for (size_t i = 0; i < std::min(kAhead, chunk.items.size()); ++i)
      table(i).prefetch(chunk.items[i].fp);
    for (size_t i = 0; i < chunk.items.size(); ++i) {
      if (i + kAhead < chunk.items.size()) table(i + kAhead).prefetch(chunk.items[i + kAhead].fp);
      const Prepared& p = chunk.items[i];
      if (!p.valid) continue;
      const rd_kafka_message_t* m = mb[first_msg + i];
      projection::PartitionDedup& seen = table(i);
      projection::Delta& delta = part_delta[static_cast<size_t>(m->partition)];
      if (!seen.admit(p.fp, p.hour)) {
        ++k.dups;
        delta.duplicates.push_back({m->partition, m->offset});
        continue;
      }
      delta.first_seen.push_back({m->partition, p.fp, seen.watermark()});
      for (uint32_t j = p.first; j < p.first + p.count; ++j) {
        const Contribution& x = chunk.contributions[j];
        delta.cells.add(*x.goal, x.timestamp_ms, x.value,
                        std::string_view(chunk.subjects).substr(x.subject_at, x.subject_len));
      }
      for (uint32_t j = p.tally_first; j < p.tally_first + p.tally_count; ++j) {
        const Tally& t = chunk.tallies[j];
        std::string_view subjects(chunk.subjects);
        auto breakdown = subjects.substr(t.breakdown_at, t.breakdown_len);
        if (t.rule->notice) notice(m, t, subjects);
        if (!t.entry) continue;
        delta.cells.add_tally(t.entry->cell_prefix, t.outcome, breakdown, t.timestamp_ms,
                              t.rule->exact_time);
        ++k.matched;
      }
      k.matched += p.goals;
    }
  }
}

// The topic `m` comes from. Topic handles are stable per client, so names
// are compared once per handle.
Loop::From Loop::source(const rd_kafka_message_t* m) {
  if (m->rkt == events_rkt) return From::events;
  if (m->rkt == commands_rkt) return From::commands;
  if (m->rkt == deltas_rkt) return From::deltas;
  std::string_view name = rd_kafka_topic_name(m->rkt);
  if (name == opts.kafka.events()) return events_rkt = m->rkt, From::events;
  if (name == opts.kafka.commands()) return commands_rkt = m->rkt, From::commands;
  if (name == opts.kafka.deltas()) return deltas_rkt = m->rkt, From::deltas;
  return From::other;
}

// What the batch being built changed, for ProcessorOptions::on_applied and
// ::versions.
void Loop::touch(const std::string& cell_key, int64_t ts) {
  if ((!opts.on_applied && !opts.versions) || cell_key.size() < 9) return;
  auto& t = touched[cell_key.substr(0, cell_key.size() - 9)];
  t = std::max(t, ts);
}

void Loop::touch_cells(const projection::Delta& d) {
  if (!opts.on_applied && !opts.versions) return;
  for (const auto& [key, cell] : d.cells.cells()) touch(key, cell.max_ts_ms);
}

// Ends the segment: each partition's part becomes a record of the deltas
// topic (when this processor produces them) and is added to the delta being
// built.
void Loop::end_segment() {
  for (size_t p = 0; p < part_delta.size(); ++p) {
    projection::Delta& d = part_delta[p];
    if (dedup[p].watermark() != watermark_folded[p]) {
      watermark_folded[p] = dedup[p].watermark();
      d.watermarks.push_back({static_cast<int32_t>(p), watermark_folded[p]});
    }
    if (ev_next[p] == seg_from[p] && d.empty()) continue;
    // Below chain_end the deltas topic has the records already.
    if (produce_deltas && seg_from[p] >= chain_end[p]) {
      promised[p] = std::max(promised[p], cmd_next);
      chain_end[p] = ev_next[p];
      records.push_back(
          {static_cast<int32_t>(p),
           projection::encode_record(
               {static_cast<int32_t>(p), seg_from[p], ev_next[p], cmd_next, dedup[p].horizon(), {}},
               projection::encode(d))});
    }
    seg_from[p] = ev_next[p];
    if (d.empty()) continue;
    delta.append(d);
    d.clear();
  }
}

// Ends the segment and folds the delta built since the last fold into the
// batch: before a command and at the end of a batch, so that a cell gets
// one merge operand per batch however many segments touched it.
void Loop::fold_delta(storage::Batch& batch) {
  end_segment();
  if (delta.empty()) return;
  touch_cells(delta);
  // The record this segment writes for each partition, with its last (so
  // largest) watermark, to be deleted once the horizon has passed it.
  uint64_t seq = fingerprint_seq;
  for (const auto& f : delta.first_seen) {
    auto& records = dedup_records[static_cast<size_t>(f.partition)];
    if (records.empty() || records.back().first != seq)
      records.push_back({seq, f.hour});
    else
      records.back().second = f.hour;
  }
  if (delta_roundtrip) {
    auto copy = projection::decode(projection::encode(delta));
    if (!copy.ok()) {
      fatal.set(copy.error());
      return;
    }
    cells::fold(batch, *copy, fingerprint_seq);
  } else {
    cells::fold(batch, delta, fingerprint_seq);
  }
  delta.clear();
  forget_beyond_horizon(batch);
}

// Deletes the dedup records with nothing within the horizon any more: a
// partition's records are in log order and watermarks only grow, so they
// age out from the front. (Not content: the digest reads only what is
// within the horizon.)
void Loop::forget_beyond_horizon(storage::Batch& batch) {
  for (size_t p = 0; p < dedup_records.size(); ++p) {
    auto& records = dedup_records[p];
    while (!records.empty() && !dedup[p].within(records.front().second)) {
      state::delete_dedup_record(batch, static_cast<int32_t>(p), records.front().first);
      records.pop_front();
    }
  }
}

void Loop::update_lag() {
  int64_t lag = 0, lo, hi;
  bool caught_up = true;
  // Cached watermarks are unknown until the first fetch of a partition:
  // the ends queried at start are a floor.
  for (int p = 0; p < event_partitions; ++p) {
    if (!owned[static_cast<size_t>(p)])
      hi = foreign_end[static_cast<size_t>(p)];  // folded from the deltas topic
    else if (rd_kafka_get_watermark_offsets(consumer, opts.kafka.events().c_str(), p, &lo, &hi) !=
             RD_KAFKA_RESP_ERR_NO_ERROR)
      hi = 0;
    lag += std::max<int64_t>(0, std::max(hi, start_ends[p]) - ev_next[p]);
    if (ev_next[p] < start_ends[p]) caught_up = false;
  }
  telemetry.events_lag = lag;
  if (rd_kafka_get_watermark_offsets(consumer, opts.kafka.commands().c_str(), 0, &lo, &hi) !=
      RD_KAFKA_RESP_ERR_NO_ERROR)
    hi = 0;
  telemetry.commands_lag = std::max<int64_t>(0, std::max(hi, start_cmd_end) - cmd_next);
  if (cmd_next < start_cmd_end) caught_up = false;
  if (caught_up) owner_ready->store(true);
  telemetry.backfill_jobs_pending = static_cast<int64_t>(active_jobs.size());
  size_t events = 0, bytes = 0;
  for (const auto& d : dedup) {
    events += d.size();
    bytes += d.bytes();
  }
  telemetry.dedup_events = static_cast<int64_t>(events);
  telemetry.dedup_bytes = static_cast<int64_t>(bytes);
}

// While the commands topic is behind the end it had at start, events wait:
// goals defined then are known before the events they count, so a restart
// or a rebuild needs no backfill scans. (Any interleaving gives the same
// state; this one is the cheapest.) Owned events wait also while a command
// waits for the other instances' records (`promised`).
void Loop::pause_events(bool pause) {
  start_paused = pause;
  sync_pause();
}
void Loop::sync_pause() {
  bool want = start_paused || !waiting.empty();
  if (want == events_paused) return;
  PartitionList l = new_partition_list(event_partitions);
  for (int p = 0; p < event_partitions; ++p)
    if (owned[static_cast<size_t>(p)])
      rd_kafka_topic_partition_list_add(l.get(), opts.kafka.events().c_str(), p);
  if (want)
    rd_kafka_pause_partitions(consumer, l.get());
  else
    rd_kafka_resume_partitions(consumer, l.get());
  events_paused = want;
}
void Loop::maybe_resume_events(bool idle) {
  if (!start_paused) return;
  bool done = cmd_next >= start_cmd_end;
  if (!done && idle && waiting.empty()) {
    // Offsets may have gaps: trust the consumer's position when idle.
    PartitionList l = new_partition_list(1);
    rd_kafka_topic_partition_list_add(l.get(), opts.kafka.commands().c_str(), 0);
    rd_kafka_position(consumer, l.get());
    done = l->elems[0].offset >= start_cmd_end;
  }
  if (done) pause_events(false);
}

// Whether command c can be applied now: every foreign partition's records
// up to c are folded, and it has one past c (so none up to c is to come).
bool Loop::passed(int64_t c) const {
  for (size_t p = 0; p < owned.size(); ++p)
    if (!owned[p] &&
        (promised[p] <= c || (!foreign[p].empty() && foreign[p].front().record.commands <= c)))
      return false;
  return true;
}

std::string Loop::discontinuity(size_t p, const projection::DeltaRecord& r) const {
  if (r.to > ev_next[p] && r.from != ev_next[p])
    return "covers events " + std::to_string(r.from) + ".." + std::to_string(r.to) +
           ", and the store is at event offset " + std::to_string(ev_next[p]);
  if (r.to > ev_next[p] && r.horizon_hours != dedup[p].horizon())
    return "was made with a dedup horizon of " + std::to_string(r.horizon_hours) +
           "h, and the store has " + std::to_string(dedup[p].horizon()) + "h";
  return {};
}

Error Loop::not_continued(int p, int64_t offset, const std::string& why) const {
  return Error{ErrorCode::conflict, "deltas",
               opts.kafka.deltas() + " partition " + std::to_string(p) + " offset " +
                   std::to_string(offset) + " " + why +
                   ": another instance owns this partition, so this store cannot ingest it "
                   "again; restore it with goalstream rebuild --from deltas into an empty "
                   "--data-dir"};
}

void Loop::fold_record(int p, int64_t offset, const projection::DeltaRecord& r,
                       storage::Batch& batch) {
  auto pp = static_cast<size_t>(p);
  for (const auto& f : r.delta.first_seen) dedup[pp].restore(f.fp, f.hour);
  for (const auto& w : r.delta.watermarks) dedup[pp].restore_watermark(w.hour);
  watermark_folded[pp] = dedup[pp].watermark();
  delta.append(r.delta);
  ev_next[pp] = r.to;
  seg_from[pp] = r.to;
  chain_end[pp] = std::max(chain_end[pp], r.to);
  promised[pp] = std::max(promised[pp], r.commands);
  state::set_offset(batch, state::Source::events, p, r.to);
  state::set_offset(batch, state::Source::deltas, p, offset + 1);
  state::set_offset(batch, state::Source::chain, p, chain_end[pp]);
}

void Loop::consume(MessageBatch& mb, storage::Batch& batch, Counts& k) {
  size_t n = mb.size();
  size_t run_begin = 0;  // start of the pending run of event messages
  auto flush_run = [&](size_t i) {
    if (i > run_begin) ingest_run(mb, run_begin, i, k);
    run_begin = i + 1;
  };
  for (size_t i = 0; i < n; ++i) {
    rd_kafka_message_t* m = mb[i];
    if (m->err) {
      flush_run(i);
      if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        telemetry.kafka_errors++;
        log::warn(std::string("consumer: ") + rd_kafka_message_errstr(m));
      }
      continue;
    }
    From from = source(m);
    bool event = from == From::events && m->partition >= 0 && m->partition < event_partitions &&
                 owned[static_cast<size_t>(m->partition)];
    if (!event) {
      flush_run(i);
      if (from == From::commands) {
        if (waiting.empty() && passed(m->offset)) {
          apply_command(m, batch);
          cmd_next = m->offset + 1;
          cmd_dirty = true;
        } else {
          if (waiting.empty()) waiting_since = waiting_logged = Clock::now();
          waiting.push_back(mb.take(i));
        }
      } else if (from == From::deltas) {
        queue_record(m);
      }
      continue;
    }
    auto p = static_cast<size_t>(m->partition);
    if (m->offset < ev_next[p]) {  // delivered again (never expected): counted already
      flush_run(i);
      log::warn("consumer: " + opts.kafka.events() + " partition " + std::to_string(p) +
                " offset " + std::to_string(m->offset) + " delivered again (at " +
                std::to_string(ev_next[p]) + "); skipped");
      continue;
    }
    if (!waiting.empty()) {  // matched after the command that waits
      flush_run(i);
      held.push_back(mb.take(i));
      continue;
    }
    if (i - run_begin >= kSegmentMaxEvents) {
      // A segment ends here: its records stay well below the deltas
      // topic's message size (about 20 bytes per event first seen, plus
      // the cells and presences it touched).
      ingest_run(mb, run_begin, i, k);
      run_begin = i;
      end_segment();
    }
    if (m->offset >= chain_end[p] && seg_from[p] < chain_end[p]) {
      // The end of events the deltas topic has records of already
      // (replay_deltas): their segment produces none; the next one
      // continues the records.
      if (ev_next[p] > seg_from[p]) {
        if (i > run_begin) ingest_run(mb, run_begin, i, k);
        run_begin = i;
        end_segment();
      }
      seg_from[p] = chain_end[p];
    }
    ++k.events;
    ev_next[p] = m->offset + 1;
    ev_dirty[p] = true;
  }
  flush_run(n);
}

// A record of another instance's partition, queued until the commands it
// was matched after are applied.
void Loop::queue_record(const rd_kafka_message_t* m) {
  std::string_view bytes(static_cast<const char*>(m->payload), m->payload ? m->len : 0);
  std::string where = opts.kafka.deltas() + " partition " + std::to_string(m->partition) +
                      " offset " + std::to_string(m->offset);
  auto r = projection::decode_record(bytes);
  if (!r.ok())
    return fatal.set(Error{ErrorCode::invalid, "deltas", where + ": " + r.error().message});
  if (r->partition != m->partition || m->partition < 0 || m->partition >= event_partitions)
    return fatal.set(Error{ErrorCode::invalid, "deltas",
                           where + ": a record of partition " + std::to_string(r->partition)});
  auto p = static_cast<size_t>(m->partition);
  if (owned[p]) {
    // Fetched before this instance took the partition over: folded already
    // (or a marker of the previous owner).
    if (r->to <= ev_next[p]) return;
    return fatal.set(Error{
        ErrorCode::conflict, "deltas",
        where + ": a record of events " + std::to_string(r->from) + ".." + std::to_string(r->to) +
            " produced by another instance, and this instance owns partition " + std::to_string(p) +
            " (at event offset " + std::to_string(ev_next[p]) + ")"});
  }
  promised[p] = std::max(promised[p], r->commands);
  foreign[p].push_back({m->offset, std::move(r).value()});
}

void Loop::advance(storage::Batch& batch, Counts& k) {
  while (!fatal.failed()) {
    for (size_t p = 0; p < owned.size(); ++p) {
      auto& q = foreign[p];
      while (!owned[p] && !q.empty() && q.front().record.commands <= cmd_next) {
        const auto& [offset, r] = q.front();
        auto pi = static_cast<int>(p);
        if (r.to <= ev_next[p]) {  // folded already (by the start), or a marker
          state::set_offset(batch, state::Source::deltas, pi, offset + 1);
        } else if (auto why = discontinuity(p, r); !why.empty()) {
          return fatal.set(not_continued(pi, offset, why));
        } else {
          fold_record(pi, offset, r, batch);
          telemetry.deltas_folded_records++;
          telemetry.deltas_folded_events += static_cast<uint64_t>(r.to - r.from);
        }
        q.pop_front();
      }
    }
    if (waiting.empty()) break;
    int64_t c = waiting.front()->offset;
    if (!passed(c)) {
      if (Clock::now() - waiting_logged > std::chrono::seconds(10)) {
        waiting_logged = Clock::now();
        std::string behind;
        for (size_t p = 0; p < owned.size(); ++p)
          if (!owned[p] && promised[p] <= c)
            behind += (behind.empty() ? "" : ",") + std::to_string(p);
        log::warn("command at offset " + std::to_string(c) + " has waited " +
                  std::to_string(
                      std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - waiting_since)
                          .count()) +
                  " s for records of partitions " + behind + " of " + opts.kafka.deltas() +
                  " past it: their owner is down or behind, or no instance owns them "
                  "(--partitions); this instance's own partitions wait with it");
      }
      break;
    }
    apply_command(waiting.front().get(), batch);
    cmd_next = c + 1;
    cmd_dirty = true;
    waiting.pop_front();
    if (!waiting.empty()) waiting_since = waiting_logged = Clock::now();
  }
  if (waiting.empty() && !held.empty()) {
    MessageBatch h = std::move(held);
    held = MessageBatch();
    consume(h, batch, k);
  }
  sync_pause();
}

void Loop::add_markers() {
  // Only instances that share the partitions wait for markers. (With every
  // partition owned, none: a command then costs no transaction.)
  // In a group, also with every partition owned: a member that owns none
  // (more members than partitions, or one joining) waits for them.
  if (!produce_deltas || (foreign_count == 0 && !group)) return;
  // What this instance will not match its events before: every command
  // waiting (its events are held until they are applied), and at start the
  // commands up to their start end (its events are paused until then), so
  // that a run of commands costs one round of markers, not one per command.
  int64_t next = waiting.empty() ? cmd_next : waiting.back()->offset + 1;
  if (start_paused) next = std::max(next, start_cmd_end);
  for (size_t p = 0; p < owned.size(); ++p) {
    if (!owned[p] || promised[p] >= next) continue;
    // Where the partition's records end: its position (add_markers runs
    // after end_segment), or, while ingest goes again through events the
    // topic has records of (after a detach), the end of those records.
    int64_t at = std::max(ev_next[p], chain_end[p]);
    promised[p] = next;
    auto pi = static_cast<int32_t>(p);
    records.push_back({pi, projection::encode_record({pi, at, at, next, dedup[p].horizon(), {}},
                                                     projection::encode(projection::Delta{}))});
  }
}

void Loop::reassign(const std::string& topic, int p, bool assign, int64_t at) {
  PartitionList l = new_partition_list(1);
  rd_kafka_topic_partition_list_add(l.get(), topic.c_str(), p)->offset =
      at == 0 ? RD_KAFKA_OFFSET_BEGINNING : at;
  rd_kafka_error_t* e = assign ? rd_kafka_incremental_assign(consumer, l.get())
                               : rd_kafka_incremental_unassign(consumer, l.get());
  if (e) {
    fatal.set(Error{ErrorCode::unavailable, "group",
                    std::string("cannot ") + (assign ? "assign " : "unassign ") + topic +
                        " partition " + std::to_string(p) + ": " + rd_kafka_error_string(e)});
    rd_kafka_error_destroy(e);
  }
}

bool Loop::regroup(std::optional<storage::Batch>& batch, const std::function<bool()>& hand) {
  for (auto& c : group->take()) {
    if (c.kind == Membership::Change::Kind::gain) {
      for (size_t i = 0; i < c.partitions.size(); ++i) {
        auto p = static_cast<size_t>(c.partitions[i]);
        gains[c.partitions[i]] = c.committed[i];
        // What the previous owner's last records promised (a marker may not
        // be fetched yet): this instance's records of p must not say less.
        promised[p] = std::max(promised[p], c.promised[i]);
      }
      continue;
    }
    bool any = false;
    for (int32_t p : c.partitions) {
      gains.erase(p);
      any = any || owned[static_cast<size_t>(p)];
    }
    if (any) {
      // What was ingested of them so far is committed (the group waits for
      // this before the next owner reads the committed offsets).
      if (batch) {
        fold_delta(*batch);
        if (!hand()) return false;
      }
      if (!writer->drain()) return false;
      if (opts.on_release) {
        std::vector<int32_t> mine;
        for (int32_t p : c.partitions)
          if (owned[static_cast<size_t>(p)]) mine.push_back(p);
        opts.on_release(mine);
      }
      for (int32_t p : c.partitions)
        if (owned[static_cast<size_t>(p)]) hand_over(p);
    }
    group->ack(c.id);
  }
  return true;
}

// Partition p is no longer ingested here: its records are folded from the
// deltas topic from now on, after the last one this instance produced (the
// writer stored where that one ends).
void Loop::hand_over(int p) {
  auto pp = static_cast<size_t>(p);
  owned[pp] = false;
  ++foreign_count;
  // Its events held while a command waits are the next owner's.
  MessageBatch keep;
  for (size_t i = 0; i < held.size(); ++i)
    if (held[i]->partition != p) keep.push_back(held.take(i));
  held = std::move(keep);
  seg_from[pp] = ev_next[pp];
  reassign(opts.kafka.events(), p, false);
  auto stored = state::offsets(store, state::Source::deltas);
  if (!stored.ok()) return fatal.set(stored.error());
  int64_t at = stored->count(p) ? stored->at(p) : 0;
  reassign(opts.kafka.deltas(), p, true, at);
  log::info("group: handed events partition " + std::to_string(p) + " over at event offset " +
            std::to_string(ev_next[pp]) + "; folding its records from " + opts.kafka.deltas() +
            " offset " + std::to_string(at));
}

// Takes over the partitions assigned whose previous owner's records are
// folded up to the group's committed offset (and none queued goes beyond),
// once the commands they promised to follow are applied.
void Loop::take_over() {
  for (auto it = gains.begin(); it != gains.end();) {
    auto [p, committed] = *it;
    auto pp = static_cast<size_t>(p);
    // The previous owner's records up to the committed offset folded, and
    // the commands they promised applied (records say what they follow).
    bool behind = ev_next[pp] < committed || cmd_next < promised[pp];
    for (const auto& q : foreign[pp]) behind = behind || q.record.to > ev_next[pp];
    if (behind) {
      ++it;
      continue;
    }
    it = gains.erase(it);
    if (owned[pp]) continue;
    foreign[pp].clear();  // markers, folded already
    reassign(opts.kafka.deltas(), p, false);
    seg_from[pp] = ev_next[pp];
    chain_end[pp] = std::max(chain_end[pp], ev_next[pp]);
    owned[pp] = true;
    --foreign_count;
    reassign(opts.kafka.events(), p, true, ev_next[pp]);
    {
      // Paused with the others, or resumed: an earlier pause of p while it
      // was owned before stays on the partition after its unassignment.
      PartitionList l = new_partition_list(1);
      rd_kafka_topic_partition_list_add(l.get(), opts.kafka.events().c_str(), p);
      if (events_paused)
        rd_kafka_pause_partitions(consumer, l.get());
      else
        rd_kafka_resume_partitions(consumer, l.get());
    }
    log::info("group: took over events partition " + std::to_string(p) + " at event offset " +
              std::to_string(ev_next[pp]) +
              " (the group's committed offset: " + std::to_string(committed) +
              "; its records follow the commands before " + std::to_string(promised[pp]) + ")");
    if (opts.on_gain) opts.on_gain({p});
  }
}

void Loop::run() {
  // RocksDB's per-call perf bookkeeping is measurable on the hot path.
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  auto last_lag = Clock::now() - std::chrono::seconds(10);
  // The batch being built. While the writer is busy with the one before
  // (its deltas transaction, its store write), further polls go into this
  // one rather than waiting: batches grow with the writer's latency (up to
  // kGroupMaxMessages), and the transaction's fixed cost is shared.
  std::optional<storage::Batch> batch;
  size_t batch_msgs = 0;
  uint64_t batch_invalid = 0, seq = 0;
  bool wake_backfill = false, timed = false;
  Clock::time_point t0;
  auto hand = [&]() {
    Write w{std::move(*batch), cmd_next,          seq, wake_backfill, timed, t0,
            ev_next,           std::move(touched)};
    batch.reset();
    touched.clear();
    w.records = std::move(records);
    records.clear();
    if (!w.records.empty()) w.chain_end = chain_end, w.promised = promised;
    if (deadletters && deadletters->produced() > 0) {
      w.deadletters = std::move(deadletters);
      w.invalid_events = batch_invalid;
    }
    deadletters.reset();
    return writer->hand(std::move(w));
  };
  while (!stopping && !fatal.failed()) {
    if (group && group->changed() && !regroup(batch, hand)) break;
    if (!batch) {
      batch.emplace(store.batch());
      if (opts.emit_deadletter) deadletters = std::make_shared<DeliveryGroup>();
      batch_msgs = 0;
      batch_invalid = seq = 0;
      wake_backfill = timed = false;
    }
    msgs.clear();
    Clock::time_point polled = poller->next(msgs);
    size_t n = msgs.size();
    if (batch_msgs == 0) t0 = polled;
    batch_msgs += n;
    Counts k;
    consume(msgs, *batch, k);
    if (foreign_count > 0 || !waiting.empty()) advance(*batch, k);
    if (!gains.empty()) take_over();
    telemetry.events_in += k.events;
    telemetry.events_valid += k.events - k.invalid;
    telemetry.events_invalid += k.invalid;
    telemetry.events_duplicate += k.dups;
    telemetry.events_matched += k.matched;
    batch_invalid += k.invalid;
    end_segment();
    add_markers();
    maybe_resume_events(n == 0);
    if (uint64_t partial = apply_partials(*batch)) seq = partial, wake_backfill = true;
    for (int p = 0; p < event_partitions; ++p)
      if (ev_dirty[p])
        state::set_offset(*batch, state::Source::events, p, ev_next[p]), ev_dirty[p] = false;
    if (cmd_dirty) {
      state::set_offset(*batch, state::Source::commands, 0, cmd_next);
      cmd_dirty = false;
      wake_backfill = true;  // a command may have created a backfill job
    }
    timed = timed || n > 0;
    msgs.clear();
    bool grow = batch_msgs > 0 && batch_msgs < kGroupMaxMessages && writer->busy();
    if (!grow) {
      fold_delta(*batch);  // once per batch, however many polls it grew over
      if (!hand()) break;
    }
    if (Clock::now() - last_lag > std::chrono::milliseconds(500)) {
      update_lag();
      last_lag = Clock::now();
    }
  }
  // A batch being grown when the processor stops is handed over.
  if (batch && batch_msgs > 0 && !fatal.failed()) {
    fold_delta(*batch);
    hand();
  }
  // A batch the writer did not take: its messages hold references that
  // would keep rd_kafka_destroy() of the consumer waiting for ever.
  msgs.clear();
  held.clear();
  waiting.clear();
}
}  // namespace gs::kernel
