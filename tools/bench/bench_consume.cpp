// bench_consume: the raw-consume baseline of the ingest benchmark
// (tools/bench/ingest, docs/benchmarks.md). A bare librdkafka consumer that
// assigns every partition of a topic from the beginning (no group
// subscription, no offset commits), reads until it has seen N messages and
// touches each payload (sums lengths and bytes), so it measures what Kafka and
// librdkafka alone cost on this machine: fetch, lz4 decompression, message
// handling.
//
// It uses the same fetch settings as the goalstream processor's consumer
// (src/stream/processor.cpp: fetch.wait.max.ms=100, queued.min.messages=200000)
// so that the comparison isolates goalstream's own work.
//
// Prints progress to stderr and one machine-readable line to stdout:
//   RESULT consumed=N bytes=B seconds=S rate=R total_seconds=T cpu_seconds=C
// `seconds`/`rate` count from the first message received to the Nth
// (connection and metadata set-up excluded); `total_seconds` from start.
//
// Also a tiny admin tool for the benchmark's clean-up:
//   bench_consume --delete-prefix PREFIX   deletes every topic whose name starts
//   with PREFIX and the consumer groups goalstream uses under it.
//   bench_consume --truncate TOPIC   deletes every record of TOPIC (Kafka's
//   DeleteRecords up to each partition's end), e.g. the deltas topic between
//   benchmark rounds, so that a serve on a fresh data dir ingests the events
//   instead of restoring from it.
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <librdkafka/rdkafka.h>
#include <sys/resource.h>
#include <CLI/CLI.hpp>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string brokers = "127.0.0.1:9092";
  std::string topic;
  uint64_t events = 0;
  int timeout_s = 300;
  std::string delete_prefix;
  std::string truncate;
  std::vector<std::pair<std::string, std::string>> extra;
};

Options parse_args(int argc, char** argv) {
  Options o;
  CLI::App app{
      "bench_consume: reads TOPIC from the beginning (all partitions assigned, no group, no "
      "commits)\n"
      "until N messages were read, touching each payload; prints progress on stderr and\n"
      "'RESULT consumed=.. bytes=.. seconds=.. rate=.. total_seconds=.. cpu_seconds=..' on stdout\n"
      "(seconds and rate from the first message received). Exits 1 on timeout.\n"
      "--delete-prefix deletes every topic named PREFIX* and the consumer groups\n"
      "PREFIXprocessor, PREFIXprocessor-private and PREFIXbackfill."};
  std::vector<std::string> sets;
  app.add_option("--topic", o.topic, "Topic to read");
  app.add_option("--events", o.events, "Messages to read");
  app.add_option("--brokers", o.brokers, "Kafka bootstrap servers")->capture_default_str();
  app.add_option("--timeout", o.timeout_s, "Give up after this many seconds")
      ->capture_default_str();
  app.add_option("--set", sets, "Extra librdkafka setting key=value (repeatable)");
  app.add_option("--delete-prefix", o.delete_prefix,
                 "Delete the topics and groups under PREFIX instead");
  app.add_option("--truncate", o.truncate,
                 "Delete every record of this topic instead (DeleteRecords to the end; a missing "
                 "topic is not an error)");
  try {
    app.parse(argc, argv);
    if (o.delete_prefix.empty() && o.truncate.empty() && (o.topic.empty() || o.events == 0))
      throw CLI::ValidationError("--topic and --events are required");
    for (auto& kv : sets) {
      auto eq = kv.find('=');
      if (eq == std::string::npos)
        throw CLI::ValidationError("--set", "expects key=value, got " + kv);
      o.extra.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    }
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  }
  return o;
}

rd_kafka_t* make(rd_kafka_type_t type, const Options& o,
                 const std::vector<std::pair<std::string, std::string>>& settings) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::vector<std::pair<std::string, std::string>> all = {{"bootstrap.servers", o.brokers},
                                                          {"log_level", "3"}};
  all.insert(all.end(), settings.begin(), settings.end());
  all.insert(all.end(), o.extra.begin(), o.extra.end());
  for (auto& [k, v] : all)
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      std::fprintf(stderr, "bench_consume: %s=%s: %s\n", k.c_str(), v.c_str(), err);
      std::exit(1);
    }
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (!rk) {
    std::fprintf(stderr, "bench_consume: %s\n", err);
    std::exit(1);
  }
  return rk;
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

rd_kafka_event_t* wait_event(rd_kafka_queue_t* q, rd_kafka_event_type_t type, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline) {
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 500);
    if (!ev) continue;
    if (rd_kafka_event_type(ev) == type) return ev;
    rd_kafka_event_destroy(ev);
  }
  return nullptr;
}

