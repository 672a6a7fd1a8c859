// Agent-goal arithmetic: verdicts and their counts, days / ISO weeks / months
// in IANA time zones across DST changes, ISO week-year labels, named
// periods, history ranges, success rates with their Wilson interval, and the
// status of count and rate targets.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "base/time.h"
#include "modules/agent/periods.h"

using namespace gs::agent;

namespace {

constexpr int64_t kHour = 3'600'000;

int64_t at(const char* rfc3339) {
  auto t = gs::time::parse_rfc3339(rfc3339);
  REQUIRE(t.has_value());
  return *t;
}

PeriodBounds period(Period p, const char* t, const char* tz) {
  auto b = period_at(p, at(t), tz);
  REQUIRE(b.ok());
  return *b;
}

Target count_target(int64_t n) {
  Target t;
  t.type = TargetType::count;
  t.target_count = n;
  return t;
}

Target rate_target(double rate, int64_t min_sample = kDefaultMinSample) {
  Target t;
  t.type = TargetType::rate;
  t.target_rate = rate;
  t.min_sample = min_sample;
  return t;
}

Verdicts counts(int64_t success, int64_t failure, int64_t unknown = 0) {
  Verdicts v;
  v.add(Verdict::success, success);
  v.add(Verdict::failure, failure);
  v.add(Verdict::unknown, unknown);
  return v;
}

}  // namespace

TEST_CASE("verdicts: names, parsing and counts") {
  for (Verdict v :
       {Verdict::success, Verdict::failure, Verdict::unknown, Verdict::not_applicable}) {
    CAPTURE(to_string(v));
    CHECK(parse_verdict(to_string(v)) == v);
  }
  CHECK(to_string(Verdict::not_applicable) == "not_applicable");
  CHECK_FALSE(parse_verdict("Success"));
  CHECK_FALSE(parse_verdict(""));

  Verdicts v;
  v.add(Verdict::success, 2);
  v.add(Verdict::not_applicable, 4);
  v.add(Verdict::failure, 1);
  Verdicts w;
  w.add(Verdict::success, 1);
  w.add(Verdict::unknown, 3);
  v += w;
  CHECK(v.success == 3);
  CHECK(v.failure == 1);
  CHECK(v.unknown == 3);
  CHECK(v.not_applicable == 4);
  CHECK(v.sample() == 4);
}

TEST_CASE("days and ISO weeks across DST changes, with exact UTC bounds") {
  struct Case {
    const char* name;
    Period p;
    const char* t;
    const char* tz;
    const char *start, *end;
    int64_t hours;
  };
  std::vector<Case> cases = {
      // Europe/Berlin springs forward on Sunday 2026-03-29 and falls back on
      // Sunday 2026-10-25.
      {"Berlin spring-forward day", Period::day, "2026-03-29T12:00:00Z", "Europe/Berlin",
       "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z", 23},
      {"Berlin fall-back day", Period::day, "2026-10-25T12:00:00Z", "Europe/Berlin",
       "2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z", 25},
      {"Berlin spring-forward week", Period::week, "2026-03-29T12:00:00Z", "Europe/Berlin",
       "2026-03-22T23:00:00Z", "2026-03-29T22:00:00Z", 167},
      {"Berlin fall-back week", Period::week, "2026-10-25T12:00:00Z", "Europe/Berlin",
       "2026-10-18T22:00:00Z", "2026-10-25T23:00:00Z", 169},
      // America/New_York springs forward on 2026-03-08, falls back on 2026-11-01.
      {"New York spring-forward day", Period::day, "2026-03-08T12:00:00Z", "America/New_York",
       "2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z", 23},
      {"New York fall-back day", Period::day, "2026-11-01T12:00:00Z", "America/New_York",
       "2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z", 25},
      {"New York spring-forward week", Period::week, "2026-03-04T12:00:00Z", "America/New_York",
       "2026-03-02T05:00:00Z", "2026-03-09T04:00:00Z", 167},
      // 03:30Z on Nov 2nd is still Sunday Nov 1st, 22:30 EST: not yet Monday.
      {"New York late Sunday", Period::day, "2026-11-02T03:30:00Z", "America/New_York",
       "2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z", 25},
      {"an ordinary UTC week", Period::week, "2026-12-03T10:00:00Z", "UTC", "2026-11-30T00:00:00Z",
       "2026-12-07T00:00:00Z", 168},
  };
  for (auto& c : cases) {
    CAPTURE(c.name);
    auto b = period(c.p, c.t, c.tz);
    CHECK(b.period == c.p);
    CHECK(gs::time::format_rfc3339(b.start_ms) == c.start);
    CHECK(gs::time::format_rfc3339(b.end_ms) == c.end);
    CHECK(b.end_ms - b.start_ms == c.hours * kHour);
    CHECK(b.contains(at(c.t)));
  }
}

