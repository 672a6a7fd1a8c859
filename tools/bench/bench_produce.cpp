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
// With --call-outcomes PCT (and --agent-goals FILE, lines "tenant goal_id"),
// PCT % of the fresh events are call_outcome events for the agent goals of
// the event's tenant: 1-3 goal_results, random verdicts in both forms
// ("verdict" or "achieved"), channel web/phone/sms or none; about 2 % of the
// results name a goal id that does not exist (they must not count). Their
// content comes from a random stream of their own, so PCT 0 (the default)
// produces exactly the events it always did for a seed.
//
// Prints progress to stderr and one machine-readable line to stdout:
//   RESULT produced=N duplicates=D bytes=B seconds=S rate=R
// with PCT > 0 followed by what the call outcomes hold, first occurrences
// only (a re-sent duplicate is not counted again), results for existing
// goals only: calls=.. results=.. success=.. failure=.. unknown=..
// not_applicable=.. unknown_goal=.. ch_web=.. ch_phone=.. ch_sms=.. ch_none=..
// ts_min_ms=.. ts_max_ms=.. (the call events' timestamps).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
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
  uint32_t call_percent = 0;
  std::string agent_goals_file;
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
  app.add_option("--call-outcomes", o.call_percent,
                 "Fresh events that are call_outcome events for agent goals, in % (needs "
                 "--agent-goals; 0: none, the events are exactly those of earlier versions)")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  app.add_option("--agent-goals", o.agent_goals_file,
                 "File of the agent goals call outcomes report on, one 'tenant goal_id' a line "
                 "(tenant t01..tNN)");
  app.add_option("--brokers", o.brokers, "Kafka bootstrap servers")->capture_default_str();
  app.add_option("--timeout", o.timeout_s, "Give up after this many seconds")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
    if (o.call_percent > 0 && o.agent_goals_file.empty())
      throw CLI::ValidationError("--call-outcomes", "needs --agent-goals FILE");
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

// Call outcomes: verdicts in the order of the RESULT line, and channels
// (nullptr: the event has no channel_id).
enum Verdict { kSuccess, kFailure, kUnknown, kNotApplicable, kVerdicts };
const char* kVerdictNames[] = {"success", "failure", "unknown", "not_applicable"};
const char* kChannels[] = {"web", "phone", "sms", nullptr};
constexpr size_t kChannelCount = sizeof kChannels / sizeof kChannels[0];

// Agent goal ids by tenant number (index 0 unused), from --agent-goals.
using AgentGoals = std::vector<std::vector<std::string>>;

// Reads "tenant goal_id" lines; tenants are tNN with 1 <= NN <= tenants.
bool read_agent_goals(const std::string& path, int tenants, AgentGoals& out) {
  out.assign(static_cast<size_t>(tenants) + 1, {});
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "bench_produce: cannot read %s\n", path.c_str());
    return false;
  }
  std::string line, tenant, goal;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    std::istringstream fields(line);
    if (!(fields >> tenant)) continue;  // blank line
    int t = 0;
    if (!(fields >> goal) || tenant.size() < 2 || tenant[0] != 't' ||
        std::sscanf(tenant.c_str() + 1, "%d", &t) != 1 || t < 1 || t > tenants) {
      std::fprintf(stderr, "bench_produce: %s:%d: not 'tNN goal_id' with a tenant t01..t%02d\n",
                   path.c_str(), n, tenants);
      return false;
    }
    out[static_cast<size_t>(t)].push_back(goal);
  }
  return true;
}

