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

FingerprintSet::FingerprintSet() : slots_(1024), mask_(1023) {}

Fingerprint FingerprintSet::normalize(Fingerprint f) {
  if (f.lo == 0 && f.hi == 0) f.lo = 1;  // one value in 2^128 shares a slot marker
  return f;
}

bool FingerprintSet::insert(Fingerprint f) {
  f = normalize(f);
  if ((size_ + 1) * 10 > slots_.size() * 7) grow();
  for (size_t i = f.lo & mask_;; i = (i + 1) & mask_) {
    Fingerprint& s = slots_[i];
    if (s.lo == 0 && s.hi == 0) {
      s = f;
      ++size_;
      return true;
    }
    if (s == f) return false;
  }
}

bool FingerprintSet::contains(Fingerprint f) const {
  f = normalize(f);
  for (size_t i = f.lo & mask_;; i = (i + 1) & mask_) {
    const Fingerprint& s = slots_[i];
    if (s.lo == 0 && s.hi == 0) return false;
    if (s == f) return true;
  }
}

void FingerprintSet::grow() {
  std::vector<Fingerprint> old;
  old.swap(slots_);
  slots_.assign(old.size() * 2, Fingerprint{});
  mask_ = slots_.size() - 1;
  size_ = 0;
  for (const auto& f : old)
    if (f.lo != 0 || f.hi != 0) insert(f);
}

std::vector<Fingerprint> FingerprintSet::all() const {
  std::vector<Fingerprint> out;
  out.reserve(size_);
  for (const auto& f : slots_)
    if (f.lo != 0 || f.hi != 0) out.push_back(f);
  return out;
}

}  // namespace gs::projection
