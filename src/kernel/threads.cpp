#include "kernel/threads.h"

#include <pthread.h>

#include <exception>
#include <string>

#include "base/log.h"

namespace gs::kernel {

void Fatal::set(Error e) {
  {
    std::lock_guard lock(mu_);
    if (error_) {
      log::error("after the first fatal error, another: " +
                 (e.field.empty() ? e.message : e.field + ": " + e.message));
      return;
    }
    error_ = std::move(e);
    failed_.store(true, std::memory_order_release);
  }
  for (auto& wake : wakers_) wake();
}

std::optional<Error> Fatal::error() const {
  std::lock_guard lock(mu_);
  return error_;
}

void Fatal::on_set(std::function<void()> waker) { wakers_.push_back(std::move(waker)); }

std::thread spawn(const char* name, Fatal& fatal, std::function<void()> fn) {
  return std::thread([name, &fatal, fn = std::move(fn)] {
    pthread_setname_np(pthread_self(), name);
    std::string what;
    try {
      fn();
      return;
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
      what = "an exception that is not a std::exception";
    }
    log::error(std::string("thread ") + name + " failed: " + what);
    fatal.set(Error{ErrorCode::internal, "", std::string("thread ") + name + " failed: " + what});
  });
}

}  // namespace gs::kernel