// What the call outcomes produced hold (first occurrences only).
struct CallCounts {
  uint64_t calls = 0;
  uint64_t results = 0;  // for existing goals
  uint64_t verdicts[kVerdicts] = {};
  uint64_t channels[kChannelCount] = {};  // results for existing goals, by channel
  uint64_t unknown_goal = 0;              // results naming a goal that does not exist
  int64_t ts_min_ms = INT64_MAX, ts_max_ms = INT64_MIN;
};

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

  // Call outcomes: a random stream of their own, so that PCT 0 draws
  // nothing more from `rng` and produces the events of earlier versions.
  // Every tenant has at least one agent goal when PCT > 0 (main checks).
  Rng call_rng;
  uint32_t call_percent = 0;
  const AgentGoals* agent_goals = nullptr;
  CallCounts calls;

  Generator(uint64_t seed, int t, uint32_t dup)
      : rng(seed),
        tenants(t),
        dup_percent(dup),
        recent(4096),
        call_rng(seed ^ 0xCA11CA11CA11CA11ULL) {}

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

  // A call_outcome event of a random tenant for 1-3 of its agent goals.
  void call_outcome(uint64_t n) {
    Rng& r = call_rng;
    int tenant = 1 + static_cast<int>(r.below(static_cast<uint32_t>(tenants)));
    const auto& goals = (*agent_goals)[static_cast<size_t>(tenant)];
    int64_t ts = base_ms + static_cast<int64_t>(n) * 300 + r.below(60000);
    uint32_t agent = r.below(8);
    uint64_t call_id = r.next();
    size_t channel_index = r.below(kChannelCount);
    const char* channel = kChannels[channel_index];

    char buf[256];
    std::snprintf(buf, sizeof buf, "t%02d/agent_%02u", tenant, agent);
    key = buf;
    payload.clear();
    std::snprintf(buf, sizeof buf,
                  "{\"event_id\":\"ev%016" PRIx64
                  "\",\"tenant_id\":\"t%02d\",\"type\":\"call_outcome\",\"timestamp\":\"",
                  r.next(), tenant);
    payload += buf;
    append_rfc3339(payload, ts);
    std::snprintf(buf, sizeof buf,
                  "\",\"agent_id\":\"agent_%02u\",\"call_id\":\"call_%016" PRIx64 "\"", agent,
                  call_id);
    payload += buf;
    if (channel) {
      payload += ",\"channel_id\":\"";
      payload += channel;
      payload += '"';
    }
    std::snprintf(buf, sizeof buf, ",\"duration_s\":%u,\"goal_results\":[", 20 + r.below(900));
    payload += buf;
    // 1-3 distinct goals: consecutive ones from a random start.
    size_t k = 1 + r.below(3);
    if (k > goals.size()) k = goals.size();
    size_t start = r.below(static_cast<uint32_t>(goals.size()));
    for (size_t i = 0; i < k; ++i) {
      if (i) payload += ',';
      payload += "{\"goal_id\":\"";
      bool unknown_goal = r.chance(2);
      if (unknown_goal) {
        // Not a goal of any tenant: its own prefix of hex digits.
        std::snprintf(buf, sizeof buf, "goal_0000%012" PRIx64, r.next() & uint64_t{0xFFFFFFFFFFFF});
        payload += buf;
      } else {
        payload += goals[(start + i) % goals.size()];
      }
      uint32_t v = r.below(100);
      Verdict verdict = v < 45 ? kSuccess : v < 75 ? kFailure : v < 90 ? kUnknown : kNotApplicable;
      if (verdict <= kFailure && r.chance(50))
        payload += verdict == kSuccess ? "\",\"achieved\":true}" : "\",\"achieved\":false}";
      else {
        payload += "\",\"verdict\":\"";
        payload += kVerdictNames[verdict];
        payload += "\"}";
      }
      if (unknown_goal) {
        ++calls.unknown_goal;
      } else {
        ++calls.results;
        ++calls.verdicts[verdict];
        ++calls.channels[channel_index];
      }
    }
    payload += "]}";
    ++calls.calls;
    calls.ts_min_ms = std::min(calls.ts_min_ms, ts);
    calls.ts_max_ms = std::max(calls.ts_max_ms, ts);
  }

  void fresh() {
    uint64_t n = seq++;
    if (call_percent > 0 && call_rng.chance(call_percent)) {
      call_outcome(n);
      recent[recent_next] = {key, payload};
      recent_next = (recent_next + 1) % recent.size();
      return;
    }
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

  AgentGoals agent_goals;
  Generator gen(o.seed, o.tenants, o.dup_percent);
  if (o.call_percent > 0) {
    if (!read_agent_goals(o.agent_goals_file, o.tenants, agent_goals)) return 1;
    for (int t = 1; t <= o.tenants; ++t)
      if (agent_goals[static_cast<size_t>(t)].empty()) {
        std::fprintf(stderr, "bench_produce: %s lists no agent goal of tenant t%02d\n",
                     o.agent_goals_file.c_str(), t);
        return 1;
      }
    gen.call_percent = o.call_percent;
    gen.agent_goals = &agent_goals;
  }
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
              " seconds=%.3f rate=%.0f",
              o.events, gen.duplicates, bytes, secs, rate);
  if (o.call_percent > 0) {
    const CallCounts& c = gen.calls;
    std::fprintf(stderr,
                 "call outcomes: %" PRIu64 " calls, %" PRIu64 " results for agent goals (%" PRIu64
                 " success, %" PRIu64 " failure, %" PRIu64 " unknown, %" PRIu64
                 " not_applicable), %" PRIu64 " naming unknown goals\n",
                 c.calls, c.results, c.verdicts[kSuccess], c.verdicts[kFailure],
                 c.verdicts[kUnknown], c.verdicts[kNotApplicable], c.unknown_goal);
    std::printf(" calls=%" PRIu64 " results=%" PRIu64, c.calls, c.results);
    for (size_t v = 0; v < kVerdicts; ++v)
      std::printf(" %s=%" PRIu64, kVerdictNames[v], c.verdicts[v]);
    std::printf(" unknown_goal=%" PRIu64, c.unknown_goal);
    for (size_t i = 0; i < kChannelCount; ++i)
      std::printf(" ch_%s=%" PRIu64, kChannels[i] ? kChannels[i] : "none", c.channels[i]);
    if (c.calls) std::printf(" ts_min_ms=%" PRId64 " ts_max_ms=%" PRId64, c.ts_min_ms, c.ts_max_ms);
  }
  std::printf("\n");
  return 0;
}
