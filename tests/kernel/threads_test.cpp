// Fatal errors of background threads (src/stream/threads.h): what `serve`
// sees when a thread fails.
#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>

#include "kernel/threads.h"

using gs::Error;
using gs::ErrorCode;
using gs::kernel::Fatal;
using gs::kernel::spawn;

TEST_CASE("an exception escaping a spawned thread is a fatal error naming the thread") {
  Fatal fatal;
  auto t = spawn("gs-test", fatal, [] { throw std::out_of_range("stoi"); });
  t.join();  // the process is still here: std::terminate was not called
  REQUIRE(fatal.failed());
  auto e = fatal.error();
  REQUIRE(e.has_value());
  CHECK(e->code == ErrorCode::internal);
  CHECK(e->message == "thread gs-test failed: stoi");

  Fatal other;
  auto u = spawn("gs-test2", other, [] { throw 42; });
  u.join();
  REQUIRE(other.error().has_value());
  CHECK(other.error()->message ==
        "thread gs-test2 failed: an exception that is not a std::exception");
}

TEST_CASE("a thread that returns normally leaves no fatal error") {
  Fatal fatal;
  int ran = 0;
  spawn("gs-test", fatal, [&] { ran = 1; }).join();
  CHECK(ran == 1);
  CHECK_FALSE(fatal.failed());
  CHECK_FALSE(fatal.error().has_value());
}

TEST_CASE("the first fatal error wins, and setting one wakes every registered waiter") {
  Fatal fatal;
  std::mutex mu;
  std::condition_variable cv;
  int woken = 0;
  fatal.on_set([&] {
    { std::lock_guard lock(mu); }
    cv.notify_all();
  });
  fatal.on_set([&] { ++woken; });
  auto waiter = spawn("gs-waiter", fatal, [&] {
    std::unique_lock lock(mu);
    // Without the waker this wait would last the full minute.
    cv.wait_for(lock, std::chrono::minutes(1), [&] { return fatal.failed(); });
  });
  auto t0 = std::chrono::steady_clock::now();
  fatal.set(Error{ErrorCode::internal, "data-dir", "no space left on device in /d"});
  fatal.set(Error{ErrorCode::internal, "", "a later error"});
  waiter.join();
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(30));
  CHECK(woken == 1);  // the later error wakes nobody again
  REQUIRE(fatal.error().has_value());
  CHECK(fatal.error()->field == "data-dir");
  CHECK(fatal.error()->message == "no space left on device in /d");
}
