// Growth-goal arithmetic: pacing over a table of cases, calendar windows in
// IANA time zones across DST changes, month and year ends, and ratios with a
// zero denominator.
#include <doctest/doctest.h>

#include <tuple>
#include <vector>

#include "base/time.h"
#include "base/zone.h"
#include "modules/growth/pacing.h"

using namespace gs::growth;
using gs::time::local_date;
using gs::time::start_of_day;
using gs::time::valid_time_zone;

namespace {

int64_t at(const char* rfc3339) {
  auto t = gs::time::parse_rfc3339(rfc3339);
  REQUIRE(t.has_value());
  return *t;
}

int64_t date(const char* ymd) {
  auto d = gs::time::parse_date(ymd);
  REQUIRE(d.has_value());
  return *d;
}

}  // namespace

TEST_CASE("pacing: completed, on_track, at_risk and behind over a table of cases") {
  struct Case {
    const char* name;
    const char *start, *end, *now;
    double current, target;
    PacingStatus status;
    double expected;
  };
  // A 10-day goal of 100: the expectation grows by 10 a day.
  std::vector<Case> cases = {
      {"before the start", "2025-03-01T00:00:00Z", "2025-03-11T00:00:00Z", "2025-02-20T00:00:00Z",
       0, 100, PacingStatus::on_track, 0},
      {"at the start", "2025-03-01T00:00:00Z", "2025-03-11T00:00:00Z", "2025-03-01T00:00:00Z", 0,
       100, PacingStatus::on_track, 0},
      {"exactly on pace", "2025-03-01T00:00:00Z", "2025-03-11T00:00:00Z", "2025-03-06T00:00:00Z",
       50, 100, PacingStatus::on_track, 50},
      {"ahead", "2025-03-01T00:00:00Z", "2025-03-11T00:00:00Z", "2025-03-03T00:00:00Z", 35, 100,
       PacingStatus::on_track, 20},
      {"at 80% of the expectation", "2025-03-01T00:00:00Z", "2025-03-11T00:00:00Z",
       "2025-03-06T00:00:00Z", 40, 100, PacingStatus::at_risk, 50},
      {"just below 80%", "2025-03-01T00:00:00Z", "2025-03-11T00:00:00Z", "2025-03-06T00:00:00Z",
       39.99, 100, PacingStatus::behind, 50},
      {"half an hour in, nothing yet", "2025-03-01T00:00:00Z", "2025-03-11T00:00:00Z",
       "2025-03-01T00:30:00Z", 0, 100, PacingStatus::behind, 100.0 / 480},
      {"target reached early", "2025-03-01T00:00:00Z", "2025-03-11T00:00:00Z",
       "2025-03-02T00:00:00Z", 100, 100, PacingStatus::completed, 10},
      {"target passed", "2025-03-01T00:00:00Z", "2025-03-11T00:00:00Z", "2025-03-09T00:00:00Z", 130,
       100, PacingStatus::completed, 80},
      {"after the deadline, short", "2025-03-01T00:00:00Z", "2025-03-11T00:00:00Z",
       "2025-04-01T00:00:00Z", 90, 100, PacingStatus::at_risk, 100},
      {"after the deadline, far short", "2025-03-01T00:00:00Z", "2025-03-11T00:00:00Z",
       "2025-04-01T00:00:00Z", 10, 100, PacingStatus::behind, 100},
      {"empty span", "2025-03-01T00:00:00Z", "2025-03-01T00:00:00Z", "2025-03-01T00:00:00Z", 0, 100,
       PacingStatus::behind, 100},
  };
  for (auto& c : cases) {
    CAPTURE(c.name);
    auto p = pace(c.current, c.target, at(c.start), at(c.end), at(c.now));
    CHECK(to_string(p.status) == to_string(c.status));
    CHECK(p.expected == doctest::Approx(c.expected));
  }
  // Forecast: the current pace projected to the deadline.
  auto p = pace(30, 100, at("2025-03-01T00:00:00Z"), at("2025-03-11T00:00:00Z"),
                at("2025-03-04T00:00:00Z"));
  REQUIRE(p.forecast.has_value());
  CHECK(*p.forecast == doctest::Approx(100.0));
  CHECK_FALSE(pace(0, 100, at("2025-03-01T00:00:00Z"), at("2025-03-11T00:00:00Z"),
                   at("2025-02-01T00:00:00Z"))
                  .forecast);
  // Thresholds are configurable.
  auto strict = pace(45, 100, at("2025-03-01T00:00:00Z"), at("2025-03-11T00:00:00Z"),
                     at("2025-03-06T00:00:00Z"), PacingThresholds{0.95});
  CHECK(to_string(strict.status) == "behind");
  CHECK(parse_status("at_risk") == PacingStatus::at_risk);
  CHECK_FALSE(parse_status("late"));
}

