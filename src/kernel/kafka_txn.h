// A transactional producer (librdkafka's transactions, KIP-98/KIP-447): the
// records of one processor batch and the events offsets they cover go to
// Kafka in one transaction, so a reader with isolation.level=read_committed
// sees both or neither; and the changes publisher's messages with the
// statuses they announce (kernel/changes.h). Each instance is used by one
// thread only (the writer's, the changes thread's): not thread-safe.
//
// transactional.id must be unique per instance and stable across its
// restarts: a new client with the same id fences the old one (its open
// transaction is aborted and it can commit nothing more).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "base/result.h"
#include "kernel/kafka.h"

namespace gs::kernel {

class TxnProducer {
 public:
  struct Record {
    int32_t partition = 0;  // RD_KAFKA_PARTITION_UA: by the key's hash
    std::string value;
    std::string key = {};    // none when empty
    std::string topic = {};  // empty: commit()'s topic
  };
  // Creates the client and registers `transactional_id` with the broker
  // (init_transactions), within `timeout_ms`.
  // `what`: what its transactions carry, in its log lines and errors.
  static Result<std::unique_ptr<TxnProducer>> create(const KafkaOptions& opts,
                                                     const std::string& transactional_id,
                                                     int timeout_ms = 30000,
                                                     std::string what = "deltas");
  ~TxnProducer();

  // One transaction: `records` to `topic` (or each its own) and `offsets` (the consumer's next
  // offsets) committed for `consumer`'s group. An aborted attempt (a failed
  // delivery, an abortable error) is retried a few times with a backoff;
  // then, or on a fatal error (fenced by a newer client with the same id),
  // an Error. On success `next` holds, for each partition written, the offset
  // after its last record.
  // `may_commit`, if given, is asked before each attempt: its Error ends
  // the commit (nothing is produced).
  Status commit(const std::string& topic, const std::vector<Record>& records,
                const rd_kafka_topic_partition_list_t* offsets, rd_kafka_t* consumer,
                std::map<int32_t, int64_t>& next, const std::function<Status()>& may_commit = {});

  // The delivery reports of one attempt (each message's opaque points here).
  struct Reports {
    std::map<int32_t, int64_t> next;
    int failed = 0;
    std::string error;
  };

 private:
  TxnProducer() = default;
  Status attempt(const std::string& topic, const std::vector<Record>& records,
                 const rd_kafka_topic_partition_list_t* offsets, rd_kafka_t* consumer,
                 std::map<int32_t, int64_t>& next, bool& retry);

  KafkaHandle rk_;
  std::string id_;
  std::string what_;
  Reports reports_;
};

}  // namespace gs::kernel
