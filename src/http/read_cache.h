// Answers of GET routes kept for reuse while what they read is unchanged:
// the tenant's version (kernel/versions.h) is the one the answer was
// computed at and, for an answer that depends on the time (a growth goal's
// pacing), the second is the same. A dashboard polling its goals then costs
// a lookup, not a read of the store, and no answer is older than the last
// durable batch of its tenant. Bounded in bytes; the entries put first are
// dropped first. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "http/server.h"

namespace gs::api {

class ReadCache {
 public:
  explicit ReadCache(size_t max_bytes) : max_bytes_(max_bytes) {}
  // The answer kept under `key` when it was computed at `version`.
  std::optional<Response> find(const std::string& key, uint64_t version) const;
  // The answer kept under `key` at `version`, else compute()'s, which is
  // kept when it may be reused (200, without Cache-Control: no-store).
  // Requests for the same key and version while one computes wait for its
  // answer rather than compute it again (when many pollers ask at once, as
  // at the turn of a second, one computes); if it may not be reused, each
  // computes its own.
  // `reused` (optional) tells whether the answer was one computed before.
  Response share(const std::string& key, uint64_t version, const std::function<Response()>& compute,
                 bool* reused = nullptr);
  size_t bytes() const;

 private:
  struct Entry {
    uint64_t version = 0;
    std::shared_ptr<const Response> res;
    size_t bytes = 0;
  };
  // One computation in progress, and the requests waiting for it.
  struct Flight {
    uint64_t version = 0;
    bool done = false;
    std::shared_ptr<const Response> res;  // null when it may not be reused
  };
  static bool reusable(const Response& res);
  void put_locked(const std::string& key, uint64_t version, std::shared_ptr<const Response> res);
  // The answer kept for `key` at `version`, or null.
  std::shared_ptr<const Response> kept_locked(const std::string& key, uint64_t version) const;

  const size_t max_bytes_;
  mutable std::mutex mu_;           // guards entries_, order_, bytes_, flights_ and every Flight
  std::condition_variable landed_;  // a Flight is done
  std::unordered_map<std::string, Entry> entries_;
  std::deque<std::string> order_;  // keys in the order they were first put
  size_t bytes_ = 0;
  std::unordered_map<std::string, std::shared_ptr<Flight>> flights_;
};

}  // namespace gs::api