TEST_CASE("calendar windows follow the tenant's time zone across DST changes") {
  // Europe/Berlin springs forward on 2025-03-30 (a 23-hour day) and falls
  // back on 2025-10-26 (a 25-hour day).
  auto spring =
      window_at(Window{WindowKind::day}, at("2025-03-30T12:00:00Z"), "Europe/Berlin", 0, 0);
  REQUIRE(spring.ok());
  CHECK(spring->start_ms == at("2025-03-29T23:00:00Z"));
  CHECK(spring->end_ms == at("2025-03-30T22:00:00Z"));
  CHECK(spring->end_ms - spring->start_ms == 23 * 3'600'000LL);
  auto fall = window_at(Window{WindowKind::day}, at("2025-10-26T12:00:00Z"), "Europe/Berlin", 0, 0);
  REQUIRE(fall.ok());
  CHECK(fall->end_ms - fall->start_ms == 25 * 3'600'000LL);
  // The same instant is another local day in another zone.
  auto ny =
      window_at(Window{WindowKind::day}, at("2025-03-10T02:00:00Z"), "America/New_York", 0, 0);
  REQUIRE(ny.ok());
  CHECK(ny->start_ms == at("2025-03-09T05:00:00Z"));  // midnight EST
  CHECK(ny->end_ms == at("2025-03-10T04:00:00Z"));    // midnight EDT: a 23-hour day
  // Half-hour offsets.
  auto india = window_at(Window{WindowKind::day}, at("2025-03-01T20:00:00Z"), "Asia/Kolkata", 0, 0);
  REQUIRE(india.ok());
  CHECK(india->start_ms == at("2025-03-01T18:30:00Z"));
  // A zone whose midnight does not exist on the DST day (America/Santiago
  // skips from 00:00 to 01:00 on 2024-09-08): the day starts at the transition.
  auto santiago = start_of_day(date("2024-09-08"), "America/Santiago");
  REQUIRE(santiago.ok());
  CHECK(*santiago == at("2024-09-08T04:00:00Z"));
}

TEST_CASE("weeks start on Monday; months and quarters end where the calendar says") {
  auto week = window_at(Window{WindowKind::week}, at("2025-01-01T10:00:00Z"), "UTC", 0, 0);
  REQUIRE(week.ok());
  CHECK(week->start_ms == at("2024-12-30T00:00:00Z"));  // the Monday, in the previous year
  CHECK(week->end_ms == at("2025-01-06T00:00:00Z"));
  auto feb_leap = window_at(Window{WindowKind::month}, at("2024-02-29T23:59:59Z"), "UTC", 0, 0);
  REQUIRE(feb_leap.ok());
  CHECK(feb_leap->start_ms == at("2024-02-01T00:00:00Z"));
  CHECK(feb_leap->end_ms == at("2024-03-01T00:00:00Z"));
  // 2025-01-31T23:30Z is already February 1st in Berlin.
  auto month_tz =
      window_at(Window{WindowKind::month}, at("2025-01-31T23:30:00Z"), "Europe/Berlin", 0, 0);
  REQUIRE(month_tz.ok());
  CHECK(month_tz->start_ms == at("2025-01-31T23:00:00Z"));
  CHECK(month_tz->end_ms == at("2025-02-28T23:00:00Z"));
  auto dec = window_at(Window{WindowKind::month}, at("2025-12-15T00:00:00Z"), "UTC", 0, 0);
  REQUIRE(dec.ok());
  CHECK(dec->end_ms == at("2026-01-01T00:00:00Z"));
  auto q = window_at(Window{WindowKind::quarter}, at("2025-05-20T00:00:00Z"), "UTC", 0, 0);
  REQUIRE(q.ok());
  CHECK(q->start_ms == at("2025-04-01T00:00:00Z"));
  CHECK(q->end_ms == at("2025-07-01T00:00:00Z"));
  auto q4 = window_at(Window{WindowKind::quarter}, at("2025-11-20T00:00:00Z"), "UTC", 0, 0);
  REQUIRE(q4.ok());
  CHECK(q4->end_ms == at("2026-01-01T00:00:00Z"));
}

