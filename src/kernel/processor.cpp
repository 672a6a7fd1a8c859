#include "kernel/processor.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string_view>

#include "base/log.h"
#include "kernel/backfill.h"
#include "kernel/handoff.h"
#include "kernel/loop.h"
#include "kernel/poller.h"
#include "kernel/writer.h"

namespace gs::kernel {

// The processor's parts, one per thread role (see processor.h); each shared
// part has its own lock.
//
// Members are destroyed in reverse order of declaration, and the order
// matters: the consumer is declared before everything that uses it or holds
// its messages (writer, poller, loop: batches being built or waiting), so
// those go first, and librdkafka's rd_kafka_consumer_close/rd_kafka_destroy
// find no message outstanding (they would wait for it for ever). stop()
// tears the same parts down explicitly, keeping that rule.
struct Processor::Impl {
  Impl(storage::Store& s, ProcessorOptions o, Telemetry& m)
      : store(s),
        opts(std::move(o)),
        telemetry(m),
        loop(Shared{s, opts, m, stopping, fatal, handoff}) {
    fatal.on_set([this] { wake_all(); });
  }

  storage::Store& store;
  const ProcessorOptions opts;
  Telemetry& telemetry;
  std::atomic<bool> stopping{false};
  bool stopped = false;  // stop() ran (the thread that owns the processor)
  Fatal fatal;
  AppliedOffsets applied;
  BackfillHandoff handoff;
  KafkaConsumer consumer;              // outlives the members below
  std::unique_ptr<Producer> producer;  // deadletter
  std::unique_ptr<TxnProducer> deltas;
  std::unique_ptr<Membership> group;  // ProcessorOptions::ingest_group
  std::unique_ptr<Writer> writer;
  std::unique_ptr<Poller> poller;
  std::unique_ptr<Backfill> backfill;
  Loop loop;  // the processor thread's state
  std::thread loop_thread;
  // With partitions owned elsewhere: the events topic's ends of those
  // partitions (this consumer is not assigned them, so it has no cached
  // watermark), asked of the broker every second (lag and readiness).
  std::thread ends_thread;
  std::mutex ends_mu;
  std::condition_variable ends_cv;

  void watch_foreign_ends() {
    while (!stopping) {
      PartitionList l = new_partition_list(loop.event_partitions);
      for (int p = 0; p < loop.event_partitions; ++p)
        if (!loop.owned[static_cast<size_t>(p)])
          rd_kafka_topic_partition_list_add(l.get(), opts.kafka.events().c_str(), p)->offset =
              RD_KAFKA_OFFSET_END;
      // offsets_for_times keeps its timeout with the broker down (see
      // wait_commands_caught_up).
      if (l->cnt > 0 &&
          rd_kafka_offsets_for_times(consumer.get(), l.get(), 1000) == RD_KAFKA_RESP_ERR_NO_ERROR)
        for (int i = 0; i < l->cnt; ++i)
          if (l->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
            loop.foreign_end[static_cast<size_t>(l->elems[i].partition)] = l->elems[i].offset;
      std::unique_lock lock(ends_mu);
      ends_cv.wait_for(lock, std::chrono::seconds(1), [&] { return stopping.load(); });
    }
  }

  // Wakes every waiter (after `stopping` or a fatal error was set).
  void wake_all() {
    if (writer) writer->wake();
    if (poller) poller->wake();
    if (group) group->wake();
    handoff.wake();
    applied.wake();
    { std::lock_guard lock(ends_mu); }
    ends_cv.notify_all();
  }
};

Processor::Processor(storage::Store& store, ProcessorOptions opts, Telemetry& telemetry)
    : impl_(std::make_unique<Impl>(store, std::move(opts), telemetry)) {}

Processor::~Processor() { stop(); }

namespace {

std::string hours_text(int32_t h) {
  return h % 24 == 0 ? std::to_string(h / 24) + "d" : std::to_string(h) + "h";
}

}  // namespace

// The dedup state of every events partition (projection/dedup.h), within the
// store's horizon. A new store takes the horizon asked for; a store built
// with another one is refused, since its state depends on it. Records with
// nothing within the horizon any more are deleted.
Status Processor::load_dedup(Impl& I) {
  auto started = std::chrono::steady_clock::now();
  auto stored = state::dedup_horizon(I.store);
  if (!stored.ok()) return stored.error();
  int32_t horizon = I.opts.dedup_horizon_hours;
  if (*stored && **stored != horizon)
    return Error{ErrorCode::conflict, "dedup-horizon",
                 "the store in " + I.store.dir() + " was built with a dedup horizon of " +
                     hours_text(**stored) + ", not " + hours_text(horizon) +
                     ": run with --dedup-horizon " + hours_text(**stored) +
                     ", or rebuild into a new --data-dir with --dedup-horizon " +
                     hours_text(horizon)};
  I.loop.dedup.assign(static_cast<size_t>(I.loop.event_partitions),
                      projection::PartitionDedup(horizon));
  auto loaded = state::load_dedup(I.store, I.loop.dedup);
  if (!loaded.ok()) return loaded.error();
  I.loop.fingerprint_seq = loaded->next_seq;
  I.loop.watermark_folded.clear();
  size_t within = 0;
  for (const auto& d : I.loop.dedup) {
    I.loop.watermark_folded.push_back(d.watermark());
    within += d.size();
  }
  auto b = I.store.batch();
  if (!*stored) state::put_dedup_horizon(b, horizon);
  for (auto [p, seq] : loaded->beyond_horizon) state::delete_dedup_record(b, p, seq);
  I.loop.dedup_records.assign(loaded->records.size(), {});
  for (size_t p = 0; p < loaded->records.size(); ++p)
    I.loop.dedup_records[p].assign(loaded->records[p].begin(), loaded->records[p].end());
  if (b.count() > 0) {
    auto w = I.store.write(b);
    if (!w.ok()) return w.error();
  }
  log::info("dedup: " + std::to_string(within) + " events seen within the horizon of " +
            hours_text(horizon) + " (" + std::to_string(loaded->entries) + " recorded, " +
            std::to_string(loaded->beyond_horizon.size()) +
            " records beyond it deleted), loaded in " +
            std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now() - started)
                               .count()) +
            " ms");
  return {};
}

