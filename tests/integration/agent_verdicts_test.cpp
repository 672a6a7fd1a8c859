// Integration tests of agent-goal verdict counting (docs/api.md#agent-goals:
// call_outcome events, GET /v1/goals/{id}/progress and /history) against a
// real Kafka broker and the real `goalstream` binary: events produced with a
// Kafka client, counts read back through the API and compared, field by
// field, with numbers this file computes on its own.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

using it::json;
using ojson = nlohmann::ordered_json;

namespace {

namespace chr = std::chrono;

const std::string kUnknownGoal = "goal_00000000000000ff";

// Verdict counts as the API shows them; `rate` and the sample follow.
struct Counts {
  int64_t s = 0, f = 0, u = 0, na = 0;
  void add(const std::string& verdict) {
    if (verdict == "success") ++s;
    if (verdict == "failure") ++f;
    if (verdict == "unknown") ++u;
    if (verdict == "not_applicable") ++na;
  }
  Counts& operator+=(const Counts& o) {
    s += o.s, f += o.f, u += o.u, na += o.na;
    return *this;
  }
};
using Channels = std::map<std::string, Counts>;  // "" for calls without a channel

// successes / (successes + failures) × 100, two decimals (computed here).
std::optional<double> rate_of(const Counts& c) {
  if (c.s + c.f == 0) return std::nullopt;
  return std::round(10000.0 * double(c.s) / double(c.s + c.f)) / 100.0;
}

// The counts of a target, a history row or a channel: every member exact.
void check_counts(const json& j, const Counts& c) {
  CAPTURE(j.dump());
  CHECK(j["successes"] == c.s);
  CHECK(j["failures"] == c.f);
  CHECK(j["unknown"] == c.u);
  CHECK(j["not_applicable"] == c.na);
  CHECK(j["sample_size"] == c.s + c.f);
  auto rate = rate_of(c);
  if (!rate) {
    CHECK(j["rate"].is_null());
    return;
  }
  REQUIRE(j["rate"].is_number());
  CHECK(j["rate"].get<double>() == doctest::Approx(*rate).epsilon(1e-9));
  // Whole numbers are written as integers (72, not 72.0).
  CHECK(j["rate"].is_number_integer() == (*rate == std::floor(*rate)));
}

void check_channels(const json& target, const Channels& want) {
  CAPTURE(target.dump());
  REQUIRE(target["channels"].is_array());
  CHECK(target["channels"].size() == want.size());
  std::map<std::string, json> got;
  for (auto& c : target["channels"])
    got[c["channel_id"].is_null() ? std::string() : c["channel_id"].get<std::string>()] = c;
  for (auto& [id, counts] : want) {
    CAPTURE(id);
    REQUIRE(got.count(id));
    check_counts(got[id], counts);
  }
}

std::vector<std::string> names(const ojson& object) {
  std::vector<std::string> out;
  for (auto& [k, v] : object.items()) out.push_back(k);
  return out;
}

// ---- Time: the current UTC week and month, as the test computes them ----

std::string format_utc(chr::sys_seconds t) {
  auto day = chr::floor<chr::days>(t);
  chr::year_month_day ymd{day};
  chr::hh_mm_ss hms{t - day};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", int(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()), int(hms.hours().count()),
                int(hms.minutes().count()), int(hms.seconds().count()));
  return buf;
}
std::string format_date(chr::sys_days d) { return format_utc(chr::sys_seconds(d)).substr(0, 10); }
chr::sys_days today() { return chr::floor<chr::days>(chr::system_clock::now()); }
chr::sys_days week_start(chr::sys_days d) {
  return d - chr::days(chr::weekday(d).iso_encoding() - 1);
}
chr::sys_days month_start(chr::sys_days d) {
  chr::year_month_day ymd{d};
  return chr::sys_days{ymd.year() / ymd.month() / 1};
}
chr::sys_days next_month_start(chr::sys_days d) {
  chr::year_month_day ymd{d};
  return chr::sys_days{(ymd.year() / ymd.month() + chr::months(1)) / 1};
}
std::string week_label(chr::sys_days monday) {
  auto thursday = monday + chr::days(3);
  auto y = chr::year_month_day{thursday}.year();
  auto week = (thursday - chr::sys_days{y / chr::January / 1}).count() / 7 + 1;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-W%02d", int(y), int(week));
  return buf;
}
std::string month_label(chr::sys_days d) { return format_date(d).substr(0, 7); }

// A timestamp `back` seconds ago, but not before the start of the current
// UTC week and month (so that it lies in both).
std::string recent_ts(int back) {
  auto now = chr::floor<chr::seconds>(chr::system_clock::now());
  auto start = chr::sys_seconds(std::max(week_start(today()), month_start(today())));
  return format_utc(std::max(now - chr::seconds(back), start));
}

// ---- Events ----

json verdict(const std::string& goal, const std::string& v) {
  return {{"goal_id", goal}, {"verdict", v}};
}
json achieved(const std::string& goal, bool a) { return {{"goal_id", goal}, {"achieved", a}}; }

std::pair<std::string, std::string> outcome(const std::string& id, const std::string& ts,
                                            const std::string& channel, const json& results,
                                            const std::string& tenant = "acme") {
  json e = {{"event_id", id},         {"tenant_id", tenant},        {"type", "call_outcome"},
            {"timestamp", ts},        {"agent_id", "agent_abc123"}, {"call_id", "call-" + id},
            {"goal_results", results}};
  if (!channel.empty()) e["channel_id"] = channel;
  return {tenant + "/" + id, e.dump()};
}