TEST_CASE("a week runs from Monday 00:00 local to the next Monday, whatever UTC says") {
  // Sunday 2026-11-29 23:30 in Berlin is 22:30Z: still the week of Monday 23rd.
  auto sunday_night = period(Period::week, "2026-11-29T22:30:00Z", "Europe/Berlin");
  CHECK(sunday_night.start_ms == at("2026-11-22T23:00:00Z"));  // Mon 2026-11-23 00:00 CET
  CHECK(sunday_night.end_ms == at("2026-11-29T23:00:00Z"));    // Mon 2026-11-30 00:00 CET
  CHECK(period_label(sunday_night, "Europe/Berlin") == "2026-W48");
  // Monday 00:00 local starts the next week; the instant before ends this one.
  auto monday = period(Period::week, "2026-11-29T23:00:00Z", "Europe/Berlin");
  CHECK(monday.start_ms == at("2026-11-29T23:00:00Z"));
  CHECK(monday.end_ms == at("2026-12-06T23:00:00Z"));
  CHECK(period_label(monday, "Europe/Berlin") == "2026-W49");
  auto last_ms = period_at(Period::week, at("2026-11-29T23:00:00Z") - 1, "Europe/Berlin");
  REQUIRE(last_ms.ok());
  CHECK(last_ms->start_ms == sunday_night.start_ms);
  // The same instant in UTC is already Sunday 22:30, in Tokyo Monday 07:30.
  CHECK(period(Period::week, "2026-11-29T22:30:00Z", "UTC").start_ms == at("2026-11-23T00:00:00Z"));
  CHECK(period(Period::week, "2026-11-29T22:30:00Z", "Asia/Tokyo").start_ms ==
        at("2026-11-29T15:00:00Z"));
  auto prev = previous_period(monday, "Europe/Berlin");
  REQUIRE(prev.ok());
  CHECK(prev->start_ms == sunday_night.start_ms);
  CHECK(prev->end_ms == sunday_night.end_ms);
}

TEST_CASE("a goal whose weeks start on Sunday: Sunday 00:00 local to the next Sunday") {
  auto sunday = [](const char* t, const char* tz) {
    auto b = period_at(Period::week, at(t), tz, WeekStart::sunday);
    REQUIRE(b.ok());
    return *b;
  };
  // Sunday 2026-11-29 23:30 in New York (EST) is 04:30Z on Monday: the week
  // that started that Sunday.
  auto night = sunday("2026-11-30T04:30:00Z", "America/New_York");
  CHECK(night.start_ms == at("2026-11-29T05:00:00Z"));  // Sun 2026-11-29 00:00 EST
  CHECK(night.end_ms == at("2026-12-06T05:00:00Z"));
  CHECK(night.week_start == WeekStart::sunday);
  CHECK(period_label(night, "America/New_York") == "2026-11-29");
  // Saturday 23:59 local is the week before; its ISO week is the same one.
  auto saturday = sunday("2026-11-29T04:59:00Z", "America/New_York");
  CHECK(saturday.start_ms == at("2026-11-22T05:00:00Z"));
  CHECK(saturday.end_ms == night.start_ms);
  // previous, periods_between and named dates keep the week start.
  auto prev = previous_period(night, "America/New_York");
  REQUIRE(prev.ok());
  CHECK(prev->start_ms == saturday.start_ms);
  auto named = period_named(Period::week, "2026-12-02", at("2026-12-03T12:00:00Z"),
                            "America/New_York", WeekStart::sunday);
  REQUIRE(named.ok());
  CHECK(named->start_ms == night.start_ms);
  // Across the end of DST (Sunday 2026-11-01): a week of 169 hours.
  auto fall = sunday("2026-11-01T12:00:00Z", "America/New_York");
  CHECK(fall.start_ms == at("2026-11-01T04:00:00Z"));  // Sun 00:00 EDT
  CHECK(fall.end_ms == at("2026-11-08T05:00:00Z"));    // Sun 00:00 EST
  auto list = periods_between(Period::week, at("2026-11-01T12:00:00Z"), at("2026-11-20T00:00:00Z"),
                              "America/New_York", 10, WeekStart::sunday);
  REQUIRE(list.ok());
  REQUIRE(list->size() == 3);
  CHECK((*list)[1].start_ms == fall.end_ms);
  CHECK(period_label((*list)[2], "America/New_York") == "2026-11-15");
}

