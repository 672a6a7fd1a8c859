#include "match/match.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include <re2/re2.h>

#include "match/glob.h"
#include "match/value.h"

namespace gs::match {
namespace {

using detail::Literal;
using detail::LiteralSet;
using simdjson::dom::element;
using simdjson::dom::element_type;

// Bounds on one definition, so a single goal cannot make every event slow.
constexpr std::size_t kMaxConditions = 50;
constexpr std::size_t kMaxSetSize = 1000;  // elements of an `in` / `nin` operand

enum class Op : std::uint8_t {
  eq,
  neq,
  in,
  nin,
  contains,
  icontains,
  regex,
  gt,
  gte,
  lt,
  lte,
  exists
};

struct OpName {
  std::string_view name;
  Op op;
};
constexpr std::array<OpName, 12> kOps{{{"eq", Op::eq},
                                       {"neq", Op::neq},
                                       {"in", Op::in},
                                       {"nin", Op::nin},
                                       {"contains", Op::contains},
                                       {"icontains", Op::icontains},
                                       {"regex", Op::regex},
                                       {"gt", Op::gt},
                                       {"gte", Op::gte},
                                       {"lt", Op::lt},
                                       {"lte", Op::lte},
                                       {"exists", Op::exists}}};

// One operator with its operand pre-digested; which members are used depends
// on `op`.
struct Operator {
  Op op = Op::eq;
  Literal operand;          // eq, neq, contains, gt/gte/lt/lte
  LiteralSet set;           // in, nin
  std::string lowered;      // icontains: operand in ASCII lower case
  std::unique_ptr<RE2> re;  // regex
  bool exists = false;      // exists
};

// One entry of `conditions`: a property path and the operators that must all
// hold for the value found there.
struct Condition {
  std::string path;                   // looked up as one literal key first
  std::vector<std::string> segments;  // then as nested objects
  std::vector<Operator> ops;
};

enum class UrlKind : std::uint8_t { none, path, regex, substring };

RE2::Options re2_options() {
  RE2::Options o;
  o.set_log_errors(false);  // a bad pattern is a 422 for the caller, not log noise
  return o;
}

Result<std::unique_ptr<RE2>> compile_re2(std::string_view pattern, const std::string& field) {
  if (pattern.size() > kMaxPatternLength)
    return invalid(field, field + ": regular expression is longer than " +
                              std::to_string(kMaxPatternLength) + " characters");
  auto re = std::make_unique<RE2>(re2::StringPiece(pattern.data(), pattern.size()), re2_options());
  if (!re->ok()) return invalid(field, field + ": invalid RE2 regular expression: " + re->error());
  return re;
}

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// ASCII case-insensitive substring search; `needle` is already lower case.
// Naive O(n*m) but allocation-free, and both sides are short in practice.
bool icontains(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    std::size_t k = 0;
    while (k < needle.size() && ascii_lower(hay[i + k]) == needle[k]) ++k;
    if (k == needle.size()) return true;
  }
  return false;
}

// gt/gte/lt/lte: numbers with numbers, strings with strings (byte-wise, so
// ISO 8601 timestamps in one format compare chronologically); else false.
std::partial_ordering order(const element& e, const Literal& operand) {
  if (operand.kind() == Literal::Kind::number) {
    const auto n = detail::number_of(e);
    return n ? detail::compare(*n, operand.number()) : std::partial_ordering::unordered;
  }
  if (e.type() != element_type::STRING) return std::partial_ordering::unordered;
  return e.get_string().value_unsafe().compare(operand.string()) <=> 0;
}

// Whether the operator holds; `value` is nullopt when the property is missing.
bool holds(const Operator& o, const std::optional<element>& value) {
  if (!value) return o.op == Op::neq || o.op == Op::nin || (o.op == Op::exists && !o.exists);
  const element& e = *value;
  switch (o.op) {
    case Op::eq:
      return o.operand.equals(e);
    case Op::neq:
      return !o.operand.equals(e);
    case Op::in:
      return o.set.contains(e);
    case Op::nin:
      return !o.set.contains(e);
    case Op::contains:
      if (e.type() == element_type::STRING)
        return o.operand.kind() == Literal::Kind::string &&
               e.get_string().value_unsafe().find(o.operand.string()) != std::string_view::npos;
      if (e.type() == element_type::ARRAY) {
        // Named: ranging over value_unsafe() of a temporary would dangle.
        const simdjson::dom::array items = e.get_array().value_unsafe();
        for (element item : items)
          if (o.operand.equals(item)) return true;
      }
      return false;
    case Op::icontains:
      return e.type() == element_type::STRING &&
             icontains(e.get_string().value_unsafe(), o.lowered);
    case Op::regex: {
      if (e.type() != element_type::STRING) return false;
      const std::string_view s = e.get_string().value_unsafe();
      return RE2::PartialMatch(re2::StringPiece(s.data(), s.size()), *o.re);
    }
    case Op::gt:
      return order(e, o.operand) > 0;
    case Op::gte:
      return order(e, o.operand) >= 0;
    case Op::lt:
      return order(e, o.operand) < 0;
    case Op::lte:
      return order(e, o.operand) <= 0;
    case Op::exists:
      return o.exists;
  }
  return false;
}

// The value at the condition's path, or nullopt when any step is missing or
// not an object. A literal key equal to the whole path wins, because event
// producers often flatten ("plan.tier": "pro") and the definition author
// cannot tell the two shapes apart.
std::optional<element> resolve(const std::optional<element>& properties, const std::string& path,
                               const std::vector<std::string>& segments) {
  if (!properties || properties->type() != element_type::OBJECT) return std::nullopt;
  const auto object = properties->get_object().value_unsafe();
  if (segments.size() > 1) {
    auto literal = object.at_key(path);
    if (!literal.error()) return literal.value_unsafe();
  }
  element cur = *properties;
  for (const auto& segment : segments) {
    if (cur.type() != element_type::OBJECT) return std::nullopt;
    auto next = cur.get_object().value_unsafe().at_key(segment);
    if (next.error()) return std::nullopt;
    cur = next.value_unsafe();
  }
  return cur;
}

Result<Operator> compile_operator(std::string_view name, const nlohmann::json& operand,
                                  const std::string& field) {
  const auto found =
      std::find_if(kOps.begin(), kOps.end(), [&](const OpName& o) { return o.name == name; });
  if (found == kOps.end()) {
    std::string message =
        field + ": unknown operator \"" + std::string(name) + "\"; expected one of";
    for (const auto& o : kOps) message += (o.op == Op::eq ? " " : ", ") + std::string(o.name);
    message += " (to compare with an object, use {\"eq\": {...}})";
    return invalid(field, std::move(message));
  }

  Operator o;
  o.op = found->op;
  switch (o.op) {
    case Op::eq:
    case Op::neq:
    case Op::contains:
      o.operand = Literal(operand);
      break;
    case Op::in:
    case Op::nin:
      if (!operand.is_array()) return invalid(field, field + ": operand must be an array");
      if (operand.size() > kMaxSetSize)
        return invalid(field, field + ": operand has " + std::to_string(operand.size()) +
                                  " values; at most " + std::to_string(kMaxSetSize) +
                                  " are allowed");
      o.set = LiteralSet(operand);
      break;
    case Op::icontains: {
      if (!operand.is_string()) return invalid(field, field + ": operand must be a string");
      o.lowered = operand.get<std::string>();
      std::transform(o.lowered.begin(), o.lowered.end(), o.lowered.begin(), ascii_lower);
      break;
    }
    case Op::regex: {
      if (!operand.is_string())
        return invalid(field, field + ": operand must be a string (an RE2 regular expression)");
      auto re = compile_re2(operand.get_ref<const std::string&>(), field);
      if (!re) return re.error();
      o.re = std::move(re).value();
      break;
    }
    case Op::gt:
    case Op::gte:
    case Op::lt:
    case Op::lte:
      if (!operand.is_number() && !operand.is_string())
        return invalid(field, field + ": operand must be a number or a string");
      o.operand = Literal(operand);
      break;
    case Op::exists:
      if (!operand.is_boolean()) return invalid(field, field + ": operand must be true or false");
      o.exists = operand.get<bool>();
      break;
  }
  return o;
}

Result<Condition> compile_condition(const std::string& path, const nlohmann::json& value) {
  const std::string field = "conditions." + path;
  if (path.empty()) return invalid("conditions", "conditions: a property path must not be empty");

  Condition c;
  c.path = path;
  for (std::size_t start = 0;;) {
    const auto dot = path.find('.', start);
    c.segments.push_back(
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (c.segments.back().empty())
      return invalid(field, field + ": property path \"" + path + "\" has an empty segment");
    if (dot == std::string::npos) break;
    start = dot + 1;
  }

  if (!value.is_object()) {
    // A plain value is shorthand for {"eq": value}.
    Operator o;
    o.operand = Literal(value);
    c.ops.push_back(std::move(o));
    return c;
  }
  if (value.empty())
    return invalid(field, field +
                              ": operator object is empty; give at least one operator, "
                              "or use {\"eq\": {}} to compare with an empty object");
  for (const auto& [name, operand] : value.items()) {
    auto o = compile_operator(name, operand, field + "." + name);
    if (!o) return o.error();
    c.ops.push_back(std::move(o).value());
  }
  return c;
}

}  // namespace

struct Matcher::Impl {
  std::string event_type;
  UrlKind url_kind = UrlKind::none;
  std::string url_substring;
  std::optional<PathGlob> url_glob;
  std::unique_ptr<RE2> url_re;
  std::vector<Condition> conditions;

