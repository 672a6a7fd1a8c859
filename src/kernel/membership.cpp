#include "kernel/membership.h"

#include <chrono>
#include <cstdint>
#include <string_view>

#include "base/log.h"

namespace gs::kernel {

namespace {

std::string listed(const std::vector<int32_t>& ps) {
  std::string s;
  for (int32_t p : ps) s += (s.empty() ? "" : ",") + std::to_string(p);
  return s.empty() ? "none" : s;
}

std::vector<int32_t> partitions_of(const rd_kafka_topic_partition_list_t* l) {
  std::vector<int32_t> ps;
  for (int i = 0; i < l->cnt; ++i) ps.push_back(l->elems[i].partition);
  return ps;
}

// The commands a committed offset's records promised: its metadata
// "commands=N" (Writer::commit_deltas).
int64_t promise_of(const rd_kafka_topic_partition_t& t) {
  std::string_view m(static_cast<const char*>(t.metadata), t.metadata ? t.metadata_size : 0);
  constexpr std::string_view kKey = "commands=";
  if (!m.starts_with(kKey)) return 0;
  int64_t n = 0;
  for (char ch : m.substr(kKey.size())) {
    if (ch < '0' || ch > '9' || n > (INT64_MAX - 9) / 10) return 0;
    n = n * 10 + (ch - '0');
  }
  return n;
}

}  // namespace

Status Membership::create() {
  auto c = make_client(RD_KAFKA_CONSUMER, kafka_,
                       {{"group.id", group_},
                        {"partition.assignment.strategy", "cooperative-sticky"},
                        {"session.timeout.ms", std::to_string(kSessionTimeoutMs)},
                        {"heartbeat.interval.ms", "1000"},
                        {"enable.auto.commit", "false"},
                        {"enable.auto.offset.store", "false"},
                        // Committed offsets are read with require_stable.
                        {"isolation.level", "read_committed"}},
                       [this](rd_kafka_conf_t* conf) {
                         rd_kafka_conf_set_opaque(conf, this);
                         rd_kafka_conf_set_rebalance_cb(conf, &Membership::on_rebalance);
                       });
  if (!c.ok()) return c.error();
  consumer_ = KafkaConsumer(c->release());
  rd_kafka_poll_set_consumer(consumer_.get());
  return {};
}

void Membership::start() {
  PartitionList topics = new_partition_list(1);
  rd_kafka_topic_partition_list_add(topics.get(), kafka_.events().c_str(), RD_KAFKA_PARTITION_UA);
  if (auto err = rd_kafka_subscribe(consumer_.get(), topics.get()))
    return fatal_.set(Error{ErrorCode::unavailable, "group",
                            "cannot join consumer group " + group_ + ": " + rd_kafka_err2str(err)});
  log::info("group: joining consumer group " + group_ + " for the partitions of " +
            kafka_.events());
  thread_ = spawn("gs-group", fatal_, [this] { run(); });
}

void Membership::on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                              rd_kafka_topic_partition_list_t* parts, void* opaque) {
  static_cast<Membership*>(opaque)->rebalance(rk, err, parts);
}

void Membership::rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* parts) {
  auto ps = partitions_of(parts);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    // Assigned at the end and paused: this consumer reads no events.
    for (int i = 0; i < parts->cnt; ++i) parts->elems[i].offset = RD_KAFKA_OFFSET_END;
    if (rd_kafka_error_t* e = rd_kafka_incremental_assign(rk, parts)) {
      log::warn("group " + group_ + ": assign: " + rd_kafka_error_string(e));
      rd_kafka_error_destroy(e);
    }
    rd_kafka_pause_partitions(rk, parts);
    if (ps.empty()) return;
    log::info("group " + group_ + ": assigned events partitions " + listed(ps));
    std::lock_guard lock(mu_);
    for (int32_t p : ps) {
      assigned_.insert(p);
      unresolved_.push_back(p);
    }
    return;
  }
  if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    bool lost = rd_kafka_assignment_lost(rk);
    if (!ps.empty()) {
      log::info("group " + group_ + ": " + (lost ? "lost" : "revoked") + " events partitions " +
                listed(ps) +
                (lost ? " (this member was dropped from the group: its session timed out)"
                      : "; handing them over once their last batch is committed"));
      uint64_t id = 0;
      {
        std::lock_guard lock(mu_);
        for (int32_t p : ps) {
          std::erase(unresolved_, p);
          if (lost) assigned_.erase(p);
        }
      }
      id = post({lost ? Change::Kind::lost : Change::Kind::release, ps, {}, {}});
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return acked_ >= id || done(); });
        if (!lost)
          for (int32_t p : ps) assigned_.erase(p);
      }
    }
    if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, parts)) {
      log::warn("group " + group_ + ": unassign: " + rd_kafka_error_string(e));
      rd_kafka_error_destroy(e);
    }
    return;
  }
  log::warn("group " + group_ + ": rebalance failed: " + rd_kafka_err2str(err));
  rd_kafka_assign(rk, nullptr);
}

