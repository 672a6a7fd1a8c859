#include "modules/roadmap/module.h"

namespace gs::roadmap {

namespace {
using Kind = model::EventMemberRule::Kind;
const model::EventMemberRule kMembers[] = {
    {"goal_id", Kind::id, nullptr, "todo_completed"},
    {"node_id", Kind::id, nullptr, "todo_completed"},
};
}  // namespace

std::span<const model::EventMemberRule> Module::event_members() const { return kMembers; }

}  // namespace gs::roadmap
