#include "fail.h"

#include <cstdio>
#include <cstdlib>
#include <thread>

namespace gs::app {

void exit_within(std::chrono::seconds limit, int code, std::string what) {
  std::thread([limit, code, what = std::move(what)] {
    std::this_thread::sleep_for(limit);
    std::fprintf(stderr, "goalstream: shutdown: %s did not finish within %llds; exiting\n",
                 what.c_str(), static_cast<long long>(limit.count()));
    std::fflush(stderr);
    std::_Exit(code);
  }).detach();
}

int fail(const std::string& what) {
  std::fprintf(stderr, "goalstream: %s\n", what.c_str());
  std::fflush(stderr);
  exit_within(std::chrono::seconds(15), 1, "cleaning up after the error");
  return 1;
}

int fail(const Error& e) { return fail(e.field.empty() ? e.message : e.field + ": " + e.message); }

}  // namespace gs::app