struct Deployment : it::Deployment {
  explicit Deployment(const std::string& label) : it::Deployment(label, "acme") {}
  it::HttpResponse call(const std::string& method, const std::string& target,
                        const std::string& body = "", const std::string& as = "") {
    std::map<std::string, std::string> headers{
        {"Authorization", "Bearer " + (as.empty() ? key : as)}};
    if (!body.empty()) headers["Content-Type"] = "application/json";
    return it::http(serve.port(), method, target, body, headers);
  }
  json create(const json& body, const std::string& as = "") {
    auto r = call("POST", "/v1/goals", body.dump(), as);
    REQUIRE_MESSAGE(r.status == 201, r.body);
    return r.json_body()["data"];
  }
  json patch(const std::string& id, const json& body) {
    auto r = call("PATCH", "/v1/goals/" + id, body.dump());
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return r.json_body()["data"];
  }
  // GET /v1/goals/{id}/progress?period=…: its data.
  json progress(const std::string& id, const std::string& period = "current",
                const std::string& as = "") {
    auto r = call("GET", "/v1/goals/" + id + "/progress?period=" + period, "", as);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    auto body = r.json_body();
    REQUIRE(body["success"] == true);
    return body["data"];
  }
  json history(const std::string& id, const std::string& query) {
    auto r = call("GET", "/v1/goals/" + id + "/history?" + query);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return r.json_body()["data"];
  }
  // Waits until target `t` of goal `id` (current period) shows `sample`
  // verdicts in its scope plus `unknown`, then until serve has no lag.
  void wait_sample(const std::string& id, int64_t sample, int64_t unknown = 0,
                   const std::string& period = "current", int timeout_ms = 30000) {
    json last;
    bool ok = it::eventually(
        [&] {
          last = progress(id, period)["targets"][0];
          return last["sample_size"] == sample && last["unknown"] == unknown;
        },
        timeout_ms);
    CHECK_MESSAGE(ok, last.dump());
    serve.wait_caught_up();
  }
  void set_timezone(const std::string& tz) {
    auto r = it::http(serve.port(), "PUT", "/api/settings", json{{"timezone", tz}}.dump(),
                      {{"x-api-key", key}});
    REQUIRE_MESSAGE(r.status == 200, r.body);
  }
};

json target_named(const json& progress, const std::string& target_id) {
  for (auto& t : progress["targets"])
    if (t["target_id"] == target_id) return t;
  FAIL("no target " << target_id << " in " << progress.dump());
  return {};
}

}  // namespace

TEST_CASE(
    "1. exact counts per verdict and channel, in both verdict forms; other tenants, unknown goals "
    "and a duplicate do not count") {
  Deployment d("av1");
  auto globex = it::create_key(d.prefix, "globex");
  auto goal = d.create({{"agent_id", "agent_abc123"},
                        {"title", "Book qualified meeting"},
                        {"description", "The call ends with a confirmed meeting time."},
                        {"targets",
                         {{{"period", "week"}, {"target_type", "count"}, {"target_count", 10}},
                          {{"period", "month"}, {"target_type", "rate"}, {"target_rate", 70}}}}});
  std::string id = goal["id"];
  std::string week_target = goal["goal_targets"][0]["id"];
  std::string month_target = goal["goal_targets"][1]["id"];
  std::string foreign =
      d.create({{"agent_id", "agent_abc123"},
                {"title", "Globex goal"},
                {"description", "Theirs."},
                {"targets", {{{"period", "week"}, {"target_type", "count"}, {"target_count", 5}}}}},
               globex)["id"];

  // 30 calls: 18 success, 7 failure, 5 unknown, over web, phone and no channel.
  std::vector<std::pair<std::string, std::string>> msgs;
  Counts total;
  Channels channels;
  const char* kChannel[] = {"web", "phone", ""};
  for (int i = 0; i < 30; ++i) {
    std::string v = i < 18 ? "success" : i < 25 ? "failure" : "unknown";
    std::string channel = kChannel[i % 3];
    json item = v != "unknown" && i % 2 == 0 ? achieved(id, v == "success") : verdict(id, v);
    json results = json::array({item});
    if (i % 5 == 0) results.push_back(verdict(kUnknownGoal, "success"));  // no such goal
    if (i % 7 == 0) results.push_back(verdict(foreign, "success"));       // another tenant's goal
    msgs.push_back(outcome("c" + std::to_string(i), recent_ts(i * 7), channel, results));
    total.add(v);
    channels[channel].add(v);
  }
  msgs.push_back(msgs[3]);  // a producer retry: the same event again, later in the log
  // Another tenant's calls naming our goal do not count for it; its own goal counts them.
  msgs.push_back(outcome("g1", recent_ts(5), "web",
                         json::array({verdict(id, "success"), verdict(foreign, "success")}),
                         "globex"));
  msgs.push_back(outcome("g2", recent_ts(5), "",
                         json::array({achieved(id, false), achieved(foreign, true)}), "globex"));
  it::produce(d.events(), msgs);
  d.wait_sample(id, 25, 5);

  auto r = d.call("GET", "/v1/goals/" + id + "/progress?period=current");
  REQUIRE_MESSAGE(r.status == 200, r.body);
  auto body = ojson::parse(r.body);
  CHECK(names(body) == std::vector<std::string>{"success", "data"});
  CHECK(names(body["data"]) == std::vector<std::string>{"goal_id", "agent_id", "channel_id",
                                                        "timezone", "week_start", "as_of",
                                                        "targets"});
  json data = json::parse(body["data"].dump());
  CHECK(data["goal_id"] == id);
  CHECK(data["agent_id"] == "agent_abc123");
  CHECK(data["channel_id"].is_null());
  CHECK(data["timezone"] == "UTC");
  CHECK(data["week_start"] == "monday");
  CHECK(data["as_of"].get<std::string>().ends_with("Z"));
  REQUIRE(data["targets"].size() == 2);
  CHECK(names(body["data"]["targets"][0]) ==
        std::vector<std::string>{"target_id",     "period",         "target_type", "target_count",
                                 "target_rate",   "min_sample",     "is_primary",  "period_label",
                                 "period_start",  "period_end",     "successes",   "failures",
                                 "unknown",       "not_applicable", "sample_size", "rate",
                                 "rate_interval", "status",         "met",         "expected",
                                 "channels"});
  CHECK(names(body["data"]["targets"][0]["channels"][0]) ==
        std::vector<std::string>{"channel_id", "successes", "failures", "unknown", "not_applicable",
                                 "sample_size", "rate"});

  CHECK(total.s == 18);
  CHECK(total.f == 7);
  CHECK(total.u == 5);
  auto week = data["targets"][0];
  CHECK(week["target_id"] == week_target);
  CHECK(week["period"] == "week");
  CHECK(week["target_type"] == "count");
  CHECK(week["target_count"] == 10);
  CHECK(week["target_rate"].is_null());
  CHECK(week["min_sample"].is_null());
  CHECK(week["is_primary"] == true);
  auto monday = week_start(today());
  CHECK(week["period_label"] == week_label(monday));
  CHECK(week["period_start"] == format_date(monday) + "T00:00:00Z");
  CHECK(week["period_end"] == format_date(monday + chr::days(7)) + "T00:00:00Z");
  check_counts(week, total);
  CHECK(week["successes"] == 18);
  CHECK(week["failures"] == 7);
  CHECK(week["unknown"] == 5);
  CHECK(week["not_applicable"] == 0);
  CHECK(week["sample_size"] == 25);
  CHECK(week["rate"] == 72);
  CHECK(week["rate"].is_number_integer());
  CHECK(week["rate_interval"]["low"].get<double>() == doctest::Approx(52.42));
  CHECK(week["rate_interval"]["high"].get<double>() == doctest::Approx(85.72));
  CHECK(week["rate_interval"]["confidence"] == 95);
  CHECK(week["status"] == "completed");  // 18 successes of 10
  CHECK(week["met"] == true);
  REQUIRE(week["expected"].is_number());
  CHECK(week["expected"].get<double>() >= 0);
  CHECK(week["expected"].get<double>() <= 10);
  check_channels(week, channels);
  CHECK(channels.size() == 3);
  CHECK(channels["web"].s == 6);  // i % 3 == 0 below 18
  CHECK(channels[""].u == 2);     // 26, 29

  auto month = data["targets"][1];
  CHECK(month["target_id"] == month_target);
  CHECK(month["period"] == "month");
  CHECK(month["target_type"] == "rate");
  CHECK(month["target_count"].is_null());
  CHECK(month["target_rate"] == 70);
  CHECK(month["min_sample"] == 20);
  CHECK(month["is_primary"] == false);
  CHECK(month["period_label"] == month_label(today()));
  CHECK(month["period_start"] == format_date(month_start(today())) + "T00:00:00Z");
  CHECK(month["period_end"] == format_date(next_month_start(today())) + "T00:00:00Z");
  check_counts(month, total);
  CHECK(month["rate"] == 72);
  CHECK(month["rate_interval"] == json{{"low", 52.42}, {"high", 85.72}, {"confidence", 95}});
  CHECK(month["status"] == "on_track");  // 25 >= min_sample 20, 72 >= 70
  CHECK(month["met"] == true);
  CHECK(month["expected"].is_null());
  check_channels(month, channels);

  // The other tenant's goal counts only its own tenant's two calls; to us it does not exist.
  auto theirs = d.progress(foreign, "current", globex)["targets"][0];
  check_counts(theirs, {2, 0, 0, 0});
  check_channels(theirs, {{"web", {1, 0, 0, 0}}, {"", {1, 0, 0, 0}}});
  CHECK(d.call("GET", "/v1/goals/" + foreign + "/progress").status == 404);
  CHECK(d.call("GET", "/v1/goals/" + kUnknownGoal + "/progress").status == 404);
  CHECK(d.serve.metric("goalstream_events_duplicate_total") == 1);
  CHECK(d.serve.terminate() == 0);
}

