#include "kernel/kafka_txn.h"

#include <chrono>
#include <thread>

#include "base/log.h"

namespace gs::kernel {
namespace {

constexpr int kTimeoutMs = 30000;
// A transaction open longer is aborted by the broker (and the producer fenced).
constexpr int kTransactionTimeoutMs = 15000;

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  auto* r = static_cast<TxnProducer::Reports*>(m->_private);
  if (!r) return;
  if (m->err) {
    if (r->failed++ == 0) r->error = rd_kafka_err2str(m->err);
    return;
  }
  auto& n = r->next[m->partition];
  n = std::max(n, m->offset + 1);
}

void configure(rd_kafka_conf_t* conf) { rd_kafka_conf_set_dr_msg_cb(conf, on_delivery); }

Error txn_error(const std::string& what, rd_kafka_error_t* e) {
  Error out{ErrorCode::unavailable, "",
            what + ": " + rd_kafka_error_string(e) +
                (rd_kafka_error_is_fatal(e) ? " (fatal: another instance with the same "
                                              "transactional.id took over, or the broker "
                                              "fenced this one)"
                                            : "")};
  rd_kafka_error_destroy(e);
  return out;
}

}  // namespace

Result<std::unique_ptr<TxnProducer>> TxnProducer::create(const KafkaOptions& opts,
                                                         const std::string& transactional_id,
                                                         int timeout_ms, std::string what) {
  auto rk = make_client(RD_KAFKA_PRODUCER, opts,
                        {{"transactional.id", transactional_id},
                         // An instance that stops mid-transaction holds the
                         // read_committed end of its partitions until then.
                         {"transaction.timeout.ms", std::to_string(kTransactionTimeoutMs)},
                         // CONCURRENT_TRANSACTIONS right after a commit is
                         // retried after this (the default 100 ms would cost
                         // ~100 ms per transaction).
                         {"retry.backoff.ms", "20"},
                         {"linger.ms", "5"},
                         {"compression.codec", "lz4"},
                         // Uncompressed; the topic takes 8 MiB compressed
                         // (fingerprints do not compress, keys do).
                         {"message.max.bytes", "33554432"},
                         {"message.timeout.ms", "15000"}},
                        configure);
  if (!rk.ok()) return rk.error();
  std::unique_ptr<TxnProducer> p(new TxnProducer());
  p->rk_ = std::move(rk).value();
  p->id_ = transactional_id;
  p->what_ = std::move(what);
  if (rd_kafka_error_t* e = rd_kafka_init_transactions(p->rk_.get(), timeout_ms))
    return txn_error("cannot start transactions as " + transactional_id, e);
  return p;
}

TxnProducer::~TxnProducer() {
  if (rk_) rd_kafka_flush(rk_.get(), 5000);
}

Status TxnProducer::commit(const std::string& topic, const std::vector<Record>& records,
                           const rd_kafka_topic_partition_list_t* offsets, rd_kafka_t* consumer,
                           std::map<int32_t, int64_t>& next,
                           const std::function<Status()>& may_commit) {
  auto backoff = std::chrono::milliseconds(100);
  for (int tries = 1;; ++tries) {
    if (may_commit)
      if (auto st = may_commit(); !st.ok()) return st;
    bool retry = false;
    next.clear();
    auto st = attempt(topic, records, offsets, consumer, next, retry);
    if (st.ok()) return st;
    char why[512];
    rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(rk_.get(), why, sizeof why);
    if (fatal == RD_KAFKA_RESP_ERR__FENCED || fatal == RD_KAFKA_RESP_ERR_PRODUCER_FENCED)
      return Error{ErrorCode::conflict, what_,
                   "another process took over transactional.id " + id_ +
                       " (a second goalstream serve with this --topic-prefix and "
                       "--instance-id): this one stops; give every instance its own "
                       "--instance-id; or this process was paused longer than its "
                       "transaction timeout (" +
                       std::to_string(kTransactionTimeoutMs / 1000) +
                       " s) and the broker aborted its transaction (" + why + ")"};
    if (!retry || tries == 5) return st;
    log::warn(what_ + ": transaction aborted (" + st.error().message + "); retrying in " +
              std::to_string(backoff.count()) + " ms");
    std::this_thread::sleep_for(backoff);
    backoff *= 2;
  }
}

