#include "kernel/writer.h"

#include <csignal>
#include <cstdlib>
#include <cstring>

#include <rocksdb/perf_level.h>

#include "base/log.h"
#include "kernel/state.h"

namespace gs::kernel {

Writer::Writer(Deps deps) : d_(deps) {
  if (const char* n = std::getenv("GOALSTREAM_CRASH_AFTER_DELTAS"))
    crash_after_deltas_ = std::strtoull(n, nullptr, 10);
}

void Writer::start() {
  thread_ = spawn("gs-writer", d_.fatal, [this] { run(); });
}

void Writer::wake() {
  { std::lock_guard lock(mu_); }
  cv_.notify_all();
}

void Writer::publish(const Write& w) {
  // New versions first: a read after the write's answer must not reuse an
  // answer from before the batch.
  if (d_.opts.versions) d_.opts.versions->bump(w.touched);
  d_.applied.publish(w.cmd_next);
  d_.handoff.publish(w.seq, w.wake_backfill);
}

bool Writer::busy() {
  std::lock_guard lock(mu_);
  return busy_;
}

bool Writer::drain() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !busy_ || d_.fatal.failed() || abandoned_; });
  return !d_.fatal.failed() && !abandoned_;
}

bool Writer::hand(Write w) {
  {
    std::unique_lock lock(mu_);
    // A batch with nothing to write, produce or publish (no message, no
    // record, no backfill hand-over) does not wait for the batch in flight, which publishes
    // the same positions: so while the writer waits for deadletter
    // deliveries, the processor goes on to build the next real batch.
    bool empty = w.batch.count() == 0 && !w.deadletters && w.records.empty();
    if (busy_ && empty && w.seq == 0) return true;
    cv_.wait(lock, [&] { return !busy_ || d_.fatal.failed() || abandoned_; });
    if (d_.fatal.failed() || abandoned_) return false;
    if (empty) {
      publish(w);  // under mu_: no batch is in flight to publish a later position
    } else {
      slot_ = std::move(w);
      busy_ = true;
    }
  }
  cv_.notify_all();
  return true;
}

void Writer::run() {
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  while (true) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return slot_.has_value() || stop_; });
    if (!slot_) return;
    Write w = std::move(*slot_);
    slot_.reset();
    lock.unlock();
    if (w.deadletters && !await_deadletters(w)) {
      log::warn(
          "processor stopped before the deadletter messages of a batch were delivered: the batch "
          "is not committed and is processed again at the next start");
      lock.lock();
      abandoned_ = true;
      busy_ = false;
      lock.unlock();
      cv_.notify_all();
      return;
    }
    auto st = commit_deltas(w);
    if (st.ok() && crash_after_deltas_ > 0 &&
        d_.telemetry.deltas_transactions.load() == crash_after_deltas_) {
      // Fault injection (tests): the moment where the deltas topic has a
      // batch the store does not.
      log::warn("GOALSTREAM_CRASH_AFTER_DELTAS: killing this process after transaction " +
                std::to_string(crash_after_deltas_) + ", before its store write");
      ::raise(SIGKILL);
    }
    if (st.ok()) st = d_.store.write(w.batch);
    if (!st.ok()) {
      log::error((st.error().field == "data-dir" ? "store write failed" : "deltas not committed") +
                 std::string(", stopping the processor: ") + st.error().message);
      d_.fatal.set(st.error());  // field "data-dir" for a store write
      lock.lock();
      busy_ = false;
      lock.unlock();
      cv_.notify_all();
      return;
    }
    publish(w);  // before busy_ goes: an empty batch handed next publishes a later position
    // Before busy_ goes too: once drain() returns, the changes publisher
    // knows of every durable batch (it publishes their transitions before a
    // handover, Loop::regroup).
    if (d_.opts.on_applied && !w.touched.empty()) d_.opts.on_applied(w.touched);
    lock.lock();
    busy_ = false;
    lock.unlock();
    cv_.notify_all();
    d_.telemetry.batches++;
    if (w.timed)
      d_.telemetry.observe_batch_latency(
          std::chrono::duration<double>(Clock::now() - w.t0).count());
    commit_kafka(w);
  }
}

