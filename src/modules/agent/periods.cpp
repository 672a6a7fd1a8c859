#include "modules/agent/periods.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iterator>

#include <date/date.h>

#include "base/time.h"
#include "base/zone.h"

namespace gs::agent {

using time::local_date;
using time::start_of_day;

namespace {

date::sys_days to_sys_days(int64_t days) { return date::sys_days{date::days{days}}; }
int64_t to_days(date::sys_days d) { return d.time_since_epoch().count(); }

// The Monday that starts the ISO week of `date`.
int64_t monday_of(int64_t date) {
  date::weekday wd{to_sys_days(date)};
  return date - static_cast<int64_t>((wd - date::Monday).count());
}

// The first day of the week of `date` that starts on `ws`.
int64_t week_start_of(int64_t date, WeekStart ws) {
  date::weekday wd{to_sys_days(date)};
  auto first = ws == WeekStart::monday ? date::Monday : date::Sunday;
  return date - static_cast<int64_t>((wd - first).count());
}

}  // namespace

std::string_view to_string(Verdict v) { return kVerdictNames[static_cast<size_t>(v)]; }

std::optional<Verdict> parse_verdict(std::string_view s) {
  for (size_t i = 0; i < std::size(kVerdictNames); ++i)
    if (kVerdictNames[i] == s) return static_cast<Verdict>(i);
  return std::nullopt;
}

void Verdicts::add(Verdict v, int64_t n) {
  switch (v) {
    case Verdict::success:
      success += n;
      break;
    case Verdict::failure:
      failure += n;
      break;
    case Verdict::unknown:
      unknown += n;
      break;
    case Verdict::not_applicable:
      not_applicable += n;
      break;
  }
}

Verdicts& Verdicts::operator+=(const Verdicts& o) {
  success += o.success;
  failure += o.failure;
  unknown += o.unknown;
  not_applicable += o.not_applicable;
  return *this;
}

Result<PeriodBounds> period_of_date(Period p, int64_t date, std::string_view tz, WeekStart ws) {
  int64_t first = date, next = date + 1;
  switch (p) {
    case Period::day:
      break;
    case Period::week:
      first = week_start_of(date, ws);
      next = first + 7;
      break;
    case Period::month: {
      date::year_month_day ymd{to_sys_days(date)};
      auto start = ymd.year() / ymd.month() / 1;
      first = to_days(date::sys_days{start});
      next = to_days(date::sys_days{start + date::months{1}});
      break;
    }
  }
  auto a = start_of_day(first, tz);
  if (!a.ok()) return a.error();
  auto b = start_of_day(next, tz);
  if (!b.ok()) return b.error();
  return PeriodBounds{p, *a, *b, ws};
}

Result<PeriodBounds> period_at(Period p, int64_t t_ms, std::string_view tz, WeekStart ws) {
  auto today = local_date(t_ms, tz);
  if (!today.ok()) return today.error();
  return period_of_date(p, *today, tz, ws);
}

Result<PeriodBounds> previous_period(const PeriodBounds& b, std::string_view tz) {
  return period_at(b.period, b.start_ms - 1, tz, b.week_start);
}

Result<PeriodBounds> period_named(Period p, std::string_view value, int64_t now_ms,
                                  std::string_view tz, WeekStart ws) {
  if (value == "current") return period_at(p, now_ms, tz, ws);
  if (value == "previous") {
    auto current = period_at(p, now_ms, tz, ws);
    if (!current.ok()) return current.error();
    return previous_period(*current, tz);
  }
  if (auto date = time::parse_date(value)) return period_of_date(p, *date, tz, ws);
  return invalid("period", "must be current, previous or a date YYYY-MM-DD (got '" +
                               std::string(value) + "')");
}

std::string period_label(const PeriodBounds& b, std::string_view tz) {
  int64_t date = local_date(b.start_ms, tz).value_or(time::floor_div(b.start_ms, time::kMsPerDay));
  date::year_month_day ymd{to_sys_days(date)};
  char buf[32];
  switch (b.period) {
    case Period::day:
      return time::format_date(date);
    case Period::week: {
      // A week that starts on Sunday is named by its first day.
      if (b.week_start == WeekStart::sunday) return time::format_date(date);
      // ISO 8601: a week belongs to the year of its Thursday, and week 1 is
      // the one with that year's first Thursday.
      int64_t thursday = monday_of(date) + 3;
      date::year iso_year = date::year_month_day{to_sys_days(thursday)}.year();
      int64_t jan1 = to_days(date::sys_days{iso_year / date::January / 1});
      int64_t week = (thursday - jan1) / 7 + 1;
      std::snprintf(buf, sizeof buf, "%04d-W%02d", static_cast<int>(iso_year),
                    static_cast<int>(week));
      return buf;
    }
    case Period::month:
      std::snprintf(buf, sizeof buf, "%04d-%02u", static_cast<int>(ymd.year()),
                    static_cast<unsigned>(ymd.month()));
      return buf;
  }
  return time::format_date(date);
}

Result<std::vector<PeriodBounds>> periods_between(Period p, int64_t from_ms, int64_t to_ms,
                                                  std::string_view tz, size_t max, WeekStart ws) {
  if (from_ms >= to_ms) return invalid("from", "must be before to (the range is empty)");
  auto first = period_at(p, from_ms, tz, ws);
  if (!first.ok()) return first.error();
  std::vector<PeriodBounds> out;
  if (max == 0) return out;
  out.push_back(*first);
  while (out.size() < max && out.back().end_ms < to_ms) {
    auto next = period_at(p, out.back().end_ms, tz, ws);
    if (!next.ok()) return next.error();
    out.push_back(*next);
  }
  return out;
}

std::optional<double> rate_percent(const Verdicts& v) {
  int64_t n = v.sample();
  if (n <= 0) return std::nullopt;
  // One rounding only: 18 of 25 is 72.0 exactly.
  return static_cast<double>(v.success) * 100.0 / static_cast<double>(n);
}

std::optional<RateInterval> wilson95(int64_t successes, int64_t n) {
  if (n <= 0) return std::nullopt;
  successes = std::clamp<int64_t>(successes, 0, n);
  double nn = static_cast<double>(n);
  double p = static_cast<double>(successes) / nn;
  double z2 = kWilsonZ95 * kWilsonZ95;
  double denom = 1.0 + z2 / nn;
  double center = (p + z2 / (2.0 * nn)) / denom;
  double half = kWilsonZ95 * std::sqrt(p * (1.0 - p) / nn + z2 / (4.0 * nn * nn)) / denom;
  RateInterval r;
  // The bounds at 0 and n are exactly 0 and 1 mathematically; rounding
  // must not make a perfect record look imperfect.
  r.low = successes == 0 ? 0.0 : std::clamp(center - half, 0.0, 1.0) * 100.0;
  r.high = successes == n ? 100.0 : std::clamp(center + half, 0.0, 1.0) * 100.0;
  return r;
}

std::string_view to_string(TargetStatus s) {
  switch (s) {
    case TargetStatus::completed:
      return "completed";
    case TargetStatus::on_track:
      return "on_track";
    case TargetStatus::at_risk:
      return "at_risk";
    case TargetStatus::behind:
      return "behind";
    case TargetStatus::insufficient_data:
      return "insufficient_data";
  }
  return "on_track";
}

std::optional<TargetStatus> parse_target_status(std::string_view s) {
  for (TargetStatus st : {TargetStatus::completed, TargetStatus::on_track, TargetStatus::at_risk,
                          TargetStatus::behind, TargetStatus::insufficient_data})
    if (to_string(st) == s) return st;
  return std::nullopt;
}

TargetEvaluation evaluate(const Target& t, const PeriodBounds& bounds, const Verdicts& counts,
                          int64_t now_ms, const growth::PacingThresholds& thresholds) {
  TargetEvaluation e;
  e.bounds = bounds;
  e.counts = counts;
  e.rate = rate_percent(counts);
  e.interval = wilson95(counts.success, counts.sample());
  if (t.type == TargetType::count) {
    auto pacing =
        growth::pace(static_cast<double>(counts.success), static_cast<double>(t.target_count),
                     bounds.start_ms, bounds.end_ms, now_ms, thresholds);
    e.expected = pacing.expected;
    e.met = counts.success >= t.target_count;
    switch (pacing.status) {
      case growth::PacingStatus::completed:
        e.status = TargetStatus::completed;
        break;
      case growth::PacingStatus::on_track:
        e.status = TargetStatus::on_track;
        break;
      case growth::PacingStatus::at_risk:
        e.status = TargetStatus::at_risk;
        break;
      case growth::PacingStatus::behind:
        e.status = TargetStatus::behind;
        break;
    }
    return e;
  }
  if (!e.rate || counts.sample() < t.min_sample) {
    e.status = TargetStatus::insufficient_data;
  } else if (*e.rate >= t.target_rate) {
    e.status = TargetStatus::on_track;
    e.met = true;
  } else if (e.interval && e.interval->high >= t.target_rate) {
    e.status = TargetStatus::at_risk;
  } else {
    e.status = TargetStatus::behind;
  }
  return e;
}

}  // namespace gs::agent
