#include "stream/kafka.h"

#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "base/log.h"

namespace gs::stream {
namespace {

Error unavailable(std::string msg) { return Error{ErrorCode::unavailable, "", std::move(msg)}; }

// One in-flight produce_wait, completed by the delivery report.
struct Waiter {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  Delivery delivery;
};

}  // namespace

void RdKafkaDeleter::operator()(rd_kafka_t* rk) const {
  if (rk) rd_kafka_destroy(rk);
}

Result<KafkaHandle> make_client(rd_kafka_type_t type, const KafkaOptions& opts,
                                const std::map<std::string, std::string>& settings,
                                void (*configure)(rd_kafka_conf_t*)) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto set = [&](const std::string& k, const std::string& v) -> bool {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
      return false;
    return true;
  };
  if (!set("bootstrap.servers", opts.brokers) || !set("client.id", "goalstream")) {
    rd_kafka_conf_destroy(conf);
    return Error{ErrorCode::invalid, "brokers", errstr};
  }
  // librdkafka logs through stderr by default; keep only warnings and worse.
  set("log_level", "3");
  for (auto& [k, v] : settings)
    if (!set(k, v)) {
      rd_kafka_conf_destroy(conf);
      return Error{ErrorCode::invalid, k, errstr};
    }
  if (configure) configure(conf);
  rd_kafka_t* rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    return unavailable(std::string("cannot create Kafka client: ") + errstr);
  }
  return KafkaHandle(rk);
}

// ---- DeliveryGroup ----------------------------------------------------------

size_t DeliveryGroup::pending() const {
  std::lock_guard lock(mu_);
  return pending_;
}
uint64_t DeliveryGroup::produced() const {
  std::lock_guard lock(mu_);
  return produced_;
}
uint64_t DeliveryGroup::delivered() const {
  std::lock_guard lock(mu_);
  return delivered_;
}
bool DeliveryGroup::wait_until(std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(mu_);
  return cv_.wait_until(lock, deadline, [&] { return pending_ == 0; });
}
std::vector<DeliveryGroup::Failed> DeliveryGroup::take_failed() {
  std::lock_guard lock(mu_);
  return std::exchange(failed_, {});
}
void DeliveryGroup::add() {
  std::lock_guard lock(mu_);
  ++pending_;
  ++produced_;
}
void DeliveryGroup::report(Failed* failed) {
  {
    std::lock_guard lock(mu_);
    --pending_;
    if (failed)
      failed_.push_back(std::move(*failed));
    else
      ++delivered_;
  }
  cv_.notify_all();
}

// ---- Producer ---------------------------------------------------------------

namespace {

// One librdkafka producer and the thread that serves its delivery reports.
struct Client {
  KafkaHandle rk;
  std::atomic<bool> stop{false};
  std::thread poller;
  ~Client() {
    stop = true;
    if (poller.joinable()) poller.join();
  }
};

// The opaque of one produced message, owned by librdkafka until its delivery
// report, which deletes it.
struct Pending {
  std::atomic<uint64_t>* failed = nullptr;  // the producer's count
  std::shared_ptr<Waiter> waiter;           // produce_wait
  std::shared_ptr<DeliveryGroup> group;     // produce_async with a group
};

std::string describe(rd_kafka_resp_err_t err) { return rd_kafka_err2str(err); }

void report_delivery(const rd_kafka_message_t* m) {
  std::unique_ptr<Pending> p(static_cast<Pending*>(m->_private));
  if (!p) return;
  if (m->err && !p->waiter && !p->group) ++*p->failed;
  if (p->waiter) {
    std::lock_guard lock(p->waiter->mu);
    Delivery& d = p->waiter->delivery;
    d.err = m->err;
    d.partition = m->partition;
    d.offset = m->offset;
    if (m->err) {
      d.error = describe(m->err);
      d.possibly_persisted = rd_kafka_message_status(m) != RD_KAFKA_MSG_STATUS_NOT_PERSISTED;
    }
    p->waiter->done = true;
    p->waiter->cv.notify_all();
  }
  if (p->group) {
    if (!m->err) return p->group->report(nullptr);
    DeliveryGroup::Failed f;
    f.topic = rd_kafka_topic_name(m->rkt);
    if (m->key) f.key.assign(static_cast<const char*>(m->key), m->key_len);
    if (m->payload) f.value.assign(static_cast<const char*>(m->payload), m->len);
    rd_kafka_headers_t* hdrs = nullptr;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* name;
      const void* val;
      size_t size;
      for (size_t i = 0;
           rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i)
        f.headers.emplace_back(
            name, val ? std::string(static_cast<const char*>(val), size) : std::string());
    }
    f.err = m->err;
    f.error = describe(m->err);
    p->group->report(&f);
  }
}

