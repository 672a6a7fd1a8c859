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
    size_t bytes = 0;
    while (b.msgs.size() < opts_.batch_max_messages && !stopping_) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_, b.msgs.empty() ? 100 : 0);
      if (!m) break;
      if (b.msgs.empty()) b.t0 = Clock::now();
      bytes += m->len;
      b.msgs.push_back(m);
      if ((b.msgs.size() & 1023) == 0 && Clock::now() - b.t0 > opts_.batch_max_time) break;
    }
    if (b.msgs.empty()) continue;
    doorbell_.after(b.msgs.size(), bytes);
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return polled_.size() < kWaitingMax || done(); });
    if (done()) break;  // b's messages are destroyed, not processed: consumed again
    polled_.push_back(std::move(b));
    lock.unlock();
    cv_.notify_all();
  }
}

// Why a doorbell: in librdkafka 2.0.2, once the pre-fetch queue holds
// queued.min.messages messages or queued.max.messages.kbytes of payload,
// the broker thread stops fetching every partition and does not look again
// for up to a second, however fast we drain the queue:
//
// - rd_kafka_toppar_fetch_decide() (rdkafka_fetcher.c) takes a partition off
//   the fetch list when rd_kafka_q_len()/rd_kafka_q_size() of its fetch queue
//   reach the bounds, with no back-off time ("Non-fetching partitions will
//   have an indefinate backoff"). Our partitions' fetch queues all forward to
//   the one consumer queue, and rd_kafka_q_len() follows the forward
//   (rdkafka_queue.h), so all of them stop at once;
// - consuming sends the broker thread nothing: rd_kafka_consumer_poll() and
//   rd_kafka_consume_batch_queue() only pop (rd_kafka_q_serve_rkmessages,
//   rd_kafka_fetch_op_app_prepare); nor does resuming a partition
//   (rd_kafka_toppar_pause_resume);
// - so the broker thread, with no Fetch outstanding, sleeps in
//   rd_kafka_broker_ops_io_serve() until an op arrives on its queue, its
//   connection has something to read, or rd_kafka_broker_serve()'s timeout
//   ends: rd_kafka_max_block_ms, a constant 1000 ms (rdkafka_broker.c).
//   Only then does rd_kafka_broker_consumer_serve() call fetch_decide again.
//
// librdkafka 2.3 added fetch.queue.backoff.ms for this; 2.0.2 (Debian 12)
// only lets us size the queue to hold a second of processing, which costs
// memory in proportion to the rate. Instead the poller rings: any request
// for a broker is an op on that broker thread's queue
// (rd_kafka_broker_buf_enq_replyq: RD_KAFKA_OP_XMIT_BUF), which wakes it,
// and its next round decides again. The request is a ListOffsets for the
// end of every assigned partition (rd_kafka_offsets_for_times), which goes
// to each partition's leader: the broker threads that fetch them. It is a
// cheap read of the log end, and the broker thread wakes when the request is
// queued, before the answer.
//
// When: the fetcher can only have stopped if the queue reached a bound, so
// the doorbell is armed once the queue may have come within 3/4 of one since
// the last look (what is there now, plus what this batch took), and rings
// when it is below half of both: once per fill, with half a queue of work
// left for the time the fetch takes. Payload bytes in the queue are
// estimated from this batch's average message. A ring that finds the
// fetcher fetching costs one small request; a missed one, the second.
void FetchDoorbell::after(size_t n, size_t bytes) {
  if (!queue_ || n == 0) return;
  constexpr int64_t kMaxBytes = kPrefetchMaxKbytes * 1024;
  int64_t len = static_cast<int64_t>(rd_kafka_queue_length(queue_.get()));
  int64_t avg = static_cast<int64_t>(bytes / n);
  int64_t peak = len + static_cast<int64_t>(n);
  if (4 * peak >= 3 * kPrefetchMaxMessages || 4 * peak * avg >= 3 * kMaxBytes) armed_ = true;
  if (!armed_ || 2 * len >= kPrefetchMaxMessages || 2 * len * avg >= kMaxBytes) return;
  armed_ = false;
  rd_kafka_topic_partition_list_t* assigned = nullptr;
  if (rd_kafka_assignment(consumer_, &assigned) != RD_KAFKA_RESP_ERR_NO_ERROR || !assigned) return;
  PartitionList request(assigned);
  for (int i = 0; i < request->cnt; ++i) request->elems[i].offset = RD_KAFKA_OFFSET_END;
  // The answer is not needed: waiting for it (a round trip) only bounds how
  // long a slow broker can hold the poller. On a timeout librdkafka drops
  // the late answer (rd_kafka_get_offsets_for_times_resp_cb).
  (void)rd_kafka_offsets_for_times(consumer_, request.get(), 100);
  rings_.fetch_add(1, std::memory_order_relaxed);
}

void Poller::nudge() {
  {
    std::lock_guard lock(mu_);
    nudged_ = true;
  }
  cv_.notify_all();
}

Clock::time_point Poller::next(MessageBatch& msgs) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(100),
               [&] { return !polled_.empty() || stopping_.load() || nudged_; });
  nudged_ = false;
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
  doorbell_.release();
}

}  // namespace gs::kernel