Status TxnProducer::attempt(const std::string& topic, const std::vector<Record>& records,
                            const rd_kafka_topic_partition_list_t* offsets, rd_kafka_t* consumer,
                            std::map<int32_t, int64_t>& next, bool& retry) {
  rd_kafka_t* rk = rk_.get();
  // An abortable error: abort, and the caller tries again.
  auto abort_with = [&](Error e) -> Status {
    if (rd_kafka_error_t* a = rd_kafka_abort_transaction(rk, -1)) {
      retry = false;
      return txn_error("cannot abort a failed transaction (" + e.message + ")", a);
    }
    retry = true;
    return e;
  };
  auto handle = [&](const std::string& what, rd_kafka_error_t* e) -> Status {
    if (rd_kafka_error_txn_requires_abort(e)) return abort_with(txn_error(what, e));
    retry = false;
    return txn_error(what, e);
  };
  if (rd_kafka_error_t* e = rd_kafka_begin_transaction(rk)) return handle("begin transaction", e);
  // A member, not a local: the reports of an attempt whose abort failed may
  // still come (from the destructor's flush).
  Reports& reports = reports_;
  reports = Reports{};
  for (const auto& r : records) {
    const std::string& to = r.topic.empty() ? topic : r.topic;
    while (true) {
      auto err = rd_kafka_producev(
          rk, RD_KAFKA_V_TOPIC(to.c_str()), RD_KAFKA_V_PARTITION(r.partition),
          RD_KAFKA_V_KEY(r.key.empty() ? nullptr : r.key.data(), r.key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(r.value.data()), r.value.size()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&reports), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(rk, 10);
        continue;
      }
      if (err) {
        rd_kafka_flush(rk, kTimeoutMs);  // the reports point at `reports`
        return abort_with(Error{ErrorCode::unavailable, "",
                                "cannot produce to " + to + ": " + rd_kafka_err2str(err)});
      }
      break;
    }
  }
  // Serves the delivery reports here, so `reports` is complete.
  if (rd_kafka_flush(rk, kTimeoutMs) != RD_KAFKA_RESP_ERR_NO_ERROR)
    return abort_with(Error{ErrorCode::unavailable, "", what_ + " not delivered within 30 s"});
  if (reports.failed)
    return abort_with(Error{ErrorCode::unavailable, "",
                            std::to_string(reports.failed) + " record(s) not delivered to " +
                                topic + ": " + reports.error});
  if (offsets && offsets->cnt > 0) {
    rd_kafka_consumer_group_metadata_t* md = rd_kafka_consumer_group_metadata(consumer);
    rd_kafka_error_t* e = nullptr;
    for (int tries = 0; tries < 10; ++tries) {  // -1: within the transaction's timeout
      e = rd_kafka_send_offsets_to_transaction(rk, offsets, md, -1);
      if (!e || !rd_kafka_error_is_retriable(e)) break;
      rd_kafka_error_destroy(e);
      e = nullptr;
    }
    rd_kafka_consumer_group_metadata_destroy(md);
    if (e) return handle("send offsets to the transaction", e);
  }
  for (int tries = 1;; ++tries) {
    rd_kafka_error_t* e = rd_kafka_commit_transaction(rk, -1);
    if (!e) break;
    if (rd_kafka_error_is_retriable(e) && tries < 10) {
      rd_kafka_error_destroy(e);
      continue;
    }
    return handle("commit transaction", e);
  }
  next = std::move(reports.next);
  return {};
}

}  // namespace gs::kernel