TEST_CASE(
    "2. late calls land in the period of their timestamp; a goal's own time zone, else the "
    "tenant's, places calls around midnight") {
  Deployment d("av2");
  auto g1 = d.create(
      {{"agent_id", "agent_abc123"},
       {"title", "Periods"},
       {"description", "UTC periods."},
       {"timezone", "UTC"},
       {"targets",
        {{{"period", "week"}, {"target_type", "count"}, {"target_count", 2}},
         {{"period", "month"}, {"target_type", "rate"}, {"target_rate", 50}, {"min_sample", 1}}}}});
  std::string id1 = g1["id"];
  std::string month_target = g1["goal_targets"][1]["id"];
  auto week_goal = [&](const std::string& title, const json& tz,
                       const std::string& week_start = "") {
    json body = {
        {"agent_id", "agent_abc123"},
        {"title", title},
        {"description", "Around midnight."},
        {"targets", {{{"period", "week"}, {"target_type", "count"}, {"target_count", 1}}}}};
    if (!tz.is_null()) body["timezone"] = tz;
    if (!week_start.empty()) body["week_start"] = week_start;
    return d.create(body)["id"].get<std::string>();
  };
  std::string berlin = week_goal("Berlin", "Europe/Berlin");
  std::string berlin_sunday = week_goal("Berlin, weeks from Sunday", "Europe/Berlin", "sunday");
  std::string tenant_tz = week_goal("Tenant's zone", nullptr);

  // A: the Sunday before this week (3 success, 1 failure); B: the 1st of the
  // previous month (2 success, 2 unknown), never in this week or the last;
  // C: now (1 success, 1 failure, 1 not_applicable).
  auto monday = week_start(today());
  auto a_day = monday - chr::days(1);
  auto b_day = month_start(month_start(today()) - chr::days(1));
  auto noon = [](chr::sys_days day) { return format_utc(chr::sys_seconds(day) + chr::hours(12)); };
  std::vector<std::pair<std::string, std::string>> msgs;
  int n = 0;
  auto add = [&](const std::string& ts, const std::string& v) {
    msgs.push_back(outcome("e" + std::to_string(n++), ts, "web", json::array({verdict(id1, v)})));
  };
  for (auto v : {"success", "success", "success", "failure"}) add(noon(a_day), v);
  for (auto v : {"success", "unknown", "success", "unknown"}) add(noon(b_day), v);
  for (auto v : {"success", "failure", "not_applicable"}) add(recent_ts(60), v);
  Counts A{3, 1, 0, 0}, B{2, 0, 2, 0}, C{1, 1, 0, 1};
  // Around midnight between Sunday 2026-11-29 and Monday 2026-11-30 in
  // Berlin (UTC+1 in winter): 23:30 local is 22:30Z, 00:10 local is 23:10Z.
  msgs.push_back(outcome("sun", "2026-11-29T22:30:00Z", "",
                         json::array({verdict(berlin, "success"), verdict(tenant_tz, "success"),
                                      verdict(berlin_sunday, "success")})));
  msgs.push_back(outcome("mon", "2026-11-29T23:10:00Z", "",
                         json::array({verdict(berlin, "failure"), achieved(tenant_tz, false),
                                      verdict(berlin_sunday, "failure")})));
  it::produce(d.events(), msgs);
  d.wait_sample(berlin, 1, 0, "2026-11-30");
  d.wait_sample(id1, 2, 0);
  d.serve.wait_caught_up();

  bool a_this_month = month_start(a_day) == month_start(today());
  Counts month_now = C, month_prev = B;
  (a_this_month ? month_now : month_prev) += A;
  auto check_period = [&](const std::string& period, const Counts& week, chr::sys_days week_day,
                          const Counts& month, chr::sys_days month_day) {
    CAPTURE(period);
    auto p = d.progress(id1, period);
    CHECK(p["timezone"] == "UTC");
    auto w = p["targets"][0];
    CHECK(w["period_label"] == week_label(week_start(week_day)));
    CHECK(w["period_start"] == format_date(week_start(week_day)) + "T00:00:00Z");
    check_counts(w, week);
    check_channels(w, week.s + week.f + week.u + week.na ? Channels{{"web", week}} : Channels{});
    auto m = target_named(p, month_target);
    CHECK(m["period_label"] == month_label(month_day));
    CHECK(m["period_end"] == format_date(next_month_start(month_day)) + "T00:00:00Z");
    check_counts(m, month);
    CHECK(m["status"] == "on_track");  // min_sample 1, every rate here is at least 50
    CHECK(m["met"] == true);
  };
  check_period("current", C, today(), month_now, today());
  check_period("previous", A, a_day, month_prev, month_start(today()) - chr::days(1));
  check_period(format_date(a_day), A, a_day, a_this_month ? month_now : month_prev, a_day);
  check_period(format_date(b_day), B, b_day, month_prev, b_day);
  // A past count target is judged at its period's end: 3 successes of 2 is completed.
  CHECK(d.progress(id1, "previous")["targets"][0]["status"] == "completed");
  CHECK(d.progress(id1, "previous")["targets"][0]["met"] == true);
  CHECK(d.progress(id1, "current")["targets"][0]["met"] == false);  // 1 of 2

  // History of the week target from B's day: one row per week, exact counts.
  auto h =
      d.history(id1, "from=" + format_date(b_day) + "&to=" + format_date(today() + chr::days(1)));
  CHECK(h["goal_id"] == id1);
  CHECK(h["target_id"] == g1["goal_targets"][0]["id"]);
  CHECK(h["period"] == "week");
  CHECK(h["target_type"] == "count");
  auto first_week = week_start(b_day);
  size_t weeks = size_t((monday - first_week).count() / 7 + 1);
  REQUIRE(h["rows"].size() == weeks);
  for (size_t i = 0; i < weeks; ++i) {
    auto start = first_week + chr::days(7 * i);
    auto& row = h["rows"][i];
    CAPTURE(row.dump());
    CHECK(row["period_label"] == week_label(start));
    CHECK(row["period_start"] == format_date(start) + "T00:00:00Z");
    CHECK(row["period_end"] == format_date(start + chr::days(7)) + "T00:00:00Z");
    Counts want = start == first_week          ? B
                  : start == week_start(a_day) ? A
                  : start == monday            ? C
                                               : Counts{};
    check_counts(row, want);
    CHECK(row["met"] == (want.s >= 2));
    if (want.s >= 2) CHECK(row["status"] == "completed");
    if (want.s + want.f == 0) CHECK(row["rate_interval"].is_null());
  }
  // ... and of the month target (target_id): the previous month and this one.
  auto hm = d.history(id1, "target_id=" + month_target + "&from=" + format_date(b_day));
  CHECK(hm["period"] == "month");
  CHECK(hm["target_type"] == "rate");
  REQUIRE(hm["rows"].size() == 2);
  CHECK(hm["rows"][0]["period_label"] == month_label(b_day));
  check_counts(hm["rows"][0], month_prev);
  CHECK(hm["rows"][1]["period_label"] == month_label(today()));
  check_counts(hm["rows"][1], month_now);
  CHECK(hm["rows"][1]["status"] == "on_track");

  // Europe/Berlin: Sunday 23:30 local is in 2026-W48, Monday 00:10 local in 2026-W49.
  auto sun = d.progress(berlin, "2026-11-29");
  CHECK(sun["timezone"] == "Europe/Berlin");
  auto w48 = sun["targets"][0];
  CHECK(w48["period_label"] == "2026-W48");
  CHECK(w48["period_start"] == "2026-11-22T23:00:00Z");
  CHECK(w48["period_end"] == "2026-11-29T23:00:00Z");
  check_counts(w48, {1, 0, 0, 0});
  check_channels(w48, {{"", {1, 0, 0, 0}}});
  CHECK(w48["status"] == "completed");
  auto w49 = d.progress(berlin, "2026-11-30")["targets"][0];
  CHECK(w49["period_label"] == "2026-W49");
  CHECK(w49["period_start"] == "2026-11-29T23:00:00Z");
  CHECK(w49["period_end"] == "2026-12-06T23:00:00Z");
  check_counts(w49, {0, 1, 0, 0});
  auto hb = d.history(berlin, "from=2026-11-23&to=2026-12-07");
  CHECK(hb["timezone"] == "Europe/Berlin");
  REQUIRE(hb["rows"].size() == 2);
  CHECK(hb["rows"][0]["period_label"] == "2026-W48");
  CHECK(hb["rows"][0]["period_start"] == "2026-11-22T23:00:00Z");
  check_counts(hb["rows"][0], {1, 0, 0, 0});
  CHECK(hb["rows"][0]["met"] == true);
  CHECK(hb["rows"][1]["period_label"] == "2026-W49");
  check_counts(hb["rows"][1], {0, 1, 0, 0});
  CHECK(hb["rows"][1]["met"] == false);

  // Weeks from Sunday: both calls are in the week of Sunday 2026-11-29
  // (00:00 Berlin is 2026-11-28T23:00Z), named by that day.
  auto sw = d.progress(berlin_sunday, "2026-11-30");
  CHECK(sw["week_start"] == "sunday");
  CHECK(sw["targets"][0]["period_label"] == "2026-11-29");
  CHECK(sw["targets"][0]["period_start"] == "2026-11-28T23:00:00Z");
  CHECK(sw["targets"][0]["period_end"] == "2026-12-05T23:00:00Z");
  check_counts(sw["targets"][0], {1, 1, 0, 0});
  check_counts(d.progress(berlin_sunday, "2026-11-28")["targets"][0], {});

  // Without a zone of its own a goal follows the tenant's: UTC (both calls on
  // Sunday), then Asia/Tokyo (UTC+9: both on Monday morning), on the next read.
  auto utc_sun = d.progress(tenant_tz, "2026-11-29");
  CHECK(utc_sun["timezone"] == "UTC");
  CHECK(utc_sun["targets"][0]["period_start"] == "2026-11-23T00:00:00Z");
  check_counts(utc_sun["targets"][0], {1, 1, 0, 0});
  check_counts(d.progress(tenant_tz, "2026-11-30")["targets"][0], {});
  d.set_timezone("Asia/Tokyo");
  auto tokyo_sun = d.progress(tenant_tz, "2026-11-29");
  CHECK(tokyo_sun["timezone"] == "Asia/Tokyo");
  CHECK(tokyo_sun["targets"][0]["period_end"] == "2026-11-29T15:00:00Z");
  check_counts(tokyo_sun["targets"][0], {});
  auto tokyo_mon = d.progress(tenant_tz, "2026-11-30")["targets"][0];
  CHECK(tokyo_mon["period_label"] == "2026-W49");
  CHECK(tokyo_mon["period_start"] == "2026-11-29T15:00:00Z");
  check_counts(tokyo_mon, {1, 1, 0, 0});
  // The goals with a zone of their own keep it.
  CHECK(d.progress(berlin, "2026-11-29")["timezone"] == "Europe/Berlin");
  check_counts(d.progress(berlin, "2026-11-29")["targets"][0], {1, 0, 0, 0});
  check_period("current", C, today(), month_now, today());
  CHECK(d.serve.terminate() == 0);
}

