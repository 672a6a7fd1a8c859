#include "modules/growth/model.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>

#include "base/decimal.h"
#include "base/text.h"
#include "base/time.h"

namespace gs::growth {
namespace {

const json* member(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

// Refuses members outside `known`, naming the first one.
std::optional<Error> only(const json& body, std::initializer_list<const char*> known) {
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (std::find_if(known.begin(), known.end(), [&](const char* k) { return it.key() == k; }) !=
        known.end())
      continue;
    std::string list;
    for (const char* k : known) list += (list.empty() ? "" : ", ") + std::string(k);
    return invalid(it.key(), "unknown field; expected one of " + list);
  }
  return std::nullopt;
}

// An optional human-readable text member (description, unit). Requests
// follow text::check_label; stored forms and command payloads (`stored`)
// only need a string within the same length, so that whatever an earlier
// version accepted still folds the same way.
std::optional<Error> read_label(const json& body, const char* key, size_t max_chars, bool stored,
                                std::optional<std::string>& out) {
  auto* m = member(body, key);
  if (!m) return std::nullopt;
  if (!m->is_string()) return invalid(key, "must be a string");
  const auto& s = m->get_ref<const std::string&>();
  if (!stored) {
    if (auto why = text::check_label(s, max_chars)) return invalid(key, *why);
  } else if (text::code_points(s) > max_chars) {
    return invalid(key, "must be at most " + std::to_string(max_chars) + " characters");
  }
  out = s;
  return std::nullopt;
}

// A required or optional string member, length-checked; `out` untouched when absent.
std::optional<Error> read_string(const json& body, const char* key, bool required, size_t max,
                                 std::optional<std::string>& out) {
  auto* m = member(body, key);
  if (!m) return required ? std::optional(invalid(key, "is required")) : std::nullopt;
  if (!m->is_string()) return invalid(key, "must be a string");
  const auto& s = m->get_ref<const std::string&>();
  if (s.empty() && required) return invalid(key, "must not be empty");
  if (s.size() > max) return invalid(key, "must be at most " + std::to_string(max) + " bytes");
  out = s;
  return std::nullopt;
}

std::optional<Error> read_date(const json& body, const char* key, std::optional<int64_t>& out) {
  auto* m = member(body, key);
  if (!m) return std::nullopt;
  if (!m->is_string()) return invalid(key, "must be an ISO 8601 date string (YYYY-MM-DD)");
  auto d = time::parse_date(m->get_ref<const std::string&>());
  if (!d) return invalid(key, "must be an ISO 8601 date (YYYY-MM-DD), e.g. 2025-03-31");
  out = *d;
  return std::nullopt;
}

// A request's target is rounded to the API's 6 decimal places, so the
// target a goal is measured against is the one it shows; below 0.000001 it
// would show as 0. Stored forms keep the number they hold.
std::optional<Error> read_target(const json& body, bool stored, std::optional<double>& out) {
  auto* m = member(body, "target");
  if (!m) return std::nullopt;
  if (!m->is_number()) return invalid("target", "must be a number");
  double t = m->get<double>();
  if (!std::isfinite(t) || t <= 0) return invalid("target", "must be a positive number");
  if (t > kMaxTarget) return invalid("target", "must be at most 1e15");
  if (!stored) {
    t = round6(t);
    if (t < kMinTarget)
      return invalid("target", "must be at least 0.000001 (targets have 6 decimal places)");
  }
  out = t;
  return std::nullopt;
}

bool valid_window_shape(const std::string& w) {
  if (w == "day" || w == "week" || w == "month" || w == "quarter" || w == "span") return true;
  if (w.size() < 2 || w.size() > 5 || w.back() != 'd' || w[0] == '0') return false;
  if (!std::all_of(w.begin(), w.end() - 1, [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  return std::stoi(w.substr(0, w.size() - 1)) <= 3660;  // ten years, as growth::parse_window
}

bool valid_property_path(const std::string& p) {
  if (p.empty() || p.size() > 200 || p.front() == '.' || p.back() == '.') return false;
  return std::none_of(p.begin(), p.end(), [](char c) { return c == '\0' || c == '\x1f'; });
}

}  // namespace

bool valid_metric_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-' || c == ':';
  });
}

bool valid_status(std::string_view s) {
  return s == "on_track" || s == "at_risk" || s == "behind" || s == "completed";
}

json to_json(const Metric& m) {
  json j = {{"name", m.name}, {"aggregation", m.aggregation}, {"window", m.window}};
  if (m.aggregation == "ratio") {
    j["numerator"] = m.numerator;
    j["denominator"] = m.denominator;
  } else {
    j["conversionGoal"] = m.conversion_goal;
  }
  if (m.aggregation == "sum") j["property"] = m.property;
  if (m.description) j["description"] = *m.description;
  j["createdAt"] = time::format_rfc3339(m.created_at_ms);
  return j;
}

namespace {
Result<Metric> metric_fields(const json& body, bool stored) {
  if (!body.is_object()) return invalid("", "request body must be a JSON object");
  if (auto e = only(body, {"name", "aggregation", "conversionGoal", "property", "numerator",
                           "denominator", "window", "description"}))
    return *e;
  Metric m;
  std::optional<std::string> s;
  if (auto e = read_string(body, "name", true, 64, s)) return *e;
  m.name = *s;
  if (!valid_metric_name(m.name))
    return invalid("name", "must match ^[A-Za-z0-9_.:-]{1,64}$ (e.g. monthly_signups)");
  s.reset();
  if (auto e = read_string(body, "aggregation", true, 16, s)) return *e;
  m.aggregation = *s;
  if (m.aggregation != "count" && m.aggregation != "sum" && m.aggregation != "unique" &&
      m.aggregation != "ratio")
    return invalid("aggregation", "must be one of count, sum, unique, ratio");
  auto forbid = [&](const char* key, const char* why) -> std::optional<Error> {
    if (member(body, key)) return invalid(key, std::string("does not apply to ") + why);
    return std::nullopt;
  };
  if (m.aggregation == "ratio") {
    for (auto [key, out] :
         {std::pair{"numerator", &m.numerator}, std::pair{"denominator", &m.denominator}}) {
      s.reset();
      if (auto e = read_string(body, key, true, 64, s)) return *e;
      if (!valid_metric_name(*s))
        return invalid(key, "must name a metric (^[A-Za-z0-9_.:-]{1,64}$)");
      if (*s == m.name) return invalid(key, "must name another metric, not the ratio itself");
      *out = *s;
    }
    if (auto e = forbid("conversionGoal", "a ratio: it divides two metrics")) return *e;
    if (auto e = forbid("property", "a ratio")) return *e;
  } else {
    s.reset();
    if (auto e = read_string(body, "conversionGoal", true, 128, s)) return *e;
    m.conversion_goal = *s;
    if (m.conversion_goal.find('\0') != std::string::npos ||
        m.conversion_goal.find('\x1f') != std::string::npos)
      return invalid("conversionGoal", "must be a conversion goal id");
    if (auto e = forbid("numerator", "this aggregation; only to ratio")) return *e;
    if (auto e = forbid("denominator", "this aggregation; only to ratio")) return *e;
    if (m.aggregation == "sum") {
      s.reset();
      if (auto e = read_string(body, "property", true, 200, s)) return *e;
      if (!valid_property_path(*s))
        return invalid("property", "must be a property path such as value or plan.amount");
      m.property = *s;
    } else if (auto e = forbid("property", "count or unique; only to sum")) {
      return *e;
    }
  }
  s.reset();
  if (auto e = read_string(body, "window", false, 8, s)) return *e;
  m.window = s.value_or("span");
  if (!valid_window_shape(m.window))
    return invalid(
        "window",
        "must be day, week, month, quarter, span, or a rolling <N>d such as 7d (N at most 3660)");
  if (auto e = read_label(body, "description", kMaxDescriptionChars, stored, m.description))
    return *e;
  return m;
}
}  // namespace

Result<Metric> metric_from_request(const json& body) { return metric_fields(body, false); }

Result<Metric> metric_from_json(const json& j, std::string tenant_id) {
  if (!j.is_object()) return invalid("", "stored metric is not an object");
  json body = j;
  auto created = j.find("createdAt");
  std::optional<int64_t> created_ms;
  if (created != j.end() && created->is_string())
    created_ms = time::parse_rfc3339(created->get<std::string>());
  if (!created_ms) return invalid("createdAt", "must be an RFC 3339 date-time");
  body.erase("createdAt");
  auto m = metric_fields(body, true);
  if (!m.ok()) return m;
  m->tenant_id = std::move(tenant_id);
  m->created_at_ms = *created_ms;
  return m;
}

std::optional<std::string> series_of(const Metric& m) {
  if (m.aggregation == "count") return std::string();
  if (m.aggregation == "sum") return m.property == "value" ? std::string() : "sum:" + m.property;
  if (m.aggregation == "unique") return std::string("unique");
  return std::nullopt;
}

json to_json(const GrowthGoal& g) {
  json j = {{"id", g.id},
            {"metric", g.metric},
            {"target", g.target},
            {"deadline", time::format_date(g.deadline_date)}};
  if (g.start_date) j["start"] = time::format_date(*g.start_date);
  if (g.description) j["description"] = *g.description;
  if (g.unit) j["unit"] = *g.unit;
  if (g.status_override) j["statusOverride"] = *g.status_override;
  j["createdAt"] = time::format_rfc3339(g.created_at_ms);
  return j;
}

namespace {
Result<GrowthGoal> goal_fields(const json& body, bool stored) {
  GrowthGoal g;
  std::optional<std::string> s;
  if (auto e = read_string(body, "metric", true, 64, s)) return *e;
  if (!valid_metric_name(*s))
    return invalid("metric",
                   "must be a metric name (^[A-Za-z0-9_.:-]{1,64}$, e.g. monthly_signups)");
  g.metric = *s;
  if (!member(body, "target")) return invalid("target", "is required");
  std::optional<double> target;
  if (auto e = read_target(body, stored, target)) return *e;
  g.target = *target;
  if (!member(body, "deadline")) return invalid("deadline", "is required");
  std::optional<int64_t> deadline;
  if (auto e = read_date(body, "deadline", deadline)) return *e;
  g.deadline_date = *deadline;
  if (auto e = read_date(body, "start", g.start_date)) return *e;
  if (g.start_date && *g.start_date > g.deadline_date)
    return invalid("start", "must not be after the deadline");
  if (auto e = read_label(body, "description", kMaxDescriptionChars, stored, g.description))
    return *e;
  if (auto e = read_label(body, "unit", kMaxUnitChars, stored, g.unit)) return *e;
  if (stored) {
    if (auto e = read_string(body, "statusOverride", false, 16, g.status_override)) return *e;
    if (g.status_override && !valid_status(*g.status_override))
      return invalid("statusOverride", "must be one of on_track, at_risk, behind, completed");
    s.reset();
    if (auto e = read_string(body, "id", true, 128, s)) return *e;
    g.id = *s;
  }
  return g;
}
}  // namespace

Result<GrowthGoal> growth_goal_from_request(const json& body) {
  if (!body.is_object()) return invalid("", "request body must be a JSON object");
  if (auto e = only(body, {"metric", "target", "deadline", "description", "unit", "start"}))
    return *e;
  return goal_fields(body, false);
}

Result<GrowthGoal> growth_goal_from_json(const json& j, std::string tenant_id) {
  if (!j.is_object()) return invalid("", "stored goal is not an object");
  auto g = goal_fields(j, true);
  if (!g.ok()) return g;
  auto c = j.find("createdAt");
  std::optional<int64_t> created;
  if (c != j.end() && c->is_string()) created = time::parse_rfc3339(c->get<std::string>());
  if (!created) return invalid("createdAt", "must be an RFC 3339 date-time");
  g->created_at_ms = *created;
  g->tenant_id = std::move(tenant_id);
  return g;
}

namespace {
Result<GoalPatch> patch_fields(const json& body, bool stored) {
  if (!body.is_object()) return invalid("", "request body must be a JSON object");
  if (auto e = only(
          body, {"id", "metric", "target", "deadline", "start", "description", "unit", "status"}))
    return *e;
  GoalPatch p;
  std::optional<std::string> s;
  if (auto e = read_string(body, "id", true, 128, s)) return *e;
  p.id = *s;
  if (auto e = read_string(body, "metric", false, 64, p.metric)) return *e;
  if (p.metric && !valid_metric_name(*p.metric))
    return invalid("metric", "must be a metric name (^[A-Za-z0-9_.:-]{1,64}$)");
  if (auto e = read_target(body, stored, p.target)) return *e;
  if (auto e = read_date(body, "deadline", p.deadline_date)) return *e;
  if (auto e = read_date(body, "start", p.start_date)) return *e;
  if (auto e = read_label(body, "description", kMaxDescriptionChars, stored, p.description))
    return *e;
  if (auto e = read_label(body, "unit", kMaxUnitChars, stored, p.unit)) return *e;
  for (const char* key : {"metric", "target", "deadline"}) {
    auto it = body.find(key);
    if (it != body.end() && it->is_null()) return invalid(key, "cannot be null");
  }
  auto is_null = [&](const char* key) {
    auto it = body.find(key);
    return it != body.end() && it->is_null();
  };
  p.clear_start = is_null("start");
  p.clear_description = is_null("description");
  p.clear_unit = is_null("unit");
  auto st = body.find("status");
  if (st != body.end()) {
    p.status_set = true;
    if (!st->is_null()) {
      if (!st->is_string() || !valid_status(st->get_ref<const std::string&>()))
        return invalid("status",
                       "must be one of on_track, at_risk, behind, completed, or null to clear the "
                       "manual status");
      p.status = st->get<std::string>();
    }
  }
  return p;
}
}  // namespace

Result<GoalPatch> goal_patch_from_request(const json& body) { return patch_fields(body, false); }

json to_json(const GoalPatch& p) {
  json j = {{"id", p.id}};
  if (p.metric) j["metric"] = *p.metric;
  if (p.target) j["target"] = *p.target;
  if (p.deadline_date) j["deadline"] = time::format_date(*p.deadline_date);
  if (p.start_date) j["start"] = time::format_date(*p.start_date);
  if (p.description) j["description"] = *p.description;
  if (p.unit) j["unit"] = *p.unit;
  if (p.status_set) j["status"] = p.status ? json(*p.status) : json(nullptr);
  if (p.clear_start) j["start"] = nullptr;
  if (p.clear_description) j["description"] = nullptr;
  if (p.clear_unit) j["unit"] = nullptr;
  return j;
}

Result<GoalPatch> goal_patch_from_json(const json& j) { return patch_fields(j, true); }

Result<GrowthGoal> apply(GrowthGoal g, const GoalPatch& p) {
  if (p.metric) g.metric = *p.metric;
  if (p.target) g.target = *p.target;
  if (p.deadline_date) g.deadline_date = *p.deadline_date;
  if (p.start_date) g.start_date = *p.start_date;
  if (p.description) g.description = *p.description;
  if (p.unit) g.unit = *p.unit;
  if (p.status_set) g.status_override = p.status;
  if (p.clear_start) g.start_date.reset();
  if (p.clear_description) g.description.reset();
  if (p.clear_unit) g.unit.reset();
  if (g.start_date && *g.start_date > g.deadline_date)
    return invalid(p.start_date ? "start" : "deadline", "the start must not be after the deadline");
  return g;
}

}  // namespace gs::growth
