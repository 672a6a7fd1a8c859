#include "harness.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cstdio>
#include <mutex>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <doctest/doctest.h>
#include <librdkafka/rdkafka.h>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

extern char** environ;

namespace it {
namespace fs = std::filesystem;

std::string brokers() {
  const char* b = std::getenv("GOALSTREAM_BROKERS");
  return b && *b ? b : "127.0.0.1:9092";
}

static std::string random_suffix() {
  static std::mt19937_64 rng{std::random_device{}()};
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 6; ++i) s.push_back(hex[rng() % 16]);
  return s;
}

namespace {
// The topic prefixes this test process handed out, with the broker they are
// on: their topics and consumer groups are deleted when the process exits,
// and each is listed in GOALSTREAM_TEST_TMP/prefixes.log so that
// cleanup_test can check afterwards that nothing was left behind.
struct PrefixRegistry {
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> prefixes;  // (brokers, prefix)
  ~PrefixRegistry() {
    for (auto& [b, p] : prefixes) {
      try {
        delete_topics(p, b);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "harness: could not delete the topics of %s on %s: %s\n", p.c_str(),
                     b.c_str(), e.what());
      }
    }
  }
};
PrefixRegistry& registry() {
  static PrefixRegistry r;
  return r;
}
}  // namespace

std::string unique_prefix(const std::string& label) {
  static std::atomic<int> n{0};
  auto prefix = "it-" + label + "-" + std::to_string(getpid()) + "-" + std::to_string(n++) + "-" +
                random_suffix() + ".";
  std::lock_guard lock(registry().mu);
  registry().prefixes.emplace_back(brokers(), prefix);
  fs::create_directories(GOALSTREAM_TEST_TMP);
  std::ofstream(fs::path(GOALSTREAM_TEST_TMP) / "prefixes.log", std::ios::app)
      << brokers() << ' ' << prefix << '\n';
  return prefix;
}

std::string temp_dir(const std::string& label) {
  auto base = fs::path(GOALSTREAM_TEST_TMP) /
              (label + "-" + std::to_string(getpid()) + "-" + random_suffix());
  fs::remove_all(base);
  fs::create_directories(base);
  return base.string();
}

int free_port() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

