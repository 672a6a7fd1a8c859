// bench_produce: writes N synthetic activity events to a Kafka topic as fast
// as librdkafka allows (linger, large batches, lz4), for the ingest benchmark
// (tools/bench/ingest, docs/benchmarks.md).
//
// The events are deterministic for a given --seed: 20 tenants (t01..t20 by
// default), a realistic mix of types (page_view, click, form_submit,
// add_to_cart, purchase, signup, search), URLs and properties, ~300 bytes
// each, keyed "tenant_id/subject_id". About --dup-percent of them re-send an
// earlier event verbatim (same event_id, same key), as at-least-once
// producers do; those count towards N.
//
// Prints progress to stderr and one machine-readable line to stdout:
//   RESULT produced=N duplicates=D bytes=B seconds=S rate=R
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <librdkafka/rdkafka.h>
#include <CLI/CLI.hpp>

#include "base/time.h"

namespace {

using Clock = std::chrono::steady_clock;

// splitmix64: small, fast, deterministic across platforms.
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed) {}
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  uint32_t below(uint32_t n) { return static_cast<uint32_t>(next() % n); }
  bool chance(uint32_t percent) { return below(100) < percent; }
  template <class T, size_t K>
  const T& pick(const T (&a)[K]) {
    return a[below(K)];
  }
};

struct Options {
  std::string brokers = "127.0.0.1:9092";
  std::string topic;
  uint64_t events = 2000000;
  int tenants = 20;
  uint64_t seed = 42;
  uint32_t dup_percent = 1;
  int timeout_s = 300;
};

Options parse_args(int argc, char** argv) {
  Options o;
  CLI::App app{
      "bench_produce: produces N deterministic synthetic events (~300 bytes, keyed "
      "tenant/subject)\n"
      "to TOPIC as fast as possible (linger.ms=50, batch.size=1MB, lz4, acks=1). Prints progress "
      "on\n"
      "stderr and 'RESULT produced=.. duplicates=.. bytes=.. seconds=.. rate=..' on stdout."};
  app.add_option("--topic", o.topic, "Topic to write")->required();
  app.add_option("--events", o.events, "Events to produce")->capture_default_str();
  app.add_option("--tenants", o.tenants, "Tenants t01..tNN")
      ->check(CLI::Range(1, 999))
      ->capture_default_str();
  app.add_option("--seed", o.seed, "Seed of the synthetic events")->capture_default_str();
  app.add_option("--dup-percent", o.dup_percent, "Events re-sent as duplicates, in %")
      ->check(CLI::Range(0, 50))
      ->capture_default_str();
  app.add_option("--brokers", o.brokers, "Kafka bootstrap servers")->capture_default_str();
  app.add_option("--timeout", o.timeout_s, "Give up after this many seconds")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  }
  return o;
}

void append_rfc3339(std::string& out, int64_t ms) { out += gs::time::format_rfc3339(ms); }

// Vocabulary shared with the goals the driver defines (tools/bench/ingest).
const char* kPlans[] = {"free", "free", "starter", "pro", "pro", "enterprise"};
const char* kCurrencies[] = {"USD", "USD", "USD", "EUR", "EUR", "GBP", "JPY"};
const char* kSources[] = {"google", "newsletter", "twitter",   "linkedin",
                          "direct", "partner",    "Google-Ads"};
const char* kCampaigns[] = {"spring-sale", "summer-launch", "brand", "retargeting", "webinar-q2"};
const char* kDevices[] = {"desktop", "mobile", "tablet"};
const char* kReferrers[] = {"https://www.google.com/", "https://news.ycombinator.com/",
                            "https://t.co/x", "https://www.linkedin.com/feed/"};
const char* kBlogSlugs[] = {"launch-week", "pricing-update", "how-we-scale", "customer-story",
                            "release-notes"};
const char* kDocs[] = {"/docs/getting-started", "/docs/api/v2/events", "/docs/api/v2/goals",
                       "/docs/sdk/js", "/docs/faq"};
const char* kForms[] = {"/signup/start", "/signup/complete", "/contact", "/demo/request",
                        "/newsletter/subscribe"};
const char* kQueries[] = {"pricing", "api key", "webhooks", "export csv", "sso"};

struct Generator {
  Rng rng;
  int tenants;
  uint32_t dup_percent;
  uint64_t seq = 0;  // next fresh event number
  uint64_t duplicates = 0;
  int64_t base_ms = 1740787200000LL;  // 2025-03-01T00:00:00Z
  // Ring of recent (key, payload) pairs to re-send as duplicates.
  std::vector<std::pair<std::string, std::string>> recent;
  size_t recent_next = 0;
  std::string key, payload;

  Generator(uint64_t seed, int t, uint32_t dup)
      : rng(seed), tenants(t), dup_percent(dup), recent(4096) {}

