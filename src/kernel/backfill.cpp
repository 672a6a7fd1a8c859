#include "kernel/backfill.h"

#include <charconv>
#include <set>

#include "base/keys.h"
#include "base/log.h"
#include "kernel/poller.h"
#include "kernel/state.h"
#include "model/event.h"

namespace gs::kernel {

using json = nlohmann::json;

void Backfill::start() {
  thread_ = spawn("gs-backfill", d_.fatal, [this] { run(); });
}

void Backfill::join() {
  if (thread_.joinable()) thread_.join();
}

void Backfill::run() {
  while (!stop()) {
    auto jobs = state::jobs(d_.store);
    if (!jobs.ok()) {
      d_.fatal.set(jobs.error());
      return;
    }
    for (auto& [tenant, counter, record] : *jobs) {
      if (stop()) return;
      if (d_.handoff.cancelled(job_key(tenant, counter))) continue;
      auto job = parse_job(tenant, counter, record);
      if (!job.ok()) {
        d_.fatal.set(job.error());
        return;
      }
      run_job(tenant, counter, std::move(job).value());
    }
    d_.handoff.idle(std::chrono::seconds(1), [this] { return stop(); });
  }
}

Result<Backfill::Job> Backfill::parse_job(const std::string& tenant, const std::string& counter,
                                          const json& record) {
  auto bad = [&](const std::string& why) {
    auto [goal, series] = projection::split_counter_id(counter);
    return Error{ErrorCode::internal, "data-dir",
                 "malformed backfill job of " + tenant + "/" + std::string(goal) +
                     (series.empty() ? "" : " series " + std::string(series)) + ": " + why +
                     " (rebuild into a new --data-dir)"};
  };
  if (!record.is_object()) return bad("not a JSON object");
  Job job;
  auto g = record.find("generation");
  if (g != record.end()) {
    if (!g->is_number_integer()) return bad("generation is not an integer");
    job.generation = g->get<int64_t>();
  }
  for (auto [member, out] : {std::pair{"snapshot", &job.snapshot}, {"progress", &job.position}}) {
    auto it = record.find(member);
    if (it == record.end()) continue;
    if (!it->is_object()) return bad(std::string(member) + " is not an object");
    for (auto& [p, off] : it->items()) {
      int32_t partition = -1;
      auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), partition);
      if (ec != std::errc() || end != p.data() + p.size() || partition < 0)
        return bad(std::string(member) + " names partition '" + p + "'");
      if (!off.is_number_integer())
        return bad(std::string(member) + " of partition " + p + " is not an integer");
      (*out)[partition] = off.get<int64_t>();
    }
  }
  return job;
}

