// Comparing definition operands (nlohmann::json, parsed once at compile time)
// with event values (simdjson::dom::element, on the hot path). Internal to
// gs_match; exposed as a header only so tests can pin the number rules.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>
#include <nlohmann/json.hpp>

namespace gs::match::detail {

// A JSON number kept exactly as written: int64 and uint64 both fit an
// __int128, floating-point stays double. Comparing through this rather than
// converting everything to double keeps 2^53+1 != 2^53 and 5 == 5.0.
struct Number {
  bool integral = true;
  __int128 i = 0;
  double d = 0;
};

// Exact numeric order across integer and floating-point values; unordered only
// for NaN (which JSON cannot carry, but a caller-built nlohmann value could).
std::partial_ordering compare(const Number& a, const Number& b);

// The number in `e`, or nullopt when `e` is not a number.
std::optional<Number> number_of(simdjson::dom::element e);
// The number in `j`, or nullopt when `j` is not a number.
std::optional<Number> number_of(const nlohmann::json& j);

// Deep JSON equality, no coercion: "5" != 5, true != 1, 5 == 5.0; objects
// compare as unordered key sets. The slow path, used for arrays and objects.
bool json_equals(const nlohmann::json& a, simdjson::dom::element b);

// A definition-side JSON value in the form cheapest to compare with an event
// value: scalars unpacked, arrays and objects kept as JSON for json_equals.
class Literal {
 public:
  enum class Kind : std::uint8_t { null, boolean, number, string, array, object };

  Literal() = default;
  explicit Literal(const nlohmann::json& j);

  Kind kind() const { return kind_; }
  const Number& number() const { return number_; }
  const std::string& string() const { return string_; }

  // JSON equality with `e` (see json_equals). Allocation-free.
  bool equals(simdjson::dom::element e) const;

 private:
  Kind kind_ = Kind::null;
  bool boolean_ = false;
  Number number_;
  std::string string_;
  nlohmann::json deep_;  // arrays and objects only
};

// The operand of `in` / `nin`: strings sorted for binary search (the common
// case, e.g. a list of plan names), everything else scanned linearly.
class LiteralSet {
 public:
  LiteralSet() = default;
  explicit LiteralSet(const nlohmann::json& array);

  bool contains(simdjson::dom::element e) const;

 private:
  std::vector<std::string> strings_;
  std::vector<Literal> others_;
};

}  // namespace gs::match::detail
