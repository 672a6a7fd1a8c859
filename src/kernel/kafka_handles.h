// Owning types for librdkafka's handles: each destroys its handle exactly
// once, whatever the path out of the scope (early return, exception). They
// add nothing at run time: a std::unique_ptr with an empty deleter is one
// pointer.
//
// Lifetimes librdkafka asks for, which the owners below must respect by the
// order they are destroyed in:
// - every message a consumer handed out is destroyed before the consumer is
//   closed or destroyed: a message keeps a reference on the consumer's
//   fetch buffers, and rd_kafka_consumer_close()/rd_kafka_destroy() wait for
//   it for ever (a stop hung on this once);
// - a client outlives the threads that poll it, and its topic handles,
//   queues and events.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include <librdkafka/rdkafka.h>

namespace gs::kernel {

// Calls `Destroy` on a non-null pointer.
template <auto Destroy>
struct RdKafkaDeleter {
  template <typename T>
  void operator()(T* p) const noexcept {
    if (p) Destroy(p);
  }
};
template <typename T, auto Destroy>
using RdKafkaPtr = std::unique_ptr<T, RdKafkaDeleter<Destroy>>;

// A producer or admin client. rd_kafka_new() takes the configuration: release
// a KafkaConf only once it returned a client.
using KafkaHandle = RdKafkaPtr<rd_kafka_t, rd_kafka_destroy>;
using KafkaConf = RdKafkaPtr<rd_kafka_conf_t, rd_kafka_conf_destroy>;
using KafkaMessage = RdKafkaPtr<rd_kafka_message_t, rd_kafka_message_destroy>;
using PartitionList =
    RdKafkaPtr<rd_kafka_topic_partition_list_t, rd_kafka_topic_partition_list_destroy>;
using KafkaTopic = RdKafkaPtr<rd_kafka_topic_t, rd_kafka_topic_destroy>;
using KafkaMetadata = RdKafkaPtr<const rd_kafka_metadata_t, rd_kafka_metadata_destroy>;
using KafkaQueue = RdKafkaPtr<rd_kafka_queue_t, rd_kafka_queue_destroy>;
using KafkaEvent = RdKafkaPtr<rd_kafka_event_t, rd_kafka_event_destroy>;
// rd_kafka_producev() takes the headers when it queues the message: release
// them only then.
using KafkaHeaders = RdKafkaPtr<rd_kafka_headers_t, rd_kafka_headers_destroy>;
using NewTopic = RdKafkaPtr<rd_kafka_NewTopic_t, rd_kafka_NewTopic_destroy>;
using ConfigResource = RdKafkaPtr<rd_kafka_ConfigResource_t, rd_kafka_ConfigResource_destroy>;

// A new partition list with room for `size` entries.
inline PartitionList new_partition_list(int size) {
  return PartitionList(rd_kafka_topic_partition_list_new(size));
}

// A consumer: rd_kafka_consumer_close() (leaves the group, drops the
// assignment) then rd_kafka_destroy(). Every message it handed out must be
// destroyed first (see above). Not thread-safe; get() is.
class KafkaConsumer {
 public:
  KafkaConsumer() = default;
  explicit KafkaConsumer(rd_kafka_t* rk) noexcept : rk_(rk) {}
  KafkaConsumer(KafkaConsumer&& o) noexcept
      : rk_(std::exchange(o.rk_, nullptr)), closed_(std::exchange(o.closed_, false)) {}
  KafkaConsumer& operator=(KafkaConsumer&& o) noexcept {
    if (this != &o) {
      reset();
      rk_ = std::exchange(o.rk_, nullptr);
      closed_ = std::exchange(o.closed_, false);
    }
    return *this;
  }
  KafkaConsumer(const KafkaConsumer&) = delete;
  KafkaConsumer& operator=(const KafkaConsumer&) = delete;
  ~KafkaConsumer() { reset(); }

  rd_kafka_t* get() const noexcept { return rk_; }
  explicit operator bool() const noexcept { return rk_ != nullptr; }

  // Closes the consumer now (idempotent); the handle stays until reset().
  void close() noexcept {
    if (rk_ && !closed_) rd_kafka_consumer_close(rk_);
    closed_ = true;
  }
  // Closes (unless closed) and destroys.
  void reset() noexcept {
    if (!rk_) return;
    close();
    rd_kafka_destroy(std::exchange(rk_, nullptr));
    closed_ = false;
  }

 private:
  rd_kafka_t* rk_ = nullptr;
  bool closed_ = false;
};

// The messages of one consumed batch, in order; destroys them when cleared
// or destroyed. As cheap as a vector of raw pointers.
class MessageBatch {
 public:
  size_t size() const noexcept { return msgs_.size(); }
  bool empty() const noexcept { return msgs_.empty(); }
  rd_kafka_message_t* operator[](size_t i) const noexcept { return msgs_[i].get(); }
  // Takes ownership of `m` (a consumer poll's result, not null).
  void push_back(rd_kafka_message_t* m) {
    KafkaMessage owned(m);  // destroyed if the vector cannot grow
    msgs_.push_back(std::move(owned));
  }
  void push_back(KafkaMessage m) { msgs_.push_back(std::move(m)); }
  // Takes message i out (it reads as null here after).
  KafkaMessage take(size_t i) noexcept { return std::move(msgs_[i]); }
  // Destroys the messages (keeps the capacity).
  void clear() noexcept { msgs_.clear(); }

 private:
  std::vector<KafkaMessage> msgs_;
};

}  // namespace gs::kernel
