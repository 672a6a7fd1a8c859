// What the processor's threads hand each other (private to src/stream).
//
//   processor thread --Write--> writer thread           (writer.h, one in flight)
//   backfill thread --Partial--> processor thread       (BackfillHandoff)
//   writer thread --durable offsets--> API threads      (AppliedOffsets)
//
// Each type has its own mutex and says what it guards; none guards anything
// outside itself.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/keys.h"
#include "base/telemetry.h"
#include "kernel/kafka.h"
#include "kernel/kafka_txn.h"
#include "kernel/processor.h"
#include "kernel/threads.h"
#include "projection/delta.h"
#include "storage/store.h"

namespace gs::kernel {

using Clock = std::chrono::steady_clock;

// A backfill job's (and an active series') key: tenant\0counter.
inline std::string job_key(std::string_view tenant, std::string_view counter) {
  return keys::join(tenant, counter);
}

// A batch built by the processor thread, to be written by the writer thread.
struct Write {
  storage::Batch batch;
  int64_t cmd_next = 0;
  uint64_t seq = 0;  // last backfill partial in this batch
  bool wake_backfill = false;
  bool timed = false;
  Clock::time_point t0;
  std::vector<int64_t> ev_next;
  std::unordered_map<std::string, int64_t> touched;
  std::shared_ptr<DeliveryGroup> deadletters{};  // null when the batch deadlettered nothing
  uint64_t invalid_events = 0;                   // of which are invalid events
  // The batch's records of the deltas topic, committed in one transaction
  // with ev_next before the batch is written.
  std::vector<TxnProducer::Record> records{};
  // Per partition, where its records on the deltas topic end after them.
  std::vector<int64_t> chain_end{};
  // Per partition, the commands its records after these are matched after
  // (Loop::promised): committed with the events offset, as its metadata
  // "commands=N", for the partition's next owner (Loop::take_over).
  std::vector<int64_t> promised{};
};

// Counts handed from the backfill thread to the processor thread.
struct Partial {
  std::string tenant, counter;
  int64_t generation = 0;
  projection::Delta counts;  // cells and presences only: the job's counter
  std::map<int32_t, int64_t> progress;
  bool done = false;
  uint64_t seq = 0;
};

// The next commands offset whose effects are durable (read-your-writes).
class AppliedOffsets {
 public:
  explicit AppliedOffsets(int64_t next = 0) : next_(next) {}
  void reset(int64_t next);
  // Raises the durable position to `next` (never lowers it).
  void publish(int64_t next);
  int64_t next() const;
  // Waits until the command at `offset` is durable, `stop()` is true or
  // `timeout` passed; true when it is durable.
  template <class Stop>
  bool wait(int64_t offset, std::chrono::milliseconds timeout, Stop stop) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return next_ > offset || stop(); }) && next_ > offset;
  }
  void wake();

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int64_t next_;  // guarded by mu_
};

// Backfill results on their way to the processor thread, and the backfill
// thread's view of which jobs were cancelled and how far the running one is.
class BackfillHandoff {
 public:
  // Backfill thread: queues `p` and waits until a durable batch holds it
  // (true), or until `stop()` is true (false).
  template <class Stop>
  bool submit_and_wait(Partial p, Stop stop) {
    std::unique_lock lock(mu_);
    uint64_t seq = p.seq = ++next_seq_;
    partials_.push_back(std::move(p));
    lock.unlock();
    if (on_submit_) on_submit_();
    lock.lock();
    cv_.wait(lock, [&] { return applied_seq_ >= seq || stop(); });
    return applied_seq_ >= seq;
  }
  // Called after each submit, so that an idle processor takes the partial
  // now rather than at its next poll timeout (Poller::nudge). Set before the
  // threads start.
  void set_on_submit(std::function<void()> f) { on_submit_ = std::move(f); }
  // Processor thread: everything submitted so far, in order.
  std::deque<Partial> take();
  // Writer thread: a durable batch held the partials up to `seq` (0: none)
  // and, with `wake_backfill`, maybe a new job.
  void publish(uint64_t seq, bool wake_backfill);
  // Backfill thread: waits up to `timeout` for a wake-up or `stop()`; then
  // forgets the cancellations (the jobs they named are gone from the store).
  template <class Stop>
  void idle(std::chrono::milliseconds timeout, Stop stop) {
    std::unique_lock lock(mu_);
    cancelled_.clear();
    cv_.wait_for(lock, timeout, [&] { return wake_ || stop(); });
    wake_ = false;
  }
  void cancel(const std::string& job);
  bool cancelled(const std::string& job) const;
  void set_status(const std::string& job, int64_t scanned, int64_t total);
  void clear_status(const std::string& job);
  std::optional<std::pair<int64_t, int64_t>> status(const std::string& job) const;
  void wake();

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  // All guarded by mu_:
  std::deque<Partial> partials_;
  uint64_t next_seq_ = 0, applied_seq_ = 0;
  bool wake_ = false;
  std::set<std::string> cancelled_;
  std::map<std::string, std::pair<int64_t, int64_t>> status_;  // job -> (scanned, total)
  std::function<void()> on_submit_;  // set before the threads start, then only read
};

// What the processor's threads share by reference (it all outlives them).
struct Shared {
  storage::Store& store;
  const ProcessorOptions& opts;
  Telemetry& telemetry;
  const std::atomic<bool>& stopping;
  Fatal& fatal;
  BackfillHandoff& handoff;
};

}  // namespace gs::kernel
