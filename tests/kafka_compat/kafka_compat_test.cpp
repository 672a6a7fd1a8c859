// Compatibility test between the C++ side's Kafka client (Debian 12's
// librdkafka, used through its C API here on purpose: no project code
// involved) and the broker that tools/kafka runs (or compose.yaml's).
//
// Covers every protocol feature goalstream relies on:
//   metadata, admin CreateTopics / DescribeConfigs / DeleteTopics,
//   idempotent producer with acks=all, classic consumer-group join with
//   subscribe() + synchronous offset commit + committed(), watermark
//   queries, and plain assign() at explicit offsets.
//
// Broker: env GOALSTREAM_BROKERS (default 127.0.0.1:9092). Every wait is
// bounded, so without a broker this fails within seconds instead of hanging.

#include <doctest/doctest.h>
#include <librdkafka/rdkafka.h>

#include <unistd.h>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr int kPartitions = 3;
constexpr int kMessages = 100;
constexpr int kAdminTimeoutMs = 15000;
constexpr int kMetadataTimeoutMs = 10000;

std::string brokers() {
  const char* env = std::getenv("GOALSTREAM_BROKERS");
  return (env && *env) ? env : "127.0.0.1:9092";
}

std::string unique_suffix() {
  std::random_device rd;
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::to_string(::getpid()) + "-" +
         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now).count()) + "-" +
         std::to_string(rd() % 100000);
}

// doctest prints `const char *` as a pointer: librdkafka's C strings go
// through this first.
std::string str(const char* s) { return s ? std::string(s) : std::string("(null)"); }

std::string key_of(int i) { return "key-" + std::to_string(i); }
std::string value_of(int i) { return "value-" + std::to_string(i) + "-payload"; }

// ------------------------------------------------------------------ RAII

// One deleter for every librdkafka handle: calls its destroy function.
template <auto Destroy>
struct Deleter {
  template <class T>
  void operator()(T* p) const {
    Destroy(p);
  }
};
using Kafka = std::unique_ptr<rd_kafka_t, Deleter<rd_kafka_destroy>>;
using Queue = std::unique_ptr<rd_kafka_queue_t, Deleter<rd_kafka_queue_destroy>>;
using Event = std::unique_ptr<rd_kafka_event_t, Deleter<rd_kafka_event_destroy>>;
using PartList = std::unique_ptr<rd_kafka_topic_partition_list_t,
                                 Deleter<rd_kafka_topic_partition_list_destroy>>;
using Message = std::unique_ptr<rd_kafka_message_t, Deleter<rd_kafka_message_destroy>>;
using Metadata = std::unique_ptr<const rd_kafka_metadata_t, Deleter<rd_kafka_metadata_destroy>>;
using Topic = std::unique_ptr<rd_kafka_topic_t, Deleter<rd_kafka_topic_destroy>>;
using AdminOptions =
    std::unique_ptr<rd_kafka_AdminOptions_t, Deleter<rd_kafka_AdminOptions_destroy>>;

// Builds a client; any configuration error fails the test immediately.
Kafka make_client(rd_kafka_type_t type,
                  const std::vector<std::pair<std::string, std::string>>& settings,
                  void (*dr_cb)(rd_kafka_t*, const rd_kafka_message_t*, void*) = nullptr,
                  void* opaque = nullptr) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::vector<std::pair<std::string, std::string>> all = {
      {"bootstrap.servers", brokers()},
      {"client.id", "goalstream-kafka-compat-test"},
      {"socket.timeout.ms", "10000"},
      {"log_level", "4"},  // warnings and worse only
  };
  all.insert(all.end(), settings.begin(), settings.end());
  for (const auto& [k, v] : all) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      FAIL("config " << k << "=" << v << ": " << str(errstr));
    }
  }
  if (dr_cb) rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
  if (opaque) rd_kafka_conf_set_opaque(conf, opaque);
  rd_kafka_t* rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    FAIL("rd_kafka_new: " << str(errstr));
  }
  return Kafka(rk);
}

