// The processor thread's state and work (private to src/stream). Everything
// here is owned by the processor thread: start() fills it before the thread
// starts, and after that only the processor thread touches it, except the
// members marked "read-only after start", which any thread may read. Other
// threads are reached through Writer, Poller, BackfillHandoff and Fatal.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/telemetry.h"
#include "kernel/cells.h"
#include "kernel/handoff.h"
#include "kernel/kafka.h"
#include "kernel/kafka_txn.h"
#include "kernel/membership.h"
#include "kernel/module.h"
#include "kernel/poller.h"
#include "kernel/processor.h"
#include "kernel/state.h"
#include "kernel/writer.h"
#include "model/command.h"
#include "model/event.h"
#include "projection/dedup.h"
#include "projection/delta.h"
#include "projection/projection.h"
#include "storage/store.h"

namespace gs::kernel {

struct Loop : Shared, CommandContext {
  explicit Loop(Shared shared) : Shared(shared) {}

  // Set by Processor::start before the thread starts.
  rd_kafka_t* consumer = nullptr;
  Producer* producer = nullptr;  // deadletter
  Writer* writer = nullptr;
  Poller* poller = nullptr;
  std::atomic<bool>* owner_ready = nullptr;

  // Read-only after start.
  int event_partitions = 0;
  std::vector<int64_t> start_ends;  // high watermarks at start, per events partition
  int64_t start_cmd_end = 0;        // readiness means reaching them

  // Input positions: the next offset of each events partition and of the
  // commands partition, as of the batch being built.
  std::vector<int64_t> ev_next;
  int64_t cmd_next = 0;
  std::vector<bool> ev_dirty;
  bool cmd_dirty = false;

  // The deadletter messages of the batch being built: the writer waits until
  // they are delivered before it writes the batch (and so its offsets).
  std::shared_ptr<DeliveryGroup> deadletters;

  projection::CounterIndex index;
  projection::TallyIndex tally_index;
  std::vector<projection::TallyRule> tally_rules;  // the modules' (read-only after start)
  MessageBatch msgs;                               // the batch being built

  // Event preparation (parse, validate, fingerprint, match) needs no shared
  // mutable state, so a run of events is split in two halves prepared on two
  // threads; dedup and aggregation then go through the results in log order.
  struct Contribution {
    const projection::Counter* goal;
    int64_t timestamp_ms;
    double value;
    uint32_t subject_at = 0, subject_len = 0;  // in Chunk::subjects; unique series only
  };
  // A tally item of an event (projection/tally.h), with its rule's outcome
  // name and the event's breakdown value (in Chunk::subjects); for a
  // notice rule's item, also the entry id it named (in Chunk::subjects).
  // A null entry: not counted, the event gets a notice.
  struct Tally {
    const projection::TallyIndex::Entry* entry;
    const projection::TallyRule* rule;
    std::string_view outcome;
    int64_t timestamp_ms;
    uint32_t breakdown_at = 0, breakdown_len = 0;
    uint32_t name_at = 0, name_len = 0;
  };
  struct Prepared {
    bool valid = false;
    projection::Fingerprint fp;
    int32_t hour = 0;                           // projection::dedup_hour of its timestamp
    uint32_t first = 0, count = 0;              // its range in Chunk::contributions
    uint32_t tally_first = 0, tally_count = 0;  // its range in Chunk::tallies
    uint32_t goals = 0;                         // conversion goals matched (series excluded)
    // (tally items count as matches too: Telemetry::events_matched)
  };
  struct Chunk {
    model::EventParser parser;
    std::vector<Prepared> items;
    std::vector<Contribution> contributions;
    std::vector<Tally> tallies;
    std::vector<projection::TallyItem> items_scratch;
    std::string subjects;
    std::string scratch;
    uint64_t invalid = 0;
  };
  Chunk chunks[2];
  static constexpr size_t kParallelMin = 512;  // smaller runs are prepared inline
  // Messages one batch may gather while the writer is busy (Loop::run).
  static constexpr size_t kGroupMaxMessages = 200000;
  // Events of one segment at most (Loop::run), so its records stay small.
  static constexpr size_t kSegmentMaxEvents = 10000;

