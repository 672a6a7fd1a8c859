// Clients and consumers, and what they ask the broker: metadata and
// watermarks.
#include "kernel/kafka.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace gs::kernel {
namespace {

Error unavailable(std::string msg) { return Error{ErrorCode::unavailable, "", std::move(msg)}; }

}  // namespace

Result<KafkaHandle> make_client(rd_kafka_type_t type, const KafkaOptions& opts,
                                const std::map<std::string, std::string>& settings,
                                const std::function<void(rd_kafka_conf_t*)>& configure) {
  char errstr[512];
  KafkaConf conf(rd_kafka_conf_new());
  auto set = [&](const std::string& k, const std::string& v) -> bool {
    if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK)
      return false;
    return true;
  };
  if (!set("bootstrap.servers", opts.brokers) || !set("client.id", "goalstream"))
    return Error{ErrorCode::invalid, "brokers", errstr};
  // librdkafka logs through stderr by default; keep only warnings and worse.
  set("log_level", "3");
  for (auto& [k, v] : settings)
    if (!set(k, v)) return Error{ErrorCode::invalid, k, errstr};
  if (configure) configure(conf.get());
  KafkaHandle rk(rd_kafka_new(type, conf.get(), errstr, sizeof errstr));
  if (!rk) return unavailable(std::string("cannot create Kafka client: ") + errstr);
  (void)conf.release();  // the client owns it now
  return rk;
}

Result<KafkaConsumer> make_consumer(const KafkaOptions& opts,
                                    const std::map<std::string, std::string>& settings) {
  auto rk = make_client(RD_KAFKA_CONSUMER, opts, settings);
  if (!rk.ok()) return rk.error();
  return KafkaConsumer(rk->release());
}

Result<int> partition_count(rd_kafka_t* rk, const std::string& topic, int timeout_ms) {
  const rd_kafka_metadata_t* raw = nullptr;
  rd_kafka_resp_err_t err;
  {
    KafkaTopic t(rd_kafka_topic_new(rk, topic.c_str(), nullptr));
    err = rd_kafka_metadata(rk, 0, t.get(), &raw, timeout_ms);
  }
  KafkaMetadata md(raw);
  if (err)
    return unavailable("cannot read Kafka metadata for " + topic + ": " + rd_kafka_err2str(err));
  int n = 0;
  rd_kafka_resp_err_t terr = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
  if (md->topic_cnt == 1) {
    terr = md->topics[0].err;
    n = md->topics[0].partition_cnt;
  }
  if (terr || n == 0)
    return Error{ErrorCode::not_found, "topic-prefix",
                 "topic " + topic + " does not exist; run `goalstream topics ensure` first"};
  return n;
}

Result<std::pair<int64_t, int64_t>> query_watermarks(rd_kafka_t* rk, const std::string& topic,
                                                     int32_t partition, int timeout_ms) {
  // A partition of a topic created a moment ago may have no leader yet, or
  // the broker answering may not know it is the leader yet: ask again, within
  // the same timeout (serve exited at start on this, once in CI).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    int64_t lo = 0, hi = 0;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    auto err =
        rd_kafka_query_watermark_offsets(rk, topic.c_str(), partition, &lo, &hi,
                                         static_cast<int>(std::max<int64_t>(left.count(), 1)));
    if (!err) return std::pair{lo, hi};
    bool no_leader_yet = err == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
                         err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
                         err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
    if (!no_leader_yet ||
        std::chrono::steady_clock::now() + std::chrono::milliseconds(200) >= deadline)
      return unavailable("cannot query offsets of " + topic + ": " + rd_kafka_err2str(err));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace gs::kernel