// The producer's delivery report callback: no exception may cross into
// librdkafka. report_delivery() allocates (a failed message's copy); when
// that fails the delivery cannot be accounted for, and waiting writers would
// wait for ever: the process ends with a line that says why.
void delivery_report(rd_kafka_t*, const rd_kafka_message_t* m, void*) noexcept {
  try {
    report_delivery(m);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "goalstream: delivery report: %s\n", e.what());
    std::fflush(stderr);
    std::_Exit(1);
  }
}

}  // namespace

struct Producer::Impl {
  KafkaOptions kafka;
  ProducerOptions options;
  std::atomic<uint64_t> failed{0};
  std::mutex mu;                   // guards the two members below
  std::shared_ptr<Client> client;  // the one in use
  // Clients that hit a fatal error: kept until the producer goes, as their
  // delivery reports may still be served.
  std::vector<std::shared_ptr<Client>> retired;

  Result<std::shared_ptr<Client>> new_client() {
    auto c = std::make_shared<Client>();
    auto rk = make_client(
        RD_KAFKA_PRODUCER, kafka,
        {{"enable.idempotence", "true"},
         {"acks", "all"},
         {"linger.ms", "1"},
         {"compression.type", "lz4"},
         {"message.timeout.ms", std::to_string(options.message_timeout_ms)},
         {"message.max.bytes", std::to_string(options.message_max_bytes)}},
        [](rd_kafka_conf_t* conf) { rd_kafka_conf_set_dr_msg_cb(conf, delivery_report); });
    if (!rk.ok()) return rk.error();
    c->rk = std::move(rk).value();
    Client* raw = c.get();
    c->poller = std::thread([raw] {
      while (!raw->stop) rd_kafka_poll(raw->rk.get(), 100);
      // Serve what is left, so every opaque is released.
      rd_kafka_poll(raw->rk.get(), 0);
    });
    return c;
  }

  // The client to produce with: a new one when the current one hit a fatal
  // error (an idempotent producer cannot go on after one).
  std::shared_ptr<Client> current() {
    std::lock_guard lock(mu);
    char errstr[512];
    if (rd_kafka_fatal_error(client->rk.get(), errstr, sizeof errstr) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      auto fresh = new_client();
      if (fresh.ok()) {
        log::warn(std::string("Kafka producer hit a fatal error (") + errstr +
                  "); starting a new one");
        retired.push_back(std::move(client));
        client = std::move(fresh).value();
      }
    }
    return client;
  }
};

Result<std::unique_ptr<Producer>> Producer::create(const KafkaOptions& opts,
                                                   ProducerOptions popts) {
  std::unique_ptr<Producer> p(new Producer());
  p->impl_ = std::make_unique<Impl>();
  p->impl_->kafka = opts;
  p->impl_->options = popts;
  auto c = p->impl_->new_client();
  if (!c.ok()) return c.error();
  p->impl_->client = std::move(c).value();
  return p;
}

Producer::~Producer() {
  if (impl_) flush(10000);
}

