#include "modules/growth/pacing.h"

#include <algorithm>
#include <charconv>
#include <chrono>

#include <date/date.h>

#include "base/zone.h"

namespace gs::growth {

using time::local_date;
using time::start_of_day;

namespace {

date::sys_days to_sys_days(int64_t days) { return date::sys_days{date::days{days}}; }

}  // namespace

Result<Window> parse_window(std::string_view t) {
  if (t == "day") return Window{WindowKind::day, 0};
  if (t == "week") return Window{WindowKind::week, 0};
  if (t == "month") return Window{WindowKind::month, 0};
  if (t == "quarter") return Window{WindowKind::quarter, 0};
  if (t == "span") return Window{WindowKind::span, 0};
  if (t.size() >= 2 && t.back() == 'd') {
    int n = 0;
    auto digits = t.substr(0, t.size() - 1);
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec == std::errc() && p == digits.data() + digits.size() && n >= 1 && n <= 3660)
      return Window{WindowKind::rolling, n};
  }
  return invalid(
      "window",
      "must be day, week, month, quarter, span or a rolling <N>d with N from 1 to 3660 (e.g. 30d)");
}

std::string to_string(const Window& w) {
  switch (w.kind) {
    case WindowKind::day:
      return "day";
    case WindowKind::week:
      return "week";
    case WindowKind::month:
      return "month";
    case WindowKind::quarter:
      return "quarter";
    case WindowKind::span:
      return "span";
    case WindowKind::rolling:
      return std::to_string(w.days) + "d";
  }
  return "span";
}

Result<Interval> window_at(const Window& w, int64_t now_ms, std::string_view tz,
                           int64_t span_start_ms, int64_t deadline_date) {
  if (w.kind == WindowKind::rolling)
    return Interval{now_ms - int64_t{w.days} * 86'400'000 + 1, now_ms + 1};
  if (w.kind == WindowKind::span) {
    auto end = start_of_day(deadline_date + 1, tz);
    if (!end.ok()) return end.error();
    return Interval{span_start_ms, *end};
  }
  auto today = local_date(now_ms, tz);
  if (!today.ok()) return today.error();
  date::year_month_day ymd{to_sys_days(*today)};
  int64_t first = *today, next = *today + 1;
  switch (w.kind) {
    case WindowKind::day:
      break;
    case WindowKind::week: {
      date::weekday wd{to_sys_days(*today)};
      first = *today - static_cast<int64_t>((wd - date::Monday).count());
      next = first + 7;
      break;
    }
    case WindowKind::month: {
      auto start = ymd.year() / ymd.month() / 1;
      first = date::sys_days{start}.time_since_epoch().count();
      next = date::sys_days{start + date::months{1}}.time_since_epoch().count();
      break;
    }
    case WindowKind::quarter: {
      unsigned m = static_cast<unsigned>(ymd.month());
      auto start = ymd.year() / date::month{(m - 1) / 3 * 3 + 1} / 1;
      first = date::sys_days{start}.time_since_epoch().count();
      next = date::sys_days{start + date::months{3}}.time_since_epoch().count();
      break;
    }
    default:
      break;
  }
  auto a = start_of_day(first, tz);
  auto b = start_of_day(next, tz);
  if (!a.ok()) return a.error();
  if (!b.ok()) return b.error();
  return Interval{*a, *b};
}

std::string_view to_string(PacingStatus s) {
  switch (s) {
    case PacingStatus::completed:
      return "completed";
    case PacingStatus::on_track:
      return "on_track";
    case PacingStatus::at_risk:
      return "at_risk";
    case PacingStatus::behind:
      return "behind";
  }
  return "on_track";
}

std::optional<PacingStatus> parse_status(std::string_view s) {
  for (PacingStatus st : {PacingStatus::completed, PacingStatus::on_track, PacingStatus::at_risk,
                          PacingStatus::behind})
    if (to_string(st) == s) return st;
  return std::nullopt;
}

Pacing pace(double current, double target, int64_t start_ms, int64_t end_ms, int64_t now_ms,
            const PacingThresholds& thresholds) {
  Pacing p;
  double span = static_cast<double>(end_ms - start_ms);
  double elapsed = std::clamp(static_cast<double>(now_ms - start_ms), 0.0, std::max(span, 0.0));
  double fraction = span > 0 ? elapsed / span : 1.0;
  p.expected = target * fraction;
  if (elapsed > 0) p.forecast = current * (span > 0 ? span / elapsed : 1.0);
  if (current >= target)
    p.status = PacingStatus::completed;
  else if (current >= p.expected)
    p.status = PacingStatus::on_track;
  else if (current >= thresholds.at_risk_from * p.expected)
    p.status = PacingStatus::at_risk;
  else
    p.status = PacingStatus::behind;
  return p;
}

std::optional<double> ratio_percent(double numerator, double denominator) {
  if (denominator == 0) return std::nullopt;
  return numerator / denominator * 100.0;
}

}  // namespace gs::growth
