#include "projection/dedup.h"

#include <string>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace gs::projection {

Fingerprint fingerprint(std::string_view tenant, std::string_view event_id) {
  XXH3_state_t state;
  XXH3_128bits_reset(&state);
  XXH3_128bits_update(&state, tenant.data(), tenant.size());
  const char nul = '\0';
  XXH3_128bits_update(&state, &nul, 1);
  XXH3_128bits_update(&state, event_id.data(), event_id.size());
  XXH128_hash_t h = XXH3_128bits_digest(&state);
  return {h.low64, h.high64};
}

int32_t dedup_hour(int64_t ms) {
  constexpr int64_t kHour = 3'600'000;
  int64_t h = ms / kHour;
  if (ms % kHour < 0) --h;
  return static_cast<int32_t>(h);
}

PartitionDedup::PartitionDedup(int32_t horizon_hours)
    : slots_(1024), mask_(1023), horizon_(horizon_hours) {}

Fingerprint PartitionDedup::normalize(Fingerprint f) {
  if (f.lo == 0 && f.hi == 0) f.lo = 1;  // one value in 2^128 shares a slot marker
  return f;
}

PartitionDedup::Slot* PartitionDedup::find(Fingerprint f) {
  for (size_t i = f.lo & mask_;; i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    if ((s.fp.lo == 0 && s.fp.hi == 0) || s.fp == f) return &s;
  }
}

bool PartitionDedup::admit(Fingerprint f, int32_t hour) {
  if (hour > watermark_) watermark_ = hour;
  f = normalize(f);
  Slot* s = find(f);
  if (s->fp == f) {
    if (within(s->hour)) return false;
    s->hour = watermark_;  // seen, but beyond the horizon: counts again
    return true;
  }
  add(s, f, watermark_);
  return true;
}

void PartitionDedup::restore(Fingerprint f, int32_t hour) {
  f = normalize(f);
  Slot* s = find(f);
  if (s->fp == f) {
    if (hour > s->hour) s->hour = hour;
    return;
  }
  if (within(hour)) add(s, f, hour);
}

// Puts `f` into the empty slot `s` found for it, making room first when the
// table is 70 % full.
void PartitionDedup::add(Slot* s, Fingerprint f, int32_t hour) {
  if ((size_ + 1) * 10 > slots_.size() * 7) {
    make_room();
    s = find(f);
  }
  s->fp = f;
  s->hour = hour;
  ++size_;
}

// Called when the table is 70 % full: rehashes what is within the horizon,
// at the same capacity while that leaves it at most half full, else at
// twice the capacity. Each rehash is paid for by the inserts since the last
// one, and the table never holds more than about twice the events within
// the horizon.
void PartitionDedup::make_room() {
  size_t live = 0;
  for (const Slot& s : slots_)
    if ((s.fp.lo != 0 || s.fp.hi != 0) && within(s.hour)) ++live;
  rehash((live + 1) * 2 <= slots_.size() ? slots_.size() : slots_.size() * 2);
}

void PartitionDedup::rehash(size_t capacity) {
  std::vector<Slot> old(capacity);
  old.swap(slots_);
  mask_ = slots_.size() - 1;
  size_ = 0;
  for (const Slot& s : old) {
    if ((s.fp.lo == 0 && s.fp.hi == 0) || !within(s.hour)) continue;
    *find(s.fp) = s;
    ++size_;
  }
}

std::vector<std::pair<Fingerprint, int32_t>> PartitionDedup::live() const {
  std::vector<std::pair<Fingerprint, int32_t>> out;
  for (const Slot& s : slots_)
    if ((s.fp.lo != 0 || s.fp.hi != 0) && within(s.hour)) out.emplace_back(s.fp, s.hour);
  return out;
}

}  // namespace gs::projection