  // Dedup: per events partition, the events seen within the horizon (see
  // projection/dedup.h), and the watermarks last put in a delta.
  std::vector<projection::PartitionDedup> dedup;
  std::vector<int32_t> watermark_folded;
  // Per partition, its dedup records in the store (sequence, last
  // watermark), oldest first: deleted once beyond the horizon.
  std::vector<std::deque<std::pair<uint64_t, int32_t>>> dedup_records;
  uint64_t fingerprint_seq = 0;
  // What ingest produced since the last fold (projection/delta.h): the
  // segments' first-seen fingerprints, duplicate positions, cells and
  // presences. Folded into the batch before each command and at batch end.
  projection::Delta delta;
  // The segment being built, per events partition: its part of the delta
  // and the offset it starts at (fold_delta turns each into a record of the
  // deltas topic, projection/delta.h DeltaRecord).
  std::vector<projection::Delta> part_delta;
  std::vector<int64_t> seg_from;
  bool produce_deltas = false;  // read-only after start
  // Per partition, the events offset up to which the deltas topic has
  // records (store: off/t/): ingest below it produces none (the records are
  // there already), and a segment is cut there.
  std::vector<int64_t> chain_end;
  std::vector<TxnProducer::Record> records;  // of the batch being built

  // Ownership (issue 11): the events partitions this instance ingests
  // (every one unless ProcessorOptions::partitions names some; with a
  // consumer group, what the group assigns, once taken over: written by the
  // processor thread only, read by others). The records of the others,
  // produced by the instances that own them, are folded from the deltas
  // topic as they come (advance()).
  std::vector<std::atomic<bool>> owned;
  std::atomic<int> foreign_count{0};  // partitions not owned
  // The consumer group that assigns the partitions (null: static
  // ownership), and the partitions it assigned that this instance has not
  // taken over yet: -> the group's committed offset, where the previous
  // owner's committed records end. Taken over once folded up to there.
  Membership* group = nullptr;
  std::map<int32_t, int64_t> gains;
  struct Queued {
    int64_t offset;  // in the deltas partition
    projection::DeltaRecord record;
  };
  std::vector<std::deque<Queued>> foreign;  // per partition: records read, not folded yet
  // The events topic's end of each partition owned elsewhere, as last asked
  // (Processor's ends thread writes them; 0: not known yet).
  std::vector<std::atomic<int64_t>> foreign_end;
  // Per partition, the highest `commands` of its records read or produced:
  // no later record has less. A command c is applied once every foreign
  // partition has a record with more than c (its later events are matched
  // after c), and the records before it are folded. While a command waits
  // for that, the owned partitions ingest nothing: their events are held,
  // and the batch ends with a marker per owned partition (an empty record
  // with commands c+1), which is what lets the other instances apply c.
  std::vector<int64_t> promised;
  std::deque<KafkaMessage> waiting;                 // commands waiting, in order
  MessageBatch held;                                // owned events consumed while one waits
  Clock::time_point waiting_since, waiting_logged;  // of waiting.front()
  bool start_paused = false;  // pause_events(): commands behind their start end
  // GOALSTREAM_DELTA_ROUNDTRIP=1: fold decode(encode(delta)) instead (the
  // digest oracle proves the encoding with it).
  bool delta_roundtrip = false;

  // Active backfill jobs: tenant\0target -> job record (its "generation" is
  // the offset of the command that created it). Kept here, not read back
  // from the store, because the latest record may still be in the batch
  // being written.
  std::unordered_map<std::string, nlohmann::json> active_jobs;
  // What the batch being built changed, for ProcessorOptions::on_applied.
  std::unordered_map<std::string, int64_t> touched;

  // The module that applies each command type (read-only after start).
  std::unordered_map<std::string, Module*> command_owner;
  // The batch and offset of the command being applied (CommandContext).
  storage::Batch* command_batch = nullptr;
  int64_t command_offset = 0;

  // The first command of each (tenant, Idempotency-Key) within
  // model::kIdempotencyWindowMs: tenant\0key -> its issued_at, and the same
  // ordered by issued_at for pruning. Both the records and their pruning
  // follow the commands log alone (issued_at, log order), so a rebuild
  // reproduces them and the digest covers them.
  std::unordered_map<std::string, int64_t> idempotency;
  std::multimap<int64_t, std::string> idempotency_by_time;

