// The `goalstream` command line: serve, keys create, rebuild, digest, topics.
// Thin wiring over the libraries; every option also reads an environment
// variable (shown in --help).
#include <sys/resource.h>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <limits>
#include <thread>

#include <CLI/CLI.hpp>

#include "api/routes.h"
#include "api/server.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/time.h"
#include "model/conversion_goal.h"
#include "model/event.h"
#include "store/store.h"
#include "stream/changes.h"
#include "stream/kafka.h"
#include "stream/processor.h"
#include "version.h"

namespace {

using namespace gs;

// Ends the process with `code` if it is still running `limit` from now: a
// failed or stopping process must not hang in a destructor (a librdkafka
// handle waiting for an unreachable broker, a RocksDB close on a full disk).
void exit_within(std::chrono::seconds limit, int code, std::string what) {
  std::thread([limit, code, what = std::move(what)] {
    std::this_thread::sleep_for(limit);
    std::fprintf(stderr, "goalstream: shutdown: %s did not finish within %llds; exiting\n",
                 what.c_str(), static_cast<long long>(limit.count()));
    std::fflush(stderr);
    std::_Exit(code);
  }).detach();
}

// Every fatal error: one line `goalstream: <field>: <message>`, then exit 1
// within a bounded time, whatever the cleanup on the way out does.
int fail(const std::string& what) {
  std::fprintf(stderr, "goalstream: %s\n", what.c_str());
  std::fflush(stderr);
  exit_within(std::chrono::seconds(15), 1, "cleaning up after the error");
  return 1;
}

int fail(const Error& e) { return fail(e.field.empty() ? e.message : e.field + ": " + e.message); }

struct Common {
  stream::KafkaOptions kafka;
  projection::PacingThresholds thresholds;
  std::string topics_file;
  int replication_factor = 1;
};

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

// Creates missing topics; prints the report. Returns false on Kafka failure
// (differences are reported but not fatal unless `strict`).
bool ensure_topics(const Common& c, bool strict, bool quiet) {
  auto specs = stream::load_topic_specs(c.topics_file.empty() ? stream::default_topics_file()
                                                              : c.topics_file);
  if (!specs.ok()) {
    fail(specs.error());
    return false;
  }
  std::vector<std::string> report;
  auto st = stream::ensure_topics(c.kafka, *specs, c.replication_factor, report);
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

sigset_t block_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// Raises the soft limit on open files to the hard limit (idle HTTP
// connections, RocksDB's files and Kafka's sockets share it); returns the
// limit in force.
long raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  rlim_t before = rl.rlim_cur;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) rl.rlim_cur = before;
  }
  auto show = [](rlim_t v) {
    return v == RLIM_INFINITY ? std::string("unlimited") : std::to_string(v);
  };
  log::info("open files limit " + show(rl.rlim_cur) +
            (rl.rlim_cur != before ? " (raised from " + show(before) + ")" : ""));
  return rl.rlim_cur == RLIM_INFINITY ? std::numeric_limits<long>::max()
                                      : static_cast<long>(rl.rlim_cur);
}

