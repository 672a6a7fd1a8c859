// Dedup state of the ingest path (design invariant 3, docs/architecture.md
// "Dedup"): per events partition, the events seen in it within the dedup
// horizon, as 128-bit fingerprints of (tenant, event_id) with the hour of
// their event time. Pure, no I/O.
//
// The rule, a function of the partition's log alone (so deterministic):
// the partition's watermark is the hour of the newest event time seen in it
// so far (in log order, the event at hand included; whole UTC hours since
// the epoch). An event first seen while the watermark was w is remembered
// at w; a repeat is a duplicate while the watermark is at most w + horizon,
// and counts again (remembered anew) after that. Remembering the watermark
// rather than the event's own time keeps a late event's retries duplicates
// too. Memory is bounded by the events first seen within the last horizon
// of the watermark's progress: one remembered longer is dropped when the
// table would grow. XXH3-128 makes an accidental collision (a new event
// taken for a duplicate) as likely as ~n²/2^129: nil for any realistic n.
#pragma once

#include <cstdint>
#include <limits>
#include <string_view>
#include <vector>

namespace gs::projection {

struct Fingerprint {
  uint64_t lo = 0, hi = 0;
  bool operator==(const Fingerprint&) const = default;
  auto operator<=>(const Fingerprint&) const = default;
};

// XXH3-128 of tenant \0 event_id. Stable across processes and machines.
Fingerprint fingerprint(std::string_view tenant, std::string_view event_id);

// The dedup horizon's unit: whole UTC hours since the epoch (floor) of an
// event time in milliseconds.
int32_t dedup_hour(int64_t ms);

// The default horizon: 7 days.
inline constexpr int32_t kDefaultDedupHorizonHours = 7 * 24;
// No event seen yet in a partition.
inline constexpr int32_t kNoWatermark = std::numeric_limits<int32_t>::min();

// An event seen for the first time: where, what and when.
struct FirstSeen {
  int32_t partition = 0;
  Fingerprint fp;
  int32_t hour = 0;  // the partition's watermark then (it included this event)
  bool operator==(const FirstSeen&) const = default;
};

// The dedup state of one events partition. Not thread-safe.
class PartitionDedup {
 public:
  explicit PartitionDedup(int32_t horizon_hours = kDefaultDedupHorizonHours);

  // The partition's next valid event in log order, stamped at `hour`
  // (dedup_hour of its timestamp): advances the watermark, then returns
  // false when it is a duplicate (see above), else remembers it at the
  // watermark and returns true.
  bool admit(Fingerprint f, int32_t hour);
  // Start-up: an event the store recorded as first seen at watermark `hour`
  // (the latest record of a fingerprint wins), and the recorded watermark.
  void restore(Fingerprint f, int32_t hour);
  void restore_watermark(int32_t hour) { watermark_ = hour; }

  // Whether an event first seen at watermark `hour` is still within the horizon.
  bool within(int32_t hour) const { return int64_t(hour) >= cutoff(); }
  int32_t watermark() const { return watermark_; }
  int32_t horizon() const { return horizon_; }
  // Remembered events, within the horizon or not yet dropped.
  size_t size() const { return size_; }
  // Bytes of the table (for the gauge of dedup memory).
  size_t bytes() const { return slots_.size() * sizeof(Slot); }
  // Hints the CPU to load the slot `f` probes first: a large table misses
  // the cache on nearly every probe, so the ordered pass prefetches ahead.
  void prefetch(Fingerprint f) const { __builtin_prefetch(&slots_[f.lo & mask_]); }
  // Every remembered event within the horizon, in no particular order.
  std::vector<std::pair<Fingerprint, int32_t>> live() const;

 private:
  struct Slot {
    Fingerprint fp;  // (0,0): empty
    int32_t hour = 0;
  };
  int64_t cutoff() const {
    return watermark_ == kNoWatermark ? std::numeric_limits<int64_t>::min()
                                      : int64_t(watermark_) - horizon_;
  }
  Slot* find(Fingerprint f);  // its slot, or the empty slot where it would go
  void add(Slot* s, Fingerprint f, int32_t hour);
  void make_room();  // drops what is out of the horizon, or doubles
  void rehash(size_t capacity);
  static Fingerprint normalize(Fingerprint f);  // (0,0) marks an empty slot

  std::vector<Slot> slots_;
  size_t size_ = 0;
  size_t mask_ = 0;
  int32_t horizon_;
  int32_t watermark_ = kNoWatermark;
};

}  // namespace gs::projection
