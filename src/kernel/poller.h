// The poller thread consumes while the processor thread processes: it hands
// over consumed batches in order, at most kWaitingMax waiting. It also wakes
// librdkafka's fetcher when the pre-fetch queue has drained (see poller.cpp).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "kernel/handoff.h"
#include "kernel/kafka_handles.h"
#include "kernel/processor.h"

namespace gs::kernel {

// The bounds of the consumer's pre-fetch queue (queued.min.messages,
// queued.max.messages.kbytes). With one consumer queue they apply to the
// whole queue, all partitions together. The poller's doorbell works from the
// same numbers. Since it wakes the fetcher with half a queue left, the queue
// needs to hold only what is processed while a fetch comes back, not the
// second librdkafka would otherwise sleep: 50,000 events of ~330 bytes are
// about 0.1 s of processing. Half of the earlier 200,000 / 64 MiB: about
// 50 MiB less RSS at the same rate in tools/bench/ingest (issue 11).
inline constexpr int64_t kPrefetchMaxMessages = 100000;
inline constexpr int64_t kPrefetchMaxKbytes = 32768;

// Wakes librdkafka's fetcher once the consumer's pre-fetch queue, which
// stopped it, has drained (see poller.cpp for why 2.0.2 needs this). For a
// consumer configured with the bounds above and one consumer queue; used
// by the thread that consumes, after each stretch of `n` messages of
// `bytes` payload. The poller's and each backfill job's.
class FetchDoorbell {
 public:
  // It asks for the ends of what the consumer is assigned at the time it
  // rings (the assignment may change: Membership).
  explicit FetchDoorbell(rd_kafka_t* consumer)
      : consumer_(consumer), queue_(rd_kafka_queue_get_consumer(consumer)) {}
  void after(size_t n, size_t bytes);
  // Lets go of the consumer queue (before the consumer is closed); after()
  // does nothing then.
  void release() { queue_.reset(); }
  uint64_t rings() const { return rings_.load(std::memory_order_relaxed); }

 private:
  rd_kafka_t* consumer_;  // not owned: outlives the doorbell
  KafkaQueue queue_;      // the consumer queue, for its length
  bool armed_ = false;    // the queue may have stopped the fetcher
  std::atomic<uint64_t> rings_{0};
};

class Poller {
 public:
  Poller(rd_kafka_t* consumer, const ProcessorOptions& opts, const std::atomic<bool>& stopping,
         Fatal& fatal)
      : consumer_(consumer), opts_(opts), stopping_(stopping), fatal_(fatal), doorbell_(consumer) {}
  ~Poller() { stop(); }

  void start();
  // Processor thread: the next consumed batch into `msgs` (which it then
  // owns; what it held is destroyed), waiting up to 100 ms; returns when its
  // first message was consumed (now when none).
  Clock::time_point next(MessageBatch& msgs);
  // Joins the thread and destroys the batches nobody took (they are
  // consumed again at the next start), and the consumer queue handle (the
  // consumer outlives it). Idempotent.
  void stop();
  void wake();
  // Ends the processor thread's wait in next() now (a backfill partial is
  // waiting to be written).
  void nudge();
  // How many times the doorbell rang (logged at stop).
  uint64_t doorbells() const { return doorbell_.rings(); }

 private:
  struct Polled {
    MessageBatch msgs;
    Clock::time_point t0;  // when its first message was consumed
  };
  static constexpr size_t kWaitingMax = 2;
  void run();
  bool done() const { return stopping_ || fatal_.failed(); }

  rd_kafka_t* consumer_;  // not owned: outlives the poller (Processor::Impl)
  const ProcessorOptions& opts_;
  const std::atomic<bool>& stopping_;
  Fatal& fatal_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Polled> polled_;  // guarded by mu_
  bool nudged_ = false;        // guarded by mu_
  // The poller thread's alone (after each consumed batch).
  FetchDoorbell doorbell_;
};

}  // namespace gs::kernel
