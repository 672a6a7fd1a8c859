// Runs after the other integration tests (ctest DEPENDS): every topic prefix
// they used (GOALSTREAM_TEST_TMP/prefixes.log, written by the harness) has no
// topic and no consumer group left on the broker. Prefixes on another broker
// than GOALSTREAM_BROKERS (tests that run their own) are not checked here.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "harness.h"

TEST_CASE("integration tests leave no topics or consumer groups behind") {
  auto log = std::filesystem::path(GOALSTREAM_TEST_TMP) / "prefixes.log";
  std::ifstream in(log);
  std::string line;
  int checked = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string broker_list, prefix;
    fields >> broker_list >> prefix;
    if (prefix.empty() || broker_list != it::brokers()) continue;
    INFO("prefix " << prefix);
    CHECK(it::list_topics(prefix).empty());
    CHECK(it::list_groups(prefix).empty());
    ++checked;
  }
  MESSAGE(checked << " prefixes checked");
  in.close();
  std::filesystem::remove(log);
}