AdminOptions admin_options(rd_kafka_t* rk, rd_kafka_admin_op_t op) {
  char errstr[512];
  AdminOptions opts(rd_kafka_AdminOptions_new(rk, op));
  REQUIRE(opts);
  REQUIRE(rd_kafka_AdminOptions_set_request_timeout(opts.get(), kAdminTimeoutMs, errstr,
                                                    sizeof errstr) == RD_KAFKA_RESP_ERR_NO_ERROR);
  if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_DELETETOPICS) {
    REQUIRE(rd_kafka_AdminOptions_set_operation_timeout(
                opts.get(), kAdminTimeoutMs, errstr, sizeof errstr) == RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  return opts;
}

// Waits (bounded) for the result event of an admin request on `q`.
Event admin_result(rd_kafka_queue_t* q, rd_kafka_event_type_t expected, const char* what) {
  Event ev(rd_kafka_queue_poll(q, kAdminTimeoutMs + 5000));
  if (!ev) FAIL(what << ": no result within " << (kAdminTimeoutMs + 5000) << " ms");
  REQUIRE_MESSAGE(rd_kafka_event_type(ev.get()) == expected,
                  what << ": unexpected event " << str(rd_kafka_event_name(ev.get())));
  REQUIRE_MESSAGE(rd_kafka_event_error(ev.get()) == RD_KAFKA_RESP_ERR_NO_ERROR,
                  what << " failed: " << str(rd_kafka_event_error_string(ev.get())));
  return ev;
}

// Metadata for one topic; nullptr on a request error.
Metadata topic_metadata(rd_kafka_t* rk, const std::string& topic, rd_kafka_resp_err_t* err) {
  Topic rkt(rd_kafka_topic_new(rk, topic.c_str(), nullptr));
  const rd_kafka_metadata_t* md = nullptr;
  *err = rd_kafka_metadata(rk, 0, rkt.get(), &md, kMetadataTimeoutMs);
  return Metadata(*err == RD_KAFKA_RESP_ERR_NO_ERROR ? md : nullptr);
}

// Best-effort topic deletion, used when a check fails half-way.
void delete_topic_quietly(rd_kafka_t* rk, const std::string& topic) {
  rd_kafka_DeleteTopic_t* dt = rd_kafka_DeleteTopic_new(topic.c_str());
  Queue q(rd_kafka_queue_new(rk));
  AdminOptions opts(rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DELETETOPICS));
  char errstr[256];
  rd_kafka_AdminOptions_set_request_timeout(opts.get(), 5000, errstr, sizeof errstr);
  rd_kafka_DeleteTopics(rk, &dt, 1, opts.get(), q.get());
  Event ev(rd_kafka_queue_poll(q.get(), 8000));
  rd_kafka_DeleteTopic_destroy(dt);
}

struct Delivery {
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  int32_t partition = -1;
  int64_t offset = -1;
  bool persisted = false;
};

struct ProduceState {
  std::map<int, Delivery> deliveries;  // message index -> report
  int reports = 0;
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* st = static_cast<ProduceState*>(opaque);
  int idx = static_cast<int>(reinterpret_cast<intptr_t>(m->_private));
  Delivery d;
  d.err = m->err;
  d.partition = m->partition;
  d.offset = m->offset;
  d.persisted = rd_kafka_message_status(m) == RD_KAFKA_MSG_STATUS_PERSISTED;
  st->deliveries[idx] = d;
  ++st->reports;
}

struct Consumed {
  int32_t partition;
  int64_t offset;
  std::string key;
  std::string value;
};

// Polls `rk` until `want` messages arrived or `deadline` passed.
std::vector<Consumed> consume(rd_kafka_t* rk, size_t want, std::chrono::seconds budget,
                              const std::string& topic) {
  std::vector<Consumed> out;
  auto deadline = Clock::now() + budget;
  while (out.size() < want && Clock::now() < deadline) {
    Message m(rd_kafka_consumer_poll(rk, 500));
    if (!m) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
    REQUIRE_MESSAGE(m->err == RD_KAFKA_RESP_ERR_NO_ERROR,
                    "consume error: " << str(rd_kafka_message_errstr(m.get())));
    REQUIRE(std::string(rd_kafka_topic_name(m->rkt)) == topic);
    Consumed c;
    c.partition = m->partition;
    c.offset = m->offset;
    c.key.assign(static_cast<const char*>(m->key), m->key_len);
    c.value.assign(static_cast<const char*>(m->payload), m->len);
    out.push_back(std::move(c));
  }
  return out;
}

