#include "common.h"

#include <cstdio>
#include <vector>

#include <CLI/CLI.hpp>

#include "base/log.h"
#include "fail.h"

namespace gs::app {

void add_common(CLI::App* cmd, Common& c) {
  cmd->add_option("--brokers", c.kafka.brokers, "Kafka bootstrap servers")
      ->envname("GOALSTREAM_BROKERS")
      ->capture_default_str();
  cmd->add_option("--topic-prefix", c.kafka.topic_prefix,
                  "Prefix of every topic name (isolates deployments and tests on one broker)")
      ->envname("GOALSTREAM_TOPIC_PREFIX")
      ->capture_default_str();
}

void add_thresholds(CLI::App* cmd, Common& c) {
  cmd->add_option("--at-risk-from", c.thresholds.at_risk_from,
                  "Pacing: a goal below its linear expectation is at_risk from this fraction of "
                  "it, behind below")
      ->envname("GOALSTREAM_AT_RISK_FROM")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
}

void add_topics_file(CLI::App* cmd, Common& c) {
  cmd->add_option("--topics-file", c.topics_file,
                  "Topic declarations (default: topics/topics.json of this install)")
      ->envname("GOALSTREAM_TOPICS_FILE");
  cmd->add_option("--replication-factor", c.replication_factor,
                  "Replication factor for topics created")
      ->envname("GOALSTREAM_REPLICATION_FACTOR")
      ->capture_default_str();
}

std::optional<int32_t> horizon_hours(const std::string& text) {
  if (text.size() < 2 || text.size() > 8 || (text.back() != 'h' && text.back() != 'd'))
    return std::nullopt;
  int64_t n = 0;
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    n = n * 10 + (text[i] - '0');
  }
  if (text.back() == 'd') n *= 24;
  if (n < 1 || n > 100LL * 366 * 24) return std::nullopt;
  return static_cast<int32_t>(n);
}

void add_dedup_horizon(CLI::App* cmd, Common& c) {
  cmd->add_option("--dedup-horizon", c.dedup_horizon,
                  "How far the newest event time of a partition may move after an event's "
                  "first copy while a repeat of its event_id is still a duplicate (whole hours "
                  "or days: 36h, 7d); memory for dedup is bounded by the events within it. A "
                  "store keeps the horizon it was built with")
      ->envname("GOALSTREAM_DEDUP_HORIZON")
      ->check(
          [](const std::string& v) -> std::string {
            return horizon_hours(v) ? ""
                                    : "'" + v +
                                          "' is not a horizon: whole hours or days from 1h "
                                          "to 100 years, like 36h or 7d";
          },
          "")
      ->type_name("DURATION")
      ->capture_default_str();
}

bool ensure_topics(const Common& c, bool strict, bool quiet) {
  auto specs = kernel::load_topic_specs(c.topics_file.empty() ? kernel::default_topics_file()
                                                              : c.topics_file);
  if (!specs.ok()) {
    fail(specs.error());
    return false;
  }
  std::vector<std::string> report;
  auto st = kernel::ensure_topics(c.kafka, *specs, c.replication_factor, report);
  for (auto& line : report)
    if (!quiet || line.find(": ok") == std::string::npos)
      std::fprintf(stderr, "topic %s\n", line.c_str());
  if (!st.ok()) {
    if (st.error().code == ErrorCode::conflict && !strict) {
      log::warn(st.error().message);
      return true;
    }
    fail(st.error());
    return false;
  }
  return true;
}

}  // namespace gs::app