TEST_CASE("labels: days, months, and ISO weeks with their ISO week-year") {
  struct Case {
    Period p;
    const char* t;
    const char* label;
  };
  std::vector<Case> cases = {
      {Period::day, "2026-12-03T10:00:00Z", "2026-12-03"},
      {Period::month, "2026-12-03T10:00:00Z", "2026-12"},
      {Period::month, "2026-03-31T10:00:00Z", "2026-03"},
      {Period::week, "2026-12-03T10:00:00Z", "2026-W49"},
      {Period::week, "2026-12-31T10:00:00Z", "2026-W53"},  // a Thursday: 2026 has 53 weeks
      {Period::week, "2027-01-01T10:00:00Z", "2026-W53"},  // a Friday, still 2026's last week
      {Period::week, "2027-01-03T23:59:59Z", "2026-W53"},  // its Sunday
      {Period::week, "2027-01-04T00:00:00Z", "2027-W01"},
      {Period::week, "2024-12-30T10:00:00Z", "2025-W01"},  // a Monday of 2024 in 2025's week 1
      {Period::week, "2026-01-01T10:00:00Z", "2026-W01"},  // its week starts on 2025-12-29
      {Period::week, "2021-01-03T10:00:00Z", "2020-W53"},
      {Period::week, "2026-03-09T10:00:00Z", "2026-W11"},
  };
  for (auto& c : cases) {
    CAPTURE(c.t);
    CHECK(period_label(period(c.p, c.t, "UTC"), "UTC") == c.label);
  }
  // The label is the local one: 23:30Z on Dec 31st is already 2027 in Berlin.
  auto b = period(Period::month, "2026-12-31T23:30:00Z", "Europe/Berlin");
  CHECK(period_label(b, "Europe/Berlin") == "2027-01");
  auto d = period(Period::day, "2026-12-31T23:30:00Z", "Europe/Berlin");
  CHECK(period_label(d, "Europe/Berlin") == "2027-01-01");
}

TEST_CASE("months end where the calendar says, in UTC and across DST") {
  struct Case {
    const char* name;
    const char* t;
    const char* tz;
    const char *start, *end;
  };
  std::vector<Case> cases = {
      {"January 31st", "2027-01-31T23:59:59Z", "UTC", "2027-01-01T00:00:00Z",
       "2027-02-01T00:00:00Z"},
      {"leap February", "2028-02-29T12:00:00Z", "UTC", "2028-02-01T00:00:00Z",
       "2028-03-01T00:00:00Z"},
      {"plain February", "2027-02-28T12:00:00Z", "UTC", "2027-02-01T00:00:00Z",
       "2027-03-01T00:00:00Z"},
      {"December", "2026-12-15T00:00:00Z", "UTC", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"},
      {"Berlin March (spring forward)", "2026-03-15T12:00:00Z", "Europe/Berlin",
       "2026-02-28T23:00:00Z", "2026-03-31T22:00:00Z"},
      {"Berlin October (fall back)", "2026-10-15T12:00:00Z", "Europe/Berlin",
       "2026-09-30T22:00:00Z", "2026-10-31T23:00:00Z"},
      {"already November in Berlin", "2026-10-31T23:30:00Z", "Europe/Berlin",
       "2026-10-31T23:00:00Z", "2026-11-30T23:00:00Z"},
  };
  for (auto& c : cases) {
    CAPTURE(c.name);
    auto b = period(Period::month, c.t, c.tz);
    CHECK(gs::time::format_rfc3339(b.start_ms) == c.start);
    CHECK(gs::time::format_rfc3339(b.end_ms) == c.end);
  }
  auto march = period(Period::month, "2026-03-15T12:00:00Z", "Europe/Berlin");
  CHECK(march.end_ms - march.start_ms == (31 * 24 - 1) * kHour);
  auto feb = previous_period(march, "Europe/Berlin");
  REQUIRE(feb.ok());
  CHECK(feb->start_ms == at("2026-01-31T23:00:00Z"));
  CHECK(feb->end_ms == march.start_ms);
  // A zone whose midnight does not exist on the DST day (America/Santiago
  // skips 00:00 to 01:00 on 2024-09-08): that day starts at the transition.
  auto santiago = period(Period::day, "2024-09-08T12:00:00Z", "America/Santiago");
  CHECK(santiago.start_ms == at("2024-09-08T04:00:00Z"));
  CHECK(santiago.end_ms - santiago.start_ms == 23 * kHour);
  CHECK(period_label(santiago, "America/Santiago") == "2024-09-08");

  auto bad = period_at(Period::day, 0, "Mars/Olympus_Mons");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().field == "timezone");
}

