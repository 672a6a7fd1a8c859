// The kernel's side of a goal family (a module, src/modules/<family>/):
// what the processor asks of it. A module declares its column families and
// the command types it applies, loads its in-memory state at start, and
// applies its commands on the processor thread through a CommandContext.
// Calls are per command or per start, never per event: the ingest hot path
// makes no virtual call.
//
// src/modules/all.cpp is the one list of modules; the kernel never names one.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "kernel/announcer.h"
#include "model/command.h"
#include "model/event.h"
#include "projection/delta.h"
#include "projection/projection.h"
#include "projection/tally.h"
#include "storage/store.h"

namespace gs::kernel {

// What the processor thread offers a module while it applies a command or
// loads its state. Processor thread only; valid during the call.
class CommandContext {
 public:
  virtual ~CommandContext() = default;
  // The batch being built; the command's offset on the commands topic
  // (0 while loading).
  virtual storage::Batch& batch() = 0;
  virtual int64_t offset() const = 0;
  // The counters ingest matches events against (a rule's base counter, a
  // conversion goal, and the series kept over it).
  virtual projection::CounterIndex& counters() = 0;
  // The entries ingest tallies (projection/tally.h: the module's TallyRules).
  virtual projection::TallyIndex& tallies() = 0;
  // Starts a backfill job that counts `counter` over the events processed
  // so far (none when there are none); cancels one.
  virtual void start_job(const std::string& tenant, const std::string& counter) = 0;
  virtual void cancel_job(const std::string& tenant, const std::string& counter) = 0;
  // Tells every module that the counters of rule `rule_id` restart (it was
  // redefined or deleted): series kept over it must too.
  virtual void counters_reset(const std::string& tenant, const std::string& rule_id) = 0;
};

// Counts one counter's events during a backfill job (kernel/backfill.h).
// Called per event of the job's scan (not on the ingest path).
class BackfillCounter {
 public:
  virtual ~BackfillCounter() = default;
  // Whether `e` counts for the counter (its first occurrence, that is: the
  // kernel skips recorded duplicates before add()).
  virtual bool matches(const model::Event& e) const = 0;
  virtual void add(const model::Event& e, projection::Delta& delta) const = 0;
};

class Module {
 public:
  virtual ~Module() = default;
  virtual std::string_view name() const = 0;
  // Column families the module owns (the kernel opens them with its own).
  virtual std::span<const storage::ColumnFamilySpec> column_families() const { return {}; }
  // The command types apply() takes ("conversion_goal.defined", ...).
  virtual std::span<const std::string_view> command_types() const { return {}; }
  // Applies a command of one of its types; an Error (naming the field) when
  // it is invalid, and then nothing of it is applied.
  virtual Status apply(const model::Command& cmd, CommandContext& ctx) {
    return invalid("type", "unknown command type " + cmd.type);
  }
  // The members its events carry beyond the common envelope (checked by
  // the kernel's EventParser, in module list order).
  virtual std::span<const model::EventMemberRule> event_members() const { return {}; }
  // What its events report for named entries (projection/tally.h); ingest
  // reads the rules as data, per event of their types.
  virtual std::span<const projection::TallyRule> tally_rules() const { return {}; }
  // See CommandContext::counters_reset.
  virtual void on_counters_reset(const std::string& tenant, const std::string& rule_id,
                                 CommandContext& ctx) {}
  // The counter of a backfill job of `tenant`, when it is this module's
  // (null otherwise, and when it is gone: its job is cancelled too).
  virtual Result<std::unique_ptr<BackfillCounter>> backfill(const storage::Store& store,
                                                            const std::string& tenant,
                                                            const std::string& counter) const {
    return std::unique_ptr<BackfillCounter>();
  }
  // What it announces on the changes topic; null: nothing.
  virtual Announcer* announcer() { return nullptr; }
  // Loads the module's in-memory state from the store at start, in module
  // list order (a module may rely on the counters of those before it).
  virtual Status load(const storage::Store& store, CommandContext& ctx) { return {}; }
};

// The event member rules of `modules`, in list order.
inline std::vector<model::EventMemberRule> event_rules(std::span<Module* const> modules) {
  std::vector<model::EventMemberRule> out;
  for (const Module* m : modules) {
    auto own = m->event_members();
    out.insert(out.end(), own.begin(), own.end());
  }
  return out;
}

}  // namespace gs::kernel
