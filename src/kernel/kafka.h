// Thin RAII wrappers over librdkafka's C API: clients and consumers
// (kafka_client.cpp), a producer that waits for a message's delivery report
// (commands, changes) or collects the reports of a group of messages (a
// batch's deadletter messages) (kafka_producer.cpp), metadata and watermark
// queries (kafka_client.cpp), and topic admin (kafka_admin.cpp). The owning
// handle types are in kafka_handles.h. Producer and DeliveryGroup are
// thread-safe; other helpers are free functions.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "base/result.h"
#include "kernel/kafka_handles.h"

namespace gs::kernel {

// Where Kafka is and how our topics are named.
struct KafkaOptions {
  std::string brokers = "127.0.0.1:9092";
  std::string topic_prefix = "goalstream.";
  std::string events() const { return topic_prefix + "events"; }
  std::string commands() const { return topic_prefix + "commands"; }
  std::string deadletter() const { return topic_prefix + "deadletter"; }
  std::string changes() const { return topic_prefix + "changes"; }
  std::string deltas() const { return topic_prefix + "deltas"; }
  std::string announced() const { return topic_prefix + "announced"; }
};

// Builds a client of `type` with bootstrap servers and extra settings.
Result<KafkaHandle> make_client(rd_kafka_type_t type, const KafkaOptions& opts,
                                const std::map<std::string, std::string>& settings,
                                const std::function<void(rd_kafka_conf_t*)>& configure = {});
// make_client for a consumer, which closes before it is destroyed.
Result<KafkaConsumer> make_consumer(const KafkaOptions& opts,
                                    const std::map<std::string, std::string>& settings);

using Headers = std::vector<std::pair<std::string, std::string>>;

// Message sizes. The events topic takes record batches of up to 1 MiB
// (topics/topics.json: max.message.bytes 1048576), so an uncompressed event's
// key and value stay below 1 MiB; on the deadletter it gets headers of at most
// kDeadletterHeaderBytes. A command comes from an API body of at most 1 MiB
// plus its envelope. The producers of both therefore take messages of up to
// kMaxMessageBytes (librdkafka's default, 1 000 000, is below 1 MiB), and the
// deadletter and commands topics take batches of up to 1 MiB + 64 KiB, which
// leaves room for the batch framing and lz4's worst case on incompressible
// bytes (n/255 + 16).
inline constexpr int kMaxMessageBytes = 1024 * 1024 + 32 * 1024;
inline constexpr size_t kDeadletterHeaderBytes = 2048;
// What the API may produce as one command (key + value): librdkafka adds its
// own framing to the message size it checks.
inline constexpr size_t kMaxCommandBytes = kMaxMessageBytes - 1024;

// How a producer is set up.
struct ProducerOptions {
  // librdkafka's message.timeout.ms: a message not acknowledged by then gets a
  // failed delivery report (in the queue: not persisted; in flight: possibly
  // persisted).
  int message_timeout_ms = 30000;
  // librdkafka's message.max.bytes.
  int message_max_bytes = kMaxMessageBytes;

  // The API's commands: the delivery report comes well within the API's own
  // wait, so a write is answered only once its fate is known.
  static ProducerOptions commands() { return {5000, kMaxMessageBytes}; }
  // Deadletter messages: a failure is retried by the processor (which logs
  // it), so it should surface instead of waiting long in librdkafka.
  static ProducerOptions deadletter() { return {10000, kMaxMessageBytes}; }
};

// The outcome of one produced message, from its delivery report.
struct Delivery {
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  // On failure: the message was sent and no acknowledgement came back, so the
  // broker may have written it (librdkafka's RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED).
  // False: it is known not to be written (RD_KAFKA_MSG_STATUS_NOT_PERSISTED).
  bool possibly_persisted = false;
  int32_t partition = -1;
  int64_t offset = -1;
  std::string error;  // for people; empty on success
  bool ok() const { return err == RD_KAFKA_RESP_ERR_NO_ERROR; }
};

// Collects the delivery reports of a group of messages produced with
// Producer::produce_async, e.g. the deadletter messages of one batch. Keeps a
// copy of every failed message so it can be produced again. Thread-safe.
class DeliveryGroup {
 public:
  struct Failed {
    std::string topic, key, value;
    Headers headers;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    std::string error;
  };
  // Messages produced with this group whose delivery report has not come yet.
  size_t pending() const;
  // Messages produced with this group so far, and those delivered.
  uint64_t produced() const;
  uint64_t delivered() const;
  // Waits until nothing is pending or `deadline` passed; true when nothing is.
  bool wait_until(std::chrono::steady_clock::time_point deadline) const;
  // Takes the failures reported so far.
  std::vector<Failed> take_failed();

