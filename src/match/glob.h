// URL path extraction and path globs, the part of urlPattern matching that
// looks at paths (docs/matching.md). Pure and allocation-free at match time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace gs::match {

// Longest urlPattern or regex operand compile() accepts, in bytes. Bounds the
// work a single definition can cause per event and the glob matcher's state.
inline constexpr std::size_t kMaxPatternLength = 1000;

// The path of `url`, as a view into it: a URL starting with '/' is already a
// path; otherwise an optional "scheme://" and the authority (everything up to
// the first '/', '?' or '#') are skipped, and a missing path is "/". The
// "?query" and "#fragment" are cut off. No decoding or normalisation, so
// "/a%2Fb" stays as is. Never fails: any string has a path.
//   "https://x.com/a/b?q=1#f" -> "/a/b"   "x.com" -> "/"   "/a?b" -> "/a"
std::string_view url_path(std::string_view url);

// A compiled path pattern (a urlPattern that starts with '/'). Every byte
// matches itself except:
//   '*'   one or more bytes other than '/' (part of one segment, never empty);
//   '**'  zero or more bytes, '/' included (any run of 2+ stars is '**');
//   "/**" at the end of the pattern or before a '/' also matches nothing at
//         all, so "/blog/**" matches "/blog" and "/a/**/b" matches "/a/b".
// Matching is byte-wise and case-sensitive, in O(path * pattern) time with no
// backtracking. Immutable after compile(); safe to share between threads.
class PathGlob {
 public:
  // pattern: starts with '/', at most kMaxPatternLength bytes, without '?' or
  // '#' (paths never contain them, so such a pattern could never match).
  // Errors name the field "urlPattern".
  static Result<PathGlob> compile(std::string_view pattern);

  // Whether `path` (as returned by url_path) matches the whole pattern.
  bool matches(std::string_view path) const;

  const std::string& pattern() const { return pattern_; }

 private:
  // The NFA has at most kMaxPatternLength + 1 states (see compile()), kept as
  // bit sets of this many 64-bit words.
  static constexpr std::size_t kMaxWords = (kMaxPatternLength + 1 + 63) / 64;

  std::string pattern_;
  bool literal_ = true;  // no globs: plain comparison
  // Bit-parallel NFA (shift-and): state i+1 follows state i. Bytes are mapped
  // to classes (each pattern byte, '/', everything else) so the per-class
  // masks stay small.
  std::size_t states_ = 0;
  std::size_t words_ = 0;
  std::array<std::uint16_t, 256> class_of_{};
  std::vector<std::uint64_t> step_;       // [class][word]: states that move to i+1 on the byte
  std::vector<std::uint64_t> loop_;       // [class][word]: states that stay on the byte
  std::vector<std::uint64_t> skip_next_;  // [word]: epsilon i -> i+1
  std::vector<std::uint64_t> skip_over_;  // [word]: epsilon i -> i+2 (empty side of "/**")
  bool has_skips_ = false;

  void close(std::uint64_t* set) const;
};

}  // namespace gs::match
