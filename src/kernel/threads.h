// Fatal errors of background threads, and the one way to start such a thread.
//
// A thread that fails (a store write error, a malformed stored record, an
// exception) records a Fatal error; `serve` polls it and exits 1 with the
// error's line. No exception escapes a thread started with spawn().
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "base/result.h"

namespace gs::kernel {

// The first fatal error of a component's threads. Thread-safe.
class Fatal {
 public:
  // Records `e` if it is the first error (a later one is only logged), then
  // runs every waker so that threads waiting on their own condition
  // variables see failed().
  void set(Error e);
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  std::optional<Error> error() const;
  // Adds a function that wakes a waiter whose predicate reads failed(); it
  // must lock the waiter's mutex before notifying (so no wake-up is lost).
  // Call before the threads start.
  void on_set(std::function<void()> waker);

 private:
  mutable std::mutex mu_;
  std::optional<Error> error_;  // guarded by mu_
  std::atomic<bool> failed_{false};
  std::vector<std::function<void()>> wakers_;  // written before threads start
};

// Starts `fn` on a thread named `name` (shown by top -H, perf, gdb). An
// exception escaping `fn` becomes fatal.set(internal error naming the
// thread) instead of std::terminate.
std::thread spawn(const char* name, Fatal& fatal, std::function<void()> fn);

}  // namespace gs::kernel
