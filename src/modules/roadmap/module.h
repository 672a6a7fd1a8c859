// The roadmap-goal family (personal goals with a roadmap of nodes). Today it
// holds the members of its events only: `todo_completed` events carry the
// goal_id and node_id of the roadmap node they complete. Its goals,
// commands, routes and WebSocket generation come next.
#pragma once

#include "kernel/module.h"

namespace gs::roadmap {

class Module final : public kernel::Module {
 public:
  std::string_view name() const override { return "roadmap"; }
  std::span<const model::EventMemberRule> event_members() const override;
};

}  // namespace gs::roadmap
