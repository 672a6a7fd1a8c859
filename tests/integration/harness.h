// Test harness for integration tests: a real Kafka broker (GOALSTREAM_BROKERS,
// default 127.0.0.1:9092), the real `goalstream` binary run as a child
// process, a small HTTP client, and a librdkafka producer/reader. Each test
// uses its own topic prefix and data directories, so tests share one broker.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace it {

using json = nlohmann::json;

std::string brokers();
// A fresh topic prefix, e.g. "it-p-1234-5-abcdef."; its topics are deleted
// when the test process exits (see delete_topics).
std::string unique_prefix(const std::string& label);
// Topics and consumer groups on the broker (default brokers()) whose names
// start with `prefix`.
std::vector<std::string> list_topics(const std::string& prefix,
                                     const std::string& broker_list = "");
std::vector<std::string> list_groups(const std::string& prefix,
                                     const std::string& broker_list = "");
// Deletes them. unique_prefix() registers each prefix it hands out, and the
// test process deletes their topics and groups when it exits.
void delete_topics(const std::string& prefix, const std::string& broker_list = "");
// A fresh empty directory under the build's temp area.
std::string temp_dir(const std::string& label);
int free_port();

struct RunResult {
  int exit_code = -1;
  std::string out, err;
};
// Starts ARGV[0] (a path) with stdin from /dev/null and stdout/stderr appended
// to the two files; returns its pid.
int spawn_command(const std::vector<std::string>& argv, const std::string& out_path,
                  const std::string& err_path);
// Runs `goalstream ARGS...` to completion.
RunResult run_cli(const std::vector<std::string>& args);

// `goalstream topics ensure` + `keys create` helpers.
void ensure_topics(const std::string& prefix);
std::string create_key(const std::string& prefix, const std::string& tenant,
                       const std::string& scopes = "goals:read,goals:write");

struct HttpResponse {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;
  json json_body() const { return json::parse(body, nullptr, false); }
};
HttpResponse http(int port, const std::string& method, const std::string& target,
                  const std::string& body = "",
                  const std::map<std::string, std::string>& headers = {});

// A running `goalstream serve`.
class Serve {
 public:
  // `extra_args`: more serve options (--partitions, --instance-id).
  Serve(std::string prefix, std::string data_dir, std::vector<std::string> extra_args = {});
  ~Serve();              // SIGKILL if still running
  void start();          // returns when /healthz answers
  int terminate();       // SIGTERM, wait, return exit status
  void kill9();          // SIGKILL, wait
  void signal(int sig);  // sends `sig` (SIGSTOP, SIGCONT), does not wait
  // Waits up to `timeout_ms` for serve to exit on its own; returns its exit
  // status (128 + signal if killed), or -1 if it is still running.
  int wait_exit(int timeout_ms);
  bool running() const { return pid_ > 0; }
  int port() const { return port_; }
  std::string log() const;
  // Reads one counter or gauge from /metrics (0 if absent).
  double metric(const std::string& name);
  // Waits until /readyz says ready and the processor has no lag.
  void wait_caught_up(int timeout_ms = 60000);
  HttpResponse get(const std::string& target, const std::string& key);
  HttpResponse post(const std::string& target, const std::string& key, const std::string& body);
  HttpResponse del(const std::string& target, const std::string& key);

 private:
  std::string prefix_, data_dir_, log_path_;
  std::vector<std::string> extra_args_;
  int port_ = 0;
  int pid_ = -1;
};

// `goalstream digest` of a (stopped) serve's data dir, and of a rebuild of
// its topics into a new one; fails the test if either command fails.
struct Digests {
  std::string live, rebuilt;
};
Digests live_and_rebuilt(const std::string& prefix, const std::string& data_dir);

// A goalstream deployment under a fresh topic prefix (`label`): its topics
// and one running serve; given a tenant, also an API key of that tenant's,
// issued once serve answers.
struct Deployment {
  explicit Deployment(const std::string& label, const std::string& tenant = "");
  std::string prefix;
  std::string data;
  Serve serve;
  std::string key;
  std::string events() const { return prefix + "events"; }
  std::string changes() const { return prefix + "changes"; }
  // POST `target` (must answer 201) and GET `target` (must answer 200) with
  // `as`, or `key` when `as` is empty; return the body.
  json post_ok(const std::string& target, const json& body, const std::string& as = "");
  json get_ok(const std::string& target, const std::string& as = "");
  // A conversion goal "Trial Signup" for form_submit on /signup/complete;
  // returns its id.
  std::string signup_goal(const std::string& as = "");
};

// POST /api/conversion-goals `def` with `key` (must answer 201); returns the goal.
json create_conversion_goal(Serve& s, const std::string& key, const json& def);

