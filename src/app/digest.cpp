// goalstream digest: the store opened read-only (serve may keep running on it).
#include <cstdio>
#include <filesystem>

#include "commands.h"
#include "fail.h"
#include "modules/all.h"

namespace gs::app {

int run_digest(const std::string& data_dir) {
  if (!std::filesystem::exists(data_dir))
    return fail("--data-dir: " + data_dir + " does not exist");
  auto store = modules::open_store(data_dir, true);
  if (!store.ok()) return fail(store.error());
  std::printf("%s\n", (*store)->digest().c_str());
  return 0;
}

}  // namespace gs::app
