// goalstream rebuild: a processor of its own (no deadletter output) replays
// both input topics into an empty store, showing progress once a second,
// until it reaches the ends the topics had at the start and no backfill job
// is left. With --from deltas it first folds the deltas topic (what serve's
// ingest made of the events, Loop::replay_deltas) and ingests only the
// events after it.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "base/telemetry.h"
#include "base/time.h"
#include "commands.h"
#include "fail.h"
#include "kernel/changes.h"
#include "kernel/processor.h"
#include "kernel/state.h"
#include "modules/all.h"

namespace gs::app {

namespace {

std::string fmt_duration(double s) {
  char buf[32];
  if (s < 120)
    std::snprintf(buf, sizeof buf, "%.0fs", s);
  else
    std::snprintf(buf, sizeof buf, "%.0fm%02.0fs", std::floor(s / 60), std::fmod(s, 60));
  return buf;
}

}  // namespace

int run_rebuild(const Common& c, const std::string& data_dir, bool from_deltas) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(data_dir, ec) && !fs::is_empty(data_dir, ec))
    return fail("--data-dir: " + data_dir +
                " is not empty; rebuild writes a new store into an empty directory");
  fs::create_directories(data_dir, ec);
  auto store = modules::open_store(data_dir);
  if (!store.ok()) return fail(store.error());
  Telemetry telemetry;
  modules::ModuleList modules(c.thresholds);
  kernel::ProcessorOptions popts;
  popts.modules = modules.all();
  popts.kafka = c.kafka;
  popts.emit_deadletter = false;
  popts.dedup_horizon_hours = *horizon_hours(c.dedup_horizon);
  popts.replay_deltas = from_deltas;
  kernel::Processor processor(**store, popts, telemetry);
  auto t0 = std::chrono::steady_clock::now();
  if (from_deltas)
    std::fprintf(stderr, "folding %sdeltas from %s into %s\n", c.kafka.topic_prefix.c_str(),
                 c.kafka.brokers.c_str(), data_dir.c_str());
  if (auto st = processor.start(); !st.ok()) return fail(st.error());
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
                 static_cast<long long>(telemetry.backfill_jobs_pending.load()), parts.c_str());
    if (!reached) continue;
    auto pending = state::jobs(**store);
    if (!pending.ok()) return fail(pending.error());
    if (pending->empty()) break;
  }
  processor.stop();
  // The live store announced these statuses already; record them unannounced.
  auto seeded = kernel::ChangesPublisher::seed(**store, modules.announcers(), time::now_ms());
  if (!seeded.ok()) return fail(seeded.error());
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::string folded;
  if (from_deltas)
    folded = std::to_string(telemetry.deltas_folded_events.load()) +
             " events folded from the deltas topic (" +
             std::to_string(telemetry.deltas_folded_records.load()) + " records), then ";
  std::fprintf(stderr,
               "rebuild caught up in %s: %s%llu events (%llu invalid, skipped; %llu "
               "duplicates), %llu commands\n",
               fmt_duration(secs).c_str(), folded.c_str(),
               static_cast<unsigned long long>(telemetry.events_in.load()),
               static_cast<unsigned long long>(telemetry.events_invalid.load()),
               static_cast<unsigned long long>(telemetry.events_duplicate.load()),
               static_cast<unsigned long long>(telemetry.commands_applied.load()));
  std::printf("%s\n", (*store)->digest().c_str());
  return 0;
}

}  // namespace gs::app