TEST_CASE(
    "3. a channel-scoped goal counts its channel only; a PATCH of channel_id or targets applies "
    "to every verdict kept, on the next read") {
  Deployment d("av3");
  auto goal = d.create(
      {{"agent_id", "agent_abc123"},
       {"channel_id", "web"},
       {"title", "Web calls"},
       {"description", "Resolved."},
       {"targets",
        {{{"period", "month"}, {"target_type", "rate"}, {"target_rate", 60}, {"min_sample", 3}}}}});
  std::string id = goal["id"];
  Channels want;
  std::vector<std::pair<std::string, std::string>> msgs;
  int n = 0;
  auto add = [&](const std::string& channel, const std::string& v, int times) {
    for (int i = 0; i < times; ++i) {
      msgs.push_back(outcome("s" + std::to_string(n), recent_ts(n), channel,
                             json::array({n % 2 && v != "unknown" && v != "not_applicable"
                                              ? achieved(id, v == "success")
                                              : verdict(id, v)})));
      ++n;
      want[channel].add(v);
    }
  };
  add("web", "success", 4);
  add("web", "failure", 1);
  add("web", "not_applicable", 2);
  add("phone", "success", 2);
  add("phone", "failure", 3);
  add("phone", "unknown", 1);
  add("", "success", 1);
  add("", "unknown", 1);
  add("chat", "failure", 2);
  it::produce(d.events(), msgs);
  d.wait_sample(id, 5);
  // Every channel's calls arrived (the scope hides the others from the
  // totals): all n of them, in some channel (the wait for the lag alone
  // can pass before the last batch is durable).
  REQUIRE(it::eventually([&] {
    auto channels = d.progress(id)["targets"][0]["channels"];
    int64_t seen = 0;
    for (const auto& c : channels)
      for (const char* k : {"successes", "failures", "not_applicable", "unknown"})
        seen += c.value(k, int64_t{0});
    return channels.size() == 4 && seen == n;
  }));
  d.serve.wait_caught_up();

  auto web = d.progress(id);
  CHECK(web["channel_id"] == "web");
  auto t = web["targets"][0];
  check_counts(t, want["web"]);  // 4 success, 1 failure, 2 not_applicable: 80
  CHECK(t["rate"] == 80);
  CHECK(t["status"] == "on_track");
  CHECK(t["met"] == true);
  CHECK(t["rate_interval"] == json{{"low", 37.55}, {"high", 96.38}, {"confidence", 95}});
  check_channels(t, want);

  auto patched = d.patch(id, {{"channel_id", "phone"}});
  CHECK(patched["channel_id"] == "phone");
  auto phone = d.progress(id);
  CHECK(phone["channel_id"] == "phone");
  t = phone["targets"][0];
  check_counts(t, want["phone"]);  // 2 of 5: 40
  CHECK(t["rate"] == 40);
  CHECK(t["status"] == "at_risk");  // Wilson high 76.93 >= 60
  CHECK(t["met"] == false);
  CHECK(t["rate_interval"] == json{{"low", 11.76}, {"high", 76.93}, {"confidence", 95}});
  check_channels(t, want);

  d.patch(id, {{"channel_id", nullptr}});
  auto all = d.progress(id);
  CHECK(all["channel_id"].is_null());
  Counts every;
  for (auto& [c, counts] : want) every += counts;
  t = all["targets"][0];
  check_counts(t, every);  // 7 success, 6 failure, 2 unknown, 2 not_applicable
  CHECK(every.s == 7);
  CHECK(every.f == 6);
  CHECK(t["rate"] == 53.85);
  CHECK(t["status"] == "at_risk");
  check_channels(t, want);

  // New targets: the same verdicts, judged against them at once.
  auto retargeted =
      d.patch(id, {{"channel_id", "web"},
                   {"targets",
                    {{{"period", "week"}, {"target_type", "count"}, {"target_count", 4}},
                     {{"period", "month"}, {"target_type", "rate"}, {"target_rate", 90}}}}});
  std::string count_id = retargeted["goal_targets"][0]["id"];
  auto p = d.progress(id);
  REQUIRE(p["targets"].size() == 2);
  CHECK(p["targets"][0]["target_id"] == count_id);
  CHECK(p["targets"][0]["target_type"] == "count");
  CHECK(p["targets"][0]["status"] == "completed");  // 4 web successes of 4
  CHECK(p["targets"][0]["met"] == true);
  check_counts(p["targets"][0], want["web"]);
  CHECK(p["targets"][1]["min_sample"] == 20);
  CHECK(p["targets"][1]["status"] == "insufficient_data");  // 5 < 20
  CHECK(p["targets"][1]["met"] == false);
  CHECK(d.serve.terminate() == 0);
}