void Backfill::run_job(const std::string& tenant, const std::string& counter, Job job) {
  const auto& kafka = d_.opts.kafka;
  auto jid = job_key(tenant, counter);
  auto [base_id, series] = projection::split_counter_id(counter);
  // The module whose counter this is counts its events.
  std::unique_ptr<BackfillCounter> counting;
  for (const Module* m : d_.opts.modules) {
    auto c = m->backfill(d_.store, tenant, counter);
    if (!c.ok()) return d_.fatal.set(c.error());
    if (*c) {
      counting = std::move(*c);
      break;
    }
  }
  if (!counting) return;  // gone meanwhile: its job is gone too
  auto& snapshot = job.snapshot;
  auto& position = job.position;
  int64_t total = 0, scanned = 0;
  for (auto& [p, end] : snapshot) {
    total += end;
    scanned += position.count(p) ? position[p] : 0;
  }
  // The pre-fetch bounds its doorbell works from (poller.h): a job reads as
  // fast as the processor's poller and, like it, would otherwise wait up to
  // a second each time the queue filled.
  auto consumer_h =
      make_consumer(kafka, {{"group.id", kafka.topic_prefix + "backfill"},
                            {"enable.auto.commit", "false"},
                            {"enable.auto.offset.store", "false"},
                            {"auto.offset.reset", "earliest"},
                            {"queued.min.messages", std::to_string(kPrefetchMaxMessages)},
                            {"queued.max.messages.kbytes", std::to_string(kPrefetchMaxKbytes)}});
  if (!consumer_h.ok()) {
    log::error("backfill: " + consumer_h.error().message);
    return;
  }
  rd_kafka_t* rk = consumer_h->get();
  rd_kafka_poll_set_consumer(rk);
  std::set<int32_t> remaining;
  PartitionList l = new_partition_list(static_cast<int>(snapshot.size()));
  for (auto& [p, end] : snapshot) {
    int64_t from = position.count(p) ? position[p] : 0;
    if (from >= end) continue;
    rd_kafka_topic_partition_list_add(l.get(), kafka.events().c_str(), p)->offset =
        from == 0 ? RD_KAFKA_OFFSET_BEGINNING : from;
    remaining.insert(p);
  }
  rd_kafka_assign(rk, l.get());
  l.reset();
  FetchDoorbell doorbell(rk);
  size_t unrung = 0, unrung_bytes = 0;  // consumed since the doorbell last looked
  // Series counters hold a 0x1f separator: show it as " series ".
  std::string shown = tenant + "/" + std::string(base_id) +
                      (series.empty() ? "" : " series " + std::string(series));
  log::info("backfill of " + shown + " started: " + std::to_string(total - scanned) +
            " events to scan");

  model::EventParser local_parser(event_rules(d_.opts.modules));
  projection::Delta counts;
  size_t since_flush = 0;
  auto last_flush = Clock::now();
  auto flush = [&](bool done) {
    Partial part{tenant, counter, job.generation, counts, position, done, 0};
    counts.clear();
    since_flush = 0;
    last_flush = Clock::now();
    d_.handoff.set_status(jid, scanned, total);
    return d_.handoff.submit_and_wait(std::move(part), [this] { return stop(); });
  };
  bool ok = true;
  while (!remaining.empty()) {
    if (d_.stopping || d_.handoff.cancelled(jid)) {
      ok = false;
      break;
    }
    KafkaMessage m(rd_kafka_consumer_poll(rk, 200));
    if (!m) {
      // Offsets can have gaps (e.g. transaction markers): trust the position.
      PartitionList pos = new_partition_list(static_cast<int>(remaining.size()));
      for (int32_t p : remaining)
        rd_kafka_topic_partition_list_add(pos.get(), kafka.events().c_str(), p);
      rd_kafka_position(rk, pos.get());
      for (int i = 0; i < pos->cnt; ++i)
        if (pos->elems[i].offset >= snapshot[pos->elems[i].partition])
          remaining.erase(pos->elems[i].partition);
      if (since_flush && Clock::now() - last_flush > std::chrono::seconds(1) && !flush(false)) {
        ok = false;
        break;
      }
      continue;
    }
    ++unrung;
    unrung_bytes += m->len;
    if (unrung >= 1024) {
      doorbell.after(unrung, unrung_bytes);
      unrung = unrung_bytes = 0;
    }
    if (!m->err && remaining.count(m->partition) && m->offset < snapshot[m->partition]) {
      std::string_view bytes(static_cast<const char*>(m->payload), m->payload ? m->len : 0);
      auto ev = local_parser.parse(bytes);
      if (ev.ok() && ev->tenant_id == tenant && counting->matches(*ev)) {
        // Count only first occurrences: live processing recorded the rest.
        auto dup = state::is_duplicate(d_.store, {m->partition, m->offset});
        if (!dup.ok()) {
          d_.fatal.set(dup.error());
          ok = false;
          break;
        }
        if (!*dup) counting->add(*ev, counts);
      }
      position[m->partition] = m->offset + 1;
      ++scanned;
      ++since_flush;
      d_.telemetry.backfill_events_scanned++;
      if (m->offset + 1 >= snapshot[m->partition]) remaining.erase(m->partition);
    }
    m.reset();  // not held while the hand-over waits
    if (since_flush >= 50000 && !flush(false)) {
      ok = false;
      break;
    }
  }
  doorbell.release();
  consumer_h->close();  // now, not after the last hand-over (destroyed at return)
  if (ok) {
    for (auto& [p, end] : snapshot) position[p] = end;
    scanned = total;
    if (flush(true)) log::info("backfill of " + shown + " done");
  }
  d_.handoff.clear_status(jid);
}

}  // namespace gs::kernel
