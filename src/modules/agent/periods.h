// Agent-goal arithmetic (docs/api.md#agent-goals), pure and thread-safe: the
// verdicts of calls and their counts, the calendar periods targets are
// measured over (days, ISO weeks from Monday, months; in the tenant's IANA time
// zone, DST included), their labels, success rates with a Wilson interval, and
// the status of a target in a period. No I/O here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "modules/agent/model.h"
#include "modules/growth/pacing.h"

namespace gs::agent {

// The verdict on one call against a goal's success criteria. Only success
// and failure count towards a rate; unknown (could not tell) and
// not_applicable (the goal did not concern the call) are counted apart.
enum class Verdict : uint8_t { success, failure, unknown, not_applicable };
inline constexpr std::string_view kVerdictNames[] = {"success", "failure", "unknown",
                                                     "not_applicable"};
std::string_view to_string(Verdict v);
std::optional<Verdict> parse_verdict(std::string_view s);

// Counts of one period (or one channel of it).
struct Verdicts {
  int64_t success = 0, failure = 0, unknown = 0, not_applicable = 0;
  int64_t sample() const { return success + failure; }  // the rate's denominator
  void add(Verdict v, int64_t n);
  Verdicts& operator+=(const Verdicts& o);
};

// A calendar period in a time zone: [start_ms, end_ms) in UTC ms.
struct PeriodBounds {
  Period period = Period::week;
  int64_t start_ms = 0, end_ms = 0;
  WeekStart week_start = WeekStart::monday;  // weeks only
  bool contains(int64_t t) const { return t >= start_ms && t < end_ms; }
};

// The day, week (ISO: Monday 00:00 local to the next Monday 00:00 local;
// or Sunday to Sunday with `ws` sunday) or month that contains `t_ms` in
// `tz`. Bounds are local midnights, so a day
// may last 23 or 25 hours and a week 167 or 169 (where midnight does not
// exist, the first instant of the day: base/zone.h). Error (field
// "timezone") for an unknown zone.
Result<PeriodBounds> period_at(Period p, int64_t t_ms, std::string_view tz,
                               WeekStart ws = WeekStart::monday);

// The period of the same kind that contains the calendar date `date` (days
// since 1970-01-01, local to `tz`).
Result<PeriodBounds> period_of_date(Period p, int64_t date, std::string_view tz,
                                    WeekStart ws = WeekStart::monday);

// The period before `b`: period_at(b.period, b.start_ms - 1, tz).
Result<PeriodBounds> previous_period(const PeriodBounds& b, std::string_view tz);

// The period named by a query value: "current" (the one containing
// `now_ms`), "previous" (the one before it) or a local date "YYYY-MM-DD" (the
// one containing that date). Error naming the field "period" otherwise, or
// "timezone" for an unknown zone.
Result<PeriodBounds> period_named(Period p, std::string_view value, int64_t now_ms,
                                  std::string_view tz, WeekStart ws = WeekStart::monday);

// A label of the period: "2026-12-03" (day), "2026-W49" (ISO week with its
// ISO week-year: 2027-01-01 is in 2026-W53; a week starting on Sunday is
// named by its first day, "2026-11-29"), "2026-12" (month). Taken from
// the local date of b.start_ms; for an unknown zone, from its UTC date.
std::string period_label(const PeriodBounds& b, std::string_view tz);

// For history charts: the period containing `from_ms`, then those whose
// start lies in [from_ms, to_ms), in order; at most `max` of them. Error
// (field "from") when the range is empty or reversed, (field "timezone") for
// an unknown zone.
Result<std::vector<PeriodBounds>> periods_between(Period p, int64_t from_ms, int64_t to_ms,
                                                  std::string_view tz, size_t max,
                                                  WeekStart ws = WeekStart::monday);

// The success rate: success / (success + failure) × 100; nullopt when that
// sample is 0 (undefined, not 0 %).
std::optional<double> rate_percent(const Verdicts& v);

// The Wilson score interval at 95 % (z = 1.959964) of `successes` out of
// `n`, in percent, within [0, 100] (exactly 100 when every one succeeded, 0
// when none did); nullopt when n <= 0. `successes` is clamped to [0, n].
struct RateInterval {
  double low = 0, high = 0;
};
inline constexpr double kWilsonZ95 = 1.959964;
std::optional<RateInterval> wilson95(int64_t successes, int64_t n);

// The status of a target in a period.
enum class TargetStatus { completed, on_track, at_risk, behind, insufficient_data };
std::string_view to_string(TargetStatus s);
std::optional<TargetStatus> parse_target_status(std::string_view s);

struct TargetEvaluation {
  PeriodBounds bounds;
  Verdicts counts;
  std::optional<double> rate;
  std::optional<RateInterval> interval;
  TargetStatus status = TargetStatus::on_track;
  // count: success >= target_count; rate: sample >= min_sample and rate >= target_rate
  bool met = false;
  // count targets: growth::pace's expectation at now (clamped to the period)
  std::optional<double> expected;
};

// The status of target `t` in the period `bounds` with `counts`, at `now_ms`.
// Count targets pace like growth goals (growth::pace over the period:
// completed, on_track, at_risk, behind; a past period is judged at its end).
// Rate targets: a sample below min_sample (or empty) is insufficient_data,
// never behind; else on_track (and met) when the rate reaches target_rate,
// at_risk when the Wilson interval's high still does, behind otherwise.
TargetEvaluation evaluate(const Target& t, const PeriodBounds& bounds, const Verdicts& counts,
                          int64_t now_ms, const growth::PacingThresholds& thresholds = {});

}  // namespace gs::agent
