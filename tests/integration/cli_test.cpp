// The command line as a user meets it: errors are one line
// `goalstream: <field>: <message>` with exit 1 (never CLI11's own format or
// exit codes), and tools/demo keeps its key and state across restarts.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "harness.h"

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("CLI errors are one line `goalstream: <field>: <message>` and exit 1") {
  struct Case {
    std::vector<std::string> args;
    std::string expected;  // the whole of stderr
  };
  auto missing = it::temp_dir("cli-missing") + "/nothing-here";
  std::vector<Case> cases = {
      {{"foo"},
       "goalstream: foo: unknown command; goalstream has: serve, keys, rebuild, digest, topics "
       "(see goalstream "
       "--help)\n"},
      {{},
       "goalstream: command: goalstream needs one of: serve, keys, rebuild, digest, topics (see "
       "goalstream --help)\n"},
      {{"keys"},
       "goalstream: command: goalstream keys needs one of: create (see goalstream keys --help)\n"},
      {{"keys", "create"},
       "goalstream: --tenant: is required (see goalstream keys create --help)\n"},
      {{"serve", "--bogus"},
       "goalstream: --bogus: unknown option for goalstream serve (see goalstream serve --help)\n"},
      {{"serve", "--http-workers", "abc"},
       "goalstream: --http-workers: 'abc' is not a valid value (see goalstream serve --help)\n"},
      {{"serve", "--http-readers", "0"}, "goalstream: --http-readers: must be at least 1\n"},
      {{"serve", "--dedup-horizon", "7x"},
       "goalstream: --dedup-horizon: '7x' is not a horizon: whole hours or days from 1h to 100 "
       "years, like 36h or 7d (see goalstream serve --help)\n"},
      {{"rebuild", "--data-dir", missing, "--dedup-horizon", "0h"},
       "goalstream: --dedup-horizon: '0h' is not a horizon: whole hours or days from 1h to 100 "
       "years, like 36h or 7d (see goalstream rebuild --help)\n"},
      {{"serve", "--dedup-horizon", "36601d"},
       "goalstream: --dedup-horizon: '36601d' is not a horizon: whole hours or days from 1h to "
       "100 years, like 36h or 7d (see goalstream serve --help)\n"},
      {{"serve", "--listen"},
       "goalstream: --listen: needs a value (see goalstream serve --help)\n"},
      {{"topics", "ensure", "extra"},
       "goalstream: extra: unexpected argument (see goalstream topics ensure --help)\n"},
      // digest accepts --brokers and --topic-prefix like every other command (and does not use
      // them).
      {{"digest", "--brokers", "127.0.0.1:1", "--topic-prefix", "x.", "--data-dir", missing},
       "goalstream: --data-dir: " + missing + " does not exist\n"},
  };
  for (auto& c : cases) {
    std::string shown = "goalstream";
    for (auto& a : c.args) shown += " " + a;
    INFO(shown);
    auto r = it::run_cli(c.args);
    CHECK(r.exit_code == 1);
    CHECK(r.err == c.expected);
    CHECK(r.out.empty());
  }
  // A range check names its option too.
  auto r = it::run_cli({"serve", "--at-risk-from", "2"});
  CHECK(r.exit_code == 1);
  CHECK(std::regex_match(r.err, std::regex("goalstream: --at-risk-from: [^\n]+\n")));

  // Help and version are not errors.
  for (std::vector<std::string> ok :
       {std::vector<std::string>{"--help"}, {"serve", "--help"}, {"--version"}}) {
    auto h = it::run_cli(ok);
    INFO(ok[0]);
    CHECK(h.exit_code == 0);
    CHECK(h.err.empty());
    CHECK(!h.out.empty());
  }
}

TEST_CASE("an option on the command line wins over its environment variable, for every command") {
  // Was: the environment variables of every command's options, also of the
  // commands not given, were applied after the command line into one shared
  // variable, so GOALSTREAM_BROKERS overrode `serve --brokers`.
  const std::string real = it::brokers();
  auto prefix = it::unique_prefix("clienv");
  setenv("GOALSTREAM_BROKERS", "127.0.0.1:1", 1);
  setenv("GOALSTREAM_TOPIC_PREFIX", "wrong.", 1);
  auto ensured =
      it::run_cli_bounded({"topics", "ensure", "--brokers", real, "--topic-prefix", prefix}, 60000);
  auto key = it::run_cli_bounded(
      {"keys", "create", "--brokers", real, "--topic-prefix", prefix, "--tenant", "acme"}, 60000);
  setenv("GOALSTREAM_BROKERS", real.c_str(), 1);
  unsetenv("GOALSTREAM_TOPIC_PREFIX");
  CHECK_MESSAGE(ensured.exit_code == 0, ensured.err);
  CHECK(ensured.err.find("topic " + prefix + "events: created") != std::string::npos);
  CHECK_MESSAGE(key.exit_code == 0, key.err);
  CHECK(key.out.rfind("gs_", 0) == 0);
}

