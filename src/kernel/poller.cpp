#include "kernel/poller.h"

namespace gs::kernel {

void Poller::start() {
  thread_ = spawn("gs-poller", fatal_, [this] { run(); });
}

void Poller::wake() {
  { std::lock_guard lock(mu_); }
  cv_.notify_all();
}

void Poller::run() {
  while (!done()) {
    Polled b;
    while (b.msgs.size() < opts_.batch_max_messages && !stopping_) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_, b.msgs.empty() ? 100 : 0);
      if (!m) break;
      if (b.msgs.empty()) b.t0 = Clock::now();
      b.msgs.push_back(m);
      if ((b.msgs.size() & 1023) == 0 && Clock::now() - b.t0 > opts_.batch_max_time) break;
    }
    if (b.msgs.empty()) continue;
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return polled_.size() < kWaitingMax || done(); });
    if (done()) break;  // b's messages are destroyed, not processed: consumed again
    polled_.push_back(std::move(b));
    lock.unlock();
    cv_.notify_all();
  }
}

Clock::time_point Poller::next(MessageBatch& msgs) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(100),
               [&] { return !polled_.empty() || stopping_.load(); });
  if (polled_.empty()) return Clock::now();
  Polled b = std::move(polled_.front());
  polled_.pop_front();
  lock.unlock();
  cv_.notify_all();
  msgs = std::move(b.msgs);
  return b.t0;
}

void Poller::stop() {
  wake();
  if (thread_.joinable()) thread_.join();
  polled_.clear();  // destroys their messages
}

}  // namespace gs::kernel