  bool events_paused = false;                // the owned events partitions are paused
  rd_kafka_topic_t* commands_rkt = nullptr;  // topic handles seen, by topic
  rd_kafka_topic_t* events_rkt = nullptr;
  rd_kafka_topic_t* deltas_rkt = nullptr;

  // loop.cpp: the thread's loop and event ingestion.
  void run();
  void deadletter(const rd_kafka_message_t* m, const std::string& why, const std::string& field);
  void prepare(const MessageBatch& mb, Chunk& c, size_t begin, size_t end);
  void notice(const rd_kafka_message_t* m, const Tally& t, std::string_view subjects);
  struct Counts {
    uint64_t events = 0, invalid = 0, dups = 0, matched = 0;
  };
  void ingest_run(const MessageBatch& mb, size_t begin, size_t end, Counts& k);
  // Processes the messages of `mb` in order into `batch` (commands that
  // must wait, and the owned events after them, are taken out of `mb`).
  void consume(MessageBatch& mb, storage::Batch& batch, Counts& k);
  // Folds the other instances' records that can be folded, applies the
  // commands that can be applied, then ingests the events held meanwhile.
  void advance(storage::Batch& batch, Counts& k);
  // A record of partition p at `offset` of the deltas topic that continues
  // what the store has (r.from == ev_next[p]): folded into the delta being
  // built, the dedup table restored from it, its offsets into `batch`.
  void fold_record(int p, int64_t offset, const projection::DeltaRecord& r, storage::Batch& batch);
  // Why record r of partition p does not continue the store; empty if it does.
  std::string discontinuity(size_t p, const projection::DeltaRecord& r) const;
  // The fatal error for such a record of a partition owned elsewhere.
  Error not_continued(int p, int64_t offset, const std::string& why) const;
  // The markers the batch ends with (see `promised`).
  void add_markers();
  bool passed(int64_t c) const;
  void queue_record(const rd_kafka_message_t* m);
  void sync_pause();
  void touch(const std::string& cell_key, int64_t ts);
  void touch_cells(const projection::Delta& d);
  void end_segment();
  void fold_delta(storage::Batch& batch);
  void forget_beyond_horizon(storage::Batch& batch);
  enum class From { commands, events, deltas, other };
  From source(const rd_kafka_message_t* m);
  // Consumer group changes (membership.h): the partitions revoked stop being
  // ingested once the batch built so far is durable (hand: hands it to the
  // writer); the ones assigned are taken over once folded (take_over()).
  bool regroup(std::optional<storage::Batch>& batch, const std::function<bool()>& hand);
  void hand_over(int p);
  void take_over();
  // Assigns (or unassigns) one partition of `topic` on the consumer, at `at`.
  void reassign(const std::string& topic, int p, bool assign, int64_t at = 0);
  void update_lag();
  void pause_events(bool pause);
  void maybe_resume_events(bool idle);

  // replay.cpp: folding the deltas topic after `next` (per partition).
  struct Replayed {
    uint64_t records = 0, skipped = 0, events = 0, commands = 0, detached = 0;
    int64_t ms = 0;
  };
  Result<Replayed> replay_deltas(const std::vector<int64_t>& next);

  // commands.cpp: commands and backfill hand-overs.
  void apply_command(const rd_kafka_message_t* m, storage::Batch& batch);
  Status apply(const model::Command& cmd, int64_t offset, storage::Batch& batch);
  void prune_idempotency(int64_t now_ms, storage::Batch& batch);
  void record_idempotency(const model::Command& cmd, const Status& st, storage::Batch& batch);
  uint64_t apply_partials(storage::Batch& batch);

  // CommandContext (commands.cpp), for the modules.
  storage::Batch& batch() override { return *command_batch; }
  int64_t offset() const override { return command_offset; }
  projection::CounterIndex& counters() override { return index; }
  projection::TallyIndex& tallies() override { return tally_index; }
  void start_job(const std::string& tenant, const std::string& counter) override;
  void cancel_job(const std::string& tenant, const std::string& counter) override;
  void counters_reset(const std::string& tenant, const std::string& rule_id) override;
};

// The reason line of an error: "field: message".
std::string reason(const Error& e);

}  // namespace gs::kernel