// Folds what the deltas topic has and the store lacks (Loop::replay_deltas).
Status Processor::replay(Impl& I) {
  auto stored = state::offsets(I.store, state::Source::deltas);
  if (!stored.ok()) return stored.error();
  std::vector<int64_t> next(static_cast<size_t>(I.loop.event_partitions), 0);
  for (auto [p, off] : *stored)
    if (p >= 0 && p < I.loop.event_partitions) next[static_cast<size_t>(p)] = off;
  auto r = I.loop.replay_deltas(next);
  if (!r.ok()) return r.error();
  I.applied.reset(I.loop.cmd_next);
  I.telemetry.deltas_folded_records += r->records;
  I.telemetry.deltas_folded_events += r->events;
  log::info("deltas: folded " + std::to_string(r->records) + " records (" +
            std::to_string(r->events) + " events) and " + std::to_string(r->commands) +
            " commands from " + I.opts.kafka.deltas() + " in " + std::to_string(r->ms) +
            " ms; skipped " + std::to_string(r->skipped) + " the store had" +
            (r->detached ? "; " + std::to_string(r->detached) +
                               " partition(s) ingested again from the events (logged above)"
                         : ""));
  std::string behind;
  for (int p = 0; p < I.loop.event_partitions; ++p) {
    auto pp = static_cast<size_t>(p);
    if (I.loop.chain_end[pp] < I.loop.ev_next[pp])
      behind += (behind.empty() ? "" : ", ") + std::to_string(p) + " (" +
                std::to_string(I.loop.chain_end[pp]) + ".." + std::to_string(I.loop.ev_next[pp]) +
                ")";
  }
  if (!behind.empty())
    log::info("deltas: " + I.opts.kafka.deltas() +
              " has no records of these events the store has (partition (events)): " + behind +
              "; its records start after them, and a store restored from it ingests them from "
              "the events");
  return {};
}

