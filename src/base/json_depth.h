// A guard for untrusted JSON text: parsers, serializers and our own walkers
// recurse per nesting level, so text nested deeper than a small bound is
// refused before it is parsed. Pure, thread-safe.
#pragma once

#include <string_view>

namespace gs {

// Deepest nesting the API and the commands topic accept.
inline constexpr int kMaxJsonDepth = 64;

// True when the arrays and objects in `text` nest at most `max_depth` deep.
// Brackets inside strings (with escapes) do not count. Linear, no allocation.
inline bool json_depth_within(std::string_view text, int max_depth = kMaxJsonDepth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

}  // namespace gs