TEST_CASE("named periods: current, previous, a date; anything else names the field period") {
  int64_t now = at("2026-12-03T10:00:00Z");  // Thursday
  auto current = period_named(Period::week, "current", now, "Europe/Berlin");
  REQUIRE(current.ok());
  CHECK(current->start_ms == at("2026-11-29T23:00:00Z"));
  CHECK(current->end_ms == at("2026-12-06T23:00:00Z"));
  auto previous = period_named(Period::week, "previous", now, "Europe/Berlin");
  REQUIRE(previous.ok());
  CHECK(previous->start_ms == at("2026-11-22T23:00:00Z"));
  CHECK(previous->end_ms == current->start_ms);
  auto prev_month = period_named(Period::month, "previous", at("2026-01-10T00:00:00Z"), "UTC");
  REQUIRE(prev_month.ok());
  CHECK(prev_month->start_ms == at("2025-12-01T00:00:00Z"));
  CHECK(prev_month->end_ms == at("2026-01-01T00:00:00Z"));
  // A date is local: the day 2026-03-29 in Berlin, its (167-hour) week, its month.
  auto day = period_named(Period::day, "2026-03-29", now, "Europe/Berlin");
  REQUIRE(day.ok());
  CHECK(day->start_ms == at("2026-03-28T23:00:00Z"));
  CHECK(day->end_ms == at("2026-03-29T22:00:00Z"));
  auto week = period_named(Period::week, "2026-03-29", now, "Europe/Berlin");
  REQUIRE(week.ok());
  CHECK(week->start_ms == at("2026-03-22T23:00:00Z"));
  CHECK(week->end_ms - week->start_ms == 167 * kHour);
  auto month = period_named(Period::month, "2026-03-29", now, "Europe/Berlin");
  REQUIRE(month.ok());
  CHECK(month->start_ms == at("2026-02-28T23:00:00Z"));

  for (const char* bad : {"yesterday", "2026-13-01", "2026-02-30", "", "Current", "2026-3-29",
                          "2026-03-29T00:00:00Z", "last"}) {
    CAPTURE(bad);
    auto r = period_named(Period::week, bad, now, "Europe/Berlin");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().field == "period");
    CHECK(r.error().message.find("current, previous or a date YYYY-MM-DD") != std::string::npos);
  }
  auto bad_tz = period_named(Period::week, "current", now, "Mars/Olympus_Mons");
  REQUIRE_FALSE(bad_tz.ok());
  CHECK(bad_tz.error().field == "timezone");
}