  // For the producer: a message was produced; its delivery report came
  // (`failed` null: delivered).
  void add();
  void report(Failed* failed);

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  size_t pending_ = 0;
  uint64_t produced_ = 0, delivered_ = 0;
  std::vector<Failed> failed_;
};

// An idempotent producer (acks=all). A background thread serves delivery
// reports. After a fatal error of librdkafka's idempotent producer (which
// 2.0.2 can raise after a possibly persisted message), the next produce
// starts a new client. Thread-safe.
class Producer {
 public:
  static Result<std::unique_ptr<Producer>> create(const KafkaOptions& opts,
                                                  ProducerOptions popts = {});
  ~Producer();

  // Produces and waits for the delivery report, which librdkafka gives within
  // message.timeout.ms, so the outcome is known: delivered (partition,
  // offset), not written, or possibly written.
  Delivery produce_wait(const std::string& topic, std::string_view key, std::string_view value,
                        const Headers& headers = {});
  // produce_wait as a Result: the (partition, offset), or an Error
  // (unavailable) that says whether the message may have been written.
  Result<std::pair<int32_t, int64_t>> produce_sync(const std::string& topic, std::string_view key,
                                                   std::string_view value,
                                                   const Headers& headers = {});
  // Produces without waiting. With a group, the delivery report goes to the
  // group (a message librdkafka refuses at once counts there as failed);
  // without, failures are counted in `failed()`.
  Status produce_async(const std::string& topic, std::string_view key, std::string_view value,
                       const Headers& headers = {},
                       const std::shared_ptr<DeliveryGroup>& group = nullptr);
  // Waits for outstanding messages. Returns false on timeout.
  bool flush(int timeout_ms);
  uint64_t failed() const;

  struct Impl;  // public for the delivery-report callback

 private:
  std::unique_ptr<Impl> impl_;
};

// Partition count of `topic`, or an Error naming the topic if it does not exist.
Result<int> partition_count(rd_kafka_t* rk, const std::string& topic, int timeout_ms = 10000);

// (low, high) watermarks from the broker.
Result<std::pair<int64_t, int64_t>> query_watermarks(rd_kafka_t* rk, const std::string& topic,
                                                     int32_t partition, int timeout_ms = 10000);

// One topic as declared in topics/topics.json.
struct TopicSpec {
  std::string name;  // without prefix
  int partitions = 1;
  std::map<std::string, std::string> configs;
};

Result<std::vector<TopicSpec>> load_topic_specs(const std::string& path);

// Creates missing topics and reports differences. One line per topic in
// `report` ("created", "ok", or what differs). Returns an Error when a topic
// differs (partitions or configs) or on Kafka failure.
Status ensure_topics(const KafkaOptions& opts, const std::vector<TopicSpec>& specs,
                     int replication_factor, std::vector<std::string>& report);

// Finds topics/topics.json: $GOALSTREAM_TOPICS_FILE, then next to the
// executable's source tree, then /usr/local/share/goalstream/topics.json.
std::string default_topics_file();

}  // namespace gs::kernel