// tools/demo checked whether the broker still knows its saved key with
// `kcat | grep -q` under pipefail: grep stops at the first match, kcat dies
// of SIGPIPE, and the demo took that for "Kafka was reset": it issued a new
// key and wiped its data. With enough commands after the key, that happened
// on nearly every restart.
TEST_CASE("tools/demo keeps its key and data across restarts") {
  const std::string prefix = it::unique_prefix("demo");
  const std::string state = it::temp_dir("demo-state");
  const std::string port = std::to_string(it::free_port());
  setenv("GOALSTREAM_DEMO_PREFIX", prefix.c_str(), 1);
  setenv("GOALSTREAM_DEMO_STATE", state.c_str(), 1);
  auto kafka_port = it::brokers().substr(it::brokers().rfind(':') + 1);
  setenv("GOALSTREAM_KAFKA_PORT", kafka_port.c_str(), 1);

  // Runs tools/demo until goalstream serves, then stops it with SIGTERM.
  auto run_demo = [&](int round) {
    auto log = state + "/demo-" + std::to_string(round) + ".log";
    int pid = it::spawn_command(
        {"/bin/bash", std::string(GOALSTREAM_SOURCE_DIR) + "/tools/demo", "--port", port}, log,
        log);
    bool serving = it::eventually(
        [&] { return read_file(log).find("goalstream serving on http://") != std::string::npos; },
        240000);
    ::kill(pid, SIGTERM);  // tools/demo execs goalstream: this is goalstream's pid
    int status = 0;
    waitpid(pid, &status, 0);
    auto text = read_file(log);
    INFO("tools/demo log, round " << round << ":\n" << text);
    REQUIRE(serving);
    CHECK_MESSAGE(WIFEXITED(status),
                  "killed by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0));
    CHECK(WEXITSTATUS(status) == 0);
    return text;
  };

  auto first = run_demo(0);
  CHECK(first.find("saved in " + state + "/demo-key") != std::string::npos);
  const std::string key = read_file(state + "/demo-key");
  REQUIRE(key.size() == 52);  // gs_ + 48 hex + newline

  // 10 MB of later commands (invalid ones: deadlettered, harmless) after the key.issued.
  std::vector<std::pair<std::string, std::string>> filler;
  for (int i = 0; i < 200; ++i)
    filler.emplace_back("demo", "{\"pad\":\"" + std::string(50000, 'x') + "\"}");
  it::produce(prefix + "commands", filler);

  for (int round = 1; round <= 2; ++round) {
    // A topic made by an older goalstream (here: the deadletter topic with a
    // 1 MB message limit) differs from topics/topics.json: the demo says so and runs.
    if (round == 2)
      it::set_topic_configs(prefix + "deadletter", {{"max.message.bytes", "1000000"}});
    auto text = run_demo(round);
    if (round == 2) {
      CHECK(text.find(prefix + "deadletter: DIFFERS") != std::string::npos);
      CHECK(text.find("warning: some topics differ from topics/topics.json") != std::string::npos);
    }
    CHECK(text.find("reusing the key in " + state + "/demo-key") != std::string::npos);
    CHECK(text.find("unknown to the broker") == std::string::npos);
    CHECK(text.find("removing") == std::string::npos);
    CHECK(read_file(state + "/demo-key") == key);
    CHECK(std::filesystem::exists(state + "/demo-data"));
  }
  unsetenv("GOALSTREAM_DEMO_PREFIX");
  unsetenv("GOALSTREAM_DEMO_STATE");
}

TEST_CASE(
    "serve refuses a deltas topic partitioned unlike the events topic, and rebuild --from "
    "names its choices") {
  // Topics from a topics file whose deltas topic has 3 partitions (events: 6).
  auto prefix = it::unique_prefix("cli-deltas");
  auto dir = it::temp_dir("cli-deltas");
  std::ifstream in(std::string(GOALSTREAM_SOURCE_DIR) + "/topics/topics.json");
  auto topics = it::json::parse(in);
  for (auto& t : topics["topics"])
    if (t["name"] == "deltas") t["partitions"] = 3;
  std::ofstream(dir + "/topics.json") << topics.dump();
  auto ensured = it::run_cli({"topics", "ensure", "--brokers", it::brokers(), "--topic-prefix",
                              prefix, "--topics-file", dir + "/topics.json"});
  REQUIRE_MESSAGE(ensured.exit_code == 0, ensured.err);
  auto r = it::run_cli_bounded(
      {"serve", "--brokers", it::brokers(), "--topic-prefix", prefix, "--topics-file",
       dir + "/topics.json", "--data-dir", dir + "/data", "--listen", "127.0.0.1:0"},
      60000);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("goalstream: topic-prefix: " + prefix + "deltas has 3 partitions and " + prefix +
                   "events has 6: the deltas topic is partitioned like the events topic; give "
                   "both the same number (Kafka adds partitions with kafka-topics.sh --alter "
                   "--partitions N)\n") != std::string::npos);
  auto from = it::run_cli({"rebuild", "--data-dir", dir + "/rb", "--from", "changes"});
  CHECK(from.exit_code == 1);
  CHECK(from.err ==
        "goalstream: --from: 'changes' is not one of events, deltas (see goalstream rebuild "
        "--help)\n");
}
