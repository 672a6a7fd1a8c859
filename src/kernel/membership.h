// Group membership (issue 11; docs/architecture.md "Instances in a consumer
// group"): which events partitions this instance owns is decided by a Kafka
// consumer group with cooperative rebalancing, not by --partitions.
//
// The group's consumer reads no events itself: what it is assigned it
// assigns at the end and pauses at once. The processor's own consumer
// ingests those partitions from the store's positions (the loop takes them
// over once it has folded the previous owner's records). The group gives
// three things:
// - the assignment: the rebalance callback, run by this class's thread
//   (gs-group), hands each change to the processor thread (take()) and,
//   for a revocation, waits until the processor has committed its last
//   batch of those partitions (ack());
// - fencing: the writer sends each transaction's events offsets with this
//   consumer's group metadata (send_offsets_to_transaction, KIP-447), so
//   the group coordinator refuses the commit of a member the group has
//   moved on from (a zombie), and the writer checks owns() before each
//   attempt;
// - the handover point: the group's committed offset of a partition is
//   where the previous owner's committed records end (they are committed
//   in the same transaction), read with require_stable (read_committed),
//   so a transaction still open is waited for.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"
#include "kernel/handoff.h"
#include "kernel/kafka.h"

namespace gs::kernel {

class Membership {
 public:
  struct Change {
    enum class Kind {
      gain,     // assigned: take over at `committed` (per partition)
      release,  // revoked: commit what is built, stop ingesting, then ack
      lost,     // revoked because this member was dropped (session timeout)
    } kind;
    std::vector<int32_t> partitions;
    std::vector<int64_t> committed;  // gain: the group's committed offset (0: none)
    // gain: what the previous owner's records promised (its commit's
    // metadata "commands=N"; 0: none)
    std::vector<int64_t> promised;
    uint64_t id = 0;
  };

  // How long a member may go without a heartbeat before the group gives its
  // partitions to the others (Kafka's group.min.session.timeout.ms is 6 s by
  // default).
  static constexpr int kSessionTimeoutMs = 10000;

  Membership(const KafkaOptions& kafka, std::string group, const std::atomic<bool>& stopping,
             Fatal& fatal)
      : kafka_(kafka), group_(std::move(group)), stopping_(stopping), fatal_(fatal) {}
  ~Membership() { stop(); }

  // Creates the group's consumer (not yet subscribed).
  Status create();
  // Subscribes and starts the thread that polls the group.
  void start();
  // Processor::stop, once the writer has stopped: nothing more will be
  // committed, so a revocation does not wait any more.
  void finished();
  // Joins the thread and leaves the group (after finished()). Idempotent.
  void stop();
  // Locks and notifies (Fatal::on_set).
  void wake();

  const std::string& group() const { return group_; }
  rd_kafka_t* consumer() const { return consumer_.get(); }
  // Whether the group assigns partition p to this member now (a partition
  // being revoked stays assigned until its last batch is committed; a lost
  // one is not). Thread-safe.
  bool owns(int32_t p) const;

  // Processor thread: whether changes wait, and takes them in order.
  bool changed() const { return changed_.load(std::memory_order_acquire); }
  std::deque<Change> take();
  // Processor thread: change `id` (a release or a loss) is done.
  void ack(uint64_t id);

 private:
  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* parts, void* opaque);
  void rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts);
  void run();
  void resolve_gains();
  uint64_t post(Change c);
  bool done() const { return finished_ || fatal_.failed(); }

  KafkaOptions kafka_;
  std::string group_;
  const std::atomic<bool>& stopping_;
  Fatal& fatal_;
  KafkaConsumer consumer_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_:
  std::set<int32_t> assigned_;
  std::vector<int32_t> unresolved_;  // assigned, committed offset not read yet
  std::deque<Change> changes_;
  uint64_t next_id_ = 0, acked_ = 0;
  bool finished_ = false;
  std::atomic<bool> changed_{false};
};

}  // namespace gs::kernel