Status Processor::start() {
  auto& I = *impl_;
  auto producer = Producer::create(I.opts.kafka, ProducerOptions::deadletter());
  if (!producer.ok()) return producer.error();
  I.producer = std::move(producer).value();
  std::string group =
      I.opts.group_id.empty() ? I.opts.kafka.topic_prefix + "processor-private" : I.opts.group_id;
  auto consumer = make_consumer(
      I.opts.kafka, {{"group.id", group},
                     {"enable.auto.commit", "false"},
                     {"enable.auto.offset.store", "false"},
                     {"auto.offset.reset", "earliest"},
                     {"fetch.wait.max.ms", "100"},
                     // The poller's doorbell works from these bounds (poller.h).
                     {"queued.min.messages", std::to_string(kPrefetchMaxMessages)},
                     {"queued.max.messages.kbytes", std::to_string(kPrefetchMaxKbytes)}});
  if (!consumer.ok()) return consumer.error();
  I.consumer = std::move(consumer).value();
  rd_kafka_poll_set_consumer(I.consumer.get());

  auto parts = partition_count(I.consumer.get(), I.opts.kafka.events());
  if (!parts.ok()) return parts.error();
  auto cparts = partition_count(I.consumer.get(), I.opts.kafka.commands());
  if (!cparts.ok()) return cparts.error();
  I.loop.event_partitions = *parts;
  I.loop.ev_next.assign(I.loop.event_partitions, 0);
  I.loop.ev_dirty.assign(I.loop.event_partitions, false);
  auto ev_offsets = state::offsets(I.store, state::Source::events);
  if (!ev_offsets.ok()) return ev_offsets.error();
  for (auto [p, off] : *ev_offsets) {
    if (p >= I.loop.event_partitions)
      return Error{ErrorCode::conflict, "data-dir",
                   "the store has offsets for partition " + std::to_string(p) + " of " +
                       I.opts.kafka.events() + ", which has only " +
                       std::to_string(I.loop.event_partitions) +
                       " partitions; was the topic recreated? rebuild into a new --data-dir"};
    I.loop.ev_next[p] = off;
  }
  I.loop.seg_from = I.loop.ev_next;
  I.loop.chain_end.assign(static_cast<size_t>(I.loop.event_partitions), 0);
  auto chain = state::offsets(I.store, state::Source::chain);
  if (!chain.ok()) return chain.error();
  for (auto [p, off] : *chain)
    if (p >= 0 && p < I.loop.event_partitions) I.loop.chain_end[static_cast<size_t>(p)] = off;
  I.loop.part_delta.assign(static_cast<size_t>(I.loop.event_partitions), {});
  auto np = static_cast<size_t>(I.loop.event_partitions);
  // With a group, none until it assigns them (Loop::take_over).
  I.loop.owned = std::vector<std::atomic<bool>>(np);
  for (auto& o : I.loop.owned) o = I.opts.partitions.empty() && I.opts.ingest_group.empty();
  for (int p : I.opts.partitions) {
    if (p < 0 || p >= I.loop.event_partitions)
      return Error{ErrorCode::invalid, "partitions",
                   std::to_string(p) + " is not a partition of " + I.opts.kafka.events() +
                       ", which has " + std::to_string(I.loop.event_partitions) + " (0.." +
                       std::to_string(I.loop.event_partitions - 1) + ")"};
    I.loop.owned[static_cast<size_t>(p)] = true;
  }
  I.loop.foreign_count =
      static_cast<int>(std::count(I.loop.owned.begin(), I.loop.owned.end(), false));
  I.loop.foreign.assign(np, {});
  I.loop.foreign_end = std::vector<std::atomic<int64_t>>(np);
  I.loop.promised.assign(np, 0);
  if (!I.opts.transactional_id.empty() || I.opts.replay_deltas) {
    auto dparts = partition_count(I.consumer.get(), I.opts.kafka.deltas());
    if (!dparts.ok()) return dparts.error();
    if (*dparts != I.loop.event_partitions)
      return Error{ErrorCode::conflict, "topic-prefix",
                   I.opts.kafka.deltas() + " has " + std::to_string(*dparts) + " partitions and " +
                       I.opts.kafka.events() + " has " + std::to_string(I.loop.event_partitions) +
                       ": the deltas topic is partitioned like the events topic; give both "
                       "the same number (Kafka adds partitions with kafka-topics.sh --alter "
                       "--partitions N)"};
  }
  if (I.loop.foreign_count > 0 && !I.opts.replay_deltas)
    return Error{ErrorCode::invalid, "partitions",
                 "a processor that owns some partitions folds the others from the deltas topic"};
  auto cmd = state::offsets(I.store, state::Source::commands);
  if (!cmd.ok()) return cmd.error();
  I.loop.cmd_next = cmd->count(0) ? cmd->at(0) : 0;
  I.applied.reset(I.loop.cmd_next);

  // Readiness: caught up with the logs as they are now.
  for (int p = 0; p < I.loop.event_partitions; ++p) {
    auto wm = query_watermarks(I.consumer.get(), I.opts.kafka.events(), p);
    if (!wm.ok()) return wm.error();
    I.loop.start_ends.push_back(wm->second);
  }
  auto cwm = query_watermarks(I.consumer.get(), I.opts.kafka.commands(), 0);
  if (!cwm.ok()) return cwm.error();
  I.loop.start_cmd_end = cwm->second;

  auto dedup = load_dedup(I);
  if (!dedup.ok()) return dedup.error();
  auto jobs = state::jobs(I.store);
  if (!jobs.ok()) return jobs.error();
  for (auto& [tenant, counter, job] : *jobs) I.loop.active_jobs[job_key(tenant, counter)] = job;
  auto idempotency = state::all_idempotency(I.store);
  if (!idempotency.ok()) return idempotency.error();
  for (auto& [tenant, key, record] : *idempotency) {
    auto t = time::parse_rfc3339(record.is_object() ? record.value("issued_at", "") : "");
    if (!t)
      return Error{ErrorCode::internal, "data-dir",
                   "malformed idempotency record of tenant " + tenant};
    auto id = keys::join(tenant, key);
    I.loop.idempotency[id] = *t;
    I.loop.idempotency_by_time.emplace(*t, std::move(id));
  }
  // The modules' event members, checked by both preparing parsers.
  for (auto& chunk : I.loop.chunks) chunk.parser = model::EventParser(event_rules(I.opts.modules));
  // The modules' state; each command type has one owner.
  for (Module* m : I.opts.modules) {
    auto rules = m->tally_rules();
    I.loop.tally_rules.insert(I.loop.tally_rules.end(), rules.begin(), rules.end());
    for (std::string_view type : m->command_types())
      if (!I.loop.command_owner.emplace(type, m).second)
        return Error{ErrorCode::internal, "",
                     "command type " + std::string(type) + " declared by two modules"};
    auto batch = I.store.batch();  // never written: loading writes nothing
    I.loop.command_batch = &batch;
    I.loop.command_offset = 0;
    auto st = m->load(I.store, I.loop);
    I.loop.command_batch = nullptr;
    if (!st.ok()) return st;
  }

  if (!I.opts.ingest_group.empty()) {
    if (I.opts.transactional_id.empty())
      return Error{ErrorCode::invalid, "group", "a group member produces the deltas topic"};
    I.group = std::make_unique<Membership>(I.opts.kafka, I.opts.ingest_group, I.stopping, I.fatal);
    if (auto st = I.group->create(); !st.ok()) return st;
    I.loop.group = I.group.get();
  }
  I.loop.producer = I.producer.get();
  // Before the replay: a new client with our transactional.id aborts what
  // an earlier run of this instance left open, so the topic's read_committed
  // end moves at once.
  if (!I.opts.transactional_id.empty()) {
    auto txn = TxnProducer::create(I.opts.kafka, I.opts.transactional_id);
    if (!txn.ok()) return txn.error();
    I.deltas = std::move(txn).value();
    log::info("deltas: produced to " + I.opts.kafka.deltas() + " as transactional.id " +
              I.opts.transactional_id);
  }
  if (I.opts.replay_deltas) {
    auto st = replay(I);
    if (!st.ok()) return st;
  }
  I.loop.produce_deltas = I.deltas != nullptr;

  // Owned partitions are consumed from the events topic, the others from
  // the deltas topic (after the records the store has).
  auto dnext = state::offsets(I.store, state::Source::deltas);
  if (!dnext.ok()) return dnext.error();
  PartitionList l = new_partition_list(I.loop.event_partitions + 1);
  rd_kafka_topic_partition_list_add(l.get(), I.opts.kafka.commands().c_str(), 0)->offset =
      I.loop.cmd_next == 0 ? RD_KAFKA_OFFSET_BEGINNING : I.loop.cmd_next;
  for (int p = 0; p < I.loop.event_partitions; ++p) {
    int64_t at = I.loop.owned[static_cast<size_t>(p)] ? I.loop.ev_next[p]
                 : dnext->count(p)                    ? dnext->at(p)
                                                      : 0;
    rd_kafka_topic_partition_list_add(
        l.get(),
        (I.loop.owned[static_cast<size_t>(p)] ? I.opts.kafka.events() : I.opts.kafka.deltas())
            .c_str(),
        p)
        ->offset = at == 0 ? RD_KAFKA_OFFSET_BEGINNING : at;
  }
  auto err = rd_kafka_assign(I.consumer.get(), l.get());
  l.reset();
  if (err)
    return Error{ErrorCode::unavailable, "",
                 std::string("cannot assign partitions: ") + rd_kafka_err2str(err)};

  std::string owns;
  if (I.loop.foreign_count > 0) {
    for (int p = 0; p < I.loop.event_partitions; ++p)
      if (I.loop.owned[static_cast<size_t>(p)])
        owns += (owns.empty() ? "" : ",") + std::to_string(p);
    owns = " (owns " + (owns.empty() ? std::string("none") : owns) +
           "; the others are folded from " + I.opts.kafka.deltas() + ")";
  }
  log::info("processor starting: " + std::to_string(I.loop.index.size()) +
            " counters (conversion goals and metric series), " +
            std::to_string(I.loop.event_partitions) + " event partitions" + owns +
            ", commands at offset " + std::to_string(I.loop.cmd_next));
  I.loop.consumer = I.consumer.get();
  I.loop.owner_ready = &ready_;
  const char* roundtrip = std::getenv("GOALSTREAM_DELTA_ROUNDTRIP");
  I.loop.delta_roundtrip = roundtrip && std::string_view(roundtrip) == "1";
  if (I.loop.delta_roundtrip) log::info("deltas are folded as decode(encode(delta))");
  I.loop.update_lag();
  I.writer = std::make_unique<Writer>(Writer::Deps{
      I.store, I.opts, I.telemetry, *I.producer, I.consumer.get(), I.loop.event_partitions,
      I.stopping, I.fatal, I.applied, I.handoff, I.deltas.get(), I.group.get()});
  I.poller = std::make_unique<Poller>(I.consumer.get(), I.opts, I.stopping, I.fatal);
  I.backfill = std::make_unique<Backfill>(
      Shared{I.store, I.opts, I.telemetry, I.stopping, I.fatal, I.handoff});
  I.loop.writer = I.writer.get();
  I.loop.poller = I.poller.get();
  // A backfill partial is written at once, not at the idle processor's
  // next poll timeout (100 ms per 50,000 events scanned).
  I.handoff.set_on_submit([poller = I.poller.get()] { poller->nudge(); });
  I.writer->start();
  if (I.loop.cmd_next < I.loop.start_cmd_end) I.loop.pause_events(true);  // before the first poll
  I.poller->start();
  I.loop_thread = spawn("gs-processor", I.fatal, [&I] { I.loop.run(); });
  if (I.loop.foreign_count > 0)
    I.ends_thread = spawn("gs-ends", I.fatal, [&I] { I.watch_foreign_ends(); });
  if (I.group) I.group->start();
  I.backfill->start();
  return {};
}

