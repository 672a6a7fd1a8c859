// The poller thread consumes while the processor thread processes: it hands
// over consumed batches in order, at most kWaitingMax waiting.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "kernel/handoff.h"
#include "kernel/kafka_handles.h"
#include "kernel/processor.h"

namespace gs::kernel {

class Poller {
 public:
  Poller(rd_kafka_t* consumer, const ProcessorOptions& opts, const std::atomic<bool>& stopping,
         Fatal& fatal)
      : consumer_(consumer), opts_(opts), stopping_(stopping), fatal_(fatal) {}
  ~Poller() { stop(); }

  void start();
  // Processor thread: the next consumed batch into `msgs` (which it then
  // owns; what it held is destroyed), waiting up to 100 ms; returns when its
  // first message was consumed (now when none).
  Clock::time_point next(MessageBatch& msgs);
  // Joins the thread and destroys the batches nobody took (they are
  // consumed again at the next start). Idempotent.
  void stop();
  void wake();

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
};

}  // namespace gs::kernel
