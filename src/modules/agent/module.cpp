#include "modules/agent/module.h"

#include <string>

namespace gs::agent {

namespace {

using simdjson::dom::element;

// goal_results: [{goal_id, achieved}, ...]
std::optional<Error> check_goal_results(element e) {
  simdjson::dom::array arr;
  if (e.get_array().get(arr) != simdjson::SUCCESS)
    return invalid("goal_results", "must be an array");
  size_t i = 0;
  for (element item : arr) {
    std::string base = "goal_results[" + std::to_string(i++) + "]";
    simdjson::dom::object o;
    if (item.get_object().get(o) != simdjson::SUCCESS) return invalid(base, "must be an object");
    element gid;
    if (o["goal_id"].get(gid) != simdjson::SUCCESS)
      return invalid(base + ".goal_id", "is required");
    if (auto er = model::check_id(gid, base + ".goal_id")) return er;
    element achieved;
    if (o["achieved"].get(achieved) != simdjson::SUCCESS)
      return invalid(base + ".achieved", "is required");
    if (achieved.type() != simdjson::dom::element_type::BOOL)
      return invalid(base + ".achieved", "must be a boolean");
  }
  return std::nullopt;
}

using Kind = model::EventMemberRule::Kind;
const model::EventMemberRule kMembers[] = {
    {"agent_id", Kind::id, nullptr, "call_outcome"},
    {"channel_id", Kind::id},
    {"call_id", Kind::id, nullptr, "call_outcome"},
    {"goal_results", Kind::custom, check_goal_results, "call_outcome",
     "is required for call_outcome events"},
};

}  // namespace

std::span<const model::EventMemberRule> Module::event_members() const { return kMembers; }

}  // namespace gs::agent