int32_t Processor::partition_of(std::string_view tenant) const {
  const auto& L = impl_->loop;
  if (L.owned.empty()) return 0;
  return static_cast<int32_t>(projection::fingerprint(tenant, "").lo % L.owned.size());
}

int Processor::event_partitions() const { return impl_->loop.event_partitions; }

bool Processor::group_owns(int32_t p) const { return !impl_->group || impl_->group->owns(p); }

std::vector<int32_t> Processor::owned_partitions() const {
  std::vector<int32_t> out;
  const auto& L = impl_->loop;
  for (size_t p = 0; p < L.owned.size(); ++p)
    if (L.owned[p]) out.push_back(static_cast<int32_t>(p));
  return out;
}

void Processor::request_stop() {
  // Only the flag: the threads it would wake may not exist yet (start()
  // creates them), and the fold polls the flag.
  impl_->stopping = true;
}

void Processor::stop() {
  auto& I = *impl_;
  if (I.stopped) return;
  I.stopped = true;
  I.stopping = true;
  I.wake_all();  // a writer backing off between deadletter retries, waiters, the backfill
  if (I.loop_thread.joinable()) I.loop_thread.join();
  if (I.ends_thread.joinable()) I.ends_thread.join();
  // Every message is destroyed before the consumer is closed: those of a
  // batch the writer did not take (the loop clears them as it ends; again
  // here for a loop that ended by an exception), and those nobody took (the
  // poller's stop).
  I.loop.msgs.clear();
  I.loop.held.clear();
  I.loop.waiting.clear();
  if (I.poller) {
    I.poller->stop();
    log::info("poller: woke the fetcher " + std::to_string(I.poller->doorbells()) + " times");
  }
  if (I.writer) I.writer->stop();
  // What this instance decided of its tenants' transitions is published
  // before it leaves (the next owners read what was announced).
  if (I.group && I.opts.on_release && !I.fatal.failed()) {
    if (auto mine = owned_partitions(); !mine.empty()) I.opts.on_release(mine);
  }
  // Nothing more is committed: a revocation waits no longer; leaves the
  // group (the others take the partitions over).
  if (I.group) I.group->stop();
  I.handoff.wake();
  if (I.backfill) I.backfill->join();
  I.consumer.reset();  // closes, then destroys
  if (I.producer) I.producer->flush(10000);
  I.producer.reset();
  I.deltas.reset();
}

