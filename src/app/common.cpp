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