TEST_CASE(
    "4. invalid verdicts go to the deadletter topic naming the field; the calls around them "
    "count") {
  Deployment d("av4");
  std::string id = d.create({{"agent_id", "agent_abc123"},
                             {"title", "Verdicts"},
                             {"description", "Checked."},
                             {"targets",
                              {{{"period", "week"},
                                {"target_type", "rate"},
                                {"target_rate", 50},
                                {"min_sample", 1}}}}})["id"];
  std::string other =
      d.create({{"agent_id", "agent_abc123"}, {"title", "Other"}, {"description", "Other."}})["id"];
  auto ts = recent_ts(30);
  auto good = [&](const std::string& eid, const std::string& v) {
    return outcome(eid, ts, "web", json::array({verdict(id, v)}));
  };
  struct Bad {
    std::pair<std::string, std::string> message;
    std::string field, error;
  };
  std::vector<Bad> bad = {
      {outcome("b1", ts, "web", json::array({verdict(id, "maybe")})), "goal_results[0].verdict",
       "goal_results[0].verdict: must be one of success, failure, unknown, not_applicable"},
      {outcome("b2", ts, "web", json::array({verdict(id, "success"), json{{"goal_id", other}}})),
       "goal_results[1].verdict",
       "goal_results[1].verdict: is required (or achieved): one of success, failure, unknown, "
       "not_applicable"},
      {outcome("b3", ts, "web", json::array({verdict(id, "success"), achieved(id, false)})),
       "goal_results[1].goal_id", "goal_results[1].goal_id: goal " + id + " is listed twice"},
      {outcome("b4", ts, "web", json::array({{{"goal_id", id}, {"achieved", "yes"}}})),
       "goal_results[0].achieved", "goal_results[0].achieved: must be a boolean"},
      {outcome("b5", ts, "web",
               json::array({{{"goal_id", id}, {"achieved", true}, {"verdict", "failure"}}})),
       "goal_results[0].verdict", ""},
      {outcome("b6", ts, "web", json{{"goal_id", id}, {"verdict", "success"}}), "goal_results",
       "goal_results: must be an array"},
      {outcome("b7", ts, "web channel", json::array({verdict(id, "success")})), "channel_id", ""},
  };
  // Good and bad interleaved under one key (one partition, in this order).
  std::vector<std::pair<std::string, std::string>> msgs;
  const std::string key = "acme/calls";
  msgs.push_back({key, good("g0", "success").second});
  for (size_t i = 0; i < bad.size(); ++i) {
    bad[i].message.first = key;
    msgs.push_back(bad[i].message);
    msgs.push_back({key, good("g" + std::to_string(i + 1), i % 2 ? "success" : "failure").second});
  }
  // Both forms at once are fine when they agree.
  msgs.push_back(
      {key, outcome("g9", ts, "",
                    json::array({{{"goal_id", id}, {"achieved", false}, {"verdict", "failure"}}}))
                .second});
  it::produce(d.events(), msgs);
  // g0, g1..g7 (failure at odd positions 1, 3, 5, 7; success at 2, 4, 6) and g9.
  Counts want{4, 5, 0, 0};
  d.wait_sample(id, want.s + want.f);
  auto t = d.progress(id)["targets"][0];
  check_counts(t, want);
  check_channels(t, {{"web", {4, 4, 0, 0}}, {"", {0, 1, 0, 0}}});
  CHECK(d.progress(other)["targets"] == json::array());  // no targets, nothing to show

  auto dl = it::read_topic(d.prefix + "deadletter", bad.size());
  REQUIRE(dl.size() == bad.size());
  std::map<std::string, it::Message> by_value;
  for (auto& m : dl) by_value[m.value] = m;
  for (auto& b : bad) {
    CAPTURE(b.message.second);
    REQUIRE(by_value.count(b.message.second));
    auto& m = by_value[b.message.second];
    CHECK(m.key == key);
    CHECK(m.headers["source.topic"] == d.events());
    CHECK(m.headers["error.field"] == b.field);
    CHECK(m.headers["error"].starts_with(b.field + ": "));
    if (!b.error.empty()) CHECK(m.headers["error"] == b.error);
  }
  CHECK(d.serve.metric("goalstream_events_deadlettered_total") == double(bad.size()));
  CHECK(d.serve.terminate() == 0);
}