  void url_for(const char* type, int tenant, std::string& url, bool& has_query) {
    char host[64];
    std::snprintf(host, sizeof host, "https://t%02d.example.com", tenant);
    url = host;
    has_query = false;
    std::string t = type;
    char buf[96];
    if (t == "page_view" || t == "click") {
      uint32_t r = rng.below(100);
      if (r < 15)
        url += "/";
      else if (r < 30)
        url += "/pricing";
      else if (r < 50) {
        std::snprintf(buf, sizeof buf, "/blog/%u/%s-%u", 2023 + rng.below(3), rng.pick(kBlogSlugs),
                      rng.below(40));
        url += buf;
      } else if (r < 65)
        url += rng.pick(kDocs);
      else if (r < 85) {
        std::snprintf(buf, sizeof buf, "/products/sku-%u", 100 + rng.below(400));
        url += buf;
      } else if (r < 93)
        url += "/features/goals";
      else
        url += "/about";
    } else if (t == "form_submit" || t == "signup") {
      url += t == "signup" ? (rng.chance(70) ? "/signup/complete" : "/signup/start")
                           : rng.pick(kForms);
    } else if (t == "add_to_cart") {
      std::snprintf(buf, sizeof buf, "/products/sku-%u", 100 + rng.below(400));
      url += buf;
    } else if (t == "purchase") {
      url += rng.chance(80) ? "/checkout/complete" : "/checkout/step-2/confirm";
    } else {  // search
      url += "/search";
    }
    if (rng.chance(45)) {
      std::snprintf(buf, sizeof buf, "?utm_source=%s&utm_campaign=%s", rng.pick(kSources),
                    rng.pick(kCampaigns));
      url += buf;
      has_query = true;
    }
  }

  void fresh() {
    uint64_t n = seq++;
    int tenant = 1 + static_cast<int>(rng.below(static_cast<uint32_t>(tenants)));
    uint32_t r = rng.below(100);
    const char* type = r < 50   ? "page_view"
                       : r < 62 ? "click"
                       : r < 72 ? "form_submit"
                       : r < 82 ? "add_to_cart"
                       : r < 90 ? "purchase"
                       : r < 95 ? "signup"
                                : "search";
    uint32_t subject = rng.below(50000);
    // Event time: spread over a week, roughly in order.
    int64_t ts = base_ms + static_cast<int64_t>(n) * 300 + rng.below(60000);
    std::string url;
    bool has_query;
    url_for(type, tenant, url, has_query);

    char buf[256];
    key.clear();
    std::snprintf(buf, sizeof buf, "t%02d/user_%u", tenant, subject);
    key = buf;

    payload.clear();
    std::snprintf(buf, sizeof buf,
                  "{\"event_id\":\"ev%016" PRIx64
                  "\",\"tenant_id\":\"t%02d\",\"type\":\"%s\",\"timestamp\":\"",
                  rng.next(), tenant, type);
    payload += buf;
    append_rfc3339(payload, ts);
    std::snprintf(buf, sizeof buf, "\",\"subject_id\":\"user_%u\",\"url\":\"", subject);
    payload += buf;
    payload += url;
    payload += "\",\"properties\":{";
    std::snprintf(buf, sizeof buf, "\"plan\":\"%s\",\"device\":\"%s\"", rng.pick(kPlans),
                  rng.pick(kDevices));
    payload += buf;
    std::string t = type;
    if (t == "purchase" || t == "add_to_cart") {
      uint32_t cents = 500 + rng.below(t == "purchase" ? 50000 : 20000);
      std::snprintf(buf, sizeof buf, ",\"value\":%u.%02u,\"currency\":\"%s\",\"items\":%u",
                    cents / 100, cents % 100, rng.pick(kCurrencies), 1 + rng.below(5));
      payload += buf;
    } else if (t == "form_submit" || t == "signup") {
      std::snprintf(buf, sizeof buf, ",\"form\":\"%s\",\"value\":%u.0",
                    t == "signup" ? "signup" : "lead", rng.below(3) * 25);
      payload += buf;
    } else if (t == "search") {
      std::snprintf(buf, sizeof buf, ",\"query\":\"%s\",\"results\":%u", rng.pick(kQueries),
                    rng.below(50));
      payload += buf;
    }
    if (has_query || rng.chance(30)) {
      std::snprintf(buf, sizeof buf, ",\"utm_source\":\"%s\",\"campaign\":\"%s\"",
                    rng.pick(kSources), rng.pick(kCampaigns));
      payload += buf;
    }
    if (rng.chance(30)) {
      std::snprintf(buf, sizeof buf, ",\"referrer\":\"%s\"", rng.pick(kReferrers));
      payload += buf;
    }
    if (rng.chance(50)) {
      std::snprintf(buf, sizeof buf, ",\"screen\":{\"w\":%u,\"h\":%u}", 360 + 40 * rng.below(40),
                    640 + 40 * rng.below(20));
      payload += buf;
    }
    std::snprintf(buf, sizeof buf, ",\"sdk\":\"js/2.%u\"}}", rng.below(9));
    payload += buf;
    recent[recent_next] = {key, payload};
    recent_next = (recent_next + 1) % recent.size();
  }

