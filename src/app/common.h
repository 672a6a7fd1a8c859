// What several `goalstream` commands share: the Kafka and pacing options
// (each bound to its own Common per command, see main.cpp) and the topic
// check that serve, keys create and topics ensure run.
#pragma once

#include <cstdint>
#include <optional>
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
  std::string dedup_horizon = "7d";  // --dedup-horizon, checked by add_dedup_horizon
};

// --brokers, --topic-prefix.
void add_common(CLI::App* cmd, Common& c);
// --at-risk-from.
void add_thresholds(CLI::App* cmd, Common& c);
// --topics-file, --replication-factor.
void add_topics_file(CLI::App* cmd, Common& c);

// --dedup-horizon: whole hours or days ("36h", "7d").
void add_dedup_horizon(CLI::App* cmd, Common& c);
// The hours of a --dedup-horizon value (1h to 100 years); nullopt when it is
// not one.
std::optional<int32_t> horizon_hours(const std::string& text);

// Creates missing topics; prints the report. Returns false on Kafka failure
// (differences are reported but not fatal unless `strict`), after printing
// the error.
bool ensure_topics(const Common& c, bool strict, bool quiet);

}  // namespace gs::app
