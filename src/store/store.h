// RocksDB store of everything that can be rebuilt from the two input topics:
// projections (keys, conversion goals, aggregate cells), dedup state, backfill
// jobs, and the input offsets they reflect.
//
// Column families:
//   meta   "off/e/<partition>" and "off/c/<partition>" -> next offset (8 bytes BE);
//          "job/<tenant>\0<target>" -> backfill job (JSON);
//          "fmt" -> the store format (see kFormat); "st/<tenant>\0<goal>" -> last
//          status published for a growth goal; "out/<seq 8 BE>" -> a change
//          not yet confirmed on the changes topic (the outbox); "x/<name>" ->
//          bookkeeping values (instance id, next outbox sequence)
//   keys   SHA-256 hex of an API key -> ApiKey JSON
//   goals  <tenant>\0<goal_id> -> conversion goal JSON (the public form)
//   dedup  "f" + batch sequence (8 bytes BE) -> the fingerprints first seen in
//          that batch (16 bytes each); "d" + partition (4 BE) + offset (8 BE)
//          -> "" for each duplicate occurrence (what backfills skip)
//   agg    <tenant>\0<target>\0<bucket 8 bytes BE> -> Cell (count, sum_micros; see
//          encode_cell: 16 bytes, or 24 for a sum beyond int64) with an
//          associative merge operator, so ingest never reads a cell. A target is
//          a conversion goal id, or id + '\x1f' + series for a metric's series
//          (projection.h); a bucket is 15 minutes of event time.
//   uniq   <tenant>\0<target>\0<bucket 8 BE><subject> -> "" : the subjects of
//          a `unique` series seen in each bucket
//   growth "g/<tenant>\0<id>" -> growth goal; "m/<tenant>\0<name>" -> metric;
//          "tz/<tenant>" -> the tenant's IANA time zone; "i/<tenant>\0<key>" ->
//          the outcome of the first command with that Idempotency-Key (JSON,
//          see Processor), kept for model::kIdempotencyWindowMs of command time
//
// Thread-safety: reads are safe from any thread. Writes go through write():
// the processor's writer thread writes projections, offsets and jobs; the
// changes publisher writes only st/, out/ and x/ keys. A Batch is not thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.h"
#include "model/conversion_goal.h"
#include "model/growth.h"
#include "projection/dedup.h"
#include "projection/delta.h"
#include "projection/projection.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class WriteBatch;
}  // namespace rocksdb

namespace gs::store {

using json = nlohmann::json;

enum class Source { events, commands };

struct Position {
  int32_t partition = 0;
  int64_t offset = 0;
  bool operator==(const Position&) const = default;
};

// One atomic unit of change: projection changes plus the offsets they reflect.
class Batch {
 public:
  Batch();
  ~Batch();
  Batch(Batch&&) noexcept;
  Batch& operator=(Batch&&) noexcept;
  void set_offset(Source src, int32_t partition, int64_t next_offset);
  void put_key(const std::string& key_hash, const model::ApiKey& key);
  void put_goal(const model::ConversionGoal& goal);
  // Removes the definition and all its aggregate cells.
  void delete_goal(const std::string& tenant, const std::string& goal_id);
  // Records the fingerprints first seen in one batch, under a sequence
  // number that grows with every batch.
  void put_fingerprints(uint64_t seq, const std::vector<projection::Fingerprint>& fps);
  // Records that the event at `pos` is a duplicate.
  void put_duplicate(Position pos);
  void merge_cell(const std::string& cell_key, const projection::Cell& delta);
  void put_presence(const std::string& presence_key);
  // Folds what ingest produced (projection/delta.h): its first-seen
  // fingerprints as one record under `fingerprint_seq` (then incremented;
  // none when there are none), its duplicate positions, its cells as merge
  // operands (never read) and its presences.
  void fold(const projection::Delta& d, uint64_t& fingerprint_seq);
  // Removes every cell and presence of one series target.
  void delete_series(const std::string& tenant, const std::string& target);
  void put_job(const std::string& tenant, const std::string& target, const json& job);
  void delete_job(const std::string& tenant, const std::string& target);
  void put_metric(const model::Metric& m);
  void delete_metric(const std::string& tenant, const std::string& name);
  void put_growth_goal(const model::GrowthGoal& g);
  void delete_growth_goal(const std::string& tenant, const std::string& id);
  void put_timezone(const std::string& tenant, const std::string& tz);
  // Outbox and published-status bookkeeping of the changes topic.
  void put_status(const std::string& tenant, const std::string& goal_id, const std::string& status);
  void delete_status(const std::string& tenant, const std::string& goal_id);
  void put_outbox(uint64_t seq, const json& change);
  // Bookkeeping values in meta that are not projection state ("out_next").
  void put_meta(const std::string& key, const std::string& value);
  void delete_outbox(uint64_t seq);
  // The record of the first command of `tenant` with Idempotency-Key `key`.
  void put_idempotency(const std::string& tenant, const std::string& key, const json& record);
  void delete_idempotency(const std::string& tenant, const std::string& key);
  size_t count() const;