// The batch's records go to the deltas topic, with the events offsets
// they cover, in one transaction, before the batch is written: a store
// never holds what the topic lacks (after a crash in between, the topic is
// ahead, and the next start folds what the store lacks from it). The
// offsets after the records are written with the batch.
Status Writer::commit_deltas(Write& w) {
  if (!d_.deltas || w.records.empty()) return {};
  const auto& kafka = d_.opts.kafka;
  PartitionList l = new_partition_list(d_.event_partitions);
  std::vector<bool> seen(static_cast<size_t>(d_.event_partitions), false);
  for (const auto& r : w.records) {
    if (seen[static_cast<size_t>(r.partition)]) continue;
    seen[static_cast<size_t>(r.partition)] = true;
    auto* t = rd_kafka_topic_partition_list_add(l.get(), kafka.events().c_str(), r.partition);
    t->offset = w.ev_next[static_cast<size_t>(r.partition)];
    // For the partition's next owner (Membership::Change::promised).
    std::string promise =
        "commands=" + std::to_string(w.promised[static_cast<size_t>(r.partition)]);
    t->metadata = rd_kafka_mem_malloc(nullptr, promise.size());
    std::memcpy(t->metadata, promise.data(), promise.size());
    t->metadata_size = promise.size();
  }
  std::map<int32_t, int64_t> next;
  // With a group: only while it still assigns every partition of the batch
  // (checked before each attempt; the group coordinator checks the
  // metadata's generation too).
  std::function<Status()> may_commit;
  if (d_.group)
    may_commit = [&]() -> Status {
      std::string lost;
      for (int p = 0; p < d_.event_partitions; ++p)
        if (seen[static_cast<size_t>(p)] && !d_.group->owns(p))
          lost += (lost.empty() ? "" : ",") + std::to_string(p);
      if (lost.empty()) return {};
      return Error{ErrorCode::conflict, "group",
                   "events partition(s) " + lost +
                       " of this batch were given to another member of "
                       "consumer group " +
                       d_.group->group() +
                       " (this instance was dropped from the group: it did not heartbeat for " +
                       std::to_string(Membership::kSessionTimeoutMs / 1000) +
                       " s); it stops without committing them: restart it"};
    };
  auto st = d_.deltas->commit(kafka.deltas(), w.records, l.get(),
                              d_.group ? d_.group->consumer() : d_.consumer, next, may_commit);
  if (!st.ok()) return st;
  for (auto [p, off] : next) state::set_offset(w.batch, state::Source::deltas, p, off);
  for (int p = 0; p < d_.event_partitions; ++p)
    if (seen[static_cast<size_t>(p)])
      state::set_offset(w.batch, state::Source::chain, p, w.chain_end[static_cast<size_t>(p)]);
  d_.telemetry.deltas_records += w.records.size();
  d_.telemetry.deltas_transactions++;
  return {};
}

void Writer::commit_kafka(const Write& w) {
  if (d_.opts.group_id.empty()) return;
  const auto& kafka = d_.opts.kafka;
  PartitionList l = new_partition_list(d_.event_partitions + 1);
  // With deltas, the events offsets went with their transaction.
  for (int p = 0; p < d_.event_partitions && !d_.deltas; ++p)
    rd_kafka_topic_partition_list_add(l.get(), kafka.events().c_str(), p)->offset = w.ev_next[p];
  rd_kafka_topic_partition_list_add(l.get(), kafka.commands().c_str(), 0)->offset = w.cmd_next;
  rd_kafka_commit(d_.consumer, l.get(), 1);
}

// Waits until every deadletter message of `w` is delivered, producing
// failed ones again (logged, with backoff), so that a batch's offsets are
// never written before the invalid messages it skips are on the deadletter
// topic. Returns false when the processor stops first: failures are no
// longer retried then, and pending deliveries get up to 10 s.
bool Writer::await_deadletters(Write& w) {
  DeliveryGroup& g = *w.deadletters;
  auto backoff = std::chrono::milliseconds(500);
  std::optional<Clock::time_point> stop_deadline;
  while (true) {
    while (!g.wait_until(Clock::now() + std::chrono::milliseconds(100))) {
      if (!d_.stopping) continue;
      if (!stop_deadline) stop_deadline = Clock::now() + std::chrono::seconds(10);
      if (Clock::now() > *stop_deadline) return false;
    }
    auto failures = g.take_failed();
    if (failures.empty()) break;
    d_.telemetry.deadletter_failures += failures.size();
    log::warn("deadletter: " + std::to_string(failures.size()) +
              " message(s) of a batch not delivered to " + d_.opts.kafka.deadletter() + " (" +
              failures.front().error + "); retrying in " + std::to_string(backoff.count()) +
              " ms; the batch is committed once they are");
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, backoff, [&] { return d_.stopping.load(); });
    }
    if (d_.stopping) return false;
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
      (void)d_.deadletter_producer.produce_async(f.topic, f.key, f.value, f.headers, w.deadletters);
    }
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
  d_.telemetry.events_deadlettered += w.invalid_events;
  return true;
}

void Writer::stop() {
  {
    std::unique_lock lock(mu_);
    if (!thread_.joinable()) return;
    cv_.wait(lock, [&] { return !busy_ || d_.fatal.failed() || abandoned_; });
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

}  // namespace gs::kernel