TEST_CASE(
    "5. a rate below min_sample is insufficient_data, never behind; with min_sample 2 the same "
    "verdicts are judged") {
  Deployment d("av5");
  auto rate = [](double r, std::optional<int> min_sample) {
    json t = {{"period", "month"}, {"target_type", "rate"}, {"target_rate", r}};
    if (min_sample) t["min_sample"] = *min_sample;
    return t;
  };
  auto losing = d.create({{"agent_id", "agent_abc123"},
                          {"title", "Losing"},
                          {"description", "Three failures."},
                          {"targets", {rate(70, std::nullopt), rate(70, 2)}}});
  auto mixed = d.create(
      {{"agent_id", "agent_abc123"},
       {"title", "Mixed"},
       {"description", "Two of three."},
       {"targets", {rate(50, std::nullopt), rate(50, 2), rate(90, 2), rate(95, 2), rate(60, 4)}}});
  std::string lid = losing["id"], mid = mixed["id"];
  std::vector<std::pair<std::string, std::string>> msgs;
  int n = 0;
  auto add = [&](const json& results) {
    msgs.push_back(outcome("r" + std::to_string(n), recent_ts(n), "", results));
    ++n;
  };
  for (int i = 0; i < 3; ++i) add(json::array({verdict(lid, "failure")}));
  add(json::array({verdict(mid, "success")}));
  add(json::array({achieved(mid, true)}));
  add(json::array({achieved(mid, false)}));
  // unknown and not_applicable are no part of the sample.
  for (int i = 0; i < 4; ++i)
    add(json::array({verdict(mid, i % 2 ? "unknown" : "not_applicable")}));
  it::produce(d.events(), msgs);
  d.wait_sample(lid, 3);
  d.wait_sample(mid, 3, 2);

  auto l = d.progress(lid)["targets"];
  for (auto& t : l) {
    check_counts(t, {0, 3, 0, 0});
    CHECK(t["rate"] == 0);
    CHECK(t["rate_interval"] == json{{"low", 0}, {"high", 56.15}, {"confidence", 95}});
    CHECK(t["met"] == false);
  }
  CHECK(l[0]["min_sample"] == 20);
  CHECK(l[0]["status"] == "insufficient_data");  // a 0 % rate, but 3 < 20: not behind
  CHECK(l[1]["min_sample"] == 2);
  CHECK(l[1]["status"] == "behind");  // 56.15 < 70

  auto m = d.progress(mid)["targets"];
  REQUIRE(m.size() == 5);
  for (auto& t : m) {
    check_counts(t, {2, 1, 2, 2});
    CHECK(t["rate"] == 66.67);
    CHECK(t["rate_interval"] == json{{"low", 20.77}, {"high", 93.85}, {"confidence", 95}});
  }
  CHECK(m[0]["status"] == "insufficient_data");
  CHECK(m[0]["met"] == false);
  CHECK(m[1]["status"] == "on_track");  // 66.67 >= 50
  CHECK(m[1]["met"] == true);
  CHECK(m[2]["status"] == "at_risk");  // 66.67 < 90 <= 93.85
  CHECK(m[2]["met"] == false);
  CHECK(m[3]["status"] == "behind");  // 93.85 < 95
  CHECK(m[3]["met"] == false);
  CHECK(m[4]["status"] == "insufficient_data");  // 3 < 4, though 2 + 2 unknown/n.a. would be
  CHECK(d.serve.terminate() == 0);
}

