#include "modules/conversion/model.h"

#include <algorithm>

#include "base/text.h"
#include "base/time.h"
#include "model/event.h"

namespace gs::conversion {

using model::valid_event_type;
namespace {

const json* member(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

std::optional<int64_t> parse_since(const std::string& s) {
  if (auto t = time::parse_rfc3339(s)) return t;
  if (auto d = time::parse_date(s)) return *d * time::kMsPerDay;
  return std::nullopt;
}

}  // namespace

json to_json(const ConversionGoal& g) {
  json j = {{"id", g.id},
            {"name", g.name},
            {"eventType", g.event_type},
            {"createdAt", time::format_rfc3339(g.created_at_ms)}};
  if (g.url_pattern) j["urlPattern"] = *g.url_pattern;
  if (!g.conditions.is_null()) j["conditions"] = g.conditions;
  if (g.since_ms) j["since"] = time::format_rfc3339(*g.since_ms);
  return j;
}

Result<ConversionGoal> conversion_goal_from_json(const json& j, std::string tenant_id) {
  if (!j.is_object()) return invalid("", "stored conversion goal is not an object");
  ConversionGoal g;
  g.tenant_id = std::move(tenant_id);
  // Each member read names itself when it is missing or not a string.
  auto text = [&j](const char* name) -> Result<std::string> {
    auto it = j.find(name);
    if (it == j.end()) return invalid(name, "is required");
    if (!it->is_string()) return invalid(name, "must be a string");
    return it->get<std::string>();
  };
  auto id = text("id");
  if (!id.ok()) return id.error();
  g.id = std::move(id).value();
  auto name = text("name");
  if (!name.ok()) return name.error();
  g.name = std::move(name).value();
  auto event_type = text("eventType");
  if (!event_type.ok()) return event_type.error();
  g.event_type = std::move(event_type).value();
  if (member(j, "urlPattern")) {
    auto u = text("urlPattern");
    if (!u.ok()) return u.error();
    g.url_pattern = std::move(u).value();
  }
  if (auto* c = member(j, "conditions")) g.conditions = *c;
  if (member(j, "since")) {
    auto since = text("since");
    if (!since.ok()) return since.error();
    g.since_ms = time::parse_rfc3339(*since);
    if (!g.since_ms) return invalid("since", "stored since is not a date-time");
  }
  auto created_text = text("createdAt");
  if (!created_text.ok()) return created_text.error();
  auto created = time::parse_rfc3339(*created_text);
  if (!created) return invalid("createdAt", "stored createdAt is not a date-time");
  g.created_at_ms = *created;
  return g;
}

Result<ConversionGoal> conversion_goal_from_request(const json& body) {
  if (!body.is_object()) return invalid("", "request body must be a JSON object");
  static const char* known[] = {"name", "eventType", "urlPattern", "conditions", "since"};
  for (auto it = body.begin(); it != body.end(); ++it)
    if (std::find_if(std::begin(known), std::end(known),
                     [&](const char* k) { return it.key() == k; }) == std::end(known))
      return invalid(
          it.key(),
          "unknown field; expected one of name, eventType, urlPattern, conditions, since");
  ConversionGoal g;
  auto* name = member(body, "name");
  if (!name || name->is_null()) return invalid("name", "is required");
  if (!name->is_string()) return invalid("name", "must be a string");
  g.name = name->get<std::string>();
  if (auto why = text::check_label(g.name, kMaxNameChars)) return invalid("name", *why);
  auto* type = member(body, "eventType");
  if (!type || type->is_null()) return invalid("eventType", "is required");
  if (!type->is_string()) return invalid("eventType", "must be a string");
  g.event_type = type->get<std::string>();
  if (!valid_event_type(g.event_type))
    return invalid("eventType", "must match ^[a-z0-9_.:-]{1,64}$ (e.g. form_submit)");
  if (auto* u = member(body, "urlPattern"); u && !u->is_null()) {
    if (!u->is_string()) return invalid("urlPattern", "must be a string");
    g.url_pattern = u->get<std::string>();
    if (g.url_pattern->empty())
      return invalid("urlPattern", "must not be empty; omit it to match any URL");
    if (g.url_pattern->size() > 1000)
      return invalid("urlPattern", "must be at most 1000 characters");
  }
  if (auto* c = member(body, "conditions"); c && !c->is_null()) {
    if (!c->is_object()) return invalid("conditions", "must be an object of property conditions");
    if (!c->empty()) g.conditions = *c;
  }
  if (auto* s = member(body, "since"); s && !s->is_null()) {
    if (!s->is_string()) return invalid("since", "must be an ISO 8601 date or date-time string");
    g.since_ms = parse_since(s->get<std::string>());
    if (!g.since_ms)
      return invalid("since",
                     "must be an ISO 8601 date (2025-03-01) or RFC 3339 date-time, from "
                     "1970-01-01T00:00:00Z to "
                     "9999-12-31T23:59:59.999Z once in UTC");
  }
  return g;
}

projection::CounterRule counter_rule(const ConversionGoal& g) {
  return {g.id, g.tenant_id, g.event_type, g.url_pattern, g.conditions, g.since_ms};
}

}  // namespace gs::conversion
