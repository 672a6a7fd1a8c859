// Folding the deltas topic into the store: what a start does before ingest
// resumes (records a crash left in the topic but not in the store), and
// what rebuild --from deltas does from an empty store.
#include <chrono>
#include <cstdlib>
#include <deque>
#include <limits>
#include <thread>
#include <utility>

#include "base/log.h"
#include "kernel/loop.h"

namespace gs::kernel {
namespace {

// A store write every so many events folded (memory: the batch and the
// delta being built hold them), and at most so many decoded records queued
// per partition (more are left in Kafka: the partition is paused).
constexpr uint64_t kWriteEveryEvents = 200000;
constexpr size_t kQueueMax = 16, kQueueResume = 4;

}  // namespace

// Folds the records of the deltas topic after `next` (per partition, the
// offset after the last record the store holds), read_committed, up to the
// end each partition has now, merged with the commands in the order live
// ingest saw them: a record matched with the commands before offset c
// applied folds after command c-1 and before command c. A record whose
// events the store has already is skipped. At a record that does not
// continue the store (it starts after or inside what the store has, or has
// another dedup horizon) the partition detaches: its later records are read
// only for where they end (chain_end), and ingest takes its events from the
// store's position, producing no record before that end. The store is
// written as it goes.
Result<Loop::Replayed> Loop::replay_deltas(const std::vector<int64_t>& next) {
  auto started = std::chrono::steady_clock::now();
  Replayed out;
  auto shown = started;
  // GOALSTREAM_FOLD_DELAY_MS (tests only): a pause after each record folded.
  std::chrono::milliseconds fold_delay(0);
  if (const char* ms = std::getenv("GOALSTREAM_FOLD_DELAY_MS"))
    fold_delay = std::chrono::milliseconds(std::atoi(ms));
  auto consumer = make_consumer(opts.kafka, {{"group.id", opts.kafka.topic_prefix + "replay"},
                                             {"enable.auto.commit", "false"},
                                             {"enable.auto.offset.store", "false"},
                                             {"enable.partition.eof", "true"},
                                             {"isolation.level", "read_committed"},
                                             {"auto.offset.reset", "earliest"},
                                             {"fetch.wait.max.ms", "50"}});
  if (!consumer.ok()) return consumer.error();
  rd_kafka_t* rk = consumer->get();
  const std::string topic = opts.kafka.deltas(), commands = opts.kafka.commands();
  {
    PartitionList l = new_partition_list(event_partitions + 1);
    for (int p = 0; p < event_partitions; ++p)
      rd_kafka_topic_partition_list_add(l.get(), topic.c_str(), p)->offset =
          next[static_cast<size_t>(p)] == 0 ? RD_KAFKA_OFFSET_BEGINNING
                                            : next[static_cast<size_t>(p)];
    rd_kafka_topic_partition_list_add(l.get(), commands.c_str(), 0)->offset =
        cmd_next == 0 ? RD_KAFKA_OFFSET_BEGINNING : cmd_next;
    if (auto err = rd_kafka_assign(rk, l.get()))
      return Error{ErrorCode::unavailable, "",
                   std::string("cannot assign the deltas topic: ") + rd_kafka_err2str(err)};
  }
  std::vector<std::deque<Queued>> queued(static_cast<size_t>(event_partitions));
  std::vector<bool> at_end(static_cast<size_t>(event_partitions), false);
  std::vector<bool> detached(static_cast<size_t>(event_partitions), false);
  int64_t events_left = 0;  // the events topic's, beyond the store (for progress)
  for (int p = 0; p < event_partitions; ++p) {  // nothing to read: no end-of-partition to wait for
    auto wm = query_watermarks(rk, topic, p);
    if (!wm.ok()) return wm.error();
    if (next[static_cast<size_t>(p)] >= wm->second) at_end[static_cast<size_t>(p)] = true;
    auto ev = query_watermarks(rk, opts.kafka.events(), p);
    if (!ev.ok()) return ev.error();
    events_left += std::max<int64_t>(0, ev->second - ev_next[static_cast<size_t>(p)]);
  }
  // Folded here, not produced again.
  bool produce = std::exchange(produce_deltas, false);
  struct Restore {
    bool& flag;
    bool value;
    ~Restore() { flag = value; }
  } restore{produce_deltas, produce};
  // Loop::passed with what is queued here: a queued record's front is
  // past c once the records up to c are folded.
  auto passed_queued = [&](int64_t c) {
    for (size_t p = 0; p < owned.size(); ++p)
      if (!owned[p] && promised[p] <= c && queued[p].empty()) return false;
    return true;
  };
  std::deque<KafkaMessage> cmds;
  bool commands_at_end = false;
  bool handed_over = false;  // a command waits for other instances' records
  storage::Batch batch = store.batch();
  uint64_t pending = 0;  // events (and records) folded since the last write
  std::vector<bool> paused(static_cast<size_t>(event_partitions), false);
  auto pause = [&](int p, bool on) {
    PartitionList l = new_partition_list(1);
    rd_kafka_topic_partition_list_add(l.get(), topic.c_str(), p);
    if (on)
      rd_kafka_pause_partitions(rk, l.get());
    else
      rd_kafka_resume_partitions(rk, l.get());
    paused[static_cast<size_t>(p)] = on;
  };
  auto write = [&]() -> Status {
    if (batch.count() == 0) return {};
    auto st = store.write(batch);
    batch = store.batch();
    pending = 0;
    touched.clear();
    return st;
  };
  while (true) {
    // Folds what can be folded in order.
    while (!stopping && !fatal.failed()) {
      bool need_more = false;
      int best = -1;
      int64_t cmin = std::numeric_limits<int64_t>::max();
      for (int p = 0; p < event_partitions; ++p) {
        auto& q = queued[static_cast<size_t>(p)];
        if (q.empty()) {
          if (!at_end[static_cast<size_t>(p)] && !detached[static_cast<size_t>(p)])
            need_more = true;
          continue;
        }
        if (q.front().record.commands < cmin) cmin = q.front().record.commands, best = p;
      }
      if (need_more) break;
      // Commands after the last record are left to the processor, which
      // applies them with its batches (and their deadletters).
      if (best >= 0 && !cmds.empty() && cmds.front()->offset < cmin) {
        // With partitions owned elsewhere, a command waits until each has a
        // record matched after it (Loop::passed): its owner may still
        // produce records before it. The live processor takes it from
        // here, and reads again the records left queued (they start after
        // the store's off/d/; `promised` counts only the records folded,
        // so it promises nothing for them). Every record left has commands
        // > c; this instance's own are markers it wrote while c waited
        // (empty: nothing is lost by not folding them).
        if (!passed_queued(cmds.front()->offset)) {
          handed_over = true;
          break;
        }
        fold_delta(batch);
        apply_command(cmds.front().get(), batch);
        // A rejected command's deadletter is delivered before the offset
        // past it is written.
        if (opts.emit_deadletter && producer && !producer->flush(30000))
          return Error{ErrorCode::unavailable, "",
                       "the deadletter of a command was not delivered within 30 s"};
        cmd_next = cmds.front()->offset + 1;
        state::set_offset(batch, state::Source::commands, 0, cmd_next);
        cmds.pop_front();
        ++out.commands;
        auto st = write();  // a command's effects are in the store before the next record
        if (!st.ok()) return st.error();
        continue;
      }
      if (best < 0) break;  // every partition at its end
      if (cmin > cmd_next) {
        if (commands_at_end)
          return Error{ErrorCode::conflict, "deltas",
                       topic + " partition " + std::to_string(best) + " offset " +
                           std::to_string(queued[static_cast<size_t>(best)].front().offset) +
                           " was matched with the commands before offset " + std::to_string(cmin) +
                           ", but " + commands + " ends at " + std::to_string(cmd_next)};
        break;  // the commands it was matched after are not fetched yet
      }
      Queued q = std::move(queued[static_cast<size_t>(best)].front());
      queued[static_cast<size_t>(best)].pop_front();
      const auto& r = q.record;
      auto p = static_cast<size_t>(best);
      std::string why = discontinuity(p, r);
      promised[p] = std::max(promised[p], r.commands);
      chain_end[p] = std::max(chain_end[p], r.to);
      if (!why.empty() && !owned[p]) return not_continued(best, q.offset, why);
      if (!why.empty()) {
        // The partition's records no longer continue this store: ingest
        // takes it from here, from the events, producing nothing until past
        // the end of the records.
        detached[p] = true;
        ++out.detached;
        // Records read already are not fetched again: their ends count too.
        for (const auto& later : queued[p]) {
          chain_end[p] = std::max(chain_end[p], later.record.to);
          q.offset = later.offset;
        }
        queued[p].clear();
        if (paused[p]) pause(best, false);
        log::warn("deltas: " + topic + " partition " + std::to_string(best) + " offset " +
                  std::to_string(q.offset) + " " + why +
                  ": this partition's events are ingested again from offset " +
                  std::to_string(ev_next[p]) +
                  " (a store rebuilt from the events, or deltas produced since an upgrade)");
      } else if (r.to <= ev_next[p]) {
        ++out.skipped;
      } else {
        fold_record(best, q.offset, r, batch);
        out.events += static_cast<uint64_t>(r.to - r.from);
        pending += static_cast<uint64_t>(r.to - r.from);
        if (fold_delay.count() > 0) std::this_thread::sleep_for(fold_delay);
        ++out.records;
      }
      state::set_offset(batch, state::Source::deltas, best, q.offset + 1);
      state::set_offset(batch, state::Source::chain, best, chain_end[p]);
      if (paused[p] && queued[p].size() <= kQueueResume) pause(best, false);
      if (++pending >= kWriteEveryEvents) {
        fold_delta(batch);
        auto st = write();
        if (!st.ok()) return st.error();
      }
    }
    if (handed_over) break;
    if (stopping)
      return Error{ErrorCode::unavailable, "", "stopped while folding the deltas topic"};
    if (fatal.failed()) return *fatal.error();
    bool all_at_end = true;
    for (int p = 0; p < event_partitions; ++p)
      all_at_end =
          all_at_end && at_end[static_cast<size_t>(p)] && queued[static_cast<size_t>(p)].empty();
    if (all_at_end) break;
    if (std::chrono::steady_clock::now() - shown > std::chrono::seconds(2)) {
      shown = std::chrono::steady_clock::now();
      auto folded = static_cast<int64_t>(out.events);
      log::info("deltas: folded " + std::to_string(out.records) + " records (" +
                std::to_string(folded) + " of the " + std::to_string(events_left) +
                " events beyond the store, " +
                std::to_string(events_left > 0 ? std::min<int64_t>(100, folded * 100 / events_left)
                                               : 100) +
                "%) and " + std::to_string(out.commands) + " commands so far");
    }
    KafkaMessage m(rd_kafka_consumer_poll(rk, 200));
    if (!m) continue;
    std::string_view from = rd_kafka_topic_name(m->rkt);
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (from == commands)
        commands_at_end = true;
      else if (m->partition >= 0 && m->partition < event_partitions)
        at_end[static_cast<size_t>(m->partition)] = true;
      continue;
    }
    if (m->err) {
      telemetry.kafka_errors++;
      log::warn(std::string("deltas replay: ") + rd_kafka_message_errstr(m.get()));
      continue;
    }
    if (from == commands) {
      commands_at_end = false;
      cmds.push_back(std::move(m));
      continue;
    }
    std::string_view bytes(static_cast<const char*>(m->payload), m->payload ? m->len : 0);
    auto r = projection::decode_record(bytes);
    if (!r.ok())
      return Error{ErrorCode::invalid, "deltas",
                   topic + " partition " + std::to_string(m->partition) + " offset " +
                       std::to_string(m->offset) + ": " + r.error().message};
    if (r->partition != m->partition)
      return Error{ErrorCode::invalid, "deltas",
                   topic + " partition " + std::to_string(m->partition) + " offset " +
                       std::to_string(m->offset) + ": a record of partition " +
                       std::to_string(r->partition)};
    auto p = static_cast<size_t>(m->partition);
    if (detached[p]) {  // only its end matters now
      chain_end[p] = std::max(chain_end[p], r->to);
      promised[p] = std::max(promised[p], r->commands);
      state::set_offset(batch, state::Source::deltas, m->partition, m->offset + 1);
      state::set_offset(batch, state::Source::chain, m->partition, chain_end[p]);
      continue;
    }
    at_end[p] = false;
    queued[p].push_back({m->offset, std::move(r).value()});
    if (queued[p].size() >= kQueueMax && !paused[p]) pause(m->partition, true);
  }
  fold_delta(batch);
  auto st = write();
  if (!st.ok()) return st.error();
  // Commands fetched after the last record are applied by the processor.
  cmds.clear();
  out.ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 started)
               .count();
  return out;
}

}  // namespace gs::kernel
