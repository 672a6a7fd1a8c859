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
// (idempotent producer) and removed from the outbox once acknowledged. On
// start, the tail of the changes topic is read back and entries already
// there (same origin and seq) are removed without producing them again.
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
  // Whether this instance publishes a tenant's transitions (null: every
  // tenant's). Another instance publishes the others; this one records
  // their statuses all the same, and its live feed shows them.
  std::function<bool(std::string_view tenant)> publishes = nullptr;
};

class ChangesPublisher {
 public:
  // `announcers`: what the modules announce (Module::announcer()).
  ChangesPublisher(storage::Store& store, ChangesOptions opts, Telemetry& telemetry,
                   std::vector<Announcer*> announcers);
  ~ChangesPublisher();
  // Reconciles the outbox with the changes topic, then starts the thread.
  Status start();
  void stop();
  // Set when the thread failed fatally; `serve` exits 1 on it.
  std::optional<Error> failure() const;
  // What a durable batch changed (see ProcessorOptions::on_applied).
  void notify(const Touched& touched);

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