namespace {

// A stream of call outcomes for two goals, over channels web, phone, chat
// and none, with producer retries (the previous message again); the
// expected counts are computed alongside.
struct Traffic {
  std::vector<std::vector<std::pair<std::string, std::string>>> chunks;
  Channels all, scoped;  // every goal's channels: `all` for goal a, `scoped` for goal b
  Counts a, b;           // in each goal's scope (b: phone only)
  int64_t duplicates = 0;
};
Traffic call_traffic(const std::string& a, const std::string& b, int n, size_t chunk_count,
                     const std::string& id_prefix) {
  Traffic t;
  t.chunks.resize(chunk_count);
  const char* kChannels[] = {"web", "phone", "chat", ""};
  const char* kVerdicts[] = {"success", "success", "failure", "unknown", "not_applicable"};
  std::pair<std::string, std::string> previous;
  for (int i = 0; i < n; ++i) {
    auto& chunk = t.chunks[size_t(i) * chunk_count / size_t(n)];
    if (i % 100 == 51) {
      chunk.push_back(previous);
      ++t.duplicates;
      continue;
    }
    std::string channel = kChannels[i % 4];
    std::string va = kVerdicts[i % 5];
    json results = json::array({i % 2 && va != "unknown" && va != "not_applicable"
                                    ? achieved(a, va == "success")
                                    : verdict(a, va)});
    t.all[channel].add(va);
    t.a.add(va);
    if (i % 3 == 0) {
      std::string vb = i % 6 == 0 ? "success" : i % 9 == 3 ? "unknown" : "failure";
      results.push_back(verdict(b, vb));
      t.scoped[channel].add(vb);
      if (channel == "phone") t.b.add(vb);
    }
    if (i % 10 == 0) results.push_back(verdict(kUnknownGoal, "success"));
    auto m = outcome(id_prefix + std::to_string(i), recent_ts(i % 3000), channel, results);
    m.first = "acme/agent" + std::to_string(i % 40);
    previous = m;
    chunk.push_back(std::move(m));
  }
  return t;
}

json two_goals(Deployment& d, std::string& a, std::string& b) {
  a = d.create({{"agent_id", "agent_abc123"},
                {"title", "All channels"},
                {"description", "Resolved."},
                {"targets",
                 {{{"period", "week"}, {"target_type", "count"}, {"target_count", 100}},
                  {{"period", "month"}, {"target_type", "rate"}, {"target_rate", 60}}}}})["id"];
  auto goal_b = d.create(
      {{"agent_id", "agent_abc123"},
       {"channel_id", "phone"},
       {"title", "Phone"},
       {"description", "Booked."},
       {"targets",
        {{{"period", "week"}, {"target_type", "rate"}, {"target_rate", 40}, {"min_sample", 5}}}}});
  b = goal_b["id"];
  return goal_b;
}

void check_traffic(Deployment& d, const Traffic& t, const std::string& a, const std::string& b) {
  auto pa = d.progress(a);
  for (auto& target : pa["targets"]) {
    check_counts(target, t.a);
    check_channels(target, t.all);
  }
  auto pb = d.progress(b)["targets"][0];
  check_counts(pb, t.b);
  check_channels(pb, t.scoped);
}

}  // namespace