  bool url_matches(const std::optional<std::string_view>& url) const {
    switch (url_kind) {
      case UrlKind::none:
        return true;
      case UrlKind::path:
        return url && url_glob->matches(url_path(*url));
      case UrlKind::regex:
        return url && RE2::FullMatch(re2::StringPiece(url->data(), url->size()), *url_re);
      case UrlKind::substring:
        return url && url->find(url_substring) != std::string_view::npos;
    }
    return false;
  }
};

Result<Matcher> Matcher::compile(std::string_view event_type,
                                 const std::optional<std::string>& url_pattern,
                                 const nlohmann::json& conditions) {
  if (event_type.empty()) return invalid("eventType", "eventType: must not be empty");
  auto impl = std::make_unique<Impl>();
  impl->event_type = std::string(event_type);

  if (url_pattern) {
    const std::string& p = *url_pattern;
    if (p.empty())
      return invalid("urlPattern", "urlPattern: must not be empty; omit it to match any URL");
    if (p.size() > kMaxPatternLength)
      return invalid("urlPattern", "urlPattern: longer than " + std::to_string(kMaxPatternLength) +
                                       " characters");
    if (p.front() == '/') {
      auto glob = PathGlob::compile(p);
      if (!glob) return glob.error();
      impl->url_kind = UrlKind::path;
      impl->url_glob = std::move(glob).value();
    } else if (p.starts_with("re:")) {
      auto re = compile_re2(std::string_view(p).substr(3), "urlPattern");
      if (!re) return re.error();
      impl->url_kind = UrlKind::regex;
      impl->url_re = std::move(re).value();
    } else {
      impl->url_kind = UrlKind::substring;
      impl->url_substring = p;
    }
  }

  if (!conditions.is_null()) {
    if (!conditions.is_object())
      return invalid("conditions",
                     "conditions: must be a JSON object mapping property paths to values or "
                     "operator objects");
    if (conditions.size() > kMaxConditions)
      return invalid("conditions", "conditions: has " + std::to_string(conditions.size()) +
                                       " entries; at most " + std::to_string(kMaxConditions) +
                                       " are allowed");
    for (const auto& [path, value] : conditions.items()) {
      auto c = compile_condition(path, value);
      if (!c) return c.error();
      impl->conditions.push_back(std::move(c).value());
    }
  }
  return Matcher(std::move(impl));
}

const std::string& Matcher::event_type() const { return impl_->event_type; }

bool Matcher::matches(const EventView& event) const {
  if (event.type != impl_->event_type) return false;
  if (!impl_->url_matches(event.url)) return false;
  for (const auto& c : impl_->conditions) {
    const auto value = resolve(event.properties, c.path, c.segments);
    for (const auto& o : c.ops)
      if (!holds(o, value)) return false;
  }
  return true;
}

Matcher::Matcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Matcher::Matcher(Matcher&&) noexcept = default;
Matcher& Matcher::operator=(Matcher&&) noexcept = default;
Matcher::~Matcher() = default;

Result<PropertyPath> PropertyPath::parse(const std::string& path, const std::string& field) {
  if (path.empty()) return invalid(field, field + ": a property path must not be empty");
  PropertyPath p;
  p.path_ = path;
  for (std::size_t start = 0;;) {
    const auto dot = path.find('.', start);
    p.segments_.push_back(
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (p.segments_.back().empty())
      return invalid(field, field + ": property path \"" + path + "\" has an empty segment");
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return p;
}

std::optional<double> PropertyPath::number(const std::optional<element>& properties) const {
  auto v = resolve(properties, path_, segments_);
  if (!v || !v->is_number()) return std::nullopt;
  return v->get_double().value_unsafe();
}

}  // namespace gs::match