int run_serve(Common& c, const std::string& data_dir, const std::string& listen, int workers,
              int max_connections) {
  auto listen_opts = api::parse_listen(listen);
  if (!listen_opts.ok()) return fail(listen_opts.error());
  listen_opts->worker_threads = workers;
  if (max_connections < 0)
    return fail("--max-connections: must be at least 1 (0: derived from the open files limit)");
  long fd_limit = raise_fd_limit();
  listen_opts->max_connections =
      max_connections > 0 ? max_connections : api::default_max_connections(fd_limit);
  // The listen address first: a taken port fails before the data dir is
  // created or Kafka touched.
  api::Server server(*listen_opts);
  if (auto st = server.bind(); !st.ok()) return fail(st.error());
  sigset_t signals = block_signals();  // before any thread starts
  if (!ensure_topics(c, false, true)) return 1;
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  auto store = store::Store::open(data_dir);
  if (!store.ok()) return fail(store.error());
  auto producer = stream::Producer::create(c.kafka, stream::ProducerOptions::commands());
  if (!producer.ok()) return fail(producer.error());
  Metrics metrics;
  stream::ChangesPublisher changes(**store, {c.kafka, c.thresholds}, metrics);
  stream::ProcessorOptions popts;
  popts.kafka = c.kafka;
  popts.group_id = c.kafka.topic_prefix + "processor";
  popts.on_applied = [&changes](const auto& touched) { changes.notify(touched); };
  stream::Processor processor(**store, popts, metrics);
  if (auto st = processor.start(); !st.ok()) return fail(st.error());
  if (auto st = changes.start(); !st.ok()) {
    processor.stop();
    return fail(st.error());
  }
  api::ApiContext ctx{.store = **store,
                      .processor = processor,
                      .producer = **producer,
                      .kafka = c.kafka,
                      .metrics = metrics,
                      .thresholds = c.thresholds};
  if (auto st = server.start(api::make_router(ctx)); !st.ok()) {
    processor.stop();
    return fail(st.error());
  }
  log::info("goalstream serving on http://" + listen_opts->address + ":" +
            std::to_string(server.port()) + " (brokers " + c.kafka.brokers + ", topics " +
            c.kafka.topic_prefix + "*, data " + data_dir + ", at most " +
            std::to_string(listen_opts->max_connections) + " connections)");
  // While shutting down, a (further) SIGTERM or SIGINT ends the process at once.
  auto exit_on_signal = [signals](const char* during) {
    std::thread([signals, during] {
      int again = 0;
      if (sigwait(&signals, &again) == 0) {
        std::fprintf(stderr, "goalstream: received %s %s; exiting at once\n",
                     again == SIGTERM ? "SIGTERM" : "SIGINT", during);
        std::fflush(stderr);
        std::_Exit(1);
      }
    }).detach();
  };
  int sig = 0;
  while (true) {
    timespec ts{1, 0};
    sig = sigtimedwait(&signals, nullptr, &ts);
    if (sig == SIGINT || sig == SIGTERM) break;
    if (auto failure = processor.failure()) {
      // The line first: it must be there even if the cleanup below hangs
      // (fail() also bounds how long that may take).
      int code = fail(*failure);  // `goalstream: data-dir: ...` for a store write
      exit_on_signal("while cleaning up after the error");
      server.stop();
      processor.stop();
      changes.stop();
      return code;
    }
  }
  log::info(std::string("received ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") + ", draining");
  // Draining is bounded (in-flight writes wait at most their timeout, the
  // producers' flushes are bounded); a second signal ends it at once.
  exit_within(std::chrono::seconds(60), 1, "draining");
  exit_on_signal("again while draining");
  server.stop();
  processor.stop();
  changes.stop();
  (*producer)->flush(10000);
  log::info("stopped cleanly");
  return 0;
}

int run_keys_create(Common& c, const std::string& tenant, const std::string& scopes_csv) {
  if (!model::valid_tenant_id(tenant)) return fail("--tenant: must match ^[A-Za-z0-9_.-]{1,64}$");
  std::vector<std::string> scopes;
  std::string cur;
  for (char ch : scopes_csv + ",") {
    if (ch == ',') {
      if (!cur.empty()) {
        if (cur != model::kScopeRead && cur != model::kScopeWrite)
          return fail("--scopes: unknown scope '" + cur + "' (known: goals:read, goals:write)");
        scopes.push_back(cur);
      }
      cur.clear();
    } else if (ch != ' ') {
      cur.push_back(ch);
    }
  }
  if (scopes.empty()) return fail("--scopes: at least one scope is required");
  if (!ensure_topics(c, false, true)) return 1;
  std::string secret = "gs_" + model::random_hex(24);
  model::ApiKey key{"key_" + model::random_hex(4), tenant, scopes, time::now_ms()};
  nlohmann::json data = model::to_json(key);
  data["key_hash"] = model::sha256_hex(secret);
  model::Command cmd{"cmd_" + model::random_hex(12), model::command_type::key_issued, tenant,
                     time::now_ms(), data};
  auto producer = stream::Producer::create(c.kafka);
  if (!producer.ok()) return fail(producer.error());
  auto r = (*producer)->produce_sync(c.kafka.commands(), tenant, model::serialize(cmd));
  if (!r.ok()) return fail(r.error());
  std::fprintf(
      stderr,
      "issued %s for tenant %s with scopes %s (command offset %lld); the key is shown once:\n",
      key.key_id.c_str(), tenant.c_str(), scopes_csv.c_str(), static_cast<long long>(r->second));
  std::printf("%s\n", secret.c_str());
  return 0;
}