int truncate_topic(const Options& o) {
  rd_kafka_t* rk = make(RD_KAFKA_PRODUCER, o, {{"client.id", "goalstream-bench-admin"}});
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk, o.truncate.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  auto e = rd_kafka_metadata(rk, 0, t, &md, 10000);
  int parts = e == 0 && md->topic_cnt == 1 && !md->topics[0].err ? md->topics[0].partition_cnt : 0;
  if (md) rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(t);
  int rc = 0;
  if (parts > 0) {
    rd_kafka_topic_partition_list_t* l = rd_kafka_topic_partition_list_new(parts);
    for (int p = 0; p < parts; ++p) {
      int64_t lo = 0, hi = 0;
      rd_kafka_query_watermark_offsets(rk, o.truncate.c_str(), p, &lo, &hi, 10000);
      rd_kafka_topic_partition_list_add(l, o.truncate.c_str(), p)->offset = hi;
    }
    rd_kafka_DeleteRecords_t* del = rd_kafka_DeleteRecords_new(l);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
    rd_kafka_DeleteRecords(rk, &del, 1, nullptr, q);
    rd_kafka_DeleteRecords_destroy(del);
    rd_kafka_event_t* ev = wait_event(q, RD_KAFKA_EVENT_DELETERECORDS_RESULT, 30000);
    if (!ev || rd_kafka_event_error(ev)) {
      std::fprintf(stderr, "bench_consume: cannot truncate %s: %s\n", o.truncate.c_str(),
                   ev ? rd_kafka_event_error_string(ev) : "timed out");
      rc = 1;
    } else {
      std::fprintf(stderr, "truncated %s (%d partitions)\n", o.truncate.c_str(), parts);
    }
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
  }
  rd_kafka_destroy(rk);
  return rc;
}