int spawn_command(const std::vector<std::string>& args, const std::string& out_path,
                  const std::string& err_path) {
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string& bin = copy.at(0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, bin.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("cannot spawn " + bin);
  return pid;
}

static int spawn(const std::vector<std::string>& args, const std::string& out_path,
                 const std::string& err_path) {
  std::vector<std::string> argv{GOALSTREAM_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  return spawn_command(argv, out_path, err_path);
}

static std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

RunResult run_cli(const std::vector<std::string>& args) {
  auto dir = temp_dir("cli");
  auto out = dir + "/out", err = dir + "/err";
  int pid = spawn(args, out, err);
  int status = 0;
  waitpid(pid, &status, 0);
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(out);
  r.err = slurp(err);
  fs::remove_all(dir);
  return r;
}

void ensure_topics(const std::string& prefix) { ensure_topics_on(brokers(), prefix); }

std::string create_key(const std::string& prefix, const std::string& tenant,
                       const std::string& scopes) {
  return create_key_on(brokers(), prefix, tenant, scopes);
}

HttpResponse http(int port, const std::string& method, const std::string& target,
                  const std::string& body, const std::map<std::string, std::string>& headers) {
  return http_within(30000, port, method, target, body, headers);
}

// Waits until the serve process `pid` answers /healthz on `port`; throws with
// its log when it exits first (pid is then -1) or does not answer in 30 s.
static void wait_serving(int& pid, int port, const std::string& log_path) {
  bool up = eventually(
      [&] {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
          pid = -1;
          throw std::runtime_error("goalstream serve exited at start:\n" + slurp(log_path));
        }
        try {
          return http_within(5000, port, "GET", "/healthz").status == 200;
        } catch (...) {
          return false;
        }
      },
      30000);
  if (!up)
    throw std::runtime_error("goalstream serve did not answer /healthz:\n" + slurp(log_path));
}

Digests live_and_rebuilt(const std::string& prefix, const std::string& data_dir) {
  auto live = run_cli({"digest", "--data-dir", data_dir});
  REQUIRE_MESSAGE(live.exit_code == 0, live.err);
  auto rebuilt = run_cli({"rebuild", "--brokers", brokers(), "--topic-prefix", prefix, "--data-dir",
                          temp_dir("rebuild") + "/store"});
  REQUIRE_MESSAGE(rebuilt.exit_code == 0, rebuilt.err);
  return {live.out, rebuilt.out};
}

Deployment::Deployment(const std::string& label, const std::string& tenant)
    : prefix(unique_prefix(label)), data(temp_dir(label)), serve(prefix, data) {
  ensure_topics(prefix);
  serve.start();
  if (tenant.empty()) return;
  key = create_key(prefix, tenant);
  // Ready when its key is: a test's first request is then about the test,
  // not about when the key's command was applied (a test that produces
  // invalid commands right after it delays that by their deadletter
  // deliveries; the first-request wait has its own test in api_input_test).
  if (!eventually([&] { return serve.get("/api/settings", key).status == 200; }))
    throw std::runtime_error("the key of " + prefix + " was not accepted within 30 s");
}

json Deployment::post_ok(const std::string& target, const json& body, const std::string& as) {
  auto r = serve.post(target, as.empty() ? key : as, body.dump());
  REQUIRE_MESSAGE(r.status == 201, r.body);
  return r.json_body();
}

json Deployment::get_ok(const std::string& target, const std::string& as) {
  auto r = serve.get(target, as.empty() ? key : as);
  REQUIRE_MESSAGE(r.status == 200, r.body);
  return r.json_body();
}

std::string Deployment::signup_goal(const std::string& as) {
  return post_ok(
      "/api/conversion-goals",
      {{"name", "Trial Signup"}, {"eventType", "form_submit"}, {"urlPattern", "/signup/complete"}},
      as)["id"];
}

json create_conversion_goal(Serve& s, const std::string& key, const json& def) {
  auto r = s.post("/api/conversion-goals", key, def.dump());
  REQUIRE_MESSAGE(r.status == 201, r.body);
  return r.json_body();
}

Serve::Serve(std::string prefix, std::string data_dir, std::vector<std::string> extra_args)
    : prefix_(std::move(prefix)),
      data_dir_(std::move(data_dir)),
      extra_args_(std::move(extra_args)) {
  log_path_ = data_dir_ + ".log";
}

Serve::~Serve() {
  if (pid_ > 0) kill9();
}

void Serve::start() {
  port_ = free_port();
  std::vector<std::string> args = {
      "serve",          "--brokers", brokers(),
      "--topic-prefix", prefix_,     "--data-dir",
      data_dir_,        "--listen",  "127.0.0.1:" + std::to_string(port_)};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  pid_ = spawn(args, log_path_, log_path_);
  wait_serving(pid_, port_, log_path_);
}

int Serve::terminate() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void Serve::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

void Serve::signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

std::string Serve::log() const { return slurp(log_path_); }

double Serve::metric(const std::string& name) {
  auto r = http(port_, "GET", "/metrics");
  std::istringstream in(r.body);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  return 0;
}

void Serve::wait_caught_up(int timeout_ms) {
  bool ok = eventually(
      [&] {
        auto r = http(port_, "GET", "/readyz");
        auto j = r.json_body();
        return r.status == 200 && j.value("events_lag", -1) == 0 &&
               j.value("commands_lag", -1) == 0;
      },
      timeout_ms);
  if (!ok) throw std::runtime_error("goalstream did not catch up:\n" + log());
}

HttpResponse Serve::get(const std::string& target, const std::string& key) {
  return http(port_, "GET", target, "", {{"x-api-key", key}});
}
HttpResponse Serve::post(const std::string& target, const std::string& key,
                         const std::string& body) {
  return http(port_, "POST", target, body, {{"x-api-key", key}});
}
HttpResponse Serve::del(const std::string& target, const std::string& key) {
  return http(port_, "DELETE", target, "", {{"x-api-key", key}});
}

namespace {
struct Kafka {
  rd_kafka_t* rk = nullptr;
  ~Kafka() {
    if (rk) rd_kafka_destroy(rk);
  }
};
rd_kafka_conf_t* conf(const std::map<std::string, std::string>& kv) {
  char err[512];
  rd_kafka_conf_t* c = rd_kafka_conf_new();
  rd_kafka_conf_set(c, "bootstrap.servers", brokers().c_str(), err, sizeof err);
  rd_kafka_conf_set(c, "log_level", "3", err, sizeof err);
  for (auto& [k, v] : kv)
    if (rd_kafka_conf_set(c, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
      throw std::runtime_error(err);
  return c;
}
}  // namespace

void produce(const std::string& topic,
             const std::vector<std::pair<std::string, std::string>>& messages) {
  produce_on(brokers(), topic, messages);
}

void produce_on(const std::string& brokers, const std::string& topic,
                const std::vector<std::pair<std::string, std::string>>& messages) {
  static std::atomic<int> failures{0};
  rd_kafka_conf_t* c = conf({{"bootstrap.servers", brokers},
                             {"acks", "all"},
                             {"enable.idempotence", "true"},
                             {"linger.ms", "5"}});
  rd_kafka_conf_set_dr_msg_cb(c, [](rd_kafka_t*, const rd_kafka_message_t* m, void*) {
    if (m->err) failures++;
  });
  char err[512];
  Kafka k;
  k.rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
  if (!k.rk) throw std::runtime_error(err);
  int before = failures;
  for (auto& [key, value] : messages) {
    while (true) {
      auto e = rd_kafka_producev(
          k.rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_END);
      if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(k.rk, 50);
        continue;
      }
      if (e) throw std::runtime_error(std::string("produce: ") + rd_kafka_err2str(e));
      break;
    }
    rd_kafka_poll(k.rk, 0);
  }
  if (rd_kafka_flush(k.rk, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR)
    throw std::runtime_error("produce: flush timed out");
  if (failures != before) throw std::runtime_error("produce: some deliveries failed");
}

std::vector<Message> read_topic(const std::string& topic, size_t expected, int timeout_ms) {
  std::vector<Message> out;
  char err[512];
  Kafka k;
  k.rk = rd_kafka_new(
      RD_KAFKA_CONSUMER,
      conf({{"group.id", "it-reader-" + random_suffix()}, {"enable.auto.commit", "false"}}), err,
      sizeof err);
  if (!k.rk) throw std::runtime_error(err);
  rd_kafka_poll_set_consumer(k.rk);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_topic_t* t = rd_kafka_topic_new(k.rk, topic.c_str(), nullptr);
  if (rd_kafka_metadata(k.rk, 0, t, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
    throw std::runtime_error("metadata");
  int parts = md->topics[0].partition_cnt;
  rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(t);
  auto* l = rd_kafka_topic_partition_list_new(parts);
  for (int p = 0; p < parts; ++p)
    rd_kafka_topic_partition_list_add(l, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(k.rk, l);
  rd_kafka_topic_partition_list_destroy(l);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (out.size() < expected && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(k.rk, 100);
    if (!m) continue;
    if (!m->err) {
      Message msg;
      if (m->key) msg.key.assign(static_cast<const char*>(m->key), m->key_len);
      if (m->payload) msg.value.assign(static_cast<const char*>(m->payload), m->len);
      msg.partition = m->partition;
      msg.offset = m->offset;
      rd_kafka_headers_t* hdrs = nullptr;
      if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name;
        const void* val;
        size_t size;
        for (size_t i = 0;
             rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
             ++i)
          msg.headers[name] = std::string(static_cast<const char*>(val), size);
      }
      out.push_back(std::move(msg));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(k.rk);
  return out;
}

std::vector<std::pair<std::string, std::string>> signups(int first, int n) {
  std::vector<std::pair<std::string, std::string>> msgs;
  for (int i = first; i < first + n; ++i) {
    char day[32];
    std::snprintf(day, sizeof day, "2025-03-%02dT12:00:00Z", 2 + i % 20);
    auto key = "acme/u" + std::to_string(i);
    auto value = event("e" + std::to_string(i), "acme", "form_submit", day,
                       "https://acme.com/signup/x", nullptr, "u" + std::to_string(i));
    msgs.push_back({key, value});
    msgs.push_back({key, value});
  }
  return msgs;
}

std::string event(const std::string& id, const std::string& tenant, const std::string& type,
                  const std::string& timestamp, const std::string& url, const json& properties,
                  const std::string& subject) {
  json e = {{"event_id", id}, {"tenant_id", tenant}, {"type", type}, {"timestamp", timestamp}};
  if (!url.empty()) e["url"] = url;
  if (!properties.is_null()) e["properties"] = properties;
  if (!subject.empty()) e["subject_id"] = subject;
  return e.dump();
}

std::string utc_date(int64_t days_from_today) {
  using namespace std::chrono;
  year_month_day ymd{floor<days>(system_clock::now()) + days(days_from_today)};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", int(ymd.year()), unsigned(ymd.month()),
                unsigned(ymd.day()));
  return buf;
}

std::string utc_now_minus(int seconds) {
  using namespace std::chrono;
  auto t = floor<std::chrono::seconds>(system_clock::now()) - std::chrono::seconds(seconds);
  auto d = floor<days>(t);
  year_month_day ymd{d};
  hh_mm_ss hms{t - d};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", int(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()), int(hms.hours().count()),
                int(hms.minutes().count()), int(hms.seconds().count()));
  return buf;
}

namespace {
// Runs an admin request's result off `q`; nullptr after timeout_ms.
rd_kafka_event_t* admin_result(rd_kafka_queue_t* q, rd_kafka_event_type_t type, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 200);
    if (!ev) continue;
    if (rd_kafka_event_type(ev) == type) return ev;
    rd_kafka_event_destroy(ev);
  }
  return nullptr;
}
rd_kafka_t* admin_client(const std::string& broker_list) {
  char err[512];
  rd_kafka_conf_t* c = rd_kafka_conf_new();
  rd_kafka_conf_set(c, "bootstrap.servers", broker_list.c_str(), err, sizeof err);
  rd_kafka_conf_set(c, "log_level", "3", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
  if (!rk) throw std::runtime_error(err);
  return rk;
}
}  // namespace

std::vector<std::string> list_topics(const std::string& prefix, const std::string& broker_list) {
  Kafka k;
  k.rk = admin_client(broker_list.empty() ? brokers() : broker_list);
  const rd_kafka_metadata_t* md = nullptr;
  if (auto e = rd_kafka_metadata(k.rk, 1, nullptr, &md, 10000))
    throw std::runtime_error(std::string("metadata: ") + rd_kafka_err2str(e));
  std::vector<std::string> out;
  for (int i = 0; i < md->topic_cnt; ++i)
    if (std::string_view(md->topics[i].topic).starts_with(prefix))
      out.emplace_back(md->topics[i].topic);
  rd_kafka_metadata_destroy(md);
  return out;
}

std::vector<std::string> list_groups(const std::string& prefix, const std::string& broker_list) {
  Kafka k;
  k.rk = admin_client(broker_list.empty() ? brokers() : broker_list);
  const rd_kafka_group_list* groups = nullptr;
  if (auto e = rd_kafka_list_groups(k.rk, nullptr, &groups, 10000))
    throw std::runtime_error(std::string("list groups: ") + rd_kafka_err2str(e));
  std::vector<std::string> out;
  for (int i = 0; i < groups->group_cnt; ++i)
    if (std::string_view(groups->groups[i].group).starts_with(prefix))
      out.emplace_back(groups->groups[i].group);
  rd_kafka_group_list_destroy(groups);
  return out;
}

void delete_topics(const std::string& prefix, const std::string& broker_list) {
  std::string b = broker_list.empty() ? brokers() : broker_list;
  auto topics = list_topics(prefix, b);
  auto groups = list_groups(prefix, b);
  if (topics.empty() && groups.empty()) return;
  Kafka k;
  k.rk = admin_client(b);
  rd_kafka_queue_t* q = rd_kafka_queue_new(k.rk);
  std::string failed;
  if (!topics.empty()) {
    std::vector<rd_kafka_DeleteTopic_t*> del;
    for (auto& t : topics) del.push_back(rd_kafka_DeleteTopic_new(t.c_str()));
    rd_kafka_DeleteTopics(k.rk, del.data(), del.size(), nullptr, q);
    rd_kafka_DeleteTopic_destroy_array(del.data(), del.size());
    rd_kafka_event_t* ev = admin_result(q, RD_KAFKA_EVENT_DELETETOPICS_RESULT, 30000);
    if (!ev)
      failed += " (DeleteTopics timed out)";
    else {
      size_t n = 0;
      auto** res = rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
      for (size_t i = 0; i < n; ++i)
        if (rd_kafka_topic_result_error(res[i]) &&
            rd_kafka_topic_result_error(res[i]) != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
          failed += std::string(" ") + rd_kafka_topic_result_name(res[i]) + ": " +
                    rd_kafka_err2str(rd_kafka_topic_result_error(res[i]));
      rd_kafka_event_destroy(ev);
    }
  }
  // Groups are bookkeeping: a group already gone is left to the broker. A
  // group with members is tried again for 20 s: a member of a process that
  // exited without leaving (kill -9, a fenced instance) stays until its
  // session times out (10 s, kernel/membership.h).
  for (int tries = 0; !groups.empty() && tries < 20; ++tries) {
    if (tries > 0) std::this_thread::sleep_for(std::chrono::seconds(1));
    std::vector<rd_kafka_DeleteGroup_t*> del;
    for (auto& g : groups) del.push_back(rd_kafka_DeleteGroup_new(g.c_str()));
    rd_kafka_DeleteGroups(k.rk, del.data(), del.size(), nullptr, q);
    rd_kafka_DeleteGroup_destroy_array(del.data(), del.size());
    std::vector<std::string> busy;
    if (rd_kafka_event_t* ev = admin_result(q, RD_KAFKA_EVENT_DELETEGROUPS_RESULT, 30000)) {
      size_t n = 0;
      auto** res = rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev), &n);
      for (size_t i = 0; i < n; ++i)
        if (const rd_kafka_error_t* e = rd_kafka_group_result_error(res[i]);
            e && rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP)
          busy.push_back(rd_kafka_group_result_name(res[i]));
      rd_kafka_event_destroy(ev);
    }
    groups = std::move(busy);
  }
  rd_kafka_queue_destroy(q);
  if (!failed.empty()) throw std::runtime_error("delete topics of " + prefix + ":" + failed);
}

}  // namespace it

// ---- For api_input_test (the HTTP server and request input) ----
#include <sys/resource.h>

namespace it {

ServeProcess::ServeProcess(ServeSpec spec) : spec_(std::move(spec)) {
  log_path_ = spec_.data_dir + ".log";
}

ServeProcess::~ServeProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status;
    waitpid(pid_, &status, 0);
  }
}

void ServeProcess::start() {
  port_ = free_port();
  std::vector<std::string> args = {GOALSTREAM_BIN,   "serve",
                                   "--brokers",      spec_.brokers,
                                   "--topic-prefix", spec_.prefix,
                                   "--data-dir",     spec_.data_dir,
                                   "--listen",       "127.0.0.1:" + std::to_string(port_)};
  args.insert(args.end(), spec_.extra_args.begin(), spec_.extra_args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) throw std::runtime_error("cannot open " + log_path_);
  long nofile = spec_.nofile;
  pid_t pid = fork();
  if (pid == 0) {  // only async-signal-safe calls until exec
    if (nofile > 0) {
      rlimit rl{static_cast<rlim_t>(nofile), static_cast<rlim_t>(nofile)};
      if (setrlimit(RLIMIT_NOFILE, &rl) != 0) _exit(126);
    }
    int null_fd = ::open("/dev/null", O_RDONLY);
    dup2(null_fd, 0);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    execve(argv[0], argv.data(), environ);
    _exit(127);
  }
  ::close(log_fd);
  if (pid < 0) throw std::runtime_error("fork failed");
  pid_ = pid;
  wait_serving(pid_, port_, log_path_);
}

int ServeProcess::terminate() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  bool exited = eventually([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, 60000);
  if (!exited) {
    ::kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return -9;
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string ServeProcess::log() const { return slurp(log_path_); }

void ensure_topics_on(const std::string& brokers, const std::string& prefix) {
  auto r = run_cli({"topics", "ensure", "--brokers", brokers, "--topic-prefix", prefix});
  if (r.exit_code != 0) throw std::runtime_error("topics ensure failed: " + r.err);
}

std::string create_key_on(const std::string& brokers, const std::string& prefix,
                          const std::string& tenant, const std::string& scopes) {
  auto r = run_cli({"keys", "create", "--brokers", brokers, "--topic-prefix", prefix, "--tenant",
                    tenant, "--scopes", scopes});
  if (r.exit_code != 0) throw std::runtime_error("keys create failed: " + r.err);
  auto s = r.out;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s.substr(s.rfind('\n') == std::string::npos ? 0 : s.rfind('\n') + 1);
}

HttpResponse http_within(int timeout_ms, int port, const std::string& method,
                         const std::string& target, const std::string& body,
                         const std::map<std::string, std::string>& headers) {
  namespace beast = boost::beast;
  namespace bhttp = beast::http;
  boost::asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(std::chrono::milliseconds(timeout_ms));
  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
  req.set(bhttp::field::host, "127.0.0.1");
  for (auto& [k, v] : headers) req.set(k, v);
  if (!body.empty()) {
    req.set(bhttp::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  // The stream's deadline covers connect, write and read (async operations).
  beast::error_code ec;
  bool done = false;
  beast::flat_buffer buf;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 << 20);
  if (method == "HEAD") parser.skip(true);
  auto finish = [&](beast::error_code e) {
    ec = e;
    done = true;
  };
  boost::asio::ip::tcp::endpoint ep{boost::asio::ip::make_address("127.0.0.1"),
                                    static_cast<unsigned short>(port)};
  stream.async_connect(ep, [&](beast::error_code e) {
    if (e) return finish(e);
    bhttp::async_write(stream, req, [&](beast::error_code e1, size_t) {
      if (e1) return finish(e1);
      bhttp::async_read(stream, buf, parser, [&](beast::error_code e2, size_t) { finish(e2); });
    });
  });
  ioc.run();
  if (!done || ec)
    throw std::runtime_error(method + " " + target + ": " + (ec ? ec.message() : "no answer"));
  auto res = parser.release();
  HttpResponse out;
  out.status = res.result_int();
  out.body = res.body();
  for (auto& f : res) out.headers[std::string(f.name_string())] = std::string(f.value());
  return out;
}

int Serve::wait_exit(int timeout_ms) {
  if (pid_ <= 0) return -1;
  int status = 0;
  bool exited = eventually([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, timeout_ms);
  if (!exited) return -1;
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

RunResult run_cli_bounded(const std::vector<std::string>& args, int timeout_ms) {
  auto dir = temp_dir("cli");
  auto out = dir + "/out", err = dir + "/err";
  int pid = spawn(args, out, err);
  int status = 0;
  RunResult r;
  if (eventually([&] { return waitpid(pid, &status, WNOHANG) == pid; }, timeout_ms)) {
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  } else {
    ::kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  r.out = slurp(out);
  r.err = slurp(err);
  fs::remove_all(dir);
  return r;
}

}  // namespace it

// ---- Broker outages, message sizes, topic configs (outage_test) ------------

namespace it {

OwnBroker::OwnBroker() {
  port_ = free_port();
  do controller_port_ = free_port();
  while (controller_port_ == port_);
  data_ = temp_dir("kafka-" + std::to_string(port_));
  log_ = data_ + ".log";
}

OwnBroker::~OwnBroker() {
  try {
    stop();
  } catch (...) {
  }
  std::error_code ec;
  fs::remove_all(data_, ec);
  fs::remove_all(
      fs::path(GOALSTREAM_SOURCE_DIR) / ".local" / "kafka" / ("run-" + std::to_string(port_)), ec);
}

void OwnBroker::run(const std::string& command) {
  std::string cmd = "GOALSTREAM_KAFKA_PORT=" + std::to_string(port_) +
                    " GOALSTREAM_KAFKA_CONTROLLER_PORT=" + std::to_string(controller_port_) +
                    " GOALSTREAM_KAFKA_DATA='" + data_ + "' GOALSTREAM_KAFKA_STOP_TIMEOUT=30" +
                    " GOALSTREAM_KAFKA_HEAP_OPTS='-Xms128m -Xmx512m' '" + GOALSTREAM_SOURCE_DIR +
                    "/tools/kafka' " + command + " >>'" + log_ + "' 2>&1";
  int rc = std::system(cmd.c_str());
  if (rc != 0) throw std::runtime_error("tools/kafka " + command + " failed:\n" + slurp(log_));
}

void OwnBroker::start() { run("start"); }
void OwnBroker::stop() { run("stop"); }
void OwnBroker::freeze() { signal(SIGSTOP); }
void OwnBroker::thaw() { signal(SIGCONT); }

void OwnBroker::signal(int sig) {
  auto pid_file = fs::path(GOALSTREAM_SOURCE_DIR) / ".local" / "kafka" /
                  ("run-" + std::to_string(port_)) / "kafka.pid";
  int pid = std::stoi(slurp(pid_file.string()));
  if (pid <= 0 || ::kill(pid, sig) != 0)
    throw std::runtime_error("cannot signal the broker (pid file " + pid_file.string() + ")");
}

std::string try_produce(const std::string& topic, const std::string& key,
                        const std::string& value) {
  static std::string error;
  static bool done = false;
  rd_kafka_conf_t* c = conf({{"acks", "all"},
                             {"message.max.bytes", "4000000"},
                             {"compression.type", "none"},
                             {"message.timeout.ms", "30000"}});
  rd_kafka_conf_set_dr_msg_cb(c, [](rd_kafka_t*, const rd_kafka_message_t* m, void*) {
    error = m->err ? rd_kafka_err2str(m->err) : "";
    done = true;
  });
  char err[512];
  Kafka k;
  k.rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
  if (!k.rk) throw std::runtime_error(err);
  done = false;
  auto e = rd_kafka_producev(
      k.rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
      RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_END);
  if (e) return rd_kafka_err2str(e);
  rd_kafka_flush(k.rk, 30000);
  if (!done) throw std::runtime_error("try_produce: no delivery report");
  return error;
}

void set_topic_configs(const std::string& topic,
                       const std::map<std::string, std::string>& configs) {
  char err[512];
  Kafka k;
  k.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf({}), err, sizeof err);
  if (!k.rk) throw std::runtime_error(err);
  rd_kafka_queue_t* q = rd_kafka_queue_new(k.rk);
  rd_kafka_ConfigResource_t* cr =
      rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  for (auto& [name, value] : configs)
    rd_kafka_ConfigResource_set_config(cr, name.c_str(), value.c_str());
  rd_kafka_AlterConfigs(k.rk, &cr, 1, nullptr, q);
  rd_kafka_ConfigResource_destroy(cr);
  rd_kafka_event_t* ev = nullptr;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!ev && std::chrono::steady_clock::now() < deadline) {
    ev = rd_kafka_queue_poll(q, 500);
    if (ev && rd_kafka_event_type(ev) != RD_KAFKA_EVENT_ALTERCONFIGS_RESULT) {
      rd_kafka_event_destroy(ev);
      ev = nullptr;
    }
  }
  std::string problem = !ev                        ? "timed out"
                        : rd_kafka_event_error(ev) ? rd_kafka_event_error_string(ev)
                                                   : "";
  if (ev && problem.empty()) {
    size_t n = 0;
    auto** res = rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(ev), &n);
    for (size_t i = 0; i < n; ++i)
      if (rd_kafka_ConfigResource_error(res[i]))
        problem = rd_kafka_ConfigResource_error_string(res[i])
                      ? rd_kafka_ConfigResource_error_string(res[i])
                      : "error";
  }
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(q);
  if (!problem.empty()) throw std::runtime_error("set_topic_configs " + topic + ": " + problem);
}

std::map<std::string, std::string> declared_configs(const std::string& name) {
  std::ifstream in(std::string(GOALSTREAM_SOURCE_DIR) + "/topics/topics.json");
  auto j = json::parse(in);
  for (auto& t : j["topics"])
    if (t["name"] == name) return t["configs"].get<std::map<std::string, std::string>>();
  throw std::runtime_error("no topic " + name + " in topics.json");
}

}  // namespace it
