// The delta: what ingesting a run of input produced, as a value, before it
// touches the store. The processor thread builds one per segment (the
// events between two commands); folding it into a store batch (store.h,
// Batch::fold) is the only way ingest changes the projection. Pure, no I/O.
//
// A delta has an encoding (encode/decode below), so that it can leave the
// process: today it stays in memory (GOALSTREAM_DELTA_ROUNDTRIP=1 makes the
// processor fold decode(encode(delta)) instead, which the digest oracle
// uses to prove the encoding end to end).
//
// Encoding, version 2 (integers: LEB128 varints; signed ones zigzag; u16 and
// fixed-width values big-endian):
//
//   "GSDL" u8 version=2, varint section_count
//   section_count x (u16 tag, varint byte_length, payload)   (tags ascending, each once)
//   tag 0x0001 dedup: varint n, n x (zigzag partition, u64 fp.hi, u64 fp.lo,
//                                    zigzag hour)                    [log order]
//                     varint m, m x (zigzag partition, zigzag offset) [log order]
//                     varint w, w x (zigzag partition, zigzag hour)   [the partitions'
//                                    dedup watermarks after the segment]
//   (version 1 had fingerprints without partition and hour, and no watermarks)
//   tag 0x0100 conversion cells:
//                     varint n, n x (varint key_len, key, zigzag count,
//                                    i128 sum_micros, zigzag max_ts_ms) [keys sorted]
//                     varint m, m x (varint len, presence key)          [sorted]
//   tag 0x0101 tallies: varint n, n x (varint key_len, key)  [sorted; keys of cells of the
//                     0x0100 section that are a tally's (Cell::tally): no roll-ups]
//
// Empty sections are left out. Decoding is strict: a wrong magic or version,
// an unknown, repeated or out-of-order tag, a truncated value (also one cut
// at a section boundary: the count says how many follow) or trailing bytes
// is an Error naming the offset; nothing is skipped.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "projection/dedup.h"
#include "projection/projection.h"

namespace gs::projection {

// Where an input message is: a duplicate's position (backfills skip it).
struct InputPosition {
  int32_t partition = 0;
  int64_t offset = 0;
  bool operator==(const InputPosition&) const = default;
};

// A partition's dedup watermark (projection/dedup.h) after a segment.
struct DedupWatermark {
  int32_t partition = 0;
  int32_t hour = 0;
  bool operator==(const DedupWatermark&) const = default;
};

struct Delta {
  std::vector<FirstSeen> first_seen;       // events seen for the first time, in log order
  std::vector<InputPosition> duplicates;   // later copies of events seen before, in log order
  std::vector<DedupWatermark> watermarks;  // one per partition whose watermark moved
  Aggregator cells;                        // cell sums and unique-series presences

  bool empty() const {
    return first_seen.empty() && duplicates.empty() && watermarks.empty() && cells.empty();
  }
  // Keeps capacity (the processor reuses one delta).
  void clear() {
    first_seen.clear();
    duplicates.clear();
    watermarks.clear();
    cells.clear();
  }
  // Sets a partition's watermark (replacing one set before).
  void set_watermark(DedupWatermark w);
  // Adds `other` after this one: folding the result equals folding this,
  // then `other` (cells add up, presences and fingerprints unite).
  void append(const Delta& other);
  bool operator==(const Delta& other) const;
};

std::string encode(const Delta& d);
Result<Delta> decode(std::string_view bytes);

// One record of the deltas topic (topics/topics.json): what ingest made of
// events partition `partition` from offset `from` to `to` (exclusive), with
// the commands before offset `commands` applied and a dedup horizon of
// `horizon_hours`. Its delta holds only that partition's part (first seen,
// duplicates, its watermark, its cells). The records of a partition follow
// each other: each `from` is the previous `to`; a fold skips a record whose
// `to` it has passed.
//
//   "GSDR" u8 version=1, zigzag partition, varint from, varint to,
//   varint commands, varint horizon_hours, then the delta's own encoding
//   (above) to the end
struct DeltaRecord {
  int32_t partition = 0;
  int64_t from = 0, to = 0;
  int64_t commands = 0;
  int32_t horizon_hours = 0;
  Delta delta;
  bool operator==(const DeltaRecord&) const = default;
};
std::string encode_record(const DeltaRecord& r);
// The header of `r` (its delta ignored) before `delta_bytes` (an encode()
// result).
std::string encode_record(const DeltaRecord& r, std::string_view delta_bytes);
Result<DeltaRecord> decode_record(std::string_view bytes);

}  // namespace gs::projection
