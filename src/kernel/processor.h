// The processor: consumes the commands topic (one partition, total order) and
// the events topic (all partitions) and folds them into the store.
//
// Exactly-once effect: every consumed batch becomes one RocksDB WriteBatch
// holding the projection changes and the input offsets they reflect; on start
// the consumer is assigned the offsets read back from the store. Kafka's
// committed offsets (group `<prefix>processor`) are written after each batch
// for lag monitoring only.
//
// Backfill: when a conversion goal is defined, the events already processed
// (positions below the live positions at that moment, the job's snapshot) are
// scanned by a backfill thread with its own consumer, counted for that goal
// only, and handed back to the processor thread, which writes them with the
// job's progress in one batch. Every event is counted exactly once for every
// goal, whatever the interleaving of the two logs.
//
// Threads: the poller thread consumes batches and hands them over in order;
// the processor thread prepares runs of events (with a
// short-lived helper thread for the second half of long runs), dedups and
// aggregates in log order and builds each batch; the writer thread is the
// only writer of the store, one batch in flight; the backfill thread runs
// backfill jobs. Each role is a type of its own (poller.h, loop.h,
// writer.h, backfill.h) and they share state only through handoff.h; a
// thread that fails sets the processor's fatal error (failure()). Public
// methods are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "base/telemetry.h"
#include "kernel/kafka.h"
#include "kernel/module.h"
#include "kernel/versions.h"
#include "projection/dedup.h"
#include "storage/store.h"

namespace gs::kernel {

struct ProcessorOptions {
  KafkaOptions kafka;
  size_t batch_max_messages = 10000;
  std::chrono::milliseconds batch_max_time{50};
  // Commit consumer offsets to Kafka (for lag monitoring) under this group;
  // empty: don't.
  std::string group_id;
  // Produce invalid input to the deadletter topic. Off for rebuilds: the
  // live processor already did, and a replay must not repeat it.
  bool emit_deadletter = true;
  // Non-empty: produce the deltas topic (projection/delta.h DeltaRecord),
  // one Kafka transaction per batch, under this transactional.id (unique per
  // instance, stable across its restarts). Empty for rebuilds.
  std::string transactional_id;
  // The events partitions this instance owns (ingests; produces their
  // records); empty: every one. The others' records are folded from the
  // deltas topic as the instances that own them produce them.
  std::vector<int> partitions;
  // Non-empty: the events partitions are shared by the instances of this
  // Kafka consumer group instead (membership.h; `partitions` is empty).
  std::string ingest_group;
  // At start, fold the records of the deltas topic the store does not have
  // yet (after a crash between a transaction and its store write; all of
  // them into an empty store: rebuild --from deltas), before ingest resumes.
  bool replay_deltas = false;
  // The dedup horizon (projection/dedup.h), in hours; recorded in a new
  // store, and a store built with another is refused.
  int32_t dedup_horizon_hours = projection::kDefaultDedupHorizonHours;
  // Called on the writer thread after each durable batch with what it
  // changed: "<tenant>\0<counter>" -> the latest event time added there, and
  // "<tenant>\0" -> 0 when a command changed the tenant's definitions. Must
  // not block for long.
  std::function<void(const std::unordered_map<std::string, int64_t>&)> on_applied;
  // With `ingest_group`: called on the processor's thread when it takes an
  // events partition over (on_gain), and before it hands one over or leaves
  // the group, once what it ingested of them is durable and applied
  // (on_release: blocks until the tenants' transitions it decided are
  // published, kernel/changes.h). May be null.
  std::function<void(const std::vector<int32_t>&)> on_gain, on_release;
  // Bumped by the writer for the tenants of each durable batch, before its
  // commands are published as applied (the API's read cache). May be null;
  // outlives the processor.
  TenantVersions* versions = nullptr;
  // The goal families (src/modules/all.h), in module list order; they
  // outlive the processor.
  std::vector<Module*> modules;
};

// Position report for progress display and readiness.
struct PartitionProgress {
  std::string topic;
  int32_t partition;
  int64_t position;  // next offset to process
  int64_t end;       // high watermark when last queried
};

class Processor {
 public:
  Processor(storage::Store& store, ProcessorOptions opts, Telemetry& telemetry);
  ~Processor();

  // Loads goals from the store, assigns the partitions at the stored offsets
  // and starts the processor and backfill threads.
  Status start();
  // Finishes the batch in progress, commits it, and stops both threads.
  void stop();
  // Asks a start() in progress (folding the deltas topic) to give up soon:
  // it returns an Error. Thread-safe; stop() still follows.
  void request_stop();
  // Set when a thread failed fatally (store write error); empty otherwise.
  std::string fatal_error() const;
  // The same as an Error with its field ("data-dir" for a failed store
  // write: `goalstream: data-dir: no space left on device in DIR`).
  std::optional<Error> failure() const;

  // Blocks until the command at `offset` on the commands topic is applied,
  // up to `timeout`. Returns false on timeout or when stopped.
  bool wait_applied(int64_t offset, std::chrono::milliseconds timeout);
  // Blocks until every command on the commands topic when called (its end
  // asked of the broker within `timeout`, else the consumer's cached high
  // watermark) is applied, up to `timeout` in all. False on timeout or when
  // stopped.
  bool wait_commands_caught_up(std::chrono::milliseconds timeout);

  // Queries the high watermarks of every input partition and reports them
  // with the positions; `caught_up` is true when every position reached its
  // watermark and no backfill job is pending.
  std::vector<PartitionProgress> progress(bool& caught_up);
  // The events partition whose owner publishes `tenant`'s status
  // transitions on the changes topic, fingerprint(tenant).lo mod partitions
  // (design §9); the partitions owned now; how many there are. Thread-safe
  // after start().
  int32_t partition_of(std::string_view tenant) const;
  std::vector<int32_t> owned_partitions() const;
  int event_partitions() const;
  // In a consumer group: whether the group gives this instance events
  // partition p now (true without a group). Thread-safe.
  bool group_owns(int32_t p) const;
  // True once the processor caught up with the logs as they were at start.
  bool ready() const { return ready_; }
  // Progress of the running backfill job of a goal, if any: (scanned, total).
  std::optional<std::pair<int64_t, int64_t>> backfill_progress(const std::string& tenant,
                                                               const std::string& counter) const;

 private:
  struct Impl;
  static Status load_dedup(Impl& I);
  static Status replay(Impl& I);
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> ready_{false};
};

}  // namespace gs::kernel