static rd_kafka_resp_err_t produce(rd_kafka_t* rk, const std::string& topic, std::string_view key,
                                   std::string_view value, const Headers& headers, void* opaque) {
  rd_kafka_headers_t* hdrs = nullptr;
  if (!headers.empty()) {
    hdrs = rd_kafka_headers_new(headers.size());
    for (auto& [k, v] : headers) rd_kafka_header_add(hdrs, k.data(), k.size(), v.data(), v.size());
  }
  rd_kafka_resp_err_t err = rd_kafka_producev(
      rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
      RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_HEADERS(hdrs),
      RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
  if (err && hdrs) rd_kafka_headers_destroy(hdrs);
  return err;
}

Delivery Producer::produce_wait(const std::string& topic, std::string_view key,
                                std::string_view value, const Headers& headers) {
  auto client = impl_->current();
  auto w = std::make_shared<Waiter>();
  auto* p = new Pending{&impl_->failed, w, nullptr};
  auto err = produce(client->rk.get(), topic, key, value, headers, p);
  if (err) {
    delete p;
    Delivery d;
    d.err = err;
    d.error = describe(err);  // refused before it was queued: not written
    return d;
  }
  std::unique_lock lock(w->mu);
  // librdkafka reports every message within message.timeout.ms (its timeout
  // scan runs about once a second); the margin only guards against a report
  // that never comes, whose outcome would be unknown.
  auto guard = std::chrono::milliseconds(impl_->options.message_timeout_ms + 10000);
  if (!w->cv.wait_for(lock, guard, [&] { return w->done; })) {
    Delivery d;
    d.err = RD_KAFKA_RESP_ERR__TIMED_OUT;
    d.possibly_persisted = true;
    d.error = "no delivery report from librdkafka within " + std::to_string(guard.count()) + " ms";
    return d;
  }
  return w->delivery;
}

Result<std::pair<int32_t, int64_t>> Producer::produce_sync(const std::string& topic,
                                                           std::string_view key,
                                                           std::string_view value,
                                                           const Headers& headers) {
  auto d = produce_wait(topic, key, value, headers);
  if (d.ok()) return std::pair{d.partition, d.offset};
  return unavailable("Kafka did not take the write to " + topic + ": " + d.error +
                     (d.possibly_persisted ? " (it may have been written nonetheless)"
                                           : " (nothing was written)"));
}

Status Producer::produce_async(const std::string& topic, std::string_view key,
                               std::string_view value, const Headers& headers,
                               const std::shared_ptr<DeliveryGroup>& group) {
  auto client = impl_->current();
  auto* p = new Pending{&impl_->failed, nullptr, group};
  if (group) group->add();
  auto err = produce(client->rk.get(), topic, key, value, headers, p);
  if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
    rd_kafka_flush(client->rk.get(), 1000);
    err = produce(client->rk.get(), topic, key, value, headers, p);
  }
  if (!err) return {};
  delete p;
  if (group) {
    DeliveryGroup::Failed f{topic, std::string(key), std::string(value), headers,
                            err,   describe(err)};
    group->report(&f);
  } else {
    impl_->failed++;
  }
  return unavailable("cannot produce to " + topic + ": " + describe(err));
}

bool Producer::flush(int timeout_ms) {
  std::shared_ptr<Client> c;
  {
    std::lock_guard lock(impl_->mu);
    c = impl_->client;
  }
  return rd_kafka_flush(c->rk.get(), timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR;
}

uint64_t Producer::failed() const { return impl_->failed; }

Result<int> partition_count(rd_kafka_t* rk, const std::string& topic, int timeout_ms) {
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  auto err = rd_kafka_metadata(rk, 0, t, &md, timeout_ms);
  rd_kafka_topic_destroy(t);
  if (err)
    return unavailable("cannot read Kafka metadata for " + topic + ": " + rd_kafka_err2str(err));
  int n = 0;
  rd_kafka_resp_err_t terr = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
  if (md->topic_cnt == 1) {
    terr = md->topics[0].err;
    n = md->topics[0].partition_cnt;
  }
  rd_kafka_metadata_destroy(md);
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

Result<std::vector<TopicSpec>> load_topic_specs(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error{ErrorCode::not_found, "topics-file", "cannot read " + path};
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.contains("topics") || !j["topics"].is_array())
    return Error{ErrorCode::invalid, "topics-file", path + ": expected {\"topics\": [...]}"};
  std::vector<TopicSpec> out;
  for (auto& t : j["topics"]) {
    TopicSpec s;
    if (!t.contains("name") || !t["name"].is_string() || !t.contains("partitions") ||
        !t["partitions"].is_number_integer())
      return Error{ErrorCode::invalid, "topics-file",
                   path + ": each topic needs name and partitions"};
    s.name = t["name"];
    s.partitions = t["partitions"];
    if (t.contains("configs"))
      for (auto& [k, v] : t["configs"].items()) s.configs[k] = v.get<std::string>();
    out.push_back(std::move(s));
  }
  return out;
}

namespace {

// Runs one admin request and returns its result event (caller destroys).
rd_kafka_event_t* wait_admin(rd_kafka_queue_t* q, rd_kafka_event_type_t type, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 500);
    if (!ev) continue;
    if (rd_kafka_event_type(ev) == type) return ev;
    rd_kafka_event_destroy(ev);
  }
  return nullptr;
}

}  // namespace

