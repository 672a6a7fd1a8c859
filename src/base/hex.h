// Lowercase hexadecimal encoding of bytes. Pure, thread-safe.
#pragma once

#include <cstddef>
#include <string>

namespace gs {

inline std::string to_hex(const unsigned char* bytes, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(digits[bytes[i] >> 4]);
    out.push_back(digits[bytes[i] & 15]);
  }
  return out;
}

}  // namespace gs
