// What several `goalstream` commands share: the Kafka and pacing options
// (each bound to its own Common per command, see main.cpp) and the topic
// check that serve, keys create and topics ensure run.
#pragma once

#include <string>

#include "kernel/kafka.h"
#include "modules/growth/pacing.h"

namespace CLI {
class App;
}

namespace gs::app {

struct Common {
  kernel::KafkaOptions kafka;
  growth::PacingThresholds thresholds;
  std::string topics_file;
  int replication_factor = 1;
};

// --brokers, --topic-prefix.
void add_common(CLI::App* cmd, Common& c);
// --at-risk-from.
void add_thresholds(CLI::App* cmd, Common& c);
// --topics-file, --replication-factor.
void add_topics_file(CLI::App* cmd, Common& c);

// Creates missing topics; prints the report. Returns false on Kafka failure
// (differences are reported but not fatal unless `strict`), after printing
// the error.
bool ensure_topics(const Common& c, bool strict, bool quiet);

}  // namespace gs::app
