// Conversion-goal matcher (docs/matching.md). Pure: no I/O, no Kafka/RocksDB/Beast.
//
// A definition {eventType, urlPattern?, conditions?} is compiled once (RE2
// patterns compiled, operators checked); compile() refuses anything that could
// fail at matching time, with an Error whose `field` names the offending member
// ("urlPattern", "conditions.plan.tier.regex", ...). A compiled Matcher is
// immutable and safe to share between threads.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>
#include <nlohmann/json.hpp>

#include "base/result.h"

namespace gs::match {

// What the matcher sees of one (already validated) event.
struct EventView {
  std::string_view type;
  std::optional<std::string_view> url;  // nullopt: the event has no url
  // The event's "properties" object; nullopt when the event has none (every
  // condition then sees missing properties).
  std::optional<simdjson::dom::element> properties;
};

class Matcher {
 public:
  // event_type: required, non-empty. url_pattern: nullopt = no URL scoping.
  // conditions: null (none) or a JSON object {path: value | {op: operand}}.
  static Result<Matcher> compile(std::string_view event_type,
                                 const std::optional<std::string>& url_pattern,
                                 const nlohmann::json& conditions);

  const std::string& event_type() const;
  bool matches(const EventView& event) const;

  Matcher(Matcher&&) noexcept;
  Matcher& operator=(Matcher&&) noexcept;
  ~Matcher();

 private:
  struct Impl;
  explicit Matcher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A property path ("plan.amount") resolved the way conditions resolve it: a
// literal key equal to the whole path first, then nested objects. Immutable
// and thread-safe once built; used by `sum` metrics.
class PropertyPath {
 public:
  // Error (field `field`) for an empty path or an empty segment.
  static Result<PropertyPath> parse(const std::string& path, const std::string& field = "property");
  // The number found at the path, or nullopt when missing or not a number.
  std::optional<double> number(const std::optional<simdjson::dom::element>& properties) const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::vector<std::string> segments_;
};

}  // namespace gs::match
