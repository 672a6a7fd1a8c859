// The backfill thread: runs the backfill jobs of the store one at a time.
// A job counts the events below its snapshot (the live positions when its
// goal or series was defined) for that goal or series only, with its own
// consumer, and hands the counts to the processor thread (BackfillHandoff),
// which writes them with the job's progress in one batch.
#pragma once

#include <atomic>
#include <thread>

#include <nlohmann/json.hpp>

#include "base/telemetry.h"
#include "kernel/handoff.h"
#include "kernel/processor.h"
#include "storage/store.h"

namespace gs::kernel {

class Backfill {
 public:
  explicit Backfill(Shared shared) : d_(shared) {}
  ~Backfill() { join(); }

  void start();
  // Joins the thread (after the caller set `stopping` and woke the handoff).
  void join();

 private:
  void run();
  // A job as stored: its generation, snapshot and progress per partition.
  struct Job {
    int64_t generation = 0;
    std::map<int32_t, int64_t> snapshot, position;
  };
  static Result<Job> parse_job(const std::string& tenant, const std::string& counter,
                               const nlohmann::json& record);
  void run_job(const std::string& tenant, const std::string& counter, Job job);
  bool stop() const { return d_.stopping || d_.fatal.failed(); }

  Shared d_;
  std::thread thread_;
};

}  // namespace gs::kernel
