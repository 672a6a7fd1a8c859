// Process-wide counters and gauges, rendered in the Prometheus text format by
// the API. Every member is atomic: safe to update and read from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace gs {

struct Telemetry {
  std::atomic<uint64_t> events_in{0};            // event messages consumed
  std::atomic<uint64_t> events_valid{0};         // passed validation
  std::atomic<uint64_t> events_duplicate{0};     // dropped as duplicates
  std::atomic<uint64_t> events_invalid{0};       // failed validation (skipped)
  std::atomic<uint64_t> events_deadlettered{0};  // invalid events delivered to the deadletter topic
  std::atomic<uint64_t> events_matched{0};       // (event, goal) matches counted live
  std::atomic<uint64_t> commands_applied{0};
  std::atomic<uint64_t> commands_rejected{0};
  std::atomic<uint64_t> commands_duplicate{0};  // skipped: their Idempotency-Key was used before
  std::atomic<uint64_t> deadletter_failures{
      0};  // deadletter deliveries that failed (each is retried)
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> deltas_records{0}, deltas_transactions{0};
  std::atomic<uint64_t> deltas_folded_records{0}, deltas_folded_events{0};
  std::atomic<uint64_t> backfill_events_scanned{0};
  std::atomic<uint64_t> backfill_jobs_completed{0};
  std::atomic<uint64_t> changes_published{0};
  std::atomic<uint64_t> kafka_errors{0};
  std::atomic<uint64_t> http_requests{0};
  std::atomic<uint64_t> http_reads_reused{0};    // GET answers given again (http/read_cache.h)
  std::atomic<uint64_t> ws_frames_sent{0};       // WebSocket frames written to clients
  std::atomic<uint64_t> ws_sessions_dropped{0};  // closed 1008 "too slow": frames piled up
  std::atomic<int64_t> events_lag{0};            // sum over partitions: high watermark - position
  std::atomic<int64_t> commands_lag{0};
  std::atomic<int64_t> backfill_jobs_pending{0};
  std::atomic<int64_t> dedup_events{0};  // remembered by the dedup tables (projection/dedup.h)
  std::atomic<int64_t> dedup_bytes{0};   // the tables' size
  std::atomic<int64_t> ws_sessions{0};   // open WebSocket sessions (GET /api/ws/changes)

  // Batch latency histogram (seconds): consume of the first message to commit.
  static constexpr std::array<double, 10> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,  0.1,    0.25,  0.5,  1.0};
  std::array<std::atomic<uint64_t>, kBuckets.size() + 1> batch_latency_buckets{};
  std::atomic<uint64_t> batch_latency_micros_sum{0};

  void observe_batch_latency(double seconds) {
    size_t i = 0;
    while (i < kBuckets.size() && seconds > kBuckets[i]) ++i;
    batch_latency_buckets[i]++;
    batch_latency_micros_sum += static_cast<uint64_t>(seconds * 1e6);
  }

  std::string prometheus() const;
};

}  // namespace gs
