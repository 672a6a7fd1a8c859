// The hub of live change feeds (GET /api/ws/changes, docs/api.md#live-changes):
// which subscribers (WebSocket sessions) follow which tenant, and the frames
// they get. In the shape of Beast chat-multi's shared_state: sessions join,
// the hub holds weak references to them (a session that ended is dropped at
// the next publish), publish() hands a frame to every live subscriber of a
// tenant.
//
// Two feeds:
// - progress: notify() takes what each durable batch changed (the writer's
//   `touched`: `tenant\0counter` and, for a tenant that had a command,
//   `tenant\0`). It only queues: the writer never waits for a reader. The
//   hub's thread ("gs-hub") merges what arrived per tenant, and at most
//   every `interval` asks `progress` for the frames of each tenant that has
//   subscribers (tenants without subscribers cost no store read);
// - transitions: status_changed() takes a message the changes publisher
//   records for the changes topic and sends it at once as a
//   {"type": "status_changed", ...} frame.
// The two feeds are not ordered with respect to each other.
//
// Threads: every member function is thread-safe. `progress` runs on the
// hub's thread only; an exception out of it is the hub's fatal error
// (failure()), as for every thread started with spawn().
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.h"
#include "kernel/threads.h"

namespace gs::http {

// What the hub sends frames to. send() must not block: it queues the frame
// (a WebSocket session writes it on its own strand). Thread-safe.
class Subscriber {
 public:
  virtual ~Subscriber() = default;
  virtual void send(std::shared_ptr<const std::string> frame) = 0;
};

// What batches changed for one tenant since the hub last looked.
struct TenantChanges {
  std::set<std::string>
      counters;          // counter ids: conversion goal ids, id + '\x1f' + series, tallies
  bool command = false;  // the tenant had a command (any of its goals may have changed)
};

// The frames (JSON text) of `tenant`'s goals that `changes` moved; called on
// the hub's thread, may read the store.
using ProgressFn =
    std::function<std::vector<std::string>(const std::string& tenant, const TenantChanges&)>;

class Hub {
 public:
  explicit Hub(std::chrono::milliseconds interval = std::chrono::milliseconds(100));
  ~Hub();  // stop()
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // `s` follows `tenant` until it ends (the hub keeps only a weak reference).
  void join(const std::string& tenant, std::weak_ptr<Subscriber> s);
  // Live subscribers of `tenant`.
  size_t subscribers(const std::string& tenant) const;
  // Sends `frame` to every live subscriber of `tenant`; returns how many.
  size_t publish(const std::string& tenant, std::string frame);

  // What a durable batch changed (ProcessorOptions::on_applied). Only
  // queues: O(touched.size()), no store read, never waits for the hub's
  // thread. Does nothing once stopped.
  void notify(const std::unordered_map<std::string, int64_t>& touched);
  // A status transition as the changes topic gets it ("tenant_id", ...):
  // sent to the tenant's subscribers with "type" set to "status_changed".
  void status_changed(const nlohmann::json& change);

  // Starts the hub's thread, which turns what notify() queued into
  // `progress` frames. Call once.
  void start(ProgressFn progress);
  // Stops the thread (what is queued is dropped); idempotent.
  void stop();
  // Set when `progress` threw; `serve` exits 1 on it.
  std::optional<Error> failure() const { return fatal_.error(); }

 private:
  void run();

  std::chrono::milliseconds interval_;

  mutable std::mutex subscribers_mu_;
  // guarded by subscribers_mu_
  std::unordered_map<std::string, std::vector<std::weak_ptr<Subscriber>>> subscribers_;

  std::mutex pending_mu_;
  std::condition_variable cv_;
  std::unordered_map<std::string, TenantChanges> pending_;  // guarded by pending_mu_
  bool stopping_ = false;                                   // guarded by pending_mu_

  ProgressFn progress_;  // set before the thread starts, then only read by it
  std::thread thread_;
  kernel::Fatal fatal_;
};

}  // namespace gs::http
