// The writer thread: the only writer of the store. It takes one batch at a
// time from the processor thread (one in flight while the next is built),
// waits until the batch's deadletter messages are delivered, commits its
// records of the deltas topic in a Kafka transaction, writes it, then
// publishes what it made durable (AppliedOffsets, BackfillHandoff,
// ProcessorOptions::on_applied) and commits the offsets to Kafka for lag
// monitoring.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "base/telemetry.h"
#include "kernel/handoff.h"
#include "kernel/kafka.h"
#include "kernel/membership.h"
#include "kernel/processor.h"
#include "storage/store.h"

namespace gs::kernel {

class Writer {
 public:
  struct Deps {
    storage::Store& store;
    const ProcessorOptions& opts;
    Telemetry& telemetry;
    Producer& deadletter_producer;  // produces failed deadletter messages again
    rd_kafka_t* consumer;           // offsets committed for lag monitoring
    int event_partitions;
    const std::atomic<bool>& stopping;
    Fatal& fatal;
    AppliedOffsets& applied;
    BackfillHandoff& handoff;
    // Produces each batch's records to the deltas topic in a transaction
    // with the events offsets (null: the processor produces none).
    TxnProducer* deltas = nullptr;
    // The consumer group that assigns the events partitions (null: static
    // ownership): its consumer's metadata goes with each transaction's
    // offsets, and a batch of partitions it no longer assigns is not
    // committed.
    Membership* group = nullptr;
  };
  explicit Writer(Deps deps);
  ~Writer() { stop(); }

  void start();
  // Processor thread: hands `w` over once the batch in flight is durable
  // (a batch with nothing to write or publish does not wait). False when
  // the writer failed or gave up: the processor stops.
  bool hand(Write w);
  // Whether a batch is in flight (hand() would wait for it).
  bool busy();
  // Processor thread: waits until the batch in flight is durable. False
  // when the writer failed or gave up.
  bool drain();
  // Waits for the batch in flight, then stops the thread. Idempotent.
  void stop();
  // Locks and notifies: for Fatal::on_set and Processor::stop.
  void wake();

 private:
  void run();
  bool await_deadletters(Write& w);
  void publish(const Write& w);  // what `w` made durable
  void commit_kafka(const Write& w);
  Status commit_deltas(Write& w);

  Deps d_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_:
  std::optional<Write> slot_;  // the batch handed over
  bool busy_ = false;          // a batch is handed over and not yet durable
  bool stop_ = false;
  // The writer gave up on a batch whose deadletter messages were not
  // delivered when the processor stopped: it and what follows are not
  // written (they are processed again at the next start).
  bool abandoned_ = false;
  // GOALSTREAM_CRASH_AFTER_DELTAS=N (tests): SIGKILL itself right after the
  // Nth deltas transaction, before that batch's store write.
  uint64_t crash_after_deltas_ = 0;
};

}  // namespace gs::kernel
