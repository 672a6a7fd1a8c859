// The changes publisher: tells downstream consumers (alerts, webhooks) when a
// growth goal's status changes, on the changes topic (docs/architecture.md#the-changes-publisher).
//
// Messages (key "<tenant>/<goal id>", JSON):
//   {"type": "goal.status_changed" | "goal.completed", "tenant_id", "goal_id",
//    "metric", "before", "after", "current", "target",
//    "event_time": the latest event time among the events whose batch caused
//                  it, or null when time or a command caused it,
//    "detected_at", "origin", "seq"}
//
// Exactly once, also across kill -9: a transition is written to the store's
// outbox in the same WriteBatch as the new status it records, then produced
// and removed from the outbox once committed. On start, the tail of the
// changes topic is read back and entries already there (same origin and
// seq) are removed without producing them again.
//
// One instance publishes a tenant's transitions: the owner of the events
// partition the tenant maps to (Processor::partition_of). The statuses it
// records (the announcers' keys in `meta`) go to the announced topic, in the
// tenant's partition, in the same Kafka transaction as the change messages
// (ChangesOptions::transactional_id: <prefix>changes.<--instance-id>). So what the changes
// topic told of each goal is in the announced topic, and in a consumer
// group a handover moves it (docs/architecture.md#status-transitions-across-a-handover):
//   - release(p) (the old owner, before its partitions go): evaluates what
//     its durable batches changed, publishes its outbox, records the
//     store's positions for p, then publishes no tenant of p.
//   - adopt(p) (the new owner, once it took p over): reads partition p of
//     the announced topic, waits until its store has folded up to the
//     positions recorded there, replaces its own recorded statuses of those
//     goals with the announced ones, then publishes p's tenants (a full
//     evaluation first: what was not announced yet is, once).
// A group member's outbox entries not committed when it starts are dropped
// (the next owner of their tenants announces them from the topic instead).
//
// What is evaluated: the goals whose metric reads a series a batch changed
// (ProcessorOptions::on_applied feeds notify()), every goal of a tenant after
// a command of that tenant, and every goal on a full pass (at start and every
// `full_pass`), which catches transitions that time alone causes.
//
// Threads: one ("gs-changes"). notify() and failure() are thread-safe; the
// store's status and outbox keys are written by this thread only. An
// exception in the thread is a fatal error (failure()), never a terminate.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.h"
#include "base/telemetry.h"
#include "kernel/announcer.h"
#include "kernel/kafka.h"
#include "storage/store.h"

namespace gs::kernel {

struct ChangesOptions {
  KafkaOptions kafka;
  std::chrono::milliseconds interval{250};
  std::chrono::milliseconds full_pass{30000};
  // Batches durable within this long of the last evaluation are evaluated
  // together, so that a busy ingest (a batch every few milliseconds) does
  // not make the announcers read every touched goal per batch. A command is
  // evaluated at once.
  std::chrono::milliseconds coalesce{100};
  // Called on the changes thread with each goal.status_changed message once
  // it is recorded (the live feed, http::Hub::status_changed); must not block.
  std::function<void(const nlohmann::json&)> on_status_changed = nullptr;
  // The events partition of a tenant (Processor::partition_of); null: 0.
  std::function<int32_t(std::string_view tenant)> partition_of = nullptr;
  // A consumer-group member (the outbox is cleared at start, see above).
  bool group = false;
  // Of the transactions (unique per instance, stable across its restarts:
  // a new process with it fences the old one).
  std::string transactional_id = "changes";
  // A group member: whether the group gives this instance events partition
  // p now (Processor::group_owns); what the outbox holds of the others is
  // dropped, not published. Null: every partition (no group).
  std::function<bool(int32_t p)> owns = nullptr;
  // How long release() waits for the outbox to be published.
  std::chrono::milliseconds release_timeout{10000};
};

class ChangesPublisher {
 public:
  // `announcers`: what the modules announce (Module::announcer()).
  ChangesPublisher(storage::Store& store, ChangesOptions opts, Telemetry& telemetry,
                   std::vector<Announcer*> announcers);
  ~ChangesPublisher();
  // Reconciles the outbox with the changes topic, then starts the thread.
  // `partitions`: the events topic's partition count (the announced topic
  // has as many); `publishing`: the partitions whose tenants this instance
  // publishes from the start (every one, or --partitions; a group member
  // none: it gets them by adopt()). Another instance publishes the others'
  // tenants; this one records their statuses all the same, and its live
  // feed shows them.
  Status start(int partitions, const std::vector<int32_t>& publishing);
  void stop();
  // Set when the thread failed fatally; `serve` exits 1 on it.
  std::optional<Error> failure() const;
  // What a durable batch changed (see ProcessorOptions::on_applied).
  void notify(const Touched& touched);
  // The tenants of events partitions `partitions` are published by this
  // instance once it has read what was announced of them (asynchronous;
  // ProcessorOptions::on_gain).
  void adopt(const std::vector<int32_t>& partitions);
  // They are not any more: returns once the transitions of what was
  // applied so far are published (or after ChangesOptions::release_timeout,
  // with a warning). ProcessorOptions::on_release.
  void release(const std::vector<int32_t>& partitions);

  // Records every goal's current status without publishing anything: after
  // a rebuild, so that serving the rebuilt store does not announce again
  // what was announced before. Returns the number of goals recorded.
  static Result<size_t> seed(storage::Store& store, const std::vector<Announcer*>& announcers,
                             int64_t now_ms);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gs::kernel
