// Event-time helpers: RFC 3339 timestamps <-> milliseconds since the Unix
// epoch (UTC), and calendar formatting. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gs::time {

constexpr int64_t kMsPerHour = 3'600'000;
constexpr int64_t kMsPerDay = 86'400'000;
// The last millisecond parse_rfc3339 accepts: 9999-12-31T23:59:59.999Z.
constexpr int64_t kMaxMs = 2'932'897 * kMsPerDay - 1;

// Parses an RFC 3339 date-time ("2025-03-01T12:00:00Z",
// "2025-03-01T12:00:00.123+02:00"). Requires a zone designator (Z or ±hh:mm).
// Returns milliseconds since the epoch, or nullopt if malformed or out of
// range: from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z once
// converted to UTC (so "9999-12-31T23:00:00-05:00" is out of range).
std::optional<int64_t> parse_rfc3339(std::string_view s);

// Parses an ISO 8601 calendar date "YYYY-MM-DD" to days since the epoch.
std::optional<int64_t> parse_date(std::string_view s);

// Formats milliseconds since the epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ"
// (milliseconds omitted when zero).
std::string format_rfc3339(int64_t ms);

// Formats days since the epoch as "YYYY-MM-DD".
std::string format_date(int64_t days);

// Floor division helpers for negative-safe bucketing.
inline int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// Calendar months, numbered since 1970-01 (month 0), proleptic Gregorian,
// for any day number (no range check: cells::fold rolls up every cell, and
// a roadmap signal's cell holds milliseconds where a bucket would be).
int64_t month_of_day(int64_t days);
// The first day (since the epoch) of month `month` (since 1970-01).
int64_t first_day_of_month(int64_t month);

// Current wall-clock time in ms since the epoch.
int64_t now_ms();

}  // namespace gs::time