// Index encoded in "key-<i>".
int index_of(const std::string& key) {
  REQUIRE(key.rfind("key-", 0) == 0);
  return std::stoi(key.substr(4));
}

}  // namespace

TEST_CASE("no broker: metadata fails fast instead of hanging") {
  // Port 1 on loopback never runs Kafka: the request must time out quickly.
  char errstr[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  REQUIRE(rd_kafka_conf_set(conf, "bootstrap.servers", "127.0.0.1:1", errstr, sizeof errstr) ==
          RD_KAFKA_CONF_OK);
  REQUIRE(rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr) == RD_KAFKA_CONF_OK);
  Kafka rk(rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr));
  REQUIRE(rk);
  const rd_kafka_metadata_t* md = nullptr;
  auto t0 = Clock::now();
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk.get(), 1, nullptr, &md, 2000);
  if (md) rd_kafka_metadata_destroy(md);
  CHECK(err != RD_KAFKA_RESP_ERR_NO_ERROR);
  CHECK(Clock::now() - t0 < 10s);
}

TEST_CASE("librdkafka round trip against the broker") {
  const std::string topic = "gs-compat-" + unique_suffix();
  const std::string group = "gs-compat-group-" + unique_suffix();
  MESSAGE("librdkafka " << str(rd_kafka_version_str()) << ", broker(s) " << brokers() << ", topic "
                        << topic);

  // ---------------------------------------------------------------- metadata
  Kafka admin = make_client(RD_KAFKA_PRODUCER, {});
  {
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(admin.get(), 1, nullptr, &md, kMetadataTimeoutMs);
    Metadata guard(md);
    REQUIRE_MESSAGE(err == RD_KAFKA_RESP_ERR_NO_ERROR,
                    "no Kafka broker answers at " << brokers() << " (" << str(rd_kafka_err2str(err))
                                                  << "); start one with tools/kafka start");
    REQUIRE(md->broker_cnt >= 1);
    MESSAGE("metadata: " << md->broker_cnt << " broker(s), first " << str(md->brokers[0].host)
                         << ":" << md->brokers[0].port << " id " << md->brokers[0].id);
  }

  // ---------------------------------------------------------------- CreateTopics
  {
    char errstr[512];
    rd_kafka_NewTopic_t* nt =
        rd_kafka_NewTopic_new(topic.c_str(), kPartitions, 1, errstr, sizeof errstr);
    REQUIRE_MESSAGE(nt, str(errstr));
    REQUIRE(rd_kafka_NewTopic_set_config(nt, "retention.ms", "3600000") ==
            RD_KAFKA_RESP_ERR_NO_ERROR);
    REQUIRE(rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "delete") ==
            RD_KAFKA_RESP_ERR_NO_ERROR);
    Queue q(rd_kafka_queue_new(admin.get()));
    auto opts = admin_options(admin.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_CreateTopics(admin.get(), &nt, 1, opts.get(), q.get());
    rd_kafka_NewTopic_destroy(nt);
    Event ev = admin_result(q.get(), RD_KAFKA_EVENT_CREATETOPICS_RESULT, "CreateTopics");
    size_t n = 0;
    const rd_kafka_topic_result_t** res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev.get()), &n);
    REQUIRE(n == 1);
    REQUIRE(std::string(rd_kafka_topic_result_name(res[0])) == topic);
    const char* msg = rd_kafka_topic_result_error_string(res[0]);
    REQUIRE_MESSAGE(rd_kafka_topic_result_error(res[0]) == RD_KAFKA_RESP_ERR_NO_ERROR,
                    "CreateTopics: " << str(rd_kafka_err2str(rd_kafka_topic_result_error(res[0])))
                                     << " " << str(msg));
  }
  // From here on, remove the topic even if a check fails.
  struct Cleanup {
    rd_kafka_t* rk;
    std::string topic;
    bool armed = true;
    ~Cleanup() {
      if (armed) delete_topic_quietly(rk, topic);
    }
  } cleanup{admin.get(), topic};

  // ---------------------------------------------------------------- topic metadata
  {
    // The new topic's leaders can take a moment to show up everywhere.
    auto deadline = Clock::now() + 20s;
    std::string last;
    bool ok = false;
    while (!ok && Clock::now() < deadline) {
      rd_kafka_resp_err_t err;
      Metadata md = topic_metadata(admin.get(), topic, &err);
      if (!md) {
        last = str(rd_kafka_err2str(err));
      } else if (md->topic_cnt != 1) {
        last = "topic_cnt " + std::to_string(md->topic_cnt);
      } else {
        const rd_kafka_metadata_topic_t& t = md->topics[0];
        if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
          last = rd_kafka_err2str(t.err);
        } else if (t.partition_cnt != kPartitions) {
          last = "partition_cnt " + std::to_string(t.partition_cnt);
        } else {
          ok = true;
          for (int p = 0; p < t.partition_cnt; ++p) {
            if (t.partitions[p].err != RD_KAFKA_RESP_ERR_NO_ERROR || t.partitions[p].leader < 0) {
              ok = false;
              last = "partition " + std::to_string(p) + " has no leader yet";
            }
          }
        }
      }
      if (!ok) std::this_thread::sleep_for(200ms);
    }
    REQUIRE_MESSAGE(ok, "topic metadata never became complete: " << last);
  }

  // ---------------------------------------------------------------- idempotent produce
  ProduceState produced;
  {
    Kafka producer = make_client(RD_KAFKA_PRODUCER,
                                 {{"enable.idempotence", "true"},
                                  {"acks", "all"},
                                  {"linger.ms", "5"},
                                  {"message.timeout.ms", "30000"}},
                                 on_delivery, &produced);
    for (int i = 0; i < kMessages; ++i) {
      const std::string k = key_of(i), v = value_of(i);
      rd_kafka_resp_err_t err = rd_kafka_producev(
          producer.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(i % kPartitions),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(k.data(), k.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(v.data()), v.size()),
          RD_KAFKA_V_HEADER("gs-index", &i, sizeof i),
          RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<intptr_t>(i))), RD_KAFKA_V_END);
      REQUIRE_MESSAGE(err == RD_KAFKA_RESP_ERR_NO_ERROR,
                      "producev: " << str(rd_kafka_err2str(err)));
      rd_kafka_poll(producer.get(), 0);
    }
    rd_kafka_resp_err_t ferr = rd_kafka_flush(producer.get(), 30000);
    REQUIRE_MESSAGE(ferr == RD_KAFKA_RESP_ERR_NO_ERROR, "flush: " << str(rd_kafka_err2str(ferr)));
    char fatal[512];
    rd_kafka_resp_err_t fatal_err = rd_kafka_fatal_error(producer.get(), fatal, sizeof fatal);
    REQUIRE_MESSAGE(fatal_err == RD_KAFKA_RESP_ERR_NO_ERROR,
                    "idempotent producer fatal: " << str(fatal));
  }
  REQUIRE(produced.reports == kMessages);
  REQUIRE(produced.deliveries.size() == static_cast<size_t>(kMessages));
  std::map<std::pair<int32_t, int64_t>, int> at;  // (partition, offset) -> index
  std::map<int32_t, int64_t> per_partition;
  for (const auto& [i, d] : produced.deliveries) {
    INFO("message " << i);
    CHECK_MESSAGE(d.err == RD_KAFKA_RESP_ERR_NO_ERROR, str(rd_kafka_err2str(d.err)));
    CHECK(d.persisted);
    CHECK(d.partition == i % kPartitions);
    CHECK(d.offset >= 0);
    at[{d.partition, d.offset}] = i;
    ++per_partition[d.partition];
  }
  REQUIRE(at.size() == static_cast<size_t>(kMessages));  // no duplicate offsets
  REQUIRE(per_partition.size() == static_cast<size_t>(kPartitions));
  // Each partition is dense from offset 0 (fresh topic, no duplicates).
  for (const auto& [p, n] : per_partition) {
    for (int64_t off = 0; off < n; ++off) CHECK(at.count({p, off}) == 1);
  }

  // ---------------------------------------------------------------- watermarks (ListOffsets)
  {
    for (const auto& [p, n] : per_partition) {
      int64_t lo = -1, hi = -1;
      rd_kafka_resp_err_t err =
          rd_kafka_query_watermark_offsets(admin.get(), topic.c_str(), p, &lo, &hi, 10000);
      REQUIRE_MESSAGE(err == RD_KAFKA_RESP_ERR_NO_ERROR,
                      "watermarks: " << str(rd_kafka_err2str(err)));
      CHECK(lo == 0);
      CHECK(hi == n);
    }
  }

  // ---------------------------------------------------------------- group consumer + commit
  {
    Kafka consumer = make_client(RD_KAFKA_CONSUMER, {{"group.id", group},
                                                     {"auto.offset.reset", "earliest"},
                                                     {"enable.auto.commit", "false"},
                                                     {"session.timeout.ms", "10000"},
                                                     {"heartbeat.interval.ms", "1000"}});
    rd_kafka_poll_set_consumer(consumer.get());
    PartList sub(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(sub.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer.get(), sub.get());
    REQUIRE_MESSAGE(err == RD_KAFKA_RESP_ERR_NO_ERROR, "subscribe: " << str(rd_kafka_err2str(err)));

    auto got = consume(consumer.get(), kMessages, 60s, topic);
    REQUIRE_MESSAGE(got.size() == static_cast<size_t>(kMessages),
                    "group consumer received " << got.size() << " of " << kMessages);
    std::set<int> seen;
    std::map<int32_t, int64_t> last_offset;
    for (const auto& c : got) {
      int i = index_of(c.key);
      CHECK(c.value == value_of(i));
      CHECK(at.at({c.partition, c.offset}) == i);
      auto it = last_offset.find(c.partition);
      if (it != last_offset.end()) CHECK(c.offset > it->second);  // in order per partition
      last_offset[c.partition] = c.offset;
      seen.insert(i);
    }
    CHECK(seen.size() == static_cast<size_t>(kMessages));

    rd_kafka_topic_partition_list_t* assigned_raw = nullptr;
    REQUIRE(rd_kafka_assignment(consumer.get(), &assigned_raw) == RD_KAFKA_RESP_ERR_NO_ERROR);
    PartList assigned(assigned_raw);
    CHECK(assigned->cnt == kPartitions);

    err = rd_kafka_commit(consumer.get(), nullptr, 0 /* synchronous */);
    REQUIRE_MESSAGE(err == RD_KAFKA_RESP_ERR_NO_ERROR, "commit: " << str(rd_kafka_err2str(err)));

    PartList query(rd_kafka_topic_partition_list_new(kPartitions));
    for (int p = 0; p < kPartitions; ++p)
      rd_kafka_topic_partition_list_add(query.get(), topic.c_str(), p);
    err = rd_kafka_committed(consumer.get(), query.get(), 10000);
    REQUIRE_MESSAGE(err == RD_KAFKA_RESP_ERR_NO_ERROR, "committed: " << str(rd_kafka_err2str(err)));
    for (int j = 0; j < query->cnt; ++j) {
      const auto& tp = query->elems[j];
      INFO("partition " << tp.partition);
      CHECK(tp.err == RD_KAFKA_RESP_ERR_NO_ERROR);
      CHECK(tp.offset == per_partition.at(tp.partition));
    }
    err = rd_kafka_consumer_close(consumer.get());
    CHECK_MESSAGE(err == RD_KAFKA_RESP_ERR_NO_ERROR,
                  "consumer_close: " << str(rd_kafka_err2str(err)));
  }

  // ---------------------------------------------------------------- assign() at explicit offsets
  {
    // Plain partition assignment: no subscribe(), so no group join and no
    // rebalance; librdkafka still wants a group.id for any consumer handle.
    Kafka consumer = make_client(RD_KAFKA_CONSUMER, {{"group.id", group + "-assign"},
                                                     {"enable.auto.commit", "false"},
                                                     {"enable.auto.offset.store", "false"}});
    const std::map<int32_t, int64_t> start = {{0, 10}, {1, 0}, {2, 30}};
    PartList assignment(rd_kafka_topic_partition_list_new(kPartitions));
    size_t expected = 0;
    for (const auto& [p, off] : start) {
      rd_kafka_topic_partition_list_add(assignment.get(), topic.c_str(), p)->offset = off;
      expected += static_cast<size_t>(per_partition.at(p) - off);
    }
    rd_kafka_resp_err_t err = rd_kafka_assign(consumer.get(), assignment.get());
    REQUIRE_MESSAGE(err == RD_KAFKA_RESP_ERR_NO_ERROR, "assign: " << str(rd_kafka_err2str(err)));

    auto got = consume(consumer.get(), expected, 30s, topic);
    REQUIRE_MESSAGE(got.size() == expected,
                    "assign() consumer received " << got.size() << " of " << expected);
    std::set<std::pair<int32_t, int64_t>> seen;
    for (const auto& c : got) {
      CHECK(c.offset >= start.at(c.partition));
      int i = at.at({c.partition, c.offset});
      CHECK(c.key == key_of(i));
      CHECK(c.value == value_of(i));
      seen.insert({c.partition, c.offset});
    }
    CHECK(seen.size() == expected);
    // Nothing more than what was asked for shows up.
    auto extra = consume(consumer.get(), 1, 1s, topic);
    CHECK(extra.empty());
    rd_kafka_assign(consumer.get(), nullptr);
    rd_kafka_consumer_close(consumer.get());
  }

  // ---------------------------------------------------------------- DescribeConfigs
  {
    rd_kafka_ConfigResource_t* res =
        rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
    Queue q(rd_kafka_queue_new(admin.get()));
    auto opts = admin_options(admin.get(), RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    rd_kafka_DescribeConfigs(admin.get(), &res, 1, opts.get(), q.get());
    rd_kafka_ConfigResource_destroy(res);
    Event ev = admin_result(q.get(), RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT, "DescribeConfigs");
    size_t n = 0;
    const rd_kafka_ConfigResource_t** rs = rd_kafka_DescribeConfigs_result_resources(
        rd_kafka_event_DescribeConfigs_result(ev.get()), &n);
    REQUIRE(n == 1);
    REQUIRE_MESSAGE(rd_kafka_ConfigResource_error(rs[0]) == RD_KAFKA_RESP_ERR_NO_ERROR,
                    "DescribeConfigs: " << str(rd_kafka_ConfigResource_error_string(rs[0])));
    size_t cnt = 0;
    const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(rs[0], &cnt);
    std::map<std::string, std::pair<std::string, rd_kafka_ConfigSource_t>> configs;
    for (size_t j = 0; j < cnt; ++j) {
      const char* v = rd_kafka_ConfigEntry_value(entries[j]);
      configs[rd_kafka_ConfigEntry_name(entries[j])] = {v ? v : "",
                                                        rd_kafka_ConfigEntry_source(entries[j])};
    }
    MESSAGE("DescribeConfigs returned " << configs.size() << " topic configs");
    REQUIRE(configs.count("retention.ms") == 1);
    CHECK(configs["retention.ms"].first == "3600000");
    CHECK(configs["retention.ms"].second == RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG);
    REQUIRE(configs.count("cleanup.policy") == 1);
    CHECK(configs["cleanup.policy"].first == "delete");
    CHECK(configs.count("segment.bytes") == 1);
  }

  // ---------------------------------------------------------------- DeleteTopics
  {
    rd_kafka_DeleteTopic_t* dt = rd_kafka_DeleteTopic_new(topic.c_str());
    Queue q(rd_kafka_queue_new(admin.get()));
    auto opts = admin_options(admin.get(), RD_KAFKA_ADMIN_OP_DELETETOPICS);
    rd_kafka_DeleteTopics(admin.get(), &dt, 1, opts.get(), q.get());
    rd_kafka_DeleteTopic_destroy(dt);
    Event ev = admin_result(q.get(), RD_KAFKA_EVENT_DELETETOPICS_RESULT, "DeleteTopics");
    size_t n = 0;
    const rd_kafka_topic_result_t** res =
        rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev.get()), &n);
    REQUIRE(n == 1);
    REQUIRE_MESSAGE(rd_kafka_topic_result_error(res[0]) == RD_KAFKA_RESP_ERR_NO_ERROR,
                    "DeleteTopics: " << str(rd_kafka_err2str(rd_kafka_topic_result_error(res[0]))));
    cleanup.armed = false;

    // The topic disappears from metadata.
    auto deadline = Clock::now() + 20s;
    bool gone = false;
    while (!gone && Clock::now() < deadline) {
      rd_kafka_resp_err_t err;
      Metadata md = topic_metadata(admin.get(), topic, &err);
      gone = (md && md->topic_cnt == 1 &&
              md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) ||
             err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
      if (!gone) std::this_thread::sleep_for(200ms);
    }
    CHECK_MESSAGE(gone, "topic still listed in metadata after DeleteTopics");
  }
}
