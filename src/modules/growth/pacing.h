// Growth-goal arithmetic (docs/api.md: /api/goals), pure and thread-safe: the window a
// metric is measured over (calendar windows in the tenant's IANA time zone,
// rolling windows, the goal's own span), the pacing status of a goal, and
// ratio metrics. The API and the processor build on these; no I/O here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace gs::growth {

// A metric's window. Calendar windows follow the tenant's time zone; weeks
// start on Monday (ISO 8601). `rolling` covers the last `days` × 24 hours of
// absolute time. `span` is the goal's own start..deadline.
enum class WindowKind { day, week, month, quarter, rolling, span };

struct Window {
  WindowKind kind = WindowKind::span;
  int days = 0;  // rolling only, 1..3660
};

// Parses "day", "week", "month", "quarter", "span" or a rolling "<N>d"
// (e.g. "7d", "30d"). The Error names the field "window".
Result<Window> parse_window(std::string_view text);
std::string to_string(const Window& w);

// A half-open interval of UTC milliseconds: [start_ms, end_ms).
struct Interval {
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  bool contains(int64_t t) const { return t >= start_ms && t < end_ms; }
};

// The window `w` that contains `now_ms`, in time zone `tz`. For `span`, the
// goal's span: from `span_start_ms` to the end of the deadline's local day.
// For `rolling`, (now - days×24h, now]: as an interval, [now - d + 1, now + 1).
Result<Interval> window_at(const Window& w, int64_t now_ms, std::string_view tz,
                           int64_t span_start_ms, int64_t deadline_date);

// Pacing status of a growth goal.
enum class PacingStatus { completed, on_track, at_risk, behind };
std::string_view to_string(PacingStatus s);
std::optional<PacingStatus> parse_status(std::string_view s);

// Configurable thresholds (docs/operations.md): `at_risk` from this fraction of the
// expectation, `behind` below it.
struct PacingThresholds {
  double at_risk_from = 0.8;
};

struct Pacing {
  PacingStatus status = PacingStatus::on_track;
  double expected = 0;  // target × elapsed / span, clamped to [0, target]
  std::optional<double>
      forecast;  // current projected linearly to the deadline; none before the start
};

// `completed` once current >= target. Otherwise the linear expectation at
// `now_ms` over [start_ms, end_ms): `on_track` at or above it, `at_risk`
// from `at_risk_from` of it, `behind` below. Before the start the
// expectation is 0 (on track); after the end it is the whole target.
Pacing pace(double current, double target, int64_t start_ms, int64_t end_ms, int64_t now_ms,
            const PacingThresholds& thresholds = {});

// A ratio metric in percent: numerator / denominator × 100; nullopt when the
// denominator is 0 (the ratio is undefined, not 0 % and not infinite).
std::optional<double> ratio_percent(double numerator, double denominator);

}  // namespace gs::growth
