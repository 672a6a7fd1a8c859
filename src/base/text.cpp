#include "base/text.h"

#include <cstdint>

namespace gs::text {
namespace {

constexpr char32_t kInvalid = 0xFFFFFFFF;

// Decodes the code point at s[i] and advances i; kInvalid for ill-formed
// input (the ranges of RFC 3629's UTF8-octets grammar).
char32_t next(std::string_view s, size_t& i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return ++i, c;
  size_t n;
  char32_t cp;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF)
    n = 1, cp = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF) {
    n = 2, cp = c & 0x0F;
    if (c == 0xE0) lo = 0xA0;  // no overlong forms
    if (c == 0xED) hi = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 3, cp = c & 0x07;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return kInvalid;
  }
  for (size_t k = 1; k <= n; ++k) {
    if (i + k >= s.size()) return kInvalid;
    unsigned char t = b(i + k);
    if (k == 1 ? (t < lo || t > hi) : (t < 0x80 || t > 0xBF)) return kInvalid;
    cp = (cp << 6) | (t & 0x3F);
  }
  i += n + 1;
  return cp;
}

bool is_control(char32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

// Unicode's White_Space property, minus the controls (refused anyway).
bool is_space(char32_t cp) {
  return cp == 0x20 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

}  // namespace

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();)
    if (next(s, i) == kInvalid) return false;
  return true;
}

size_t code_points(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::optional<std::string> check_label(std::string_view s, size_t max_chars) {
  size_t chars = 0;
  bool blank = true;
  for (size_t i = 0; i < s.size();) {
    char32_t cp = next(s, i);
    if (cp == kInvalid) return "must be valid UTF-8";
    if (is_control(cp)) return "must not contain control characters (U+0000-U+001F, U+007F-U+009F)";
    if (!is_space(cp)) blank = false;
    ++chars;
  }
  if (chars == 0 || chars > max_chars)
    return "must be 1 to " + std::to_string(max_chars) + " characters (Unicode code points)";
  if (blank) return "must not be blank";
  return std::nullopt;
}

}  // namespace gs::text
