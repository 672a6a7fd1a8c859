// Helpers shared by the store tests: fresh RocksDB directories and cell keys
// laid out as the processor writes them.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include <doctest/doctest.h>

#include "base/keys.h"
#include "kernel/cells.h"
#include "kernel/state.h"
#include "modules/all.h"
#include "modules/conversion/keyspace.h"
#include "modules/growth/keyspace.h"
#include "projection/projection.h"
#include "storage/store.h"

namespace store_test {

// An empty directory under the build's temp area, named `name`.
inline std::string fresh_dir(const std::string& name) {
  auto d = std::filesystem::path(GOALSTREAM_TEST_TMP) / name;
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d.string();
}

// Opens a store, failing the test with the store's message when it cannot.
inline std::unique_ptr<gs::storage::Store> open(const std::string& dir) {
  auto s = gs::modules::open_store(dir);
  std::string why = s.ok() ? std::string() : s.error().message;
  REQUIRE_MESSAGE(s.ok(), why);
  return std::move(s).value();
}

// The agg key of `target`'s cell in 15-minute bucket `bucket`.
inline std::string cell_key(const std::string& tenant, const std::string& target, int64_t bucket) {
  auto k = gs::keys::cell_prefix(tenant, target);
  gs::keys::append_be64(k, bucket);
  return k;
}

}  // namespace store_test
