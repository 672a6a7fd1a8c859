// Activity events (schemas/event.schema.json, docs/architecture.md#topics): parsing and
// validation on the hot ingest path. The validator implements the schema by
// hand on simdjson's DOM for speed; tests/model holds it to the schema file.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "base/result.h"

namespace gs::model {

// A validated event. The string views and `properties` point into the
// EventParser that produced it and stay valid until its next parse().
struct Event {
  std::string_view event_id;
  std::string_view tenant_id;
  std::string_view type;
  int64_t timestamp_ms = 0;  // event time, UTC
  std::optional<std::string_view> subject_id;
  std::optional<std::string_view> url;
  std::optional<simdjson::dom::element> properties;  // a JSON object when present
  // properties.value when it is a number (the amount of a purchase), else 0.
  double value = 0;
  // The whole event: the members the modules declare (EventMemberRule) are
  // read from it (validated).
  simdjson::dom::object root;
};

// A member of a goal family's events beyond the common envelope (declared by
// its module, src/modules/<family>/): checked whenever present, required by
// the event type `required_for`. A member several types require has a rule
// per type, of the same kind and check.
struct EventMemberRule {
  enum class Kind {
    id,      // a string of 1 to 200 characters (check_id)
    custom,  // checked by `check`
  };
  std::string_view member;
  Kind kind = Kind::id;
  std::optional<Error> (*check)(simdjson::dom::element value) = nullptr;  // custom
  std::string_view required_for = {};  // "" when no type requires it
  std::string_view required_message = "is required";
};

// nullopt when `e` is a string of 1 to 200 characters, else the Error at `path`.
std::optional<Error> check_id(simdjson::dom::element e, std::string_view path);

// Parses and validates one event payload: the common envelope, then the
// members `rules` declare (ids first, then the others, each in rule order;
// then what the event's type requires). Not thread-safe: one per thread.
class EventParser {
 public:
  explicit EventParser(std::span<const EventMemberRule> rules = {});
  // Returns the event or an Error naming the offending field (dotted path,
  // e.g. "goal_results[0].achieved") and the reason. Never throws. An integer
  // beyond int64/uint64 (valid JSON) is read as the nearest double, through
  // a slower path taken only for such documents.
  Result<Event> parse(std::string_view bytes);
  // Same, parsing into `doc`: the event's views stay valid as long as `doc`
  // is not reused, so a batch can keep many events alive at once.
  Result<Event> parse(std::string_view bytes, simdjson::dom::document& doc);

 private:
  Result<Event> validate(simdjson::dom::element root);
  std::vector<EventMemberRule> rules_;
  std::vector<std::string_view> names_;  // the envelope's members, then the rules'
  // Per rule, the slot its member is found in: that of the first rule of
  // the same member (a member may have a rule per type that requires it).
  std::vector<size_t> slot_;
  simdjson::dom::parser parser_;
  std::string rewritten_;  // a document with big integers rewritten (rare)
};

// True when `s` is a valid tenant id (^[A-Za-z0-9_.-]{1,64}$).
bool valid_tenant_id(std::string_view s);

// True when `s` is a valid event type (^[a-z0-9_.:-]{1,64}$).
bool valid_event_type(std::string_view s);

}  // namespace gs::model