  // Next (key, payload): usually a fresh event, sometimes a re-send.
  void next() {
    if (seq > recent.size() && rng.chance(dup_percent)) {
      auto& [k, p] = recent[rng.below(static_cast<uint32_t>(recent.size()))];
      key = k;
      payload = p;
      ++duplicates;
      return;
    }
    fresh();
  }
};

std::atomic<uint64_t>* g_failed = nullptr;

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  if (m->err) {
    static int shown = 0;
    if (shown++ < 5)
      std::fprintf(stderr, "bench_produce: delivery failed: %s\n", rd_kafka_err2str(m->err));
    (*g_failed)++;
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse_args(argc, argv);
  std::atomic<uint64_t> failed{0};
  g_failed = &failed;

  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  const std::pair<const char*, std::string> settings[] = {
      {"bootstrap.servers", o.brokers},
      {"client.id", "goalstream-bench-produce"},
      {"linger.ms", "50"},
      {"batch.size", "1000000"},
      {"batch.num.messages", "100000"},
      {"compression.type", "lz4"},
      {"acks", "1"},
      {"partitioner", "murmur2_random"},  // as Kafka's Java client
      {"queue.buffering.max.messages", "1000000"},
      {"queue.buffering.max.kbytes", "1048576"},
      {"message.timeout.ms", "120000"},
      {"log_level", "3"},
  };
  for (auto& [k, v] : settings)
    if (rd_kafka_conf_set(conf, k, v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      std::fprintf(stderr, "bench_produce: %s=%s: %s\n", k, v.c_str(), err);
      return 1;
    }
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) {
    std::fprintf(stderr, "bench_produce: %s\n", err);
    return 1;
  }
  rd_kafka_topic_t* topic = rd_kafka_topic_new(rk, o.topic.c_str(), nullptr);

  Generator gen(o.seed, o.tenants, o.dup_percent);
  uint64_t bytes = 0;
  auto t0 = Clock::now();
  auto deadline = t0 + std::chrono::seconds(o.timeout_s);
  auto last_report = t0;
  for (uint64_t i = 0; i < o.events; ++i) {
    gen.next();
    bytes += gen.payload.size();
    while (true) {
      int rc =
          rd_kafka_produce(topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, gen.payload.data(),
                           gen.payload.size(), gen.key.data(), gen.key.size(), nullptr);
      if (rc == 0) break;
      if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        std::fprintf(stderr, "bench_produce: produce failed: %s\n",
                     rd_kafka_err2str(rd_kafka_last_error()));
        return 1;
      }
      rd_kafka_poll(rk, 10);
    }
    if ((i & 1023) == 0) {
      rd_kafka_poll(rk, 0);
      auto now = Clock::now();
      if (now > deadline) {
        std::fprintf(stderr, "bench_produce: timed out after %d s at %" PRIu64 " events\n",
                     o.timeout_s, i);
        return 1;
      }
      if (now - last_report > std::chrono::seconds(2)) {
        double s = std::chrono::duration<double>(now - t0).count();
        std::fprintf(stderr, "  produced %" PRIu64 "/%" PRIu64 " (%.0f%%) %.0f msg/s\n", i,
                     o.events, 100.0 * i / o.events, i / s);
        last_report = now;
      }
    }
  }
  while (rd_kafka_outq_len(rk) > 0) {
    rd_kafka_poll(rk, 100);
    if (Clock::now() > deadline) {
      std::fprintf(stderr, "bench_produce: timed out flushing (%d messages left)\n",
                   rd_kafka_outq_len(rk));
      return 1;
    }
  }
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  rd_kafka_topic_destroy(topic);
  rd_kafka_destroy(rk);
  if (failed) {
    std::fprintf(stderr, "bench_produce: %" PRIu64 " messages failed\n", failed.load());
    return 1;
  }
  double rate = o.events / secs;
  std::fprintf(stderr,
               "produced %" PRIu64 " events (%" PRIu64
               " re-sent duplicates, %.1f MB, avg %.0f bytes) in %.2f s: %.0f msg/s\n",
               o.events, gen.duplicates, bytes / 1e6, o.events ? double(bytes) / o.events : 0.0,
               secs, rate);
  std::printf("RESULT produced=%" PRIu64 " duplicates=%" PRIu64 " bytes=%" PRIu64
              " seconds=%.3f rate=%.0f\n",
              o.events, gen.duplicates, bytes, secs, rate);
  return 0;
}