// Produces messages (key, value) to a topic with acks=all; waits for delivery.
void produce(const std::string& topic,
             const std::vector<std::pair<std::string, std::string>>& messages);

struct Message {
  std::string key, value;
  std::map<std::string, std::string> headers;
  int32_t partition = 0;
  int64_t offset = 0;
};
// Reads a topic from the beginning until `expected` messages arrived or the
// timeout passed.
std::vector<Message> read_topic(const std::string& topic, size_t expected, int timeout_ms = 20000);

// Polls `pred` every 50 ms until true or the timeout; returns its last value.
template <class F>
bool eventually(F&& pred, int timeout_ms = 30000);

// An event as JSON text.
std::string event(const std::string& id, const std::string& tenant, const std::string& type,
                  const std::string& timestamp, const std::string& url = "",
                  const json& properties = nullptr, const std::string& subject = "");

// `n` form_submit events of tenant acme on https://acme.com/signup/x, event
// ids e<first>.., subjects u<i> (keys acme/u<i>: spread over every
// partition), on March 2025 days 2 to 21; each sent twice (a producer's
// retry), so n distinct events in 2n messages.
std::vector<std::pair<std::string, std::string>> signups(int first, int n);

// UTC dates and times relative to now, as the API and events write them:
// "YYYY-MM-DD" `days_from_today` days from today (negative: before), and
// "YYYY-MM-DDThh:mm:ssZ" `seconds` ago.
std::string utc_date(int64_t days_from_today);
std::string utc_now_minus(int seconds);

// Runs `goalstream ARGS...` like run_cli, but kills it (SIGKILL) after
// `timeout_ms`; exit_code is then -1.
RunResult run_cli_bounded(const std::vector<std::string>& args, int timeout_ms);

}  // namespace it

#include <chrono>
#include <thread>

template <class F>
bool it::eventually(F&& pred, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// ---- Other serve processes, brokers of a test's own, topic configs ----
namespace it {

// A `goalstream serve` with what Serve does not set: other brokers, extra
// arguments, and a limit on open files (soft and hard, set in the child
// before exec, so serve cannot raise it).
struct ServeSpec {
  std::string prefix, data_dir;
  std::string brokers = it::brokers();
  std::vector<std::string> extra_args;
  long nofile = 0;  // 0: inherit
};
class ServeProcess {
 public:
  explicit ServeProcess(ServeSpec spec);
  ~ServeProcess();  // SIGKILL if still running
  void start();     // returns when /healthz answers
  int terminate();  // SIGTERM, wait (at most 60 s, then SIGKILL), return the exit status
  int port() const { return port_; }
  int pid() const { return pid_; }
  std::string log() const;

 private:
  ServeSpec spec_;
  std::string log_path_;
  int port_ = 0;
  int pid_ = -1;
};

// A Kafka broker of the test's own: tools/kafka on free ports, with its own
// data directory, so a test can stop and start it without disturbing the
// shared one. Not started by the constructor; stopped and removed by the
// destructor.
class OwnBroker {
 public:
  OwnBroker();
  ~OwnBroker();
  void start();  // returns when it answers; throws on failure
  void stop();   // SIGTERM, waits until it is gone
  // SIGSTOP / SIGCONT the broker's JVM: connections stay open, nothing is
  // answered (requests sent meanwhile are handled after thaw()).
  void freeze();
  void thaw();
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  void run(const std::string& command);
  void signal(int sig);
  int port_ = 0, controller_port_ = 0;
  std::string data_, log_;
};

// `goalstream topics ensure`, `keys create` and produce() against other brokers.
void ensure_topics_on(const std::string& brokers, const std::string& prefix);
void produce_on(const std::string& brokers, const std::string& topic,
                const std::vector<std::pair<std::string, std::string>>& messages);
std::string create_key_on(const std::string& brokers, const std::string& prefix,
                          const std::string& tenant,
                          const std::string& scopes = "goals:read,goals:write");

// http() with a bound on the whole exchange; throws on timeout.
HttpResponse http_within(int timeout_ms, int port, const std::string& method,
                         const std::string& target, const std::string& body = "",
                         const std::map<std::string, std::string>& headers = {});

// Produces one message with a plain (not idempotent) producer that takes
// messages of up to 4 MB and does not compress; returns librdkafka's or the
// broker's error, or "" once the broker acknowledged it.
std::string try_produce(const std::string& topic, const std::string& key, const std::string& value);

// Sets a topic's configuration to exactly `configs` (Kafka's AlterConfigs:
// what is not named returns to the broker's default).
void set_topic_configs(const std::string& topic, const std::map<std::string, std::string>& configs);

// The configs topics/topics.json declares for topic `name` (without prefix).
std::map<std::string, std::string> declared_configs(const std::string& name);

}  // namespace it
