#include "modules/agent/model.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>

#include "base/crypto.h"
#include "base/decimal.h"
#include "base/text.h"
#include "base/time.h"
#include "base/zone.h"

namespace gs::agent {
namespace {

// Requests are checked in full (the text rule, id shapes, ranges, unknown
// members, the primary target); stored forms and command payloads only by
// type and length, so that whatever an earlier version accepted still folds
// the same way (docs/decisions.md, "Requests are strict, stored forms are
// lenient").
enum class Mode { request, stored };

// The members of one JSON object, named by their path in errors
// ("targets[1]." + member).
class Members {
 public:
  Members(const json& obj, std::string prefix, Mode mode)
      : obj_(obj), prefix_(std::move(prefix)), mode_(mode) {}

  Mode mode() const { return mode_; }
  std::string path(std::string_view key) const { return prefix_ + std::string(key); }
  Error error(std::string_view key, std::string message) const {
    return invalid(path(key), std::move(message));
  }
  // The member `key`, null when absent or JSON null.
  const json* find(const char* key) const {
    auto it = obj_.find(key);
    return it == obj_.end() || it->is_null() ? nullptr : &*it;
  }
  bool present(const char* key) const { return obj_.contains(key); }
  bool null(const char* key) const {
    auto it = obj_.find(key);
    return it != obj_.end() && it->is_null();
  }
  // A request's members are refused beyond `known`, naming the first other.
  std::optional<Error> only(std::initializer_list<const char*> known) const {
    if (mode_ == Mode::stored) return std::nullopt;
    for (auto it = obj_.begin(); it != obj_.end(); ++it) {
      const std::string& key = it.key();
      if (std::any_of(known.begin(), known.end(), [&](const char* k) { return key == k; }))
        continue;
      std::string names;
      for (const char* k : known) names += (names.empty() ? "" : ", ") + std::string(k);
      return error(key, "unknown field; expected one of " + names);
    }
    return std::nullopt;
  }
  // Members that must not be JSON null when present (a PATCH cannot unset them).
  std::optional<Error> not_null(std::initializer_list<const char*> keys) const {
    for (const char* k : keys)
      if (null(k))
        return error(k, std::string_view(k) == "targets"
                            ? "cannot be null; send [] to remove every target"
                            : "cannot be null");
    return std::nullopt;
  }

  std::optional<Error> required(const char* key) const {
    if (!find(key)) return error(key, "is required");
    return std::nullopt;
  }

  // An agent or channel id.
  std::optional<Error> ref_id(const char* key, std::optional<std::string>& out) const {
    const json* m = find(key);
    if (!m) return std::nullopt;
    if (!m->is_string()) return error(key, "must be a string");
    const auto& s = m->get_ref<const std::string&>();
    if (mode_ == Mode::request ? !valid_ref_id(s) : s.empty() || s.size() > kMaxIdChars)
      return error(key, "must be 1 to " + std::to_string(kMaxIdChars) +
                            " characters of A-Z a-z 0-9 _ . : - (a uuid, or an id such as "
                            "agent_abc123)");
    out = s;
    return std::nullopt;
  }

  // A human-readable text.
  std::optional<Error> label(const char* key, size_t max_chars,
                             std::optional<std::string>& out) const {
    const json* m = find(key);
    if (!m) return std::nullopt;
    if (!m->is_string()) return error(key, "must be a string");
    const auto& s = m->get_ref<const std::string&>();
    if (mode_ == Mode::request) {
      if (auto why = text::check_label(s, max_chars)) return error(key, *why);
    } else if (text::code_points(s) > max_chars) {
      return error(key, "must be at most " + std::to_string(max_chars) + " characters");
    }
    out = s;
    return std::nullopt;
  }

  std::optional<Error> boolean(const char* key, std::optional<bool>& out) const {
    const json* m = find(key);
    if (!m) return std::nullopt;
    if (!m->is_boolean()) return error(key, "must be true or false");
    out = m->get<bool>();
    return std::nullopt;
  }

  // A whole number from `min` to `max` (25, not 25.0 or "25").
  std::optional<Error> whole(const char* key, int64_t min, int64_t max,
                             std::optional<int64_t>& out) const {
    const json* m = find(key);
    if (!m) return std::nullopt;
    std::optional<int64_t> v;
    if (m->is_number_unsigned()) {
      if (auto u = m->get<uint64_t>(); u <= static_cast<uint64_t>(INT64_MAX))
        v = static_cast<int64_t>(u);
    } else if (m->is_number_integer()) {
      v = m->get<int64_t>();
    }
    if (!v || *v < min || *v > max)
      return error(
          key, "must be a whole number from " + std::to_string(min) + " to " + std::to_string(max));
    out = v;
    return std::nullopt;
  }

