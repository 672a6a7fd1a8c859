#include "modules/all.h"

#include "kernel/cells.h"
#include "kernel/state.h"
#include "modules/agent/module.h"
#include "modules/agent/routes.h"
#include "modules/conversion/module.h"
#include "modules/conversion/routes.h"
#include "modules/growth/module.h"
#include "modules/growth/routes.h"
#include "modules/roadmap/module.h"
#include "modules/roadmap/routes.h"

namespace gs::modules {

ModuleList::ModuleList(growth::PacingThresholds thresholds) {
  modules_.push_back(std::make_unique<conversion::Module>());
  modules_.push_back(std::make_unique<growth::Module>(thresholds));
  modules_.push_back(std::make_unique<agent::Module>(thresholds));
  modules_.push_back(std::make_unique<roadmap::Module>());
}

ModuleList::~ModuleList() = default;

std::vector<kernel::Module*> ModuleList::all() const {
  std::vector<kernel::Module*> out;
  for (const auto& m : modules_) out.push_back(m.get());
  return out;
}

std::vector<api::RouteFamily> route_families(growth::PacingThresholds thresholds,
                                             std::shared_ptr<roadmap::Generator> generator) {
  return {conversion::route_family(), growth::route_family(thresholds),
          agent::route_family(thresholds), roadmap::route_family(std::move(generator))};
}

std::vector<model::EventMemberRule> event_rules() {
  ModuleList list;
  return kernel::event_rules(list.all());  // the rules point into static tables
}

std::vector<kernel::Announcer*> ModuleList::announcers() const {
  std::vector<kernel::Announcer*> out;
  for (const auto& m : modules_)
    if (auto* a = m->announcer()) out.push_back(a);
  return out;
}

std::vector<storage::ColumnFamilySpec> column_families() {
  auto kernel = state::column_families();
  std::vector<storage::ColumnFamilySpec> out(kernel.begin(), kernel.end());
  ModuleList list;
  for (kernel::Module* m : list.all()) {
    auto own = m->column_families();
    out.insert(out.end(), own.begin(), own.end());
  }
  return out;
}

Result<std::unique_ptr<storage::Store>> open_store(const std::string& dir, bool read_only) {
  auto specs = column_families();
  return storage::Store::open(dir, specs, read_only);
}

}  // namespace gs::modules
