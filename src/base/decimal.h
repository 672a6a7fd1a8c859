// The API's one precision for fractional numbers: 6 decimal places (sums
// are kept in millionths). Pure, thread-safe.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdio>

namespace gs {

// Largest magnitude below which every whole double is exact (2^53).
inline constexpr double kMaxExactWhole = 9007199254740992.0;

// `v` rounded to 6 decimal places, as its decimal text "%.6f" is (printf
// rounds the exact binary value correctly), read back as the nearest
// double. Non-finite values are returned as they are.
inline double round6(double v) {
  if (!std::isfinite(v) || std::abs(v) >= kMaxExactWhole) return v;
  char buf[48];
  int n = std::snprintf(buf, sizeof buf, "%.6f", v);
  double r = v;
  std::from_chars(buf, buf + n, r);
  return r == 0 ? 0.0 : r;  // no "-0"
}

}  // namespace gs