  // A percent in (0, 100]; a request's is rounded to 6 decimal places.
  std::optional<Error> percent(const char* key, std::optional<double>& out) const {
    const json* m = find(key);
    if (!m) return std::nullopt;
    double v = m->is_number() ? m->get<double>() : NAN;
    if (mode_ == Mode::request) v = round6(v);
    if (!std::isfinite(v) || v <= 0 || v > 100)
      return error(key, "must be a number greater than 0 and at most 100 (a percent)");
    out = v;
    return std::nullopt;
  }

  // An IANA time zone (a request's must be in the system's tz database).
  std::optional<Error> zone(const char* key, std::optional<std::string>& out) const {
    const json* m = find(key);
    if (!m) return std::nullopt;
    if (!m->is_string()) return error(key, "must be an IANA time zone name such as Europe/Berlin");
    const auto& s = m->get_ref<const std::string&>();
    if (s.empty()) return error(key, "must be an IANA time zone name such as Europe/Berlin");
    if (s.size() > 64 || (mode_ == Mode::request && !time::valid_time_zone(s)))
      return error(key, "must be an IANA time zone name such as Europe/Berlin (unknown: " +
                            s.substr(0, 64) + ")");
    out = s;
    return std::nullopt;
  }

  // The first day of the week: "monday" or "sunday".
  std::optional<Error> week_start(const char* key, std::optional<WeekStart>& out) const {
    const json* m = find(key);
    if (!m) return std::nullopt;
    const std::string* s = m->is_string() ? &m->get_ref<const std::string&>() : nullptr;
    if (s && *s == "monday")
      out = WeekStart::monday;
    else if (s && *s == "sunday")
      out = WeekStart::sunday;
    else
      return error(key, "must be monday (ISO weeks) or sunday");
    return std::nullopt;
  }

  // A stored RFC 3339 date-time.
  std::optional<Error> date_time(const char* key, std::optional<int64_t>& out) const {
    const json* m = find(key);
    if (!m) return std::nullopt;
    if (m->is_string()) out = time::parse_rfc3339(m->get_ref<const std::string&>());
    if (!out) return error(key, "must be an RFC 3339 date-time");
    return std::nullopt;
  }