TEST_CASE("periods_between: history ranges across a DST change, capped at max") {
  // Days around Berlin's spring-forward: from Saturday noon to Monday noon.
  auto days = periods_between(Period::day, at("2026-03-28T11:00:00Z"), at("2026-03-30T10:00:00Z"),
                              "Europe/Berlin", 100);
  REQUIRE(days.ok());
  REQUIRE(days->size() == 3);
  CHECK((*days)[0].start_ms == at("2026-03-27T23:00:00Z"));  // contains `from`
  CHECK((*days)[1].start_ms == at("2026-03-28T23:00:00Z"));
  CHECK((*days)[1].end_ms - (*days)[1].start_ms == 23 * kHour);
  CHECK((*days)[2].start_ms == at("2026-03-29T22:00:00Z"));
  CHECK((*days)[2].end_ms == at("2026-03-30T22:00:00Z"));
  CHECK(period_label((*days)[2], "Europe/Berlin") == "2026-03-30");
  for (size_t i = 1; i < days->size(); ++i) CHECK((*days)[i].start_ms == (*days)[i - 1].end_ms);

  // Weeks: a period starting exactly at `to` is not included.
  auto weeks = periods_between(Period::week, at("2026-03-25T00:00:00Z"), at("2026-04-05T22:00:00Z"),
                               "Europe/Berlin", 100);
  REQUIRE(weeks.ok());
  REQUIRE(weeks->size() == 2);
  CHECK((*weeks)[0].start_ms == at("2026-03-22T23:00:00Z"));
  CHECK((*weeks)[1].start_ms == at("2026-03-29T22:00:00Z"));
  CHECK((*weeks)[1].end_ms == at("2026-04-05T22:00:00Z"));
  auto weeks3 = periods_between(Period::week, at("2026-03-25T00:00:00Z"),
                                at("2026-04-05T22:00:00.001Z"), "Europe/Berlin", 100);
  REQUIRE(weeks3.ok());
  CHECK(weeks3->size() == 3);

  // A year of months capped at 5; a range within one period gives that one.
  auto months = periods_between(Period::month, at("2026-01-15T00:00:00Z"),
                                at("2027-01-01T00:00:00Z"), "UTC", 5);
  REQUIRE(months.ok());
  REQUIRE(months->size() == 5);
  CHECK(period_label(months->front(), "UTC") == "2026-01");
  CHECK(period_label(months->back(), "UTC") == "2026-05");
  auto one = periods_between(Period::month, at("2026-01-15T00:00:00Z"), at("2026-01-16T00:00:00Z"),
                             "UTC", 5);
  REQUIRE(one.ok());
  CHECK(one->size() == 1);
  auto none = periods_between(Period::day, at("2026-01-15T00:00:00Z"), at("2026-01-20T00:00:00Z"),
                              "UTC", 0);
  REQUIRE(none.ok());
  CHECK(none->empty());

  for (auto [from, to] : std::vector<std::pair<int64_t, int64_t>>{
           {at("2026-01-15T00:00:00Z"), at("2026-01-15T00:00:00Z")},
           {at("2026-01-16T00:00:00Z"), at("2026-01-15T00:00:00Z")}}) {
    auto r = periods_between(Period::day, from, to, "UTC", 10);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().field == "from");
  }
  auto bad_tz = periods_between(Period::day, 0, kHour, "Mars/Olympus_Mons", 10);
  REQUIRE_FALSE(bad_tz.ok());
  CHECK(bad_tz.error().field == "timezone");
}

TEST_CASE("rates: success over success + failure, with a Wilson 95 % interval") {
  // 30 verdicts: 18 success, 7 failure, 5 unknown.
  std::vector<Verdict> verdicts;
  for (int i = 0; i < 18; ++i) verdicts.push_back(Verdict::success);
  for (int i = 0; i < 7; ++i) verdicts.push_back(Verdict::failure);
  for (int i = 0; i < 5; ++i) verdicts.push_back(Verdict::unknown);
  Verdicts v;
  for (Verdict x : verdicts) v.add(x, 1);
  CHECK(v.sample() == 25);
  auto rate = rate_percent(v);
  REQUIRE(rate.has_value());
  CHECK(*rate == 72.0);  // exactly

  // p = 0.72, n = 25, z = 1.959964: center 0.690698, half-width 0.166464.
  auto w = wilson95(18, 25);
  REQUIRE(w.has_value());
  CHECK(std::abs(w->low - 52.42339) < 0.01);
  CHECK(std::abs(w->high - 85.71615) < 0.01);

  CHECK_FALSE(wilson95(0, 0).has_value());
  CHECK_FALSE(rate_percent(Verdicts{}).has_value());
  Verdicts only_unknown;
  only_unknown.add(Verdict::unknown, 4);
  only_unknown.add(Verdict::not_applicable, 2);
  CHECK_FALSE(rate_percent(only_unknown).has_value());

  auto all = wilson95(25, 25);
  REQUIRE(all.has_value());
  CHECK(all->high == 100.0);
  CHECK(std::abs(all->low - 86.68077) < 0.01);
  auto none = wilson95(0, 25);
  REQUIRE(none.has_value());
  CHECK(none->low == 0.0);
  CHECK(std::abs(none->high - 13.31923) < 0.01);
  CHECK(*rate_percent(counts(0, 25)) == 0.0);
  CHECK(*rate_percent(counts(25, 0)) == 100.0);
}

