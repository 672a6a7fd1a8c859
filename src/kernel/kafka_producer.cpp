// The producer: delivery reports to one waiter (produce_wait) or to a group
// (produce_async), and a new client after a fatal error.
#include "kernel/kafka.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "base/log.h"

namespace gs::kernel {
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
// Members are destroyed in reverse order: the destructor joins the poller
// thread, then `rk` (declared first) is destroyed after it.
struct Client {
  KafkaHandle rk;  // first: outlives the thread that polls it
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
  KafkaHeaders hdrs;
  if (!headers.empty()) {
    hdrs.reset(rd_kafka_headers_new(headers.size()));
    for (auto& [k, v] : headers)
      rd_kafka_header_add(hdrs.get(), k.data(), k.size(), v.data(), v.size());
  }
  rd_kafka_resp_err_t err = rd_kafka_producev(
      rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
      RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
      RD_KAFKA_V_HEADERS(hdrs.get()), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
  if (!err) (void)hdrs.release();  // the queued message owns them now
  return err;
}

Delivery Producer::produce_wait(const std::string& topic, std::string_view key,
                                std::string_view value, const Headers& headers) {
  auto client = impl_->current();
  auto w = std::make_shared<Waiter>();
  auto p = std::make_unique<Pending>(Pending{&impl_->failed, w, nullptr});
  auto err = produce(client->rk.get(), topic, key, value, headers, p.get());
  if (err) {
    Delivery d;
    d.err = err;
    d.error = describe(err);  // refused before it was queued: not written
    return d;
  }
  (void)p.release();  // the delivery report deletes it
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
  auto p = std::make_unique<Pending>(Pending{&impl_->failed, nullptr, group});
  if (group) group->add();
  auto err = produce(client->rk.get(), topic, key, value, headers, p.get());
  if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
    rd_kafka_flush(client->rk.get(), 1000);
    err = produce(client->rk.get(), topic, key, value, headers, p.get());
  }
  if (!err) {
    (void)p.release();  // the delivery report deletes it
    return {};
  }
  p.reset();
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

}  // namespace gs::kernel