uint64_t Membership::post(Change c) {
  std::lock_guard lock(mu_);
  c.id = ++next_id_;
  changes_.push_back(std::move(c));
  changed_.store(true, std::memory_order_release);
  return next_id_;
}

std::deque<Membership::Change> Membership::take() {
  std::lock_guard lock(mu_);
  changed_.store(false, std::memory_order_release);
  return std::exchange(changes_, {});
}

void Membership::ack(uint64_t id) {
  {
    std::lock_guard lock(mu_);
    acked_ = std::max(acked_, id);
  }
  cv_.notify_all();
}

void Membership::finished() {
  {
    std::lock_guard lock(mu_);
    finished_ = true;
  }
  cv_.notify_all();
}

void Membership::wake() {
  { std::lock_guard lock(mu_); }
  cv_.notify_all();
}

bool Membership::owns(int32_t p) const {
  std::lock_guard lock(mu_);
  return assigned_.count(p) > 0;
}

// The committed offsets of newly assigned partitions: where the previous
// owner's committed records end. With read_committed the broker answers
// only once no transaction holding an offset of them is open (require
// stable, KIP-447): after an owner's crash, once its open transaction is
// aborted (transaction.timeout.ms).
void Membership::resolve_gains() {
  std::vector<int32_t> ps;
  {
    std::lock_guard lock(mu_);
    ps = unresolved_;
  }
  if (ps.empty()) return;
  PartitionList l = new_partition_list(static_cast<int>(ps.size()));
  for (int32_t p : ps) rd_kafka_topic_partition_list_add(l.get(), kafka_.events().c_str(), p);
  auto err = rd_kafka_committed(consumer_.get(), l.get(), 5000);
  if (err) {
    log::warn("group " + group_ + ": committed offsets of partitions " + listed(ps) +
              " not read yet (" + rd_kafka_err2str(err) + "); asking again");
    return;
  }
  Change c{Change::Kind::gain, {}, {}, {}};
  {
    std::lock_guard lock(mu_);
    for (int i = 0; i < l->cnt; ++i) {
      int32_t p = l->elems[i].partition;
      // Revoked meanwhile: not ours any more.
      if (std::find(unresolved_.begin(), unresolved_.end(), p) == unresolved_.end()) continue;
      if (l->elems[i].err) continue;  // asked again
      std::erase(unresolved_, p);
      c.partitions.push_back(p);
      c.committed.push_back(std::max<int64_t>(0, l->elems[i].offset));
      c.promised.push_back(promise_of(l->elems[i]));
    }
  }
  if (!c.partitions.empty()) post(std::move(c));
}

void Membership::run() {
  while (!stopping_ && !fatal_.failed()) {
    // Serves the rebalance callback; returns no events (all paused).
    if (rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_.get(), 200)) {
      if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        log::warn("group " + group_ + ": " + rd_kafka_message_errstr(m));
      rd_kafka_message_destroy(m);
    }
    resolve_gains();
  }
}

void Membership::stop() {
  finished();
  if (thread_.joinable()) thread_.join();
  // Leaves the group: unsubscribes first and serves the revocation (its
  // callback waits for nothing now: finished) until nothing is assigned,
  // then closes. Closing with an assignment arriving hangs a cooperative
  // consumer in librdkafka < 2.4 (librdkafka issue #4527: a member dropped
  // from the group rejoins and gets one while stopping); bounded to 5 s.
  if (consumer_) {
    rd_kafka_t* rk = consumer_.get();
    (void)rd_kafka_unsubscribe(rk);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      rd_kafka_topic_partition_list_t* a = nullptr;
      bool empty = rd_kafka_assignment(rk, &a) == RD_KAFKA_RESP_ERR_NO_ERROR && a && a->cnt == 0;
      if (a) rd_kafka_topic_partition_list_destroy(a);
      if (empty && !rd_kafka_assignment_lost(rk)) break;
      if (rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100)) rd_kafka_message_destroy(m);
    }
  }
  consumer_.reset();
}

}  // namespace gs::kernel
