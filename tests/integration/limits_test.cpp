// Numbers at the edges, as a user sees them through Kafka and HTTP: value
// sums beyond 64-bit micro-units and integers beyond
// int64/uint64 in an event's properties (item 5).
#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "harness.h"

using it::json;

namespace {

struct Deployment : it::Deployment {
  Deployment() : it::Deployment("lim") {}
};

// An event written by hand: `properties` is JSON text, so that it can hold
// numbers nlohmann would not write as they are (20-digit integers).
std::string raw_event(const std::string& id, const std::string& day,
                      const std::string& properties) {
  return R"({"event_id":")" + id +
         R"(","tenant_id":"acme","type":"purchase","timestamp":"2025-03-)" + day +
         R"(T12:00:00Z","properties":)" + properties + "}";
}

json wait_count(it::Serve& s, const std::string& key, const std::string& id, int64_t count) {
  json last;
  it::eventually([&] {
    auto r = s.get("/api/conversion-goals/" + id, key);
    last = r.json_body();
    return r.status == 200 && last["count"] == count;
  });
  return last;
}

}  // namespace

TEST_CASE(
    "value sums beyond 64 bits: four purchases of 9e12 read 36000000000000, per day and in total; "
    "a rebuild agrees") {
  Deployment d;
  auto key = it::create_key(d.prefix, "acme");
  std::string id = it::create_conversion_goal(
      d.serve, key, {{"name", "Revenue"}, {"eventType", "purchase"}})["id"];
  std::vector<std::pair<std::string, std::string>> msgs;
  // March 1st: 4 x 9e12 (the per-event limit), once written as an integer.
  for (const char* v : {"9e12", "9000000000000", "9.0e12", "9e12"})
    msgs.push_back({"acme/u", raw_event("a" + std::to_string(msgs.size()), "01",
                                        std::string(R"({"value":)") + v + "}")});
  // March 2nd: two refunds at the limit and one amount above it (clamped to 9e12).
  msgs.push_back({"acme/u", raw_event("r1", "02", R"({"value":-9e12})")});
  msgs.push_back({"acme/u", raw_event("r2", "02", R"({"value":-9000000000000})")});
  msgs.push_back({"acme/u", raw_event("big", "02", R"({"value":1e15})")});
  it::produce(d.events(), msgs);

  auto g = wait_count(d.serve, key, id, 7);
  CHECK(g["count"] == 7);
  // Before 128-bit sums the total wrapped to about -893 488 147 419.
  CHECK(g["value"].get<double>() == 2.7e13);
  REQUIRE(g["series"].size() == 2);
  CHECK(g["series"][0]["date"] == "2025-03-01");
  CHECK(g["series"][0]["value"].get<double>() == 3.6e13);
  CHECK(g["series"][1]["value"].get<double>() == -9e12);
  auto list = d.serve.get("/api/conversion-goals", key).json_body();
  REQUIRE(list.size() == 1);
  CHECK(list[0]["value"].get<double>() == 2.7e13);

  // The March 1st cell is beyond int64 on disk; a rebuild from the topics
  // still stores the same bytes.
  CHECK(d.serve.terminate() == 0);
  auto digests = it::live_and_rebuilt(d.prefix, d.data);
  CHECK(digests.rebuilt == digests.live);
}

TEST_CASE(
    "an event with a 20-digit integer in its properties is counted, not deadlettered; conditions "
    "see the nearest double") {
  Deployment d;
  auto key = it::create_key(d.prefix, "acme");
  std::string all = it::create_conversion_goal(
      d.serve, key, {{"name", "Purchases"}, {"eventType", "purchase"}})["id"];
  std::string big =
      it::create_conversion_goal(d.serve, key,
                                 {{"name", "Big order numbers"},
                                  {"eventType", "purchase"},
                                  {"conditions", {{"order_no", {{"gt", 1e19}}}}}})["id"];
  it::produce(
      d.events(),
      {{"acme/u1", raw_event("o1", "01", R"({"order_no":12345678901234567890123,"value":10})")},
       {"acme/u2", raw_event("o2", "01", R"({"order_no":123,"value":5})")},
       {"acme/u3",
        raw_event("o3", "01",
                  R"({"order_no":-99999999999999999999,"nested":{"id":[18446744073709551616]}})")},
       // A big integer as the value: a double beyond the limit, clamped to 9e12.
       {"acme/u4", raw_event("o4", "01", R"({"value":99999999999999999999})")},
       // Still invalid: no number at all.
       {"acme/u5", raw_event("o5", "01", R"({"value":01})")}});

  auto g = wait_count(d.serve, key, all, 4);
  CHECK(g["count"] == 4);
  CHECK(g["value"].get<double>() == 9000000000015.0);
  CHECK(wait_count(d.serve, key, big, 1)["count"] == 1);
  it::eventually([&] { return d.serve.metric("goalstream_events_in_total") == 5; });
  // The invalid event may be in a later batch than the valid ones (another
  // partition): it counts as deadlettered once its delivery is acknowledged.
  it::eventually([&] { return d.serve.metric("goalstream_events_deadlettered_total") == 1; });
  CHECK(d.serve.metric("goalstream_events_valid_total") == 4);
  CHECK(d.serve.metric("goalstream_events_deadlettered_total") == 1);
  auto dead = it::read_topic(d.prefix + "deadletter", 1);
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].key == "acme/u5");
  CHECK(dead[0].headers["error"] == "not valid JSON: Problem while parsing a number");
  // Nothing else arrives on the deadletter topic.
  CHECK(it::read_topic(d.prefix + "deadletter", 2, 2000).size() == 1);
}
