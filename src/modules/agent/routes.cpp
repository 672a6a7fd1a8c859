// Agent goals (docs/api.md#agent-goals): GET and POST /v1/goals, GET, PATCH
// and DELETE /v1/goals/{id}, every answer in the agent envelope.
#include "modules/agent/routes.h"

#include <cmath>
#include <memory>
#include <variant>

#include "base/time.h"
#include "base/zone.h"
#include "http/route.h"
#include "http/service.h"
#include "modules/agent/keyspace.h"
#include "modules/agent/progress.h"
#include "projection/tally.h"

namespace gs::agent {
namespace http = api::http;  // Beast's, as in the rest of the API

namespace {

using namespace gs::api;
using Stored = Result<std::optional<AgentGoal>>;

// The family's context: the Service and the pacing thresholds count
// targets pace with (those of growth goals, docs/operations.md).
struct Api {
  Service& s;
  growth::PacingThresholds thresholds;
};

constexpr int64_t kDefaultLimit = 20;
constexpr int64_t kMaxLimit = 100;

const gs::http::Envelope& envelope() { return gs::http::agent_envelope(); }

Response success(const Request& req, http::status status, ojson data,
                 const std::optional<gs::http::Page>& page = std::nullopt) {
  return json_response(req, status, envelope().success(std::move(data), page));
}

Response failure(const Request& req, const Error& e) { return from_error(req, e, envelope()); }

Response goal_not_found(const Request& req, const std::string& id) {
  return error_response(req, http::status::not_found, "not_found", "goal " + id + " not found", "",
                        envelope());
}

// `status` with the goal as read after a write; `missing` when it is not
// in the store (any more).
template <class Missing>
Response shown(const Request& req, http::status status, const Stored& stored, Missing missing,
               const std::string& where = "") {
  if (!stored.ok()) return failure(req, stored.error());
  if (!*stored) return missing();
  auto res = success(req, status, to_json(**stored));
  if (!where.empty()) res.set(http::field::location, where);
  return res;
}

std::string location(const std::string& id) { return "/v1/goals/" + id; }

Response deleted(const Request& req, const std::string& id) {
  return success(req, http::status::ok, ojson{{"id", id}, {"deleted", true}});
}

// A filter of GET /v1/goals: an agent or channel id.
std::optional<Error> ref_filter(const Call& c, const char* name, std::optional<std::string>& out) {
  out = c.query(name);
  if (out && !valid_ref_id(*out))
    return invalid(name, "must be 1 to " + std::to_string(kMaxIdChars) +
                             " characters of A-Z a-z 0-9 _ . : - (query parameter)");
  return std::nullopt;
}

Response list(Service& s, const Call& c) {
  auto page = gs::http::parse_page(c.target.query, kDefaultLimit, kMaxLimit);
  if (!page.ok()) return bad_request(c.req, page.error(), envelope());
  GoalFilter filter;
  if (auto e = ref_filter(c, "agent_id", filter.agent_id))
    return bad_request(c.req, *e, envelope());
  if (auto e = ref_filter(c, "channel_id", filter.channel_id))
    return bad_request(c.req, *e, envelope());
  if (auto active = c.query("active")) {
    if (*active != "true" && *active != "false")
      return bad_request(c.req, invalid("active", "must be true or false (query parameter)"),
                         envelope());
    filter.active = *active == "true";
  }
  auto found = goals(s.ctx.store, c.key.tenant_id, filter, page->offset, page->limit);
  if (!found.ok()) return failure(c.req, found.error());
  page->total = found->total;
  ojson data = ojson::array();
  for (const auto& g : found->goals) data.push_back(to_json(g));
  return success(c.req, http::status::ok, std::move(data), *page);
}

Response get(Service& s, const Call& c, const std::string& id) {
  if (!valid_goal_id(id)) return goal_not_found(c.req, id);
  return shown(c.req, http::status::ok, goal(s.ctx.store, c.key.tenant_id, id),
               [&] { return goal_not_found(c.req, id); });
}

Response create(Service& s, const Call& c) {
  auto body = s.write_body(c);
  if (auto* r = std::get_if<Response>(&body)) return std::move(*r);
  auto g = goal_from_request(std::get<json>(body));
  if (!g.ok()) return failure(c.req, g.error());
  g->tenant_id = c.key.tenant_id;
  g->id = new_goal_id();
  for (auto& t : g->targets) t.id = new_target_id();
  g->created_at_ms = g->updated_at_ms = time::now_ms();
  model::Command cmd{"", command_type::agent_goal_created, c.key.tenant_id, 0, json(to_json(*g))};
  if (auto err = s.write_command(c, std::move(cmd))) return *err;
  return shown(
      c.req, http::status::created, goal(s.ctx.store, c.key.tenant_id, g->id),
      [&] {
        return error_response(c.req, http::status::internal_server_error, "internal",
                              "agent goal vanished after write", "", envelope());
      },
      location(g->id));
}

Response update(Service& s, const Call& c, const std::string& id) {
  auto body = s.write_body(c);
  if (auto* r = std::get_if<Response>(&body)) return std::move(*r);
  auto patch = patch_from_request(std::get<json>(body));
  if (!patch.ok()) return failure(c.req, patch.error());
  if (!valid_goal_id(id)) return goal_not_found(c.req, id);
  auto current = goal(s.ctx.store, c.key.tenant_id, id);
  if (!current.ok()) return failure(c.req, current.error());
  if (!*current) return goal_not_found(c.req, id);
  patch->id = id;
  if (patch->targets)
    for (auto& t : *patch->targets) t.id = new_target_id();
  model::Command cmd{"", command_type::agent_goal_updated, c.key.tenant_id, 0, to_json(*patch)};
  if (auto err = s.write_command(c, std::move(cmd))) return *err;
  return shown(c.req, http::status::ok, goal(s.ctx.store, c.key.tenant_id, id),
               [&] { return goal_not_found(c.req, id); });  // deleted meanwhile
}

Response drop(Service& s, const Call& c, const std::string& id) {
  if (auto answer = s.replay(c)) return *answer;
  if (!valid_goal_id(id)) return goal_not_found(c.req, id);
  auto current = goal(s.ctx.store, c.key.tenant_id, id);
  if (!current.ok()) return failure(c.req, current.error());
  if (!*current) return goal_not_found(c.req, id);
  model::Command cmd{"", command_type::agent_goal_deleted, c.key.tenant_id, 0, {{"id", id}}};
  if (auto err = s.write_command(c, std::move(cmd))) return *err;
  return deleted(c.req, id);
}

// A percent or an expectation as the API shows it: two decimal places,
// whole numbers as integers (72, as target_rate 70).
ojson percent(std::optional<double> v) {
  if (!v) return nullptr;
  return number_json(std::round(*v * 100) / 100);
}

ojson counts_json(const Verdicts& v) {
  ojson j;
  j["successes"] = v.success;
  j["failures"] = v.failure;
  j["unknown"] = v.unknown;
  j["not_applicable"] = v.not_applicable;
  j["sample_size"] = v.sample();
  j["rate"] = percent(rate_percent(v));
  return j;
}

ojson interval_json(const std::optional<RateInterval>& i) {
  if (!i) return nullptr;
  return ojson{{"low", percent(i->low)}, {"high", percent(i->high)}, {"confidence", 95}};
}

// The period's bounds and label, in `tz`.
void period_json(ojson& j, const PeriodBounds& b, const std::string& tz) {
  j["period_label"] = period_label(b, tz);
  j["period_start"] = time::format_rfc3339(b.start_ms);
  j["period_end"] = time::format_rfc3339(b.end_ms);
}

// One target's progress: the target, its period, the counts in the goal's
// scope, the rate and its interval, the status, and every channel's counts.
ojson target_progress_json(const TargetProgress& p, const std::string& tz) {
  const auto& t = p.target;
  const auto& e = p.evaluation;
  ojson j;
  j["target_id"] = t.id;
  j["period"] = to_string(t.period);
  j["target_type"] = to_string(t.type);
  j["target_count"] = t.type == TargetType::count ? ojson(t.target_count) : ojson(nullptr);
  j["target_rate"] = t.type == TargetType::rate ? number_json(t.target_rate) : ojson(nullptr);
  j["min_sample"] = t.type == TargetType::rate ? ojson(t.min_sample) : ojson(nullptr);
  j["is_primary"] = t.is_primary;
  period_json(j, e.bounds, tz);
  j.update(counts_json(e.counts));
  j["rate_interval"] = interval_json(e.interval);
  j["status"] = to_string(e.status);
  j["met"] = e.met;
  j["expected"] = percent(e.expected);
  ojson channels = ojson::array();
  for (const auto& [id, v] : p.channels) {
    ojson c;
    c["channel_id"] = id.empty() ? ojson(nullptr) : ojson(id);
    c.update(counts_json(v));
    channels.push_back(std::move(c));
  }
  j["channels"] = std::move(channels);
  return j;
}

// The goal `id` of the caller's tenant, or the 404 to answer.
std::variant<AgentGoal, Response> found(Service& s, const Call& c, const std::string& id) {
  if (!valid_goal_id(id)) return goal_not_found(c.req, id);
  auto g = goal(s.ctx.store, c.key.tenant_id, id);
  if (!g.ok()) return failure(c.req, g.error());
  if (!*g) return goal_not_found(c.req, id);
  return std::move(**g);
}

ojson goal_head(const AgentGoal& g, const std::string& tz) {
  ojson j;
  j["goal_id"] = g.id;
  j["agent_id"] = g.agent_id;
  j["channel_id"] = g.channel_id ? ojson(*g.channel_id) : ojson(nullptr);
  j["timezone"] = tz;
  j["week_start"] = to_string(g.week_start);
  return j;
}

// The data of GET /v1/goals/{id}/progress for `goal` in the period `which`
// names (current, previous, a date); an Error naming "period" for another.
Result<ojson> progress_data(const Api& a, const AgentGoal& goal, std::string_view which) {
  auto tz = time_zone_of(a.s.ctx.store, goal);
  if (!tz.ok()) return tz.error();
  int64_t now = time::now_ms();
  auto p = progress(a.s.ctx.store, goal, which, now, a.thresholds);
  if (!p.ok()) return p.error();
  ojson data = goal_head(goal, *tz);
  data["as_of"] = time::format_rfc3339(now);
  ojson targets = ojson::array();
  for (const auto& t : *p) targets.push_back(target_progress_json(t, *tz));
  data["targets"] = std::move(targets);
  return data;
}

// GET /v1/goals/{id}/progress?period=current|previous|YYYY-MM-DD
Response progress_view(Api& a, const Call& c, const std::string& id) {
  auto g = found(a.s, c, id);
  if (auto* r = std::get_if<Response>(&g)) return std::move(*r);
  auto data = progress_data(a, std::get<AgentGoal>(g), c.query("period").value_or("current"));
  if (!data.ok())
    return data.error().code == ErrorCode::invalid ? bad_request(c.req, data.error(), envelope())
                                                   : failure(c.req, data.error());
  return success(c.req, http::status::ok, std::move(*data));
}

// Live-feed frames (GET /api/ws/changes): the current progress of every
// goal whose verdicts a batch counted, or of every goal after a command of
// the tenant, as GET /v1/goals/{id}/progress answers it.
void live_progress(const Api& a, const std::string& tenant, const gs::http::TenantChanges& changes,
                   std::vector<ProgressFrame>& out) {
  auto all = tenant_goals(a.s.ctx.store, tenant);
  if (!all.ok()) return;
  for (const auto& g : *all) {
    bool moved = changes.command;
    if (!moved) {
      auto prefix = projection::tally_prefix(g.id);
      auto it = changes.counters.lower_bound(prefix);
      moved = it != changes.counters.end() && it->starts_with(prefix);
    }
    if (!moved) continue;
    if (auto data = progress_data(a, g, "current"); data.ok())
      out.push_back({"/v1/goals/" + g.id + "/progress", std::move(*data)});
  }
}

constexpr size_t kMaxHistoryRows = 400;
constexpr int64_t kDefaultHistoryRows = 12;

// A history bound: an RFC 3339 date-time, or a local date (its midnight in `tz`).
Result<int64_t> instant(const std::string& name, const std::string& value, const std::string& tz) {
  if (auto t = time::parse_rfc3339(value)) return *t;
  if (auto d = time::parse_date(value)) {
    auto t = time::start_of_day(*d, tz);
    if (!t.ok()) return t.error();
    return *t;
  }
  return invalid(name, "must be a date YYYY-MM-DD or an RFC 3339 date-time (query parameter)");
}

// GET /v1/goals/{id}/history?from=&to=&target_id=: one row per period of
// the primary target (or target_id) whose period meets [from, to).
Response history_view(Api& a, const Call& c, const std::string& id) {
  auto g = found(a.s, c, id);
  if (auto* r = std::get_if<Response>(&g)) return std::move(*r);
  const auto& goal = std::get<AgentGoal>(g);
  auto tz = time_zone_of(a.s.ctx.store, goal);
  if (!tz.ok()) return failure(c.req, tz.error());
  const Target* target = nullptr;
  auto target_id = c.query("target_id");
  for (const auto& t : goal.targets)
    if (target_id ? t.id == *target_id : t.is_primary) target = &t;
  if (!target && !target_id && !goal.targets.empty()) target = &goal.targets.front();
  if (!target)
    return bad_request(c.req,
                       target_id
                           ? invalid("target_id", "goal " + id + " has no target " + *target_id)
                           : invalid("target_id", "goal " + id + " has no targets"),
                       envelope());
  int64_t now = time::now_ms();
  int64_t to = now + 1, from = 0;
  if (auto v = c.query("to")) {
    auto t = instant("to", *v, *tz);
    if (!t.ok()) return bad_request(c.req, t.error(), envelope());
    to = *t;
  }
  if (auto v = c.query("from")) {
    auto t = instant("from", *v, *tz);
    if (!t.ok()) return bad_request(c.req, t.error(), envelope());
    from = *t;
  } else {
    // The last kDefaultHistoryRows periods up to `to`.
    auto b = period_at(target->period, to - 1, *tz, goal.week_start);
    if (!b.ok()) return failure(c.req, b.error());
    for (int64_t i = 1; i < kDefaultHistoryRows; ++i) {
      auto prev = previous_period(*b, *tz);
      if (!prev.ok()) return failure(c.req, prev.error());
      b = prev;
    }
    from = b->start_ms;
  }
  auto periods =
      periods_between(target->period, from, to, *tz, kMaxHistoryRows + 1, goal.week_start);
  if (!periods.ok()) return bad_request(c.req, periods.error(), envelope());
  if (periods->size() > kMaxHistoryRows)
    return bad_request(
        c.req,
        invalid("from", "the range holds more than " + std::to_string(kMaxHistoryRows) + " " +
                            std::string(to_string(target->period)) + " periods; narrow it"),
        envelope());
  auto verdicts = period_verdicts(a.s.ctx.store, goal, *periods);
  if (!verdicts.ok()) return failure(c.req, verdicts.error());
  ojson data = goal_head(goal, *tz);
  data["target_id"] = target->id;
  data["period"] = to_string(target->period);
  data["target_type"] = to_string(target->type);
  ojson rows = ojson::array();
  for (size_t i = 0; i < periods->size(); ++i) {
    auto e = evaluate(*target, (*periods)[i], (*verdicts)[i].total, now, a.thresholds);
    ojson row;
    period_json(row, e.bounds, *tz);
    row.update(counts_json(e.counts));
    row["rate_interval"] = interval_json(e.interval);
    row["status"] = to_string(e.status);
    row["met"] = e.met;
    rows.push_back(std::move(row));
  }
  data["rows"] = std::move(rows);
  return success(c.req, http::status::ok, std::move(data));
}

// The answer to an Idempotency-Key replay of an applied write: the goal as
// it is now (410 when it was deleted since), or the delete's answer.
std::optional<Response> replayed(Service& s, const Request& req, const std::string& tenant,
                                 const std::string& type, const std::string& id) {
  auto gone = [&] {
    return error_response(req, http::status::gone, "gone",
                          "agent goal " + id +
                              " was written by the request with this Idempotency-Key and has "
                              "been deleted since",
                          "", envelope());
  };
  if (type == command_type::agent_goal_created)
    return shown(req, http::status::created, goal(s.ctx.store, tenant, id), gone, location(id));
  if (type == command_type::agent_goal_updated)
    return shown(req, http::status::ok, goal(s.ctx.store, tenant, id), gone);
  if (type == command_type::agent_goal_deleted) return deleted(req, id);
  return std::nullopt;
}

void add_routes(RouteTable& t, Service& s, const growth::PacingThresholds& thresholds) {
  // Lives as long as the routes.
  auto api = std::make_shared<Api>(Api{s, thresholds});
  using http::verb;
  auto read = [&s](auto f) { return Route{model::kScopeRead, &envelope(), bind(s, f)}; };
  auto write = [&s](auto f) { return Route{model::kScopeWrite, &envelope(), bind(s, f)}; };
  auto item = [&s](const char* scope, auto f) {
    return Route{scope, &envelope(), item_in_path("id", bind_item(s, f))};
  };
  t.add(verb::get, "/v1/goals", read(list));
  t.add(verb::post, "/v1/goals", write(create));
  t.add(verb::get, "/v1/goals/{id}", item(model::kScopeRead, get));
  t.add(verb::patch, "/v1/goals/{id}", item(model::kScopeWrite, update));
  t.add(verb::delete_, "/v1/goals/{id}", item(model::kScopeWrite, drop));
  auto view = [api](auto f) {
    ItemHandler h = [api, f](const Call& c, const std::string& id) { return f(*api, c, id); };
    return Route{model::kScopeRead, &envelope(), item_in_path("id", h)};
  };
  t.add(verb::get, "/v1/goals/{id}/progress", view(progress_view));
  t.add(verb::get, "/v1/goals/{id}/history", view(history_view));
}

}  // namespace

api::RouteFamily route_family(growth::PacingThresholds thresholds) {
  return {[thresholds](RouteTable& t, Service& s) { add_routes(t, s, thresholds); }, replayed,
          [thresholds](Service& s, const std::string& tenant,
                       const gs::http::TenantChanges& changes, std::vector<ProgressFrame>& out) {
            live_progress(Api{s, thresholds}, tenant, changes, out);
          }};
}

}  // namespace gs::agent
