#include "base/telemetry.h"

#include <sstream>

namespace gs {

std::string Telemetry::prometheus() const {
  std::ostringstream o;
  auto counter = [&](const char* name, const char* help, uint64_t v) {
    o << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " counter\n"
      << name << ' ' << v << '\n';
  };
  auto gauge = [&](const char* name, const char* help, int64_t v) {
    o << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " gauge\n"
      << name << ' ' << v << '\n';
  };
  counter("goalstream_events_in_total", "Event messages consumed from the events topic.",
          events_in);
  counter("goalstream_events_valid_total", "Events that passed validation.", events_valid);
  counter("goalstream_events_duplicate_total",
          "Events dropped because their event_id was seen before.", events_duplicate);
  counter("goalstream_events_invalid_total", "Events that failed validation and were skipped.",
          events_invalid);
  counter("goalstream_events_deadlettered_total",
          "Invalid events delivered to the deadletter topic (acknowledged by Kafka).",
          events_deadlettered);
  counter("goalstream_events_matched_total", "Event-goal matches counted by live processing.",
          events_matched);
  counter("goalstream_commands_applied_total", "Commands applied from the commands topic.",
          commands_applied);
  counter("goalstream_commands_rejected_total", "Invalid commands sent to the deadletter topic.",
          commands_rejected);
  counter("goalstream_commands_duplicate_total",
          "Commands skipped because an earlier command used their Idempotency-Key.",
          commands_duplicate);
  counter("goalstream_deadletter_failures_total",
          "Deadletter deliveries that failed; each is retried until delivered.",
          deadletter_failures);
  counter("goalstream_batches_total", "Batches committed to the store.", batches);
  counter("goalstream_deltas_records_total",
          "Records produced to the deltas topic (one per events partition and segment).",
          deltas_records);
  counter("goalstream_deltas_transactions_total",
          "Kafka transactions committed (a batch's delta records with its events offsets).",
          deltas_transactions);
  counter("goalstream_deltas_folded_records_total",
          "Records of the deltas topic folded: at start (what the store lacked), and those of "
          "partitions other instances own.",
          deltas_folded_records);
  counter("goalstream_deltas_folded_events_total", "Events covered by the deltas records folded.",
          deltas_folded_events);
  counter("goalstream_backfill_events_scanned_total", "Events read by backfill jobs.",
          backfill_events_scanned);
  counter("goalstream_backfill_jobs_completed_total", "Backfill jobs completed.",
          backfill_jobs_completed);
  counter("goalstream_changes_total", "Goal status transitions queued for the changes topic.",
          changes_published);
  counter("goalstream_kafka_errors_total", "Errors reported by librdkafka.", kafka_errors);
  counter("goalstream_http_requests_total", "HTTP requests served.", http_requests);
  counter("goalstream_http_reads_reused_total",
          "GET answers given again because the tenant's data had not changed since (the read "
          "cache).",
          http_reads_reused);
  counter("goalstream_ws_frames_sent_total", "WebSocket frames written to clients.",
          ws_frames_sent);
  counter("goalstream_ws_sessions_dropped_total",
          "WebSocket sessions closed (1008 too slow) because their client did not take frames.",
          ws_sessions_dropped);
  gauge("goalstream_events_lag",
        "Messages on the events topic not yet processed (sum over partitions).", events_lag);
  gauge("goalstream_commands_lag", "Messages on the commands topic not yet applied.", commands_lag);
  gauge("goalstream_backfill_jobs_pending", "Backfill jobs not yet completed.",
        backfill_jobs_pending);
  gauge("goalstream_dedup_events",
        "Events the dedup tables remember (within the dedup horizon, or beyond it and not yet "
        "dropped).",
        dedup_events);
  gauge("goalstream_dedup_bytes", "Memory of the dedup tables.", dedup_bytes);
  gauge("goalstream_ws_sessions", "Open WebSocket sessions.", ws_sessions);
  o << "# HELP goalstream_batch_latency_seconds Time from a batch's first message to its commit.\n"
       "# TYPE goalstream_batch_latency_seconds histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    cumulative += batch_latency_buckets[i];
    o << "goalstream_batch_latency_seconds_bucket{le=\"" << kBuckets[i] << "\"} " << cumulative
      << '\n';
  }
  cumulative += batch_latency_buckets[kBuckets.size()];
  o << "goalstream_batch_latency_seconds_bucket{le=\"+Inf\"} " << cumulative << '\n'
    << "goalstream_batch_latency_seconds_sum " << batch_latency_micros_sum / 1e6 << '\n'
    << "goalstream_batch_latency_seconds_count " << cumulative << '\n';
  return o.str();
}

}  // namespace gs
