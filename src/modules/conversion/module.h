// The conversion-goal family (docs/api.md: /api/conversion-goals) as a
// module of the processor: its column family and its two commands. A goal
// is a counter: ingest counts the events it matches (stream/cells.h).
#pragma once

#include "kernel/module.h"

namespace gs::conversion {

class Module final : public kernel::Module {
 public:
  std::string_view name() const override { return "conversion"; }
  std::span<const storage::ColumnFamilySpec> column_families() const override;
  std::span<const std::string_view> command_types() const override;
  Status apply(const model::Command& cmd, kernel::CommandContext& ctx) override;
  Status load(const storage::Store& store, kernel::CommandContext& ctx) override;
  // A conversion goal's counter, or one of the series a metric keeps over it.
  Result<std::unique_ptr<kernel::BackfillCounter>> backfill(
      const storage::Store& store, const std::string& tenant,
      const std::string& counter) const override;
};

}  // namespace gs::conversion
