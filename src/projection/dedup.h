// Dedup state of the ingest path (docs/architecture.md, invariant 3): the set of events seen, as
// 128-bit fingerprints of (tenant, event_id). Pure, no I/O.
//
// The processor keeps every fingerprint in memory (about 24 bytes per
// distinct event) so that "seen before?" is one probe, and persists each
// batch's new fingerprints as one compact record in the same RocksDB
// WriteBatch as the counts and offsets; start-up loads them back. XXH3-128
// makes an accidental collision (a new event taken for a duplicate) as likely
// as ~n²/2^129: nil for any realistic n.
#pragma once

#include <cstdint>
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

// An open-addressing set of fingerprints (linear probing; fingerprints are
// uniformly random, so their low bits index directly). Not thread-safe.
class FingerprintSet {
 public:
  FingerprintSet();
  // Adds `f`; returns false when it was already there.
  bool insert(Fingerprint f);
  bool contains(Fingerprint f) const;
  // Hints the CPU to load the slot `f` probes first: a large set misses the
  // cache on nearly every probe, so the ordered pass prefetches ahead.
  void prefetch(Fingerprint f) const { __builtin_prefetch(&slots_[f.lo & mask_]); }
  size_t size() const { return size_; }
  // Every fingerprint, in no particular order.
  std::vector<Fingerprint> all() const;

 private:
  void grow();
  static Fingerprint normalize(Fingerprint f);  // (0,0) marks an empty slot
  std::vector<Fingerprint> slots_;
  size_t size_ = 0;
  size_t mask_ = 0;
};

}  // namespace gs::projection
