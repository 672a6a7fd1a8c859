// The module list: the one place that names the goal families. Adding a
// family is a folder under src/modules/ and one line in all.cpp
// (docs/architecture.md, "Adding a goal family").
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "http/route.h"
#include "kernel/module.h"
#include "modules/growth/pacing.h"
#include "modules/roadmap/generator.h"
#include "storage/store.h"

namespace gs::modules {

// Every goal family, in list order (a module may rely on those before it).
class ModuleList {
 public:
  // `thresholds`: the growth goals' pacing (serve's --at-risk-from ...).
  explicit ModuleList(growth::PacingThresholds thresholds = {});
  ~ModuleList();
  std::vector<kernel::Module*> all() const;
  // What they announce on the changes topic (Module::announcer()).
  std::vector<kernel::Announcer*> announcers() const;

 private:
  std::vector<std::unique_ptr<kernel::Module>> modules_;
};

// The API of every family with routes, in list order; `thresholds` as for
// ModuleList; `generator` makes roadmaps (null: the built-in template).
std::vector<api::RouteFamily> route_families(
    growth::PacingThresholds thresholds = {},
    std::shared_ptr<roadmap::Generator> generator = nullptr);

// The event member rules of every module (kernel::event_rules).
std::vector<model::EventMemberRule> event_rules();

// The column families of the kernel and of every module, as the store opens them.
std::vector<storage::ColumnFamilySpec> column_families();

// Opens the store in `dir` with every declared column family (storage::Store::open).
Result<std::unique_ptr<storage::Store>> open_store(const std::string& dir, bool read_only = false);

}  // namespace gs::modules
