// goalstream serve: binds the listen address, checks the topics, opens the
// store, then starts the processor, the changes publisher and the HTTP
// server, and runs until SIGTERM/SIGINT or a fatal error. Every way out
// stops the services through one Services list (services.h).
#include <sys/resource.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <thread>

#include "base/log.h"
#include "base/telemetry.h"
#include "commands.h"
#include "fail.h"
#include "http/hub.h"
#include "http/routes.h"
#include "http/server.h"
#include "kernel/changes.h"
#include "kernel/kafka.h"
#include "kernel/processor.h"
#include "modules/all.h"
#include "services.h"

namespace gs::app {

namespace {

sigset_t block_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// While shutting down, a (further) SIGTERM or SIGINT ends the process at once.
void exit_on_signal(sigset_t signals, const char* during) {
  std::thread([signals, during] {
    int again = 0;
    if (sigwait(&signals, &again) == 0) {
      std::fprintf(stderr, "goalstream: received %s %s; exiting at once\n",
                   again == SIGTERM ? "SIGTERM" : "SIGINT", during);
      std::fflush(stderr);
      std::_Exit(1);
    }
  }).detach();
}

// Raises the soft limit on open files to the hard limit (idle HTTP
// connections, RocksDB's files and Kafka's sockets share it); returns the
// limit in force.
// The roadmap generator the options name (null: the built-in template), or
// an Error naming the option: "--llm-base-url: must be ...".
Result<std::shared_ptr<roadmap::Generator>> make_generator(const ServeOptions& o) {
  if (o.roadmap_generator == "template") {
    if (!o.llm_base_url.empty() || !o.llm_model.empty())
      return invalid("--roadmap-generator",
                     "is template; --llm-base-url and --llm-model need --roadmap-generator openai");
    return std::shared_ptr<roadmap::Generator>();
  }
  if (o.roadmap_generator != "openai")
    return invalid("--roadmap-generator", "must be template or openai");
  if (o.llm_base_url.empty())
    return invalid("--llm-base-url", "is required with --roadmap-generator openai");
  if (o.llm_model.empty())
    return invalid("--llm-model", "is required with --roadmap-generator openai");
  if (!(o.llm_timeout_s > 0 && o.llm_timeout_s <= 3600))
    return invalid("--llm-timeout", "must be more than 0 and at most 3600 seconds");
  roadmap::LlmOptions lo;
  lo.base_url = o.llm_base_url;
  lo.model = o.llm_model;
  if (const char* key = std::getenv(o.llm_api_key_env.c_str())) lo.api_key = key;
  lo.timeout = std::chrono::milliseconds(static_cast<long long>(o.llm_timeout_s * 1000));
  auto g = roadmap::openai_generator(std::move(lo));
  if (!g) {
    Error e = g.error();
    if (e.field == "base_url")
      e.field = "--llm-base-url";
    else if (e.field == "model")
      e.field = "--llm-model";
    else if (e.field == "api_key")
      e.field = "--llm-api-key-env";
    else if (e.field == "timeout")
      e.field = "--llm-timeout";
    if (e.field == "--llm-api-key-env") e.message = o.llm_api_key_env + ": the key " + e.message;
    return e;
  }
  log::info("roadmap generator " + std::string((*g)->name()) + " at " + o.llm_base_url);
  return std::shared_ptr<roadmap::Generator>(std::move(*g));
}

// --partitions: "0,2,4", "0-2", or a mix; every number once.
Result<std::vector<int>> parse_partitions(const std::string& text) {
  std::vector<int> out;
  if (text.empty()) return out;
  auto bad = [&](const std::string& why) {
    return Error{ErrorCode::invalid, "--partitions", "'" + text + "': " + why};
  };
  size_t at = 0;
  while (at <= text.size()) {
    size_t comma = text.find(',', at);
    std::string item = text.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    at = comma == std::string::npos ? text.size() + 1 : comma + 1;
    size_t dash = item.find('-');
    auto number = [&](const std::string& s) -> std::optional<int> {
      if (s.empty() || s.size() > 6 || s.find_first_not_of("0123456789") != std::string::npos)
        return std::nullopt;
      return std::stoi(s);
    };
    auto lo = number(item.substr(0, dash));
    auto hi = dash == std::string::npos ? lo : number(item.substr(dash + 1));
    if (!lo || !hi) return bad("'" + item + "' is not a partition number or a range like 0-2");
    if (*hi < *lo) return bad("'" + item + "' ends before it starts");
    for (int p = *lo; p <= *hi; ++p) {
      if (std::find(out.begin(), out.end(), p) != out.end())
        return bad("partition " + std::to_string(p) + " is named twice");
      out.push_back(p);
    }
  }
  return out;
}

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

}  // namespace

int run_serve(const Common& c, const ServeOptions& o) {
  auto listen_opts = api::parse_listen(o.listen);
  if (!listen_opts.ok()) return fail(listen_opts.error());
  if (o.workers < 1) return fail("--http-workers: must be at least 1");
  if (o.readers < 1) return fail("--http-readers: must be at least 1");
  listen_opts->worker_threads = o.workers;
  listen_opts->reader_threads = o.readers;
  if (o.max_connections < 0)
    return fail("--max-connections: must be at least 1 (0: derived from the open files limit)");
  auto partitions = parse_partitions(o.partitions);
  if (!partitions.ok()) return fail(partitions.error());
  if (!o.group.empty() && !partitions->empty())
    return fail(Error{ErrorCode::invalid, "--group",
                      "give --group or --partitions, not both: a group assigns the partitions"});
  if (o.instance_id.empty() || o.instance_id.size() > 64 ||
      o.instance_id.find_first_not_of(
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != std::string::npos)
    return fail(Error{ErrorCode::invalid, "--instance-id",
                      "'" + o.instance_id + "': 1 to 64 letters, digits, '.', '_' or '-'"});
  auto generator = make_generator(o);
  if (!generator) return fail(generator.error());
  long fd_limit = raise_fd_limit();
  listen_opts->max_connections =
      o.max_connections > 0 ? o.max_connections : api::default_max_connections(fd_limit);
  Telemetry telemetry;  // before the server: its WebSocket sessions count in it
  listen_opts->telemetry = &telemetry;
  // The listen address first: a taken port fails before the data dir is
  // created or Kafka touched.
  api::Server server(*listen_opts);
  if (auto st = server.bind(); !st.ok()) return fail(st.error());
  sigset_t signals = block_signals();  // before any thread starts
  if (!ensure_topics(c, false, true)) return 1;
  std::error_code ec;
  std::filesystem::create_directories(o.data_dir, ec);
  auto store = modules::open_store(o.data_dir);
  if (!store.ok()) return fail(store.error());
  auto producer = kernel::Producer::create(c.kafka, kernel::ProducerOptions::commands());
  if (!producer.ok()) return fail(producer.error());
  // The live feed of GET /api/ws/changes: what each batch changed (from the
  // writer, which only queues) and each status transition recorded.
  gs::http::Hub hub;
  modules::ModuleList modules(c.thresholds);
  kernel::ChangesOptions copts;
  copts.kafka = c.kafka;
  copts.on_status_changed = [&hub](const auto& change) { hub.status_changed(change); };
  copts.group = !o.group.empty();
  copts.transactional_id = c.kafka.topic_prefix + "changes." + o.instance_id;
  // Set once the processor exists (it starts before the publisher).
  const kernel::Processor* owner = nullptr;
  copts.partition_of = [&owner](std::string_view tenant) {
    return owner ? owner->partition_of(tenant) : 0;
  };
  if (copts.group) copts.owns = [&owner](int32_t p) { return owner && owner->group_owns(p); };
  kernel::ChangesPublisher changes(**store, copts, telemetry, modules.announcers());
  // What the API's read cache checks its answers against (versions.h).
  kernel::TenantVersions versions;
  kernel::ProcessorOptions popts;
  popts.modules = modules.all();
  popts.versions = &versions;
  popts.kafka = c.kafka;
  popts.group_id = c.kafka.topic_prefix + "processor";
  popts.transactional_id = c.kafka.topic_prefix + "ingest." + o.instance_id;
  popts.partitions = *partitions;
  popts.ingest_group = o.group;
  popts.replay_deltas = true;
  popts.dedup_horizon_hours = *horizon_hours(c.dedup_horizon);
  popts.on_applied = [&changes, &hub](const auto& touched) {
    changes.notify(touched);
    hub.notify(touched);
  };
  // Status transitions move with the events partitions (kernel/changes.h).
  popts.on_gain = [&changes](const auto& partitions) { changes.adopt(partitions); };
  popts.on_release = [&changes](const auto& partitions) { changes.release(partitions); };
  kernel::Processor processor(**store, popts, telemetry);
  owner = &processor;

  // Stopped in reverse order of adding: the HTTP server (in-flight requests
  // finish, WebSocket sessions are closed), the hub's thread, the processor
  // (finishes and commits its batch), the changes publisher, and last the API's producer is
  // flushed. The changes publisher is added before the processor that feeds it (on_applied) so that
  // it stops after the processor's last batch; it is still started after the processor (its stop()
  // is safe before start()).
  Services services;
  services.add("api producer", [&producer] { (*producer)->flush(10000); });
  services.add(
      "changes publisher", [&changes] { changes.stop(); },
      [&changes] { return changes.failure(); });
  // The line first: it must be there even if stopping hangs (fail() also
  // bounds how long that may take).
  auto stop_after = [&](const Error& e) {
    int code = fail(e);
    exit_on_signal(signals, "while cleaning up after the error");
    services.stop();
    return code;
  };
  // SIGTERM or SIGINT while the processor starts (its fold of the deltas
  // topic can take a while) stops the start; the main loop takes signals
  // only after it.
  std::atomic<bool> starting{true};
  std::atomic<int> start_signal{0};
  std::thread watcher([&] {
    while (starting) {
      timespec ts{0, 100'000'000};
      int s = sigtimedwait(&signals, nullptr, &ts);
      if (s == SIGTERM || s == SIGINT) {
        start_signal = s;
        processor.request_stop();
        return;
      }
    }
  });
  auto started = processor.start();
  starting = false;
  watcher.join();
  if (start_signal) {
    log::info(std::string("received ") + (start_signal == SIGTERM ? "SIGTERM" : "SIGINT") +
              " while starting; stopping (the next start goes on from what was written)");
    exit_within(std::chrono::seconds(60), 1, "stopping");
    exit_on_signal(signals, "again while stopping");
    processor.stop();
    services.stop();
    log::info("stopped cleanly");
    return 0;
  }
  if (!started.ok()) return stop_after(started.error());
  services.add(
      "processor", [&processor] { processor.stop(); },
      [&processor] { return processor.failure(); });
  if (auto st =
          changes.start(processor.event_partitions(),
                        o.group.empty() ? processor.owned_partitions() : std::vector<int32_t>{});
      !st.ok())
    return stop_after(st.error());
  kernel::KafkaCommandBus bus(**producer, c.kafka.commands(), processor);
  api::ApiContext ctx{.store = **store,
                      .processor = processor,
                      .commands = bus,
                      .kafka = c.kafka,
                      .telemetry = telemetry,
                      .families = modules::route_families(c.thresholds, *generator),
                      .hub = &hub,
                      .versions = &versions};
  hub.start(api::progress_frames(ctx));
  services.add(
      "websocket hub", [&hub] { hub.stop(); }, [&hub] { return hub.failure(); });
  // After the HTTP server (no new generation starts): waits for the running
  // roadmap generations, whose results are dropped.
  services.add("roadmap generations", [&ctx] {
    for (auto& family : ctx.families)
      if (family.stop) family.stop();
  });
  if (auto st = server.start(api::make_router(ctx)); !st.ok()) return stop_after(st.error());
  services.add("http server", [&server] { server.stop(); });
  log::info("goalstream serving on http://" + listen_opts->address + ":" +
            std::to_string(server.port()) + " (brokers " + c.kafka.brokers + ", topics " +
            c.kafka.topic_prefix + "*, data " + o.data_dir + ", at most " +
            std::to_string(listen_opts->max_connections) + " connections)");
  int sig = 0;
  while (true) {
    timespec ts{1, 0};
    sig = sigtimedwait(&signals, nullptr, &ts);
    if (sig == SIGINT || sig == SIGTERM) break;
    // `goalstream: data-dir: ...` for a failed store write
    if (auto failure = services.failure()) return stop_after(*failure);
  }
  log::info(std::string("received ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") + ", draining");
  // Draining is bounded (in-flight writes wait at most their timeout, the
  // producers' flushes are bounded, a roadmap generation its LLM timeout);
  // a second signal ends it at once.
  auto llm_wait = std::chrono::seconds(
      o.roadmap_generator == "openai" ? static_cast<long long>(o.llm_timeout_s) + 1 : 0);
  exit_within(std::chrono::seconds(60) + llm_wait, 1, "draining");
  exit_on_signal(signals, "again while draining");
  services.stop();
  log::info("stopped cleanly");
  return 0;
}

}  // namespace gs::app
