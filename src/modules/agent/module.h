// The agent-goal family (call outcomes of AI call agents). Today it holds
// the members of its events only: `call_outcome` events are validated here
// (agent_id, channel_id, call_id, goal_results) and deadlettered with the
// reason when they are malformed. Its goals, commands and routes come next.
#pragma once

#include "kernel/module.h"

namespace gs::agent {

class Module final : public kernel::Module {
 public:
  std::string_view name() const override { return "agent"; }
  std::span<const model::EventMemberRule> event_members() const override;
};

}  // namespace gs::agent