TEST_CASE("rate targets: insufficient data, on track, at risk, behind") {
  auto week = period(Period::week, "2026-12-03T10:00:00Z", "UTC");
  int64_t now = at("2026-12-03T10:00:00Z");

  // 3 verdicts, all failures, against min_sample 20: never behind.
  auto few = evaluate(rate_target(70, 20), week, counts(0, 3), now);
  CHECK(to_string(few.status) == "insufficient_data");
  CHECK_FALSE(few.met);
  REQUIRE(few.rate.has_value());
  CHECK(*few.rate == 0.0);
  CHECK_FALSE(few.expected.has_value());
  auto empty = evaluate(rate_target(70, 0), week, counts(0, 0, 7), now);
  CHECK(to_string(empty.status) == "insufficient_data");
  CHECK_FALSE(empty.rate.has_value());
  CHECK_FALSE(empty.interval.has_value());

  // 18 of 25 (72 %) against 70: on track and met.
  auto ok = evaluate(rate_target(70, 20), week, counts(18, 7, 5), now);
  CHECK(to_string(ok.status) == "on_track");
  CHECK(ok.met);
  CHECK(*ok.rate == 72.0);
  CHECK(ok.counts.unknown == 5);
  CHECK(ok.bounds.start_ms == week.start_ms);
  REQUIRE(ok.interval.has_value());
  // Exactly at the target is met.
  CHECK(evaluate(rate_target(72, 20), week, counts(18, 7), now).met);

  // Against 80: 72 % is short, but the interval reaches 85.7 %: at risk.
  auto risk = evaluate(rate_target(80, 20), week, counts(18, 7), now);
  CHECK(to_string(risk.status) == "at_risk");
  CHECK_FALSE(risk.met);
  CHECK(risk.interval->high > 80);

  // 30 of 100 against 70: the interval tops out at 39.6 %: behind.
  auto low = evaluate(rate_target(70, 20), week, counts(30, 70), now);
  CHECK(to_string(low.status) == "behind");
  CHECK_FALSE(low.met);
  CHECK(low.interval->high < 70);
  // A low rate over few verdicts is only at risk: 3 of 6 reach up to 81.2 %.
  CHECK(to_string(evaluate(rate_target(70, 5), week, counts(3, 3), now).status) == "at_risk");

  for (TargetStatus s : {TargetStatus::completed, TargetStatus::on_track, TargetStatus::at_risk,
                         TargetStatus::behind, TargetStatus::insufficient_data})
    CHECK(parse_target_status(to_string(s)) == s);
  CHECK_FALSE(parse_target_status("late"));
}

TEST_CASE("count targets pace like growth goals over the period") {
  // The UTC week of Mon 2026-11-30: 168 hours; a target of 70 expects 10 a day.
  auto week = period(Period::week, "2026-12-03T10:00:00Z", "UTC");
  int64_t thursday = at("2026-12-03T00:00:00Z");  // 3 days in: 30 expected

  auto done = evaluate(count_target(25), week, counts(25, 3), thursday);
  CHECK(to_string(done.status) == "completed");
  CHECK(done.met);

  struct Case {
    int64_t success;
    const char* status;
  };
  for (auto c : std::vector<Case>{{30, "on_track"},
                                  {45, "on_track"},
                                  {24, "at_risk"},
                                  {23, "behind"},
                                  {70, "completed"}}) {
    CAPTURE(c.success);
    auto e = evaluate(count_target(70), week, counts(c.success, 100), thursday);
    CHECK(to_string(e.status) == c.status);
    REQUIRE(e.expected.has_value());
    CHECK(*e.expected == doctest::Approx(30.0));
    CHECK(e.met == (c.success >= 70));
  }
  // Thresholds are configurable.
  CHECK(to_string(evaluate(count_target(70), week, counts(28, 0), thursday,
                           gs::growth::PacingThresholds{0.95})
                      .status) == "behind");
  // A past period is judged at its end: the whole target was expected.
  auto past = evaluate(count_target(70), week, counts(60, 0), at("2027-01-15T00:00:00Z"));
  CHECK(*past.expected == doctest::Approx(70.0));
  CHECK(to_string(past.status) == "at_risk");
  CHECK_FALSE(past.met);
  // Before the period nothing is expected yet.
  auto early = evaluate(count_target(70), week, counts(0, 0), at("2026-11-01T00:00:00Z"));
  CHECK(*early.expected == 0.0);
  CHECK(to_string(early.status) == "on_track");
  // Count targets ignore the rate's min_sample, and their DST weeks are longer or shorter:
  // 84 of 169 hours into Berlin's fall-back week, 84/169 of the target is expected.
  auto fall = period(Period::week, "2026-10-25T12:00:00Z", "Europe/Berlin");
  auto mid = evaluate(count_target(169), fall, counts(84, 0), fall.start_ms + 84 * kHour);
  CHECK(*mid.expected == doctest::Approx(84.0));
  CHECK(to_string(mid.status) == "on_track");
}