TEST_CASE("rolling and span windows; window names; unknown zones") {
  auto now = at("2025-03-10T12:00:00Z");
  auto rolling = window_at(Window{WindowKind::rolling, 7}, now, "UTC", 0, 0);
  REQUIRE(rolling.ok());
  CHECK(rolling->contains(now));
  CHECK(rolling->contains(at("2025-03-03T12:00:00.001Z")));
  CHECK_FALSE(rolling->contains(at("2025-03-03T12:00:00Z")));
  // The span runs to the end of the deadline's local day.
  auto span = window_at(Window{WindowKind::span}, now, "Europe/Berlin", at("2025-01-01T00:00:00Z"),
                        date("2025-03-31"));
  REQUIRE(span.ok());
  CHECK(span->end_ms == at("2025-03-31T22:00:00Z"));  // midnight CEST after March 31st

  for (auto [text, kind, days] :
       std::vector<std::tuple<const char*, WindowKind, int>>{{"day", WindowKind::day, 0},
                                                             {"week", WindowKind::week, 0},
                                                             {"quarter", WindowKind::quarter, 0},
                                                             {"30d", WindowKind::rolling, 30},
                                                             {"span", WindowKind::span, 0}}) {
    auto w = parse_window(text);
    REQUIRE(w.ok());
    CHECK(w->kind == kind);
    CHECK(w->days == days);
    CHECK(to_string(*w) == text);
  }
  for (const char* bad : {"", "d", "0d", "-3d", "7days", "fortnight", "3661d"}) {
    CAPTURE(bad);
    auto w = parse_window(bad);
    REQUIRE_FALSE(w.ok());
    CHECK(w.error().field == "window");
  }
  CHECK(valid_time_zone("Europe/Berlin"));
  CHECK_FALSE(valid_time_zone("Mars/Olympus_Mons"));
  auto bad_tz = window_at(Window{WindowKind::day}, now, "Mars/Olympus_Mons", 0, 0);
  REQUIRE_FALSE(bad_tz.ok());
  CHECK(bad_tz.error().field == "timezone");
}

TEST_CASE("ratios: a percent, undefined with a zero denominator") {
  CHECK(*ratio_percent(25, 200) == doctest::Approx(12.5));
  CHECK(*ratio_percent(0, 10) == 0.0);
  CHECK_FALSE(ratio_percent(5, 0).has_value());
  CHECK_FALSE(ratio_percent(0, 0).has_value());
}