std::string Processor::fatal_error() const {
  auto e = impl_->fatal.error();
  return e ? e->message : std::string();
}

std::optional<Error> Processor::failure() const { return impl_->fatal.error(); }

bool Processor::wait_applied(int64_t offset, std::chrono::milliseconds timeout) {
  auto& I = *impl_;
  return I.applied.wait(offset, timeout, [&] { return I.stopping || I.fatal.failed(); });
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
    PartitionList l = new_partition_list(1);
    rd_kafka_topic_partition_list_add(l.get(), I.opts.kafka.commands().c_str(), 0)->offset =
        RD_KAFKA_OFFSET_END;
    if (rd_kafka_offsets_for_times(I.consumer.get(), l.get(), static_cast<int>(timeout.count())) ==
            RD_KAFKA_RESP_ERR_NO_ERROR &&
        l->elems[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
      asked = l->elems[0].offset;
  }
  while (true) {
    int64_t lo = 0, hi = 0;
    if (rd_kafka_get_watermark_offsets(I.consumer.get(), I.opts.kafka.commands().c_str(), 0, &lo,
                                       &hi) != RD_KAFKA_RESP_ERR_NO_ERROR)
      hi = 0;
    hi = std::max({hi, asked, I.loop.start_cmd_end});
    if (I.applied.next() >= hi) return true;
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
  // An unreadable store reads as not caught up (the read logged and counted it).
  auto ev =
      state::offsets(I.store, state::Source::events).value_or(std::map<int32_t, int64_t>{{-1, 0}});
  auto cmd = state::offsets(I.store, state::Source::commands)
                 .value_or(std::map<int32_t, int64_t>{{-1, 0}});
  if (ev.count(-1) || cmd.count(-1)) caught_up = false;
  for (int p = 0; p < I.loop.event_partitions; ++p) {
    int64_t end = 0, lo = 0;
    if (I.loop.owned[static_cast<size_t>(p)])
      rd_kafka_get_watermark_offsets(I.consumer.get(), I.opts.kafka.events().c_str(), p, &lo, &end);
    else
      end = I.loop.foreign_end[static_cast<size_t>(p)];
    end = std::max(end, I.loop.start_ends[p]);
    int64_t pos = ev.count(p) ? ev[p] : 0;
    if (pos < end) caught_up = false;
    out.push_back({I.opts.kafka.events(), p, pos, end});
  }
  int64_t cend = 0, lo = 0;
  rd_kafka_get_watermark_offsets(I.consumer.get(), I.opts.kafka.commands().c_str(), 0, &lo, &cend);
  cend = std::max(cend, I.loop.start_cmd_end);
  int64_t cpos = cmd.count(0) ? cmd[0] : 0;
  if (cpos < cend) caught_up = false;
  out.push_back({I.opts.kafka.commands(), 0, cpos, cend});
  auto jobs = state::jobs(I.store);
  if (!jobs.ok() || !jobs->empty()) caught_up = false;
  return out;
}

std::optional<std::pair<int64_t, int64_t>> Processor::backfill_progress(
    const std::string& tenant, const std::string& counter) const {
  return impl_->handoff.status(job_key(tenant, counter));
}

}  // namespace gs::kernel