std::string fmt_duration(double s) {
  char buf[32];
  if (s < 120)
    std::snprintf(buf, sizeof buf, "%.0fs", s);
  else
    std::snprintf(buf, sizeof buf, "%.0fm%02.0fs", std::floor(s / 60), std::fmod(s, 60));
  return buf;
}

int run_rebuild(Common& c, const std::string& data_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(data_dir, ec) && !fs::is_empty(data_dir, ec))
    return fail("--data-dir: " + data_dir +
                " is not empty; rebuild writes a new store into an empty directory");
  fs::create_directories(data_dir, ec);
  auto store = store::Store::open(data_dir);
  if (!store.ok()) return fail(store.error());
  Metrics metrics;
  stream::ProcessorOptions popts;
  popts.kafka = c.kafka;
  popts.emit_deadletter = false;
  stream::Processor processor(**store, popts, metrics);
  if (auto st = processor.start(); !st.ok()) return fail(st.error());
  auto t0 = std::chrono::steady_clock::now();
  bool caught_up = false;
  auto first = processor.progress(caught_up);  // ends as of the start: the goal line
  int64_t total = 0;
  for (auto& p : first) total += p.end;
  std::fprintf(stderr, "rebuilding %s from %s (%lld messages) into %s\n",
               c.kafka.topic_prefix.c_str(), c.kafka.brokers.c_str(), static_cast<long long>(total),
               data_dir.c_str());
  while (true) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    if (auto failure = processor.failure()) return fail(*failure);
    auto now = processor.progress(caught_up);
    int64_t done = 0;
    bool reached = true;
    std::string parts;
    for (size_t i = 0; i < now.size(); ++i) {
      int64_t goal = first[i].end;
      int64_t pos = std::min(now[i].position, goal);
      done += pos;
      if (now[i].position < goal) reached = false;
      parts += " " + now[i].topic.substr(c.kafka.topic_prefix.size()) + "/" +
               std::to_string(now[i].partition) + "=" + std::to_string(now[i].position) + "/" +
               std::to_string(goal);
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double rate = secs > 0 ? done / secs : 0;
    std::string eta = rate > 0 && total > done ? fmt_duration((total - done) / rate) : "-";
    std::fprintf(stderr, "%5.1f%% %lld/%lld msgs  %.0f msg/s  ETA %s  jobs %lld |%s\n",
                 total ? 100.0 * done / total : 100.0, static_cast<long long>(done),
                 static_cast<long long>(total), rate, eta.c_str(),
                 static_cast<long long>(metrics.backfill_jobs_pending.load()), parts.c_str());
    if (reached && (*store)->jobs().empty()) break;
  }
  processor.stop();
  // The live store announced these statuses already; record them unannounced.
  auto seeded = stream::ChangesPublisher::seed(**store, c.thresholds, time::now_ms());
  if (!seeded.ok()) return fail(seeded.error());
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr,
               "rebuild caught up in %s: %llu events (%llu invalid, skipped; %llu duplicates), "
               "%llu commands\n",
               fmt_duration(secs).c_str(),
               static_cast<unsigned long long>(metrics.events_in.load()),
               static_cast<unsigned long long>(metrics.events_invalid.load()),
               static_cast<unsigned long long>(metrics.events_duplicate.load()),
               static_cast<unsigned long long>(metrics.commands_applied.load()));
  std::printf("%s\n", (*store)->digest().c_str());
  return 0;
}