TEST_CASE("6. kill -9 while call outcomes are ingested: exact counts after the restart") {
  Deployment d("av6");
  std::string a, b;
  two_goals(d, a, b);
  const int N = 20000;
  auto t = call_traffic(a, b, N, 20, "k");
  REQUIRE(t.duplicates > 0);
  std::thread producer([&] {
    for (auto& c : t.chunks) {
      it::produce(d.events(), c);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  double at_kill = 0;
  bool reached = it::eventually(
      [&] { return (at_kill = d.serve.metric("goalstream_events_in_total")) >= 6000; }, 60000);
  d.serve.kill9();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  d.serve.start();
  producer.join();
  REQUIRE(reached);
  MESSAGE("killed with " << at_kill << " of " << N << " events in");
  CHECK(at_kill < N);  // mid-stream
  d.wait_sample(a, t.a.s + t.a.f, t.a.u, "current", 60000);
  d.serve.wait_caught_up();
  check_traffic(d, t, a, b);
  // In the numbers themselves: 20 000 messages, 200 retries, 19 800 calls.
  CHECK(t.a.s + t.a.f + t.a.u + t.a.na == N - t.duplicates);
  CHECK(d.serve.terminate() == 0);
}

namespace {

// Progress and history of goals `a` and `b` as served on `port`, without
// what depends on the clock (as_of, count targets' pacing).
std::vector<json> progress_views(int port, const std::string& key, const std::string& a,
                                 const std::string& b) {
  std::vector<std::string> targets;
  for (auto& id : {a, b})
    for (auto period : {"current", "previous", "2026-11-29"})
      targets.push_back("/v1/goals/" + id + "/progress?period=" + period);
  targets.push_back("/v1/goals/" + a + "/history?from=2026-10-01");
  std::vector<json> out;
  for (auto& target : targets) {
    auto r = it::http(port, "GET", target, "", {{"x-api-key", key}});
    REQUIRE_MESSAGE(r.status == 200, r.body);
    auto j = r.json_body();
    j["data"].erase("as_of");
    if (j["data"].contains("targets"))
      for (auto& t : j["data"]["targets"]) {
        t.erase("expected");
        if (t["target_type"] == "count") t.erase("status");
      }
    if (j["data"].contains("rows"))
      for (auto& row : j["data"]["rows"]) row.erase("status");
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace

TEST_CASE(
    "7. a rebuild from the topics gives the live digest, and the rebuilt store answers the same "
    "progress") {
  Deployment d("av7");
  std::string a, b;
  two_goals(d, a, b);
  auto t = call_traffic(a, b, 3000, 3, "r");
  for (auto& c : t.chunks) it::produce(d.events(), c);
  it::produce(d.events(),
              {outcome("bad", recent_ts(1), "web", json::array({verdict(a, "maybe")}))});
  d.wait_sample(a, t.a.s + t.a.f, t.a.u);
  check_traffic(d, t, a, b);
  // A scope change and the tenant's zone, on the commands topic too.
  d.patch(b, {{"channel_id", "web"}});
  d.set_timezone("America/New_York");
  d.serve.wait_caught_up();
  auto live_view = progress_views(d.serve.port(), d.key, a, b);
  CHECK(live_view[3]["data"]["channel_id"] == "web");
  CHECK(live_view[3]["data"]["timezone"] == "America/New_York");
  CHECK(d.serve.terminate() == 0);

  auto live = it::run_cli({"digest", "--data-dir", d.data});
  REQUIRE_MESSAGE(live.exit_code == 0, live.err);
  auto fresh = it::temp_dir("rebuild") + "/store";
  auto rb = it::run_cli(
      {"rebuild", "--brokers", it::brokers(), "--topic-prefix", d.prefix, "--data-dir", fresh});
  REQUIRE_MESSAGE(rb.exit_code == 0, rb.err);
  CHECK(rb.out == live.out);

  it::Serve rebuilt(d.prefix, fresh);
  rebuilt.start();
  auto rebuilt_view = progress_views(rebuilt.port(), d.key, a, b);
  REQUIRE(rebuilt_view.size() == live_view.size());
  for (size_t i = 0; i < live_view.size(); ++i) CHECK(rebuilt_view[i] == live_view[i]);
  CHECK(rebuilt.terminate() == 0);
}

TEST_CASE("8. DELETE of a goal removes its counts: 404 on every read, later calls ignored") {
  Deployment d("av8");
  std::string gone, kept;
  two_goals(d, gone, kept);
  d.patch(kept, {{"channel_id", nullptr}});
  std::vector<std::pair<std::string, std::string>> msgs;
  for (int i = 0; i < 10; ++i)
    msgs.push_back(outcome(
        "d" + std::to_string(i), recent_ts(i), "web",
        json::array({verdict(gone, "success"), verdict(kept, i < 7 ? "success" : "failure")})));
  it::produce(d.events(), msgs);
  d.wait_sample(gone, 10);
  d.wait_sample(kept, 10);
  check_counts(d.progress(gone)["targets"][0], {10, 0, 0, 0});

  auto del = d.call("DELETE", "/v1/goals/" + gone);
  REQUIRE_MESSAGE(del.status == 200, del.body);
  for (auto path : {"", "/progress", "/progress?period=previous", "/history"}) {
    auto r = d.call("GET", "/v1/goals/" + gone + path);
    CAPTURE(path);
    CHECK(r.status == 404);
    CHECK(r.json_body()["error"]["code"] == "not_found");
  }
  // Calls that still name it count for the other goal only.
  it::produce(d.events(),
              {outcome("late", recent_ts(1), "phone",
                       json::array({verdict(gone, "failure"), verdict(kept, "failure")}))});
  d.wait_sample(kept, 11);
  auto k = d.progress(kept)["targets"][0];
  check_counts(k, {7, 4, 0, 0});
  check_channels(k, {{"web", {7, 3, 0, 0}}, {"phone", {0, 1, 0, 0}}});
  CHECK(d.call("GET", "/v1/goals/" + gone + "/progress").status == 404);
  CHECK(d.call("GET", "/v1/goals").json_body()["pagination"]["total"] == 1);
  CHECK(d.serve.terminate() == 0);
  // Its cells went with it: a rebuild (which never counts them) matches.
  auto digests = it::live_and_rebuilt(d.prefix, d.data);
  CHECK(digests.live == digests.rebuilt);
}