int delete_prefix(const Options& o) {
  rd_kafka_t* rk = make(RD_KAFKA_PRODUCER, o, {{"client.id", "goalstream-bench-admin"}});
  const rd_kafka_metadata_t* md = nullptr;
  if (auto e = rd_kafka_metadata(rk, 1, nullptr, &md, 10000)) {
    std::fprintf(stderr, "bench_consume: metadata: %s\n", rd_kafka_err2str(e));
    rd_kafka_destroy(rk);
    return 1;
  }
  std::vector<rd_kafka_DeleteTopic_t*> del;
  for (int i = 0; i < md->topic_cnt; ++i)
    if (std::strncmp(md->topics[i].topic, o.delete_prefix.c_str(), o.delete_prefix.size()) == 0)
      del.push_back(rd_kafka_DeleteTopic_new(md->topics[i].topic));
  rd_kafka_metadata_destroy(md);
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  int rc = 0;
  if (!del.empty()) {
    rd_kafka_DeleteTopics(rk, del.data(), del.size(), nullptr, q);
    rd_kafka_DeleteTopic_destroy_array(del.data(), del.size());
    rd_kafka_event_t* ev = wait_event(q, RD_KAFKA_EVENT_DELETETOPICS_RESULT, 30000);
    if (!ev) {
      std::fprintf(stderr, "bench_consume: timed out deleting topics\n");
      rc = 1;
    } else {
      size_t n = 0;
      auto** res = rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
      for (size_t i = 0; i < n; ++i) {
        auto e = rd_kafka_topic_result_error(res[i]);
        std::fprintf(stderr, "deleted topic %s%s%s\n", rd_kafka_topic_result_name(res[i]),
                     e ? ": " : "", e ? rd_kafka_err2str(e) : "");
        if (e) rc = 1;
      }
      rd_kafka_event_destroy(ev);
    }
  } else {
    std::fprintf(stderr, "no topic starts with %s\n", o.delete_prefix.c_str());
  }
  // Consumer groups goalstream creates under the prefix (absent ones are fine).
  std::vector<std::string> names = {o.delete_prefix + "replay", o.delete_prefix + "processor",
                                    o.delete_prefix + "processor-private",
                                    o.delete_prefix + "backfill"};
  std::vector<rd_kafka_DeleteGroup_t*> groups;
  for (auto& g : names) groups.push_back(rd_kafka_DeleteGroup_new(g.c_str()));
  rd_kafka_DeleteGroups(rk, groups.data(), groups.size(), nullptr, q);
  rd_kafka_DeleteGroup_destroy_array(groups.data(), groups.size());
  if (rd_kafka_event_t* ev = wait_event(q, RD_KAFKA_EVENT_DELETEGROUPS_RESULT, 30000)) {
    size_t n = 0;
    auto** res = rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev), &n);
    for (size_t i = 0; i < n; ++i) {
      const rd_kafka_error_t* e = rd_kafka_group_result_error(res[i]);
      if (!e) std::fprintf(stderr, "deleted group %s\n", rd_kafka_group_result_name(res[i]));
    }
    rd_kafka_event_destroy(ev);
  }
  rd_kafka_queue_destroy(q);
  rd_kafka_destroy(rk);
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse_args(argc, argv);
  if (!o.delete_prefix.empty()) return delete_prefix(o);
  if (!o.truncate.empty()) return truncate_topic(o);

  auto start = Clock::now();
  auto deadline = start + std::chrono::seconds(o.timeout_s);
  rd_kafka_t* rk =
      make(RD_KAFKA_CONSUMER, o,
           {{"client.id", "goalstream-bench-consume"},
            {"group.id", "goalstream-bench-consume-unused"},  // never joined: assign() only
            {"enable.auto.commit", "false"},
            {"enable.auto.offset.store", "false"},
            {"enable.partition.eof", "false"},
            {"fetch.wait.max.ms", "100"},
            {"queued.min.messages", "200000"}});
  rd_kafka_poll_set_consumer(rk);

  rd_kafka_topic_t* t = rd_kafka_topic_new(rk, o.topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  auto merr = rd_kafka_metadata(rk, 0, t, &md, 10000);
  rd_kafka_topic_destroy(t);
  if (merr || md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt == 0) {
    std::fprintf(stderr, "bench_consume: topic %s not found: %s\n", o.topic.c_str(),
                 merr                 ? rd_kafka_err2str(merr)
                 : md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err)
                                      : "?");
    return 1;
  }
  int parts = md->topics[0].partition_cnt;
  rd_kafka_metadata_destroy(md);
  rd_kafka_topic_partition_list_t* l = rd_kafka_topic_partition_list_new(parts);
  for (int p = 0; p < parts; ++p)
    rd_kafka_topic_partition_list_add(l, o.topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  if (auto e = rd_kafka_assign(rk, l)) {
    std::fprintf(stderr, "bench_consume: assign: %s\n", rd_kafka_err2str(e));
    return 1;
  }
  rd_kafka_topic_partition_list_destroy(l);

  uint64_t n = 0, bytes = 0, touch = 0;
  Clock::time_point first{};
  auto last_report = start;
  while (n < o.events) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    auto now = Clock::now();
    if (m) {
      if (!m->err) {
        if (n == 0) first = now;
        ++n;
        bytes += m->len;
        // Touch the payload: a cheap pass over every byte.
        const auto* p = static_cast<const unsigned char*>(m->payload);
        uint64_t s = 0;
        for (size_t i = 0; i < m->len; ++i) s += p[i];
        touch += s;
      } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        std::fprintf(stderr, "bench_consume: %s\n", rd_kafka_message_errstr(m));
      }
      rd_kafka_message_destroy(m);
    }
    if ((n & 4095) == 0 || !m) {
      if (now > deadline) {
        std::fprintf(stderr,
                     "bench_consume: timed out after %d s with %" PRIu64 "/%" PRIu64 " messages\n",
                     o.timeout_s, n, o.events);
        rd_kafka_destroy(rk);
        return 1;
      }
      if (now - last_report > std::chrono::seconds(2)) {
        double s = n ? std::chrono::duration<double>(now - first).count() : 0;
        std::fprintf(stderr, "  consumed %" PRIu64 "/%" PRIu64 " (%.0f%%) %.0f msg/s\n", n,
                     o.events, 100.0 * n / o.events, s > 0 ? n / s : 0.0);
        last_report = now;
      }
    }
  }
  auto end = Clock::now();
  double secs = std::chrono::duration<double>(end - first).count();
  double total = std::chrono::duration<double>(end - start).count();
  double cpu = cpu_seconds();
  rd_kafka_destroy(rk);
  double rate = secs > 0 ? n / secs : 0;
  std::fprintf(stderr,
               "consumed %" PRIu64 " messages (%.1f MB, checksum %" PRIu64
               ") in %.2f s from the first message "
               "(%.2f s total): %.0f msg/s, %.1f CPU s\n",
               n, bytes / 1e6, touch, secs, total, rate, cpu);
  std::printf("RESULT consumed=%" PRIu64 " bytes=%" PRIu64
              " seconds=%.3f rate=%.0f total_seconds=%.3f cpu_seconds=%.2f\n",
              n, bytes, secs, rate, total, cpu);
  return 0;
}