 private:
  friend class Store;
  std::unique_ptr<rocksdb::WriteBatch> wb_;
  class Store* store_ = nullptr;
};

struct GoalTotals {
  projection::Cell total;
  std::vector<std::pair<int64_t, projection::Cell>>
      buckets;  // 15-minute bucket since epoch -> cell
};

// The bytes of a cell in `agg`: count and sum (16 bytes) while the sum fits in
// int64, with the sum's high 64 bits after them (24 bytes) only when it does
// not; decode_cell reads both forms (a cell of any other size reads as empty).
std::string encode_cell(const projection::Cell& c);
projection::Cell decode_cell(std::string_view bytes);

// The WAL's bound (RocksDB's max_total_wal_size; see Store::open).
inline constexpr uint64_t kMaxTotalWalBytes = 64ull << 20;

// Store format: 2 since cells became 15-minute buckets (1 had hours).
inline constexpr const char* kFormat = "2";

class Store {
 public:
  // Opens (creating if missing) the store in `dir`. Fails with a message on
  // a directory that is not a goalstream store or is locked by another process.
  // read_only: open beside a running process (no lock taken, no writes), as
  // `goalstream digest` does.
  // Errors have the field "data-dir"; a full disk reads "no space left on
  // device in DIR".
  static Result<std::unique_ptr<Store>> open(const std::string& dir, bool read_only = false);
  ~Store();

  Batch batch();
  // Writes the batch atomically. A failure (an Error with field "data-dir",
  // "no space left on device in DIR" on a full disk) leaves the store
  // unwritable until it is reopened.
  Status write(Batch& b);

  // Next offset to consume per partition (absent partitions start at 0).
  std::map<int32_t, int64_t> offsets(Source src) const;
  // True when nothing has ever been written.
  bool empty() const;

  std::optional<model::ApiKey> find_key(const std::string& key_hash) const;
  std::optional<json> goal(const std::string& tenant, const std::string& goal_id) const;
  std::vector<json> goals(const std::string& tenant) const;  // in id order
  std::vector<model::ConversionGoal> all_goals() const;
  // Loads every recorded fingerprint into `set`; returns the next batch
  // sequence number.
  uint64_t load_fingerprints(projection::FingerprintSet& set) const;
  // True when the event at `pos` was recorded as a duplicate.
  bool is_duplicate(Position pos) const;
  GoalTotals totals(const std::string& tenant, const std::string& goal_id) const;
  // Sum of the cells of `target` in buckets [from, to).
  projection::Cell cells(const std::string& tenant, const std::string& target, int64_t from_bucket,
                         int64_t to_bucket) const;
  // Distinct subjects of a unique series in buckets [from, to).
  int64_t unique_subjects(const std::string& tenant, const std::string& target, int64_t from_bucket,
                          int64_t to_bucket) const;

  std::vector<model::Metric> metrics(const std::string& tenant) const;  // in name order
  std::optional<model::Metric> metric(const std::string& tenant, const std::string& name) const;
  std::vector<model::Metric> all_metrics() const;
  std::vector<model::GrowthGoal> growth_goals(const std::string& tenant) const;  // in id order
  std::optional<model::GrowthGoal> growth_goal(const std::string& tenant,
                                               const std::string& id) const;
  std::vector<model::GrowthGoal> all_growth_goals() const;
  // The tenant's time zone; "UTC" when never set.
  std::string timezone(const std::string& tenant) const;
  std::optional<std::string> status(const std::string& tenant, const std::string& goal_id) const;
  std::vector<std::pair<uint64_t, json>> outbox() const;  // in sequence order
  std::optional<std::string> meta(const std::string& key) const;
  // A random id given to the store when it was created: tells apart the
  // changes published from different stores (a rebuilt store starts anew).
  std::string instance_id() const;
  std::optional<json> job(const std::string& tenant, const std::string& goal_id) const;
  // All pending backfill jobs: (tenant, goal_id, job).
  std::vector<std::tuple<std::string, std::string, json>> jobs() const;
  // The record of the first command of `tenant` with Idempotency-Key `key`.
  std::optional<json> idempotency(const std::string& tenant, const std::string& key) const;
  // Every idempotency record: (tenant, key, record).
  std::vector<std::tuple<std::string, std::string, json>> all_idempotency() const;

  // SHA-256 over all projection state, independent of RocksDB's file layout:
  // keys, goals, agg, uniq and growth in key order, and the sorted set of seen
  // fingerprints. Offsets, jobs, published statuses and the outbox
  // (wall-clock output), how fingerprints were batched and the
  // positions of duplicates are excluded: they say how far processing went
  // and where, not what it produced.
  std::string digest() const;

  rocksdb::DB* db() { return db_.get(); }

 private:
  friend class Batch;
  Store() = default;
  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::ColumnFamilyHandle* meta_ = nullptr;
  rocksdb::ColumnFamilyHandle* keys_ = nullptr;
  rocksdb::ColumnFamilyHandle* goals_ = nullptr;
  rocksdb::ColumnFamilyHandle* dedup_ = nullptr;
  rocksdb::ColumnFamilyHandle* agg_ = nullptr;
  rocksdb::ColumnFamilyHandle* uniq_ = nullptr;
  rocksdb::ColumnFamilyHandle* growth_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::string dir_;
  bool read_only_ = false;
  // Set by a failed write: RocksDB (built with assertions) aborts when a
  // WAL writer that saw an error is flushed again, so close without that.
  std::atomic<bool> write_failed_{false};
};

}  // namespace gs::store
