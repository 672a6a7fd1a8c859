#include "base/time.h"

#include <chrono>
#include <cstdio>

namespace gs::time {
namespace {

bool digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    char c = s[i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

bool valid_ymd(int y, int m, int d) {
  if (y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1) return false;
  auto ymd = std::chrono::year{y} / std::chrono::month{unsigned(m)} / std::chrono::day{unsigned(d)};
  return ymd.ok();
}

int64_t days_of(int y, int m, int d) {
  auto ymd = std::chrono::year{y} / std::chrono::month{unsigned(m)} / std::chrono::day{unsigned(d)};
  return std::chrono::sys_days{ymd}.time_since_epoch().count();
}

}  // namespace

std::optional<int64_t> parse_date(std::string_view s) {
  int y, m, d;
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  if (!digits(s, 0, 4, y) || !digits(s, 5, 2, m) || !digits(s, 8, 2, d)) return std::nullopt;
  if (!valid_ymd(y, m, d)) return std::nullopt;
  return days_of(y, m, d);
}

std::optional<int64_t> parse_rfc3339(std::string_view s) {
  if (s.size() < 20) return std::nullopt;
  auto day = parse_date(s.substr(0, 10));
  if (!day) return std::nullopt;
  if (s[10] != 'T' && s[10] != 't' && s[10] != ' ') return std::nullopt;
  int hh, mm, ss;
  if (!digits(s, 11, 2, hh) || s[13] != ':' || !digits(s, 14, 2, mm) || s[16] != ':' ||
      !digits(s, 17, 2, ss))
    return std::nullopt;
  if (hh > 23 || mm > 59 || ss > 60) return std::nullopt;  // 60: leap second, folded below
  if (ss == 60) ss = 59;
  size_t pos = 19;
  int64_t frac_ms = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t start = pos;
    int64_t scale = 100;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (scale > 0) frac_ms += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start || pos - start > 9) return std::nullopt;
  }
  if (pos >= s.size()) return std::nullopt;
  int64_t offset_min = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int oh, om;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(s, pos + 4, 2, om) || oh > 23 || om > 59)
      return std::nullopt;
    offset_min = (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  int64_t ms =
      *day * kMsPerDay + (hh * 3600LL + mm * 60LL + ss) * 1000LL + frac_ms - offset_min * 60'000LL;
  // The bounds hold after the zone offset is applied, so whatever parses
  // formats back to text that parses (a 5-digit year would not).
  if (ms < 0 || ms > kMaxMs) return std::nullopt;
  return ms;
}

std::string format_date(int64_t days) {
  std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{days}}};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", int(ymd.year()), unsigned(ymd.month()),
                unsigned(ymd.day()));
  return buf;
}

// Howard Hinnant's civil-date algorithms ("chrono-Compatible Low-Level Date
// Algorithms"), in int64 so that any day number is valid (std::chrono's
// year stops at 32767).
int64_t month_of_day(int64_t days) {
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;  // 1..12
  const int64_t y = yoe + era * 400 + (m <= 2);
  return (y - 1970) * 12 + (m - 1);
}

int64_t first_day_of_month(int64_t month) {
  int64_t y = 1970 + floor_div(month, 12);
  const int64_t m = month - floor_div(month, 12) * 12 + 1;  // 1..12
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

std::string format_rfc3339(int64_t ms) {
  int64_t days = floor_div(ms, kMsPerDay);
  int64_t rem = ms - days * kMsPerDay;
  int64_t secs = rem / 1000, milli = rem % 1000;
  char buf[40];
  if (milli)
    std::snprintf(buf, sizeof buf, "%sT%02lld:%02lld:%02lld.%03lldZ", format_date(days).c_str(),
                  (long long)(secs / 3600), (long long)(secs / 60 % 60), (long long)(secs % 60),
                  (long long)milli);
  else
    std::snprintf(buf, sizeof buf, "%sT%02lld:%02lld:%02lldZ", format_date(days).c_str(),
                  (long long)(secs / 3600), (long long)(secs / 60 % 60), (long long)(secs % 60));
  return buf;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace gs::time
