#include "match/value.h"

#include <algorithm>
#include <cmath>

namespace gs::match::detail {
namespace {

using simdjson::dom::element_type;

std::partial_ordering order(__int128 a, __int128 b) {
  return a < b   ? std::partial_ordering::less
         : a > b ? std::partial_ordering::greater
                 : std::partial_ordering::equivalent;
}

// Exact: an int64/uint64 never exceeds ±2^64, so outside that range the answer
// is known, and inside it trunc(d) fits __int128 and the fraction decides ties.
std::partial_ordering int_vs_double(__int128 i, double d) {
  if (std::isnan(d)) return std::partial_ordering::unordered;
  if (d >= 0x1p64) return std::partial_ordering::less;
  if (d <= -0x1p64) return std::partial_ordering::greater;
  const double t = std::trunc(d);
  const auto by_int = order(i, static_cast<__int128>(t));
  if (by_int != std::partial_ordering::equivalent) return by_int;
  const double frac = d - t;
  return frac > 0   ? std::partial_ordering::less
         : frac < 0 ? std::partial_ordering::greater
                    : std::partial_ordering::equivalent;
}

bool is_number(element_type t) {
  return t == element_type::INT64 || t == element_type::UINT64 || t == element_type::DOUBLE;
}

}  // namespace

std::partial_ordering compare(const Number& a, const Number& b) {
  if (a.integral && b.integral) return order(a.i, b.i);
  if (!a.integral && !b.integral) return a.d <=> b.d;
  if (a.integral) return int_vs_double(a.i, b.d);
  return 0 <=> int_vs_double(b.i, a.d);
}

std::optional<Number> number_of(simdjson::dom::element e) {
  switch (e.type()) {
    case element_type::INT64:
      return Number{true, e.get_int64().value_unsafe(), 0};
    case element_type::UINT64:
      return Number{true, e.get_uint64().value_unsafe(), 0};
    case element_type::DOUBLE:
      return Number{false, 0, e.get_double().value_unsafe()};
    default:
      return std::nullopt;
  }
}

std::optional<Number> number_of(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::number_integer:
      return Number{true, j.get<std::int64_t>(), 0};
    case nlohmann::json::value_t::number_unsigned:
      return Number{true, j.get<std::uint64_t>(), 0};
    case nlohmann::json::value_t::number_float:
      return Number{false, 0, j.get<double>()};
    default:
      return std::nullopt;
  }
}

bool json_equals(const nlohmann::json& a, simdjson::dom::element b) {
  switch (b.type()) {
    case element_type::NULL_VALUE:
      return a.is_null();
    case element_type::BOOL:
      return a.is_boolean() && a.get<bool>() == b.get_bool().value_unsafe();
    case element_type::STRING:
      return a.is_string() && a.get_ref<const std::string&>() == b.get_string().value_unsafe();
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE: {
      const auto x = number_of(a);
      return x && compare(*x, *number_of(b)) == std::partial_ordering::equivalent;
    }
    case element_type::ARRAY: {
      if (!a.is_array()) return false;
      std::size_t n = 0;
      // Named: ranging over value_unsafe() of a temporary would dangle.
      const simdjson::dom::array items = b.get_array().value_unsafe();
      for (simdjson::dom::element child : items) {
        if (n >= a.size() || !json_equals(a[n], child)) return false;
        ++n;
      }
      return n == a.size();
    }
    case element_type::OBJECT: {
      if (!a.is_object()) return false;
      // Counted by iteration: dom::object::size() saturates for huge objects.
      std::size_t n = 0;
      const simdjson::dom::object fields = b.get_object().value_unsafe();
      for (auto field : fields) {
        const auto it = a.find(field.key);
        if (it == a.end() || !json_equals(*it, field.value)) return false;
        ++n;
      }
      return n == a.size();
    }
  }
  return false;
}

Literal::Literal(const nlohmann::json& j) {
  using vt = nlohmann::json::value_t;
  switch (j.type()) {
    case vt::null:
      kind_ = Kind::null;
      break;
    case vt::boolean:
      kind_ = Kind::boolean;
      boolean_ = j.get<bool>();
      break;
    case vt::number_integer:
    case vt::number_unsigned:
    case vt::number_float:
      kind_ = Kind::number;
      number_ = *number_of(j);
      break;
    case vt::string:
      kind_ = Kind::string;
      string_ = j.get<std::string>();
      break;
    case vt::array:
      kind_ = Kind::array;
      deep_ = j;
      break;
    default:
      // object, and binary/discarded (never produced by parsing JSON text):
      // json_equals() only ever finds an equal object.
      kind_ = Kind::object;
      deep_ = j;
      break;
  }
}

bool Literal::equals(simdjson::dom::element e) const {
  switch (e.type()) {
    case element_type::NULL_VALUE:
      return kind_ == Kind::null;
    case element_type::BOOL:
      return kind_ == Kind::boolean && boolean_ == e.get_bool().value_unsafe();
    case element_type::STRING:
      return kind_ == Kind::string && string_ == e.get_string().value_unsafe();
    case element_type::ARRAY:
    case element_type::OBJECT:
      return (kind_ == Kind::array || kind_ == Kind::object) && json_equals(deep_, e);
    default:
      return kind_ == Kind::number && is_number(e.type()) &&
             compare(number_, *number_of(e)) == std::partial_ordering::equivalent;
  }
}

LiteralSet::LiteralSet(const nlohmann::json& array) {
  for (const auto& item : array) {
    if (item.is_string())
      strings_.push_back(item.get<std::string>());
    else
      others_.emplace_back(item);
  }
  std::sort(strings_.begin(), strings_.end());
  strings_.erase(std::unique(strings_.begin(), strings_.end()), strings_.end());
}

bool LiteralSet::contains(simdjson::dom::element e) const {
  if (e.type() == element_type::STRING)
    return std::binary_search(strings_.begin(), strings_.end(), e.get_string().value_unsafe());
  return std::any_of(others_.begin(), others_.end(), [&](const Literal& l) { return l.equals(e); });
}

}  // namespace gs::match::detail
