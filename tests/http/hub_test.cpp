// The hub without Kafka or a server: who gets a tenant's frames, that
// subscribers that ended are dropped, that notify() only queues and the hub's
// thread merges what arrived per tenant, asks only for tenants with
// subscribers, and that a throwing progress function is a fatal error.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "http/hub.h"

using gs::http::Hub;
using gs::http::Subscriber;
using gs::http::TenantChanges;

namespace {

struct Recorder : Subscriber {
  std::mutex mu;
  std::vector<std::string> frames;
  void send(std::shared_ptr<const std::string> frame) override {
    std::lock_guard lock(mu);
    frames.push_back(*frame);
  }
  std::vector<std::string> got() {
    std::lock_guard lock(mu);
    return frames;
  }
};

template <class F>
bool eventually(F pred, int timeout_ms = 5000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

std::string key(const std::string& tenant, const std::string& counter) {
  return tenant + std::string(1, '\0') + counter;
}

// What the progress function was asked, per call.
struct Asked {
  std::mutex mu;
  std::vector<std::pair<std::string, TenantChanges>> calls;
  gs::http::ProgressFn fn() {
    return [this](const std::string& tenant, const TenantChanges& c) {
      std::lock_guard lock(mu);
      calls.push_back({tenant, c});
      std::vector<std::string> frames;
      for (auto& counter : c.counters) frames.push_back(tenant + ":" + counter);
      if (c.command) frames.push_back(tenant + ":command");
      return frames;
    };
  }
  size_t size() {
    std::lock_guard lock(mu);
    return calls.size();
  }
};

}  // namespace

TEST_CASE("publish reaches the live subscribers of that tenant only; ended ones are dropped") {
  Hub hub;
  auto a1 = std::make_shared<Recorder>(), a2 = std::make_shared<Recorder>();
  auto b = std::make_shared<Recorder>();
  hub.join("acme", a1);
  hub.join("acme", a2);
  hub.join("beta", b);
  CHECK(hub.subscribers("acme") == 2);
  CHECK(hub.publish("acme", "one") == 2);
  CHECK(hub.publish("nobody", "lost") == 0);
  CHECK(a1->got() == std::vector<std::string>{"one"});
  CHECK(a2->got() == std::vector<std::string>{"one"});
  CHECK(b->got().empty());

  a2.reset();  // the session ended
  CHECK(hub.subscribers("acme") == 1);
  CHECK(hub.publish("acme", "two") == 1);
  CHECK(a1->got() == std::vector<std::string>{"one", "two"});
}

TEST_CASE("status_changed sends the changes-topic message to its tenant as type status_changed") {
  Hub hub;
  auto a = std::make_shared<Recorder>(), b = std::make_shared<Recorder>();
  hub.join("acme", a);
  hub.join("beta", b);
  hub.status_changed({{"type", "goal.status_changed"},
                      {"tenant_id", "acme"},
                      {"goal_id", "goal_1"},
                      {"before", "behind"},
                      {"after", "on_track"}});
  REQUIRE(a->got().size() == 1);
  auto frame = nlohmann::json::parse(a->got()[0]);
  CHECK(frame["type"] == "status_changed");
  CHECK(frame["goal_id"] == "goal_1");
  CHECK(frame["before"] == "behind");
  CHECK(frame["after"] == "on_track");
  CHECK(frame["tenant_id"] == "acme");
  CHECK(b->got().empty());
}

TEST_CASE("notify only queues; the thread merges per tenant and asks only for followed tenants") {
  Hub hub(std::chrono::milliseconds(10));
  Asked asked;
  auto a = std::make_shared<Recorder>();
  hub.join("acme", a);
  // Before start: queued, merged per tenant (latest event times are not needed).
  hub.notify({{key("acme", "cg_1"), 10}, {key("beta", "cg_9"), 10}});
  hub.notify({{key("acme", "cg_2"), 20}, {key("acme", ""), 0}, {key("acme", "cg_1"), 30}});
  hub.notify({{"no separator", 1}});  // ignored
  CHECK(asked.size() == 0);
  hub.start(asked.fn());
  REQUIRE(eventually([&] { return a->got().size() == 3; }));
  {
    std::lock_guard lock(asked.mu);
    REQUIRE(asked.calls.size() == 1);  // beta has no subscriber: not asked
    CHECK(asked.calls[0].first == "acme");
    CHECK(asked.calls[0].second.counters == std::set<std::string>{"cg_1", "cg_2"});
    CHECK(asked.calls[0].second.command);
  }
  CHECK(a->got() == std::vector<std::string>{"acme:cg_1", "acme:cg_2", "acme:command"});

  // Later changes come in a later round.
  hub.notify({{key("acme",
                   "cg_3\x1f"
                   "unique"),
               5}});
  REQUIRE(eventually([&] { return a->got().size() == 4; }));
  CHECK(a->got()[3] ==
        "acme:cg_3\x1f"
        "unique");
  hub.stop();
  hub.notify({{key("acme", "cg_4"), 5}});  // after stop: nothing, no crash
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(a->got().size() == 4);
  CHECK_FALSE(hub.failure());
}

TEST_CASE("a progress function that throws is the hub's fatal error, not a terminate") {
  Hub hub(std::chrono::milliseconds(10));
  auto a = std::make_shared<Recorder>();
  hub.join("acme", a);
  hub.start([](const std::string&, const TenantChanges&) -> std::vector<std::string> {
    throw std::runtime_error("store read failed");
  });
  hub.notify({{key("acme", "cg_1"), 1}});
  REQUIRE(eventually([&] { return hub.failure().has_value(); }));
  CHECK(hub.failure()->message.find("gs-hub") != std::string::npos);
  CHECK(hub.failure()->message.find("store read failed") != std::string::npos);
  hub.stop();
}
