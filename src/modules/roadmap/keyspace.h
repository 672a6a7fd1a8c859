// The roadmap module's keyspace: its column family `roadmap`,
//   <tenant>\0<goal_id> -> roadmap goal (its stored form, stored_json),
// and its goals' node signals (signals.h) in the kernel's cells: counter
// <goal_id>\x1f<signal>\x1f<node_id>, one cell per millisecond of the
// signal's time (projection/tally.h, exact_time), written by ingest for
// todo events and by the node_updated and generated commands. In the digest
// at rank 80, after the other families', and only once it holds a row: a
// store without roadmap goals keeps the digest it had before this family
// existed.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "modules/roadmap/model.h"
#include "modules/roadmap/signals.h"
#include "storage/store.h"

namespace gs::roadmap {

std::span<const storage::ColumnFamilySpec> column_families();

void put_goal(storage::Batch& b, const RoadmapGoal& g);
// Deletes the goal, every signal of it and its announced state.
void delete_goal(storage::Batch& b, const std::string& tenant, const std::string& id);

// What the changes topic last announced of a goal (announcer.h), in `meta`
// under "rst/<tenant>\0<goal_id>" (not in the digest, as every announced
// state).
void put_announced(storage::Batch& b, const std::string& tenant, const std::string& goal_id,
                   const json& state);
Result<std::optional<json>> announced(const storage::Store& s, const std::string& tenant,
                                      const std::string& goal_id);
// Adds `count` signals `s` at `at_ms` to node `node_id` of goal `goal_id`
// (merged into the cell, as ingest adds a todo event's).
void add_signal(storage::Batch& b, const std::string& tenant, const std::string& goal_id,
                const std::string& node_id, Signal s, int64_t at_ms);

// One goal as stored (no node state); an unreadable row is an Error.
Result<std::optional<RoadmapGoal>> stored_goal(const storage::Store& s, const std::string& tenant,
                                               const std::string& id);
// Every goal of every tenant (the module's load at start), as stored.
Result<std::vector<RoadmapGoal>> all_goals(const storage::Store& s);

// A goal's signals, every one of them (cells with unknown signal names
// are an Error: not a store this version wrote).
Result<std::vector<TimedSignal>> goal_signals(const storage::Store& s, const std::string& tenant,
                                              const std::string& goal_id);
// Every goal of every tenant, composed (the announcer's seed).
Result<std::vector<RoadmapGoal>> all_composed_goals(const storage::Store& s);
// The goal as the API shows it: its roadmap's nodes completed and skipped
// from their signals, and updated_at the latest of its own and of the
// signals that count.
Result<std::optional<RoadmapGoal>> goal(const storage::Store& s, const std::string& tenant,
                                        const std::string& id);
// Every goal of `tenant` so composed, in creation order (created_at, then id).
Result<std::vector<RoadmapGoal>> tenant_goals(const storage::Store& s, const std::string& tenant);

// Composes a stored goal's node state from `signals` (as goal() does).
void compose(RoadmapGoal& g, const std::vector<TimedSignal>& signals);

}  // namespace gs::roadmap
