// The kernel's keyspaces (src/storage/store.h knows keyspaces, not
// entities): which column families the kernel declares, and typed reads and
// writes of what it keeps in them. Modules declare theirs in
// src/modules/<family>/keyspace.h.
//
//   meta   "off/e/<partition>", "off/c/<partition>" -> next offset (8 bytes BE);
//          "job/<tenant>\0<counter>" -> backfill job (JSON);
//          "out/<seq 8 BE>" -> a change not yet confirmed on the changes topic
//          (the outbox); "x/<name>" -> bookkeeping values (instance id, next
//          outbox sequence); "fmt" -> the store format (storage's);
//          "st/..." is the growth module's (announced statuses)
//   keys   SHA-256 hex of an API key -> ApiKey JSON
//   dedup  "f" + partition (4 BE) + sequence (8 BE) -> the events of that
//          partition first seen in one segment (20 bytes each: fingerprint,
//          the partition's watermark then, an hour, 4 BE); "w" + partition (4 BE) -> its dedup
//          watermark (hour, 4 BE); "h" -> the dedup horizon in hours (4 BE); "d" + partition (4 BE)
//          + offset (8 BE) -> "" for each duplicate occurrence (what backfills skip)
//   agg    cells (cells.h): tenant\0counter\0bucket (8 BE) -> Cell, merged
//   uniq   tenant\0counter\0bucket (8 BE) subject -> "": unique-series presences
//   roll   roll-ups of agg (cells.h): tenant\0counter\0 'd' day (8 BE),
//          'm' month (8 BE), 't' -> Cell, merged
//   growth "i/<tenant>\0<key>" -> the outcome of the first command with that
//          Idempotency-Key; "tz/<tenant>" -> the tenant's IANA time zone.
//          (The column family keeps its historical name; the growth module
//          keeps "g/" and "m/" in it.)
//
// Every read returns Result: an unreadable row is an Error (Store::unreadable).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.h"
#include "model/command.h"
#include "projection/dedup.h"
#include "projection/delta.h"
#include "storage/store.h"

namespace gs::state {

using json = nlohmann::json;
using storage::Batch;
using storage::Store;

// The kernel's column families (with the digest ranks of every family's:
// keys 10, goals 20, agg 30, uniq 40, growth 50, dedup 60).
std::span<const storage::ColumnFamilySpec> column_families();

// Input offsets (events, commands, deltas: the next offset to read) and,
// per events partition, the events offset the deltas topic has records up
// to (chain).
enum class Source { events, commands, deltas, chain };
using projection::InputPosition;

// Input offsets: the next offset to consume per partition.
void set_offset(Batch& b, Source src, int32_t partition, int64_t next_offset);
Result<std::map<int32_t, int64_t>> offsets(const Store& s, Source src);

// API keys, by the SHA-256 hex of the key.
void put_key(Batch& b, const std::string& key_hash, const model::ApiKey& key);
Result<std::optional<model::ApiKey>> find_key(const Store& s, const std::string& key_hash);

// Dedup (projection/dedup.h): the events first seen in one segment, one
// record per partition under a sequence number that grows with every
// segment; the partitions' watermarks; the positions of duplicates; the
// horizon the store was built with.
void put_fingerprints(Batch& b, uint64_t seq, std::span<const projection::FirstSeen> fps);
void put_dedup_watermark(Batch& b, projection::DedupWatermark w);
void put_duplicate(Batch& b, InputPosition pos);
void put_dedup_horizon(Batch& b, int32_t hours);
Result<std::optional<int32_t>> dedup_horizon(const Store& s);
struct DedupLoad {
  uint64_t next_seq = 0;  // for the next record
  uint64_t entries = 0;   // read
  // Per partition, the records with something within the horizon:
  // (sequence, last watermark), in sequence order.
  std::vector<std::vector<std::pair<uint64_t, int32_t>>> records;
  // Records with nothing within the horizon any more: (partition, sequence).
  std::vector<std::pair<int32_t, uint64_t>> beyond_horizon;
};
// Loads the watermarks and what is within the horizon into `parts` (one
// per events partition, made with the store's horizon).
Result<DedupLoad> load_dedup(const Store& s, std::vector<projection::PartitionDedup>& parts);
void delete_dedup_record(Batch& b, int32_t partition, uint64_t seq);
Result<bool> is_duplicate(const Store& s, InputPosition pos);

// Backfill jobs of a counter.
void put_job(Batch& b, const std::string& tenant, const std::string& counter, const json& job);
void delete_job(Batch& b, const std::string& tenant, const std::string& counter);
Result<std::optional<json>> job(const Store& s, const std::string& tenant,
                                const std::string& counter);
// Every pending job: (tenant, counter, job).
Result<std::vector<std::tuple<std::string, std::string, json>>> jobs(const Store& s);

// The outbox of the changes topic, and bookkeeping values ("x/<key>").
void put_outbox(Batch& b, uint64_t seq, const json& change);
void delete_outbox(Batch& b, uint64_t seq);
Result<std::vector<std::pair<uint64_t, json>>> outbox(const Store& s);  // in sequence order
void put_meta(Batch& b, const std::string& key, const std::string& value);
Result<std::optional<std::string>> meta(const Store& s, const std::string& key);

// The record of the first command of `tenant` with Idempotency-Key `key`.
void put_idempotency(Batch& b, const std::string& tenant, const std::string& key,
                     const json& record);
void delete_idempotency(Batch& b, const std::string& tenant, const std::string& key);
Result<std::optional<json>> idempotency(const Store& s, const std::string& tenant,
                                        const std::string& key);
// Every record: (tenant, key, record).
Result<std::vector<std::tuple<std::string, std::string, json>>> all_idempotency(const Store& s);

// The tenant's IANA time zone; "UTC" when never set.
void put_timezone(Batch& b, const std::string& tenant, const std::string& tz);
Result<std::string> timezone(const Store& s, const std::string& tenant);

}  // namespace gs::state