int run_digest(const std::string& data_dir) {
  if (!std::filesystem::exists(data_dir))
    return fail("--data-dir: " + data_dir + " does not exist");
  auto store = store::Store::open(data_dir, true);
  if (!store.ok()) return fail(store.error());
  std::printf("%s\n", (*store)->digest().c_str());
  return 0;
}

// The deepest subcommand the command line named ("goalstream keys create" ->
// keys create), for error messages.
const CLI::App* deepest(const CLI::App* app) {
  for (const CLI::App* sub : app->get_subcommands())
    if (sub->parsed()) return deepest(sub);
  return app;
}

std::string command_path(const CLI::App* app) {
  std::string path;
  for (const CLI::App* a = app; a; a = a->get_parent())
    path = (a->get_parent() ? a->get_name() : std::string("goalstream")) +
           (path.empty() ? "" : " " + path);
  return path;
}

std::string subcommand_names(const CLI::App* app) {
  std::string names;
  for (const CLI::App* sub : app->get_subcommands({}))
    names += (names.empty() ? "" : ", ") + sub->get_name();
  return names;
}

// CLI11's parse errors, said the way every other error of goalstream is:
// `goalstream: <field>: <message>`, exit 1.
int cli_error(const CLI::App& app, const CLI::ParseError& e) {
  const CLI::App* at = deepest(&app);
  std::string cmd = command_path(at), what = e.what();
  std::string help = " (see " + cmd + " --help)";
  auto after = [&](std::string_view marker) {
    return what.substr(what.find(marker) + marker.size());
  };
  if (dynamic_cast<const CLI::ExtrasError*>(&e)) {
    std::string arg = after(": ");
    arg = arg.substr(0, arg.find(' '));
    if (arg.starts_with("-")) return fail(arg + ": unknown option for " + cmd + help);
    if (!subcommand_names(at).empty())
      return fail(arg + ": unknown command; " + cmd + " has: " + subcommand_names(at) + help);
    return fail(arg + ": unexpected argument" + help);
  }
  if (dynamic_cast<const CLI::RequiredError*>(&e)) {
    if (what.starts_with("A subcommand")) {
      auto rest = at->remaining();
      if (!rest.empty() && !rest.front().starts_with("-"))
        return fail(rest.front() + ": unknown command; " + cmd + " has: " + subcommand_names(at) +
                    help);
      return fail("command: " + cmd + " needs one of: " + subcommand_names(at) + help);
    }
    if (auto is = what.find(" is required"); is != std::string::npos)
      return fail(what.substr(0, is) + ": is required" + help);
  }
  if (dynamic_cast<const CLI::ConversionError*>(&e)) {
    if (what.find(" is not an allowed value for ") != std::string::npos)
      return fail(after(" for ") + ": " + what.substr(0, what.find(" is not")) + " is not allowed" +
                  help);
    if (what.starts_with("Could not convert: ")) {
      auto rest = after("Could not convert: ");
      auto eq = rest.find(" = ");
      return fail(rest.substr(0, eq) + ": '" + rest.substr(eq + 3) + "' is not a valid value" +
                  help);
    }
  }
  if (dynamic_cast<const CLI::ArgumentMismatch*>(&e)) {
    if (what.starts_with("Expected "))
      return fail(after(" arguments to ").substr(0, after(" arguments to ").find(',')) +
                  ": needs a value" + help);
    if (what.ends_with(" missing"))
      return fail(what.substr(0, what.find(':')) + ": needs a value" + help);
  }
  // ValidationError and the rest already read "<option>: <message>".
  return fail(what + help);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "goalstream: an event-sourced streaming processor for goal tracking.\n"
      "Consumes activity events from Kafka, matches them against conversion goals,\n"
      "keeps progress in RocksDB and serves it over HTTP."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("goalstream ") + kGoalstreamVersion);
  // One Common per command: CLI11 applies the environment variables of every
  // command's options, also of commands not given, after the command line;
  // bound to one shared variable, GOALSTREAM_BROKERS then overrode the
  // --brokers given to serve.
  Common serve_c, keys_c, rebuild_c, digest_c, topics_c;

  auto* serve = app.add_subcommand(
      "serve", "Run the processor and the HTTP API in one process (SIGTERM drains and exits)");
  std::string data_dir = "./data", listen = "127.0.0.1:8080";
  int workers = 8;
  int max_connections = 0;
  add_common(serve, serve_c);
  add_topics_file(serve, serve_c);
  serve->add_option("--data-dir", data_dir, "RocksDB directory of the projections")
      ->envname("GOALSTREAM_DATA_DIR")
      ->capture_default_str();
  serve->add_option("--listen", listen, "HTTP address host:port")
      ->envname("GOALSTREAM_LISTEN")
      ->capture_default_str();
  add_thresholds(serve, serve_c);
  serve->add_option("--http-workers", workers, "Threads that run request handlers")
      ->envname("GOALSTREAM_HTTP_WORKERS")
      ->capture_default_str();
  serve
      ->add_option("--max-connections", max_connections,
                   "Open HTTP connections at most; beyond, new ones are answered 503 and closed "
                   "(0: the open files limit minus 640, at most 10000)")
      ->envname("GOALSTREAM_MAX_CONNECTIONS")
      ->capture_default_str();

  auto* keys = app.add_subcommand("keys", "Manage API keys");
  keys->require_subcommand(1);
  auto* keys_create = keys->add_subcommand(
      "create",
      "Issue an API key (printed once, last line of stdout); stored hashed via the commands topic");
  std::string tenant, scopes = "goals:read,goals:write";
  add_common(keys_create, keys_c);
  add_topics_file(keys_create, keys_c);
  keys_create->add_option("--tenant", tenant, "Tenant (project) the key belongs to")
      ->envname("GOALSTREAM_TENANT")
      ->required();
  keys_create->add_option("--scopes", scopes, "Comma-separated scopes: goals:read, goals:write")
      ->envname("GOALSTREAM_SCOPES")
      ->capture_default_str();

  auto* rebuild = app.add_subcommand("rebuild",
                                     "Replay both input topics from the beginning into an empty "
                                     "store; prints the digest when caught up");
  std::string rebuild_dir;
  add_common(rebuild, rebuild_c);
  add_thresholds(rebuild, rebuild_c);
  rebuild->add_option("--data-dir", rebuild_dir, "New, empty RocksDB directory")
      ->envname("GOALSTREAM_REBUILD_DIR")
      ->required();

  auto* digest = app.add_subcommand(
      "digest",
      "Print one SHA-256 digest of all projection state (independent of RocksDB's file layout)");
  std::string digest_dir = "./data";
  digest
      ->add_option("--data-dir", digest_dir,
                   "RocksDB directory (opened read-only; serve may keep running)")
      ->envname("GOALSTREAM_DATA_DIR")
      ->capture_default_str();
  add_common(digest, digest_c);  // accepted like the other commands' (docs/operations.md), not used

  auto* topics =
      app.add_subcommand("topics", "Manage the Kafka topics declared in topics/topics.json");
  topics->require_subcommand(1);
  auto* topics_ensure = topics->add_subcommand(
      "ensure",
      "Create missing topics; report (and exit 1 on) topics whose partitions or configs differ");
  add_common(topics_ensure, topics_c);
  add_topics_file(topics_ensure, topics_c);

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --help-all, --version: printed, exit 0
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return cli_error(app, e);
  }

  if (*serve) return run_serve(serve_c, data_dir, listen, workers, max_connections);
  if (*keys_create) return run_keys_create(keys_c, tenant, scopes);
  if (*rebuild) return run_rebuild(rebuild_c, rebuild_dir);
  if (*digest) return run_digest(digest_dir);
  if (*topics_ensure) return ensure_topics(topics_c, true, false) ? 0 : 1;
  return 1;
}