Status ensure_topics(const KafkaOptions& opts, const std::vector<TopicSpec>& specs,
                     int replication_factor, std::vector<std::string>& report) {
  auto client = make_client(RD_KAFKA_PRODUCER, opts, {});
  if (!client.ok()) return client.error();
  rd_kafka_t* rk = client->get();
  char errstr[512];
  bool differs = false;
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);

  // 1. Create what is missing (an existing topic answers TOPIC_ALREADY_EXISTS).
  std::vector<rd_kafka_NewTopic_t*> news;
  for (auto& s : specs) {
    auto* nt = rd_kafka_NewTopic_new((opts.topic_prefix + s.name).c_str(), s.partitions,
                                     replication_factor, errstr, sizeof errstr);
    if (!nt) {
      for (auto* n : news) rd_kafka_NewTopic_destroy(n);
      rd_kafka_queue_destroy(q);
      return Error{ErrorCode::invalid, s.name, errstr};
    }
    for (auto& [k, v] : s.configs) rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
    news.push_back(nt);
  }
  rd_kafka_CreateTopics(rk, news.data(), news.size(), nullptr, q);
  for (auto* n : news) rd_kafka_NewTopic_destroy(n);
  rd_kafka_event_t* ev = wait_admin(q, RD_KAFKA_EVENT_CREATETOPICS_RESULT, 30000);
  if (!ev) {
    rd_kafka_queue_destroy(q);
    return unavailable("timed out creating topics on " + opts.brokers);
  }
  std::map<std::string, std::string> created;
  if (rd_kafka_event_error(ev)) {
    std::string msg = rd_kafka_event_error_string(ev);
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    return unavailable("creating topics failed: " + msg);
  }
  size_t cnt = 0;
  const rd_kafka_topic_result_t** res =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
  for (size_t i = 0; i < cnt; ++i) {
    auto err = rd_kafka_topic_result_error(res[i]);
    std::string name = rd_kafka_topic_result_name(res[i]);
    if (!err)
      created[name] = "created";
    else if (err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      created[name] = std::string("error: ") + (rd_kafka_topic_result_error_string(res[i])
                                                    ? rd_kafka_topic_result_error_string(res[i])
                                                    : rd_kafka_err2str(err));
      differs = true;
    }
  }
  rd_kafka_event_destroy(ev);

  // 2. Compare partitions and configs of each topic with its declaration.
  for (auto& s : specs) {
    std::string name = opts.topic_prefix + s.name;
    if (created.count(name)) {
      report.push_back(name + ": " + created[name]);
      continue;
    }
    std::vector<std::string> diffs;
    auto parts = partition_count(rk, name);
    if (!parts.ok())
      diffs.push_back(parts.error().message);
    else if (*parts != s.partitions)
      diffs.push_back("partitions " + std::to_string(*parts) + " (declared " +
                      std::to_string(s.partitions) + ")");
    rd_kafka_ConfigResource_t* cr =
        rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name.c_str());
    rd_kafka_DescribeConfigs(rk, &cr, 1, nullptr, q);
    rd_kafka_event_t* dev = wait_admin(q, RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT, 30000);
    rd_kafka_ConfigResource_destroy(cr);
    if (!dev) {
      diffs.push_back("timed out describing configs");
    } else {
      size_t rc = 0;
      const rd_kafka_ConfigResource_t** rs = rd_kafka_DescribeConfigs_result_resources(
          rd_kafka_event_DescribeConfigs_result(dev), &rc);
      std::map<std::string, std::string> actual;
      for (size_t i = 0; i < rc; ++i) {
        size_t ec = 0;
        const rd_kafka_ConfigEntry_t** es = rd_kafka_ConfigResource_configs(rs[i], &ec);
        for (size_t k = 0; k < ec; ++k) {
          const char* v = rd_kafka_ConfigEntry_value(es[k]);
          actual[rd_kafka_ConfigEntry_name(es[k])] = v ? v : "";
        }
      }
      for (auto& [k, v] : s.configs)
        if (actual[k] != v) diffs.push_back(k + "=" + actual[k] + " (declared " + v + ")");
      rd_kafka_event_destroy(dev);
    }
    if (diffs.empty()) {
      report.push_back(name + ": ok");
    } else {
      differs = true;
      std::string line = name + ": DIFFERS:";
      for (auto& d : diffs) line += " " + d + ";";
      report.push_back(line);
    }
  }
  rd_kafka_queue_destroy(q);
  if (differs) return Error{ErrorCode::conflict, "", "some topics differ from topics/topics.json"};
  return {};
}

std::string default_topics_file() {
  if (const char* p = std::getenv("GOALSTREAM_TOPICS_FILE")) return p;
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  for (fs::path dir = exe.parent_path(); !dir.empty() && dir != dir.root_path();
       dir = dir.parent_path())
    if (fs::exists(dir / "topics" / "topics.json"))
      return (dir / "topics" / "topics.json").string();
  if (fs::exists("topics/topics.json")) return "topics/topics.json";
  return "/usr/local/share/goalstream/topics.json";
}

}  // namespace gs::stream