 private:
  const json& obj_;
  std::string prefix_;
  Mode mode_;
};

std::optional<Period> period_named(std::string_view s) {
  if (s == "day") return Period::day;
  if (s == "week") return Period::week;
  if (s == "month") return Period::month;
  return std::nullopt;
}

std::optional<TargetType> type_named(std::string_view s) {
  if (s == "count") return TargetType::count;
  if (s == "rate") return TargetType::rate;
  return std::nullopt;
}

// One target; `m` names its members "<list>[i].". A stored target has its id.
Result<Target> read_target(const Members& m) {
  bool stored = m.mode() == Mode::stored;
  if (auto e = m.only(
          {"period", "target_type", "target_count", "target_rate", "is_primary", "min_sample"}))
    return *e;
  Target t;
  if (stored) {
    const json* id = m.find("id");
    if (!id || !id->is_string() || id->get_ref<const std::string&>().empty())
      return m.error("id", "is required");
    t.id = id->get<std::string>();
  }
  const json* p = m.find("period");
  if (!p) return m.error("period", "is required");
  auto period = p->is_string() ? period_named(p->get_ref<const std::string&>()) : std::nullopt;
  if (!period) return m.error("period", "must be one of day, week, month");
  t.period = *period;
  const json* ty = m.find("target_type");
  if (!ty) return m.error("target_type", "is required");
  auto type = ty->is_string() ? type_named(ty->get_ref<const std::string&>()) : std::nullopt;
  if (!type) return m.error("target_type", "must be count or rate");
  t.type = *type;
  // Each type has its number; the other's may be sent as null (as GET shows it).
  auto not_for = [&](const char* key, const char* only_for) -> std::optional<Error> {
    if (m.find(key))
      return m.error(
          key, std::string("applies to ") + only_for + " targets only; leave it out or send null");
    return std::nullopt;
  };
  if (t.type == TargetType::count) {
    if (!m.find("target_count")) return m.error("target_count", "is required for a count target");
    std::optional<int64_t> count;
    if (auto e = m.whole("target_count", 1, kMaxTargetCount, count)) return *e;
    t.target_count = *count;
    if (auto e = not_for("target_rate", "rate")) return *e;
    if (auto e = not_for("min_sample", "rate")) return *e;
  } else {
    if (!m.find("target_rate")) return m.error("target_rate", "is required for a rate target");
    std::optional<double> rate;
    if (auto e = m.percent("target_rate", rate)) return *e;
    t.target_rate = *rate;
    if (auto e = not_for("target_count", "count")) return *e;
    std::optional<int64_t> sample;
    if (auto e = m.whole("min_sample", 1, kMaxMinSample, sample)) return *e;
    t.min_sample = sample.value_or(kDefaultMinSample);
  }
  std::optional<bool> primary;
  if (auto e = m.boolean("is_primary", primary)) return *e;
  t.is_primary = primary.value_or(false);
  return t;
}

// The targets under `key` (an array). A request's may hold one primary at
// most; when none is, the first becomes primary.
std::optional<Error> read_targets(const Members& m, const char* key, std::vector<Target>& out) {
  const json* list = m.find(key);
  if (!list) return std::nullopt;
  if (!list->is_array()) return m.error(key, "must be an array of targets");
  if (list->size() > kMaxTargets)
    return m.error(key, "must hold at most " + std::to_string(kMaxTargets) + " targets");
  out.clear();
  std::optional<size_t> primary;
  for (size_t i = 0; i < list->size(); ++i) {
    std::string item = m.path(key) + "[" + std::to_string(i) + "]";
    const json& t = (*list)[i];
    if (!t.is_object()) return invalid(item, "must be an object");
    auto target = read_target(Members(t, item + ".", m.mode()));
    if (!target.ok()) return target.error();
    if (target->is_primary && m.mode() == Mode::request) {
      if (primary)
        return invalid(item + ".is_primary", "only one target can be primary (" + m.path(key) +
                                                 "[" + std::to_string(*primary) + "] is)");
      primary = i;
    }
    out.push_back(std::move(target).value());
  }
  if (m.mode() == Mode::request && !primary && !out.empty()) out.front().is_primary = true;
  return std::nullopt;
}

// A POST or a PATCH sends the writable members only (in the reference's order).
std::optional<Error> only_writable(const Members& m) {
  return m.only({"agent_id", "channel_id", "title", "description", "active", "targets", "timezone",
                 "week_start"});
}

// The members POST and the stored form share, into `g`.
std::optional<Error> read_goal_members(const Members& m, const char* targets_key, AgentGoal& g) {
  std::optional<std::string> s;
  if (auto e = m.ref_id("agent_id", s)) return *e;
  g.agent_id = s.value_or("");
  if (auto e = m.ref_id("channel_id", g.channel_id)) return *e;
  s.reset();
  if (auto e = m.label("title", kMaxTitleChars, s)) return *e;
  g.title = s.value_or("");
  s.reset();
  if (auto e = m.label("description", kMaxDescriptionChars, s)) return *e;
  g.description = s.value_or("");
  std::optional<bool> active;
  if (auto e = m.boolean("active", active)) return *e;
  g.active = active.value_or(true);
  if (auto e = m.zone("timezone", g.timezone)) return *e;
  std::optional<WeekStart> week;
  if (auto e = m.week_start("week_start", week)) return *e;
  g.week_start = week.value_or(WeekStart::monday);
  return read_targets(m, targets_key, g.targets);
}

ojson target_json(const Target& t) {
  bool rate = t.type == TargetType::rate;
  ojson j;
  j["id"] = t.id;
  j["period"] = to_string(t.period);
  j["target_type"] = to_string(t.type);
  j["target_count"] = rate ? ojson(nullptr) : ojson(t.target_count);
  j["target_rate"] = rate ? number_json(t.target_rate) : ojson(nullptr);
  j["is_primary"] = t.is_primary;
  j["min_sample"] = rate ? ojson(t.min_sample) : ojson(nullptr);
  return j;
}

ojson targets_json(const std::vector<Target>& targets) {
  ojson out = ojson::array();
  for (const auto& t : targets) out.push_back(target_json(t));
  return out;
}

Result<GoalPatch> patch_fields(const json& body, Mode mode) {
  if (!body.is_object()) return invalid("", "request body must be a JSON object");
  Members m(body, "", mode);
  if (auto e = only_writable(m)) return *e;
  GoalPatch p;
  if (mode == Mode::stored) {
    const json* id = m.find("id");
    if (!id || !id->is_string() || id->get_ref<const std::string&>().empty())
      return invalid("data.id", "is required");
    p.id = id->get<std::string>();
  }
  if (auto e = m.not_null({"agent_id", "title", "description", "active", "targets", "week_start"}))
    return *e;
  if (auto e = m.ref_id("agent_id", p.agent_id)) return *e;
  p.channel_set = m.present("channel_id");
  if (auto e = m.ref_id("channel_id", p.channel_id)) return *e;
  if (auto e = m.label("title", kMaxTitleChars, p.title)) return *e;
  if (auto e = m.label("description", kMaxDescriptionChars, p.description)) return *e;
  if (auto e = m.boolean("active", p.active)) return *e;
  p.timezone_set = m.present("timezone");
  if (auto e = m.zone("timezone", p.timezone)) return *e;
  if (auto e = m.week_start("week_start", p.week_start)) return *e;
  if (m.find("targets")) {
    p.targets.emplace();
    if (auto e = read_targets(m, "targets", *p.targets)) return *e;
  }
  return p;
}

}  // namespace

std::string_view to_string(Period p) {
  switch (p) {
    case Period::day:
      return "day";
    case Period::week:
      return "week";
    case Period::month:
      return "month";
  }
  return "?";
}

ojson number_json(double v) {
  if (std::isfinite(v) && std::abs(v) < 1e15 && v == std::floor(v)) return static_cast<int64_t>(v);
  return v;
}

std::string_view to_string(WeekStart w) { return w == WeekStart::monday ? "monday" : "sunday"; }

std::string_view to_string(TargetType t) { return t == TargetType::count ? "count" : "rate"; }

ojson to_json(const AgentGoal& g) {
  ojson j;
  j["id"] = g.id;
  j["agent_id"] = g.agent_id;
  j["channel_id"] = g.channel_id ? ojson(*g.channel_id) : ojson(nullptr);
  j["title"] = g.title;
  j["description"] = g.description;
  j["active"] = g.active;
  j["goal_targets"] = targets_json(g.targets);
  j["timezone"] = g.timezone ? ojson(*g.timezone) : ojson(nullptr);
  j["week_start"] = to_string(g.week_start);
  j["created_at"] = time::format_rfc3339(g.created_at_ms);
  j["updated_at"] = time::format_rfc3339(g.updated_at_ms);
  return j;
}

Result<AgentGoal> goal_from_json(const json& j, std::string tenant_id) {
  if (!j.is_object()) return invalid("", "stored agent goal is not an object");
  Members m(j, "", Mode::stored);
  AgentGoal g;
  const json* id = m.find("id");
  if (!id || !id->is_string() || id->get_ref<const std::string&>().empty())
    return invalid("id", "is required");
  g.id = id->get<std::string>();
  for (const char* key : {"agent_id", "title", "description"})
    if (auto e = m.required(key)) return *e;
  if (auto e = read_goal_members(m, "goal_targets", g)) return *e;
  std::optional<int64_t> created, updated;
  if (auto e = m.date_time("created_at", created)) return *e;
  if (!created) return invalid("created_at", "is required");
  if (auto e = m.date_time("updated_at", updated)) return *e;
  g.created_at_ms = *created;
  g.updated_at_ms = updated.value_or(*created);
  g.tenant_id = std::move(tenant_id);
  return g;
}

Result<AgentGoal> goal_from_request(const json& body) {
  if (!body.is_object()) return invalid("", "request body must be a JSON object");
  Members m(body, "", Mode::request);
  if (auto e = only_writable(m)) return *e;
  for (const char* key : {"agent_id", "title", "description"})
    if (auto e = m.required(key)) return *e;
  AgentGoal g;
  if (auto e = read_goal_members(m, "targets", g)) return *e;
  return g;
}

Result<GoalPatch> patch_from_request(const json& body) { return patch_fields(body, Mode::request); }

Result<GoalPatch> patch_from_json(const json& j) { return patch_fields(j, Mode::stored); }

json to_json(const GoalPatch& p) {
  ojson j;
  j["id"] = p.id;
  if (p.agent_id) j["agent_id"] = *p.agent_id;
  if (p.channel_set) j["channel_id"] = p.channel_id ? ojson(*p.channel_id) : ojson(nullptr);
  if (p.title) j["title"] = *p.title;
  if (p.description) j["description"] = *p.description;
  if (p.active) j["active"] = *p.active;
  if (p.targets) j["targets"] = targets_json(*p.targets);
  if (p.timezone_set) j["timezone"] = p.timezone ? ojson(*p.timezone) : ojson(nullptr);
  if (p.week_start) j["week_start"] = to_string(*p.week_start);
  return json(j);
}

AgentGoal apply(AgentGoal g, const GoalPatch& p, int64_t at_ms) {
  if (p.agent_id) g.agent_id = *p.agent_id;
  if (p.channel_set) g.channel_id = p.channel_id;
  if (p.title) g.title = *p.title;
  if (p.description) g.description = *p.description;
  if (p.active) g.active = *p.active;
  if (p.targets) g.targets = *p.targets;
  if (p.timezone_set) g.timezone = p.timezone;
  if (p.week_start) g.week_start = *p.week_start;
  g.updated_at_ms = at_ms;
  return g;
}

std::string new_goal_id() { return "goal_" + crypto::random_hex(8); }
std::string new_target_id() { return "target_" + crypto::random_hex(8); }

bool valid_goal_id(std::string_view id) {
  constexpr std::string_view kPrefix = "goal_";
  if (id.size() != kPrefix.size() + 16 || !id.starts_with(kPrefix)) return false;
  return std::all_of(id.begin() + kPrefix.size(), id.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool valid_ref_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdChars) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == ':' || c == '-';
  });
}

}  // namespace gs::agent
