// The module list: the one place that names the goal families. Adding a
// family is a folder under src/modules/ and one line in all.cpp
// (docs/architecture.md, "Adding a goal family").
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "storage/store.h"
#include "stream/module.h"

namespace gs::modules {

// Every goal family, in list order (a module may rely on those before it).
class ModuleList {
 public:
  ModuleList();
  ~ModuleList();
  std::vector<stream::Module*> all() const;

 private:
  std::vector<std::unique_ptr<stream::Module>> modules_;
};

// The event member rules of every module (stream::event_rules).
std::vector<model::EventMemberRule> event_rules();

// The column families of the kernel and of every module, as the store opens them.
std::vector<storage::ColumnFamilySpec> column_families();

// Opens the store in `dir` with every declared column family (storage::Store::open).
Result<std::unique_ptr<storage::Store>> open_store(const std::string& dir, bool read_only = false);

}  // namespace gs::modules
