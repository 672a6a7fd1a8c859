// Thin RAII wrappers over librdkafka's C API: configuration, a producer with
// synchronous delivery (for commands) and asynchronous fire-and-forget (for
// deadletter and changes), metadata and watermark queries, and topic admin.
// Producer is thread-safe (librdkafka's is); other helpers are free functions.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "base/result.h"

namespace gs::stream {

// Where Kafka is and how our topics are named.
struct KafkaOptions {
  std::string brokers = "127.0.0.1:9092";
  std::string topic_prefix = "goalstream.";
  std::string events() const { return topic_prefix + "events"; }
  std::string commands() const { return topic_prefix + "commands"; }
  std::string deadletter() const { return topic_prefix + "deadletter"; }
  std::string changes() const { return topic_prefix + "changes"; }
};

struct RdKafkaDeleter {
  void operator()(rd_kafka_t* rk) const;
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, RdKafkaDeleter>;

// Builds a client of `type` with bootstrap servers and extra settings.
Result<KafkaHandle> make_client(rd_kafka_type_t type, const KafkaOptions& opts,
                                const std::map<std::string, std::string>& settings,
                                void (*configure)(rd_kafka_conf_t*) = nullptr);

using Headers = std::vector<std::pair<std::string, std::string>>;

// An idempotent producer (acks=all). A background thread serves delivery
// reports. Thread-safe.
class Producer {
 public:
  static Result<std::unique_ptr<Producer>> create(const KafkaOptions& opts);
  ~Producer();

  // Produces and waits for the broker's acknowledgement. Returns the message's
  // (partition, offset); an Error (unavailable) on failure or timeout.
  Result<std::pair<int32_t, int64_t>> produce_sync(const std::string& topic, std::string_view key,
                                                   std::string_view value, const Headers& headers = {},
                                                   int timeout_ms = 10000);
  // Produces without waiting; failures are counted in `failed()`.
  Status produce_async(const std::string& topic, std::string_view key, std::string_view value,
                       const Headers& headers = {});
  // Waits for outstanding messages. Returns false on timeout.
  bool flush(int timeout_ms);
  uint64_t failed() const;
  rd_kafka_t* handle() { return rk_.get(); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  KafkaHandle rk_;
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

}  // namespace gs::stream
