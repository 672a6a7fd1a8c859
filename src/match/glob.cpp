#include "match/glob.h"

#include <algorithm>
#include <array>

namespace gs::match {
namespace {

// Length of a leading RFC 3986 scheme plus "://" (ALPHA *( ALPHA / DIGIT /
// "+" / "-" / "." ) "://"), or 0. Checked so that a "://" inside the query of
// a scheme-less URL is not taken for one.
std::size_t scheme_length(std::string_view url) {
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (url.empty() || !alpha(url[0])) return 0;
  std::size_t i = 1;
  while (i < url.size() && (alpha(url[i]) || (url[i] >= '0' && url[i] <= '9') || url[i] == '+' ||
                            url[i] == '-' || url[i] == '.'))
    ++i;
  return url.substr(i, 3) == "://" ? i + 3 : 0;
}

// One state of the linear NFA built by compile(), before it becomes masks.
struct State {
  enum class Step : std::uint8_t { none, byte, segment_byte };
  Step step = Step::none;     // consuming move to the next state
  char byte = 0;              // for Step::byte
  bool loop_any = false;      // stays on any byte ('**')
  bool loop_segment = false;  // stays on any byte but '/' (tail of '*')
  bool skip_next = false;     // epsilon to the next state
  bool skip_over = false;     // epsilon to the one after (empty side of "/**")
};

std::size_t star_run(std::string_view p, std::size_t i) {
  std::size_t n = 0;
  while (i + n < p.size() && p[i + n] == '*') ++n;
  return n;
}

}  // namespace

// Hand-written scans: string_view::find_first_of calls memchr once per byte,
// which dominated the hot path.
std::string_view url_path(std::string_view url) {
  const std::size_t n = url.size();
  std::size_t start = 0;
  if (n == 0 || url[0] != '/') {
    start = scheme_length(url);
    while (start < n && url[start] != '/' && url[start] != '?' && url[start] != '#') ++start;
    if (start == n || url[start] != '/') return "/";
  }
  std::size_t stop = start;
  while (stop < n && url[stop] != '?' && url[stop] != '#') ++stop;
  return url.substr(start, stop - start);
}

Result<PathGlob> PathGlob::compile(std::string_view pattern) {
  if (pattern.empty() || pattern.front() != '/')
    return invalid("urlPattern", "urlPattern: a path pattern must start with '/'");
  if (pattern.size() > kMaxPatternLength)
    return invalid("urlPattern",
                   "urlPattern: longer than " + std::to_string(kMaxPatternLength) + " characters");
  if (pattern.find_first_of("?#") != std::string_view::npos)
    return invalid(
        "urlPattern",
        "urlPattern: a path pattern cannot contain '?' or '#' because query strings "
        "and fragments are ignored when matching paths; use a re: pattern to match them");

  PathGlob g;
  g.pattern_ = std::string(pattern);
  g.literal_ = pattern.find('*') == std::string_view::npos;
  if (g.literal_) return g;

  // First a linear NFA, one state per position; every pattern byte adds at
  // most one state ("/**" adds two for 3+ bytes), so there are at most
  // pattern.size() + 1 states, which kMaxWords relies on.
  std::vector<State> st;
  st.emplace_back();
  for (std::size_t i = 0; i < pattern.size();) {
    const char c = pattern[i];
    if (c == '/') {
      const std::size_t run = star_run(pattern, i + 1);
      const std::size_t after = i + 1 + run;
      if (run >= 2 && (after == pattern.size() || pattern[after] == '/')) {
        // "/**": either nothing (skip_over), or '/' then anything.
        st.back().step = State::Step::byte;
        st.back().byte = c;
        st.back().skip_over = true;
        State inner;
        inner.loop_any = true;
        inner.skip_next = true;
        st.push_back(inner);
        st.emplace_back();
        i = after;
        continue;
      }
    }
    if (c == '*') {
      const std::size_t run = star_run(pattern, i);
      if (run == 1) {
        // One mandatory segment byte, then any number more.
        st.back().step = State::Step::segment_byte;
        State tail;
        tail.loop_segment = true;
        st.push_back(tail);
      } else {
        st.back().loop_any = true;
      }
      i += run;
      continue;
    }
    st.back().step = State::Step::byte;
    st.back().byte = c;
    st.emplace_back();
    ++i;
  }

  // Then the masks. Class 0 is "any byte the pattern does not name", class 1
  // is '/', and every literal byte gets its own class.
  g.states_ = st.size();
  g.words_ = (st.size() + 63) / 64;
  std::vector<unsigned char> representative{'\0', '/'};
  g.class_of_['/'] = 1;
  for (const State& s : st) {
    const auto b = static_cast<unsigned char>(s.byte);
    if (s.step == State::Step::byte && b != '/' && g.class_of_[b] == 0) {
      g.class_of_[b] = static_cast<std::uint16_t>(representative.size());
      representative.push_back(b);
    }
  }
  // Class 0 must stand for a byte the pattern does not name; if it names all
  // 255 others, class 0 is simply never used.
  for (unsigned b = 0; b < 256; ++b) {
    if (b != '/' && g.class_of_[b] == 0) {
      representative[0] = static_cast<unsigned char>(b);
      break;
    }
  }

  const std::size_t classes = representative.size();
  g.step_.assign(classes * g.words_, 0);
  g.loop_.assign(classes * g.words_, 0);
  g.skip_next_.assign(g.words_, 0);
  g.skip_over_.assign(g.words_, 0);
  for (std::size_t i = 0; i < st.size(); ++i) {
    const State& s = st[i];
    const std::uint64_t bit = std::uint64_t{1} << (i % 64);
    const std::size_t w = i / 64;
    for (std::size_t k = 0; k < classes; ++k) {
      const unsigned char c = representative[k];
      if ((s.step == State::Step::byte && static_cast<unsigned char>(s.byte) == c) ||
          (s.step == State::Step::segment_byte && c != '/'))
        g.step_[k * g.words_ + w] |= bit;
      if (s.loop_any || (s.loop_segment && c != '/')) g.loop_[k * g.words_ + w] |= bit;
    }
    if (s.skip_next) g.skip_next_[w] |= bit;
    if (s.skip_over) g.skip_over_[w] |= bit;
    g.has_skips_ = g.has_skips_ || s.skip_next || s.skip_over;
  }
  return g;
}

void PathGlob::close(std::uint64_t* set) const {
  if (!has_skips_) return;
  // Epsilon moves only go forward, but one "/**" can lead straight into the
  // next, so repeat until nothing changes (at most once per "/**", usually 2).
  for (bool changed = true; changed;) {
    changed = false;
    std::uint64_t carry1 = 0, carry2 = 0;
    for (std::size_t w = 0; w < words_; ++w) {
      const std::uint64_t a = set[w] & skip_next_[w];
      const std::uint64_t b = set[w] & skip_over_[w];
      const std::uint64_t add = (a << 1) | carry1 | (b << 2) | carry2;
      carry1 = a >> 63;
      carry2 = b >> 62;
      if (add & ~set[w]) {
        set[w] |= add;
        changed = true;
      }
    }
  }
}

bool PathGlob::matches(std::string_view path) const {
  if (literal_) return path == pattern_;

  const std::size_t last = states_ - 1;
  if (words_ == 1) {
    // Common case (patterns under 64 states): the whole set in one register.
    auto close1 = [&](std::uint64_t x) {
      if (!has_skips_) return x;
      for (;;) {
        const std::uint64_t y = x | ((x & skip_next_[0]) << 1) | ((x & skip_over_[0]) << 2);
        if (y == x) return x;
        x = y;
      }
    };
    std::uint64_t cur = close1(1);
    for (const char c : path) {
      const std::size_t k = class_of_[static_cast<unsigned char>(c)];
      cur = ((cur & step_[k]) << 1) | (cur & loop_[k]);
      if (cur == 0) return false;
      cur = close1(cur);
    }
    return (cur >> last) & 1;
  }

  // Fixed-size stack sets keep matching allocation-free.
  std::array<std::uint64_t, kMaxWords> buf_a{}, buf_b;
  std::uint64_t* cur = buf_a.data();
  std::uint64_t* next = buf_b.data();
  cur[0] = 1;
  close(cur);
  for (const char c : path) {
    const std::size_t k = class_of_[static_cast<unsigned char>(c)] * words_;
    std::uint64_t carry = 0, any = 0;
    for (std::size_t w = 0; w < words_; ++w) {
      const std::uint64_t moved = cur[w] & step_[k + w];
      next[w] = (moved << 1) | carry | (cur[w] & loop_[k + w]);
      carry = moved >> 63;
      any |= next[w];
    }
    if (!any) return false;
    close(next);
    std::swap(cur, next);
  }
  return (cur[last / 64] >> (last % 64)) & 1;
}

}  // namespace gs::match