TEST_CASE("month and quarter windows at their boundaries, in UTC and in other zones") {
  struct Case {
    const char* name;
    WindowKind kind;
    const char* now;
    const char* tz;
    const char *start, *end;
  };
  std::vector<Case> cases = {
      {"last millisecond of January", WindowKind::month, "2025-01-31T23:59:59.999Z", "UTC",
       "2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z"},
      {"February 1st, a common year: 28 days", WindowKind::month, "2025-02-01T00:00:00Z", "UTC",
       "2025-02-01T00:00:00Z", "2025-03-01T00:00:00Z"},
      {"February 1st, a leap year: 29 days", WindowKind::month, "2024-02-01T00:00:00Z", "UTC",
       "2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z"},
      {"February 28th of a leap year is not the end", WindowKind::month, "2024-02-28T23:59:59Z",
       "UTC", "2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z"},
      {"March 1st after a leap day", WindowKind::month, "2024-03-01T00:00:00Z", "UTC",
       "2024-03-01T00:00:00Z", "2024-04-01T00:00:00Z"},
      {"a 30-day month", WindowKind::month, "2025-04-30T23:59:59Z", "UTC", "2025-04-01T00:00:00Z",
       "2025-05-01T00:00:00Z"},
      // Kolkata (+05:30): 2025-02-28T18:30Z is already March 1st.
      {"February's end in Kolkata", WindowKind::month, "2025-02-28T18:29:59Z", "Asia/Kolkata",
       "2025-01-31T18:30:00Z", "2025-02-28T18:30:00Z"},
      {"March 1st in Kolkata", WindowKind::month, "2025-02-28T18:30:00Z", "Asia/Kolkata",
       "2025-02-28T18:30:00Z", "2025-03-31T18:30:00Z"},
      // New York: March 2025 starts in EST and ends in EDT (one hour shorter).
      {"March in New York", WindowKind::month, "2025-03-15T12:00:00Z", "America/New_York",
       "2025-03-01T05:00:00Z", "2025-04-01T04:00:00Z"},
      {"end of Q1", WindowKind::quarter, "2025-03-31T23:59:59.999Z", "UTC", "2025-01-01T00:00:00Z",
       "2025-04-01T00:00:00Z"},
      {"start of Q2", WindowKind::quarter, "2025-04-01T00:00:00Z", "UTC", "2025-04-01T00:00:00Z",
       "2025-07-01T00:00:00Z"},
      {"end of Q2", WindowKind::quarter, "2025-06-30T23:59:59Z", "UTC", "2025-04-01T00:00:00Z",
       "2025-07-01T00:00:00Z"},
      {"start of Q3", WindowKind::quarter, "2025-07-01T00:00:00Z", "UTC", "2025-07-01T00:00:00Z",
       "2025-10-01T00:00:00Z"},
      {"Q1 of a leap year", WindowKind::quarter, "2024-02-29T12:00:00Z", "UTC",
       "2024-01-01T00:00:00Z", "2024-04-01T00:00:00Z"},
      {"New Year's Eve is Q4", WindowKind::quarter, "2025-12-31T23:59:59Z", "UTC",
       "2025-10-01T00:00:00Z", "2026-01-01T00:00:00Z"},
      // Berlin: 2025-03-31T22:30Z is April 1st 00:30 CEST, so Q2; Q2 starts
      // and ends in summer time.
      {"Q2 starts at local midnight in Berlin", WindowKind::quarter, "2025-03-31T22:30:00Z",
       "Europe/Berlin", "2025-03-31T22:00:00Z", "2025-06-30T22:00:00Z"},
      {"still Q1 in Berlin", WindowKind::quarter, "2025-03-31T21:59:59Z", "Europe/Berlin",
       "2024-12-31T23:00:00Z", "2025-03-31T22:00:00Z"},
  };
  for (const auto& c : cases) {
    CAPTURE(std::string(c.name));
    auto w = window_at(Window{c.kind}, at(c.now), c.tz, 0, 0);
    REQUIRE(w.ok());
    CHECK(gs::time::format_rfc3339(w->start_ms) == gs::time::format_rfc3339(at(c.start)));
    CHECK(gs::time::format_rfc3339(w->end_ms) == gs::time::format_rfc3339(at(c.end)));
    CHECK(w->contains(at(c.now)));
  }
}

TEST_CASE("pacing over a month window: February has 28 or 29 days") {
  // Target 290 over February 2024 (29 days): the expectation grows by 10 a day.
  auto leap = window_at(Window{WindowKind::month}, at("2024-02-15T00:00:00Z"), "UTC", 0, 0);
  REQUIRE(leap.ok());
  auto p = pace(140, 290, leap->start_ms, leap->end_ms, at("2024-02-15T00:00:00Z"));
  CHECK(p.expected == doctest::Approx(140));
  CHECK(to_string(p.status) == "on_track");
  REQUIRE(p.forecast.has_value());
  CHECK(*p.forecast == doctest::Approx(290));
  // The same day and count in February 2025 (28 days, target 280): on pace too.
  auto common = window_at(Window{WindowKind::month}, at("2025-02-15T00:00:00Z"), "UTC", 0, 0);
  REQUIRE(common.ok());
  auto q = pace(140, 280, common->start_ms, common->end_ms, at("2025-02-15T00:00:00Z"));
  CHECK(q.expected == doctest::Approx(140));
  CHECK(to_string(q.status) == "on_track");
  // On the last day of a leap February, 28/29 of the target is expected.
  auto last = pace(270, 290, leap->start_ms, leap->end_ms, at("2024-02-29T00:00:00Z"));
  CHECK(last.expected == doctest::Approx(280));
  CHECK(to_string(last.status) == "at_risk");
}
