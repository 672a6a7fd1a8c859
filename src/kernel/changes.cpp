#include "kernel/changes.h"

#include <charconv>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>

#include "base/keys.h"
#include "base/log.h"
#include "base/time.h"
#include "kernel/state.h"
#include "kernel/threads.h"
#include "modules/growth/evaluate.h"
#include "modules/growth/keyspace.h"

namespace gs::kernel {
namespace {

using json = nlohmann::json;

// 342, not 342.0, as the API writes numbers.
json whole(double v) {
  if (std::abs(v) < 1e15 && v == std::floor(v)) return static_cast<int64_t>(v);
  return v;
}

}  // namespace

struct ChangesPublisher::Impl {
  storage::Store& store;
  ChangesOptions opts;
  Metrics& metrics;
  std::unique_ptr<Producer> producer;
  std::string origin;
  uint64_t next_seq = 0;
  // Fault injection for tests of the crash window between producing a change
  // and removing it from the outbox (docs/operations.md).
  bool exit_after_publish = false;

  std::mutex mu;
  std::condition_variable cv;
  std::unordered_map<std::string, int64_t> touched;  // guarded by mu
  bool stopping = false;
  std::thread thread;
  Fatal fatal;

  Impl(storage::Store& s, ChangesOptions o, Metrics& m)
      : store(s), opts(std::move(o)), metrics(m) {}

  // Removes outbox entries the changes topic already holds (a crash between
  // producing and removing them).
  Status reconcile() {
    auto outbox = state::outbox(store);
    if (!outbox.ok()) return outbox.error();
    auto& pending = *outbox;
    if (pending.empty()) return {};
    auto consumer =
        make_consumer(opts.kafka, {{"group.id", opts.kafka.topic_prefix + "changes-reconcile"},
                                   {"enable.auto.commit", "false"},
                                   {"auto.offset.reset", "earliest"}});
    if (!consumer.ok()) return consumer.error();
    rd_kafka_t* rk = consumer->get();
    auto parts = partition_count(rk, opts.kafka.changes());
    if (!parts.ok()) return parts.error();
    std::set<uint64_t> published;
    PartitionList l = new_partition_list(*parts);
    std::map<int32_t, int64_t> ends;
    for (int p = 0; p < *parts; ++p) {
      auto wm = query_watermarks(rk, opts.kafka.changes(), p);
      if (!wm.ok()) return wm.error();
      if (wm->second <= wm->first) continue;
      // Entries in the outbox were produced, if at all, after everything else
      // this store published: the last messages of each partition hold them.
      int64_t from =
          std::max<int64_t>(wm->first, wm->second - static_cast<int64_t>(pending.size()) - 64);
      rd_kafka_topic_partition_list_add(l.get(), opts.kafka.changes().c_str(), p)->offset = from;
      ends[p] = wm->second;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_assign(rk, l.get());
    l.reset();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!ends.empty() && std::chrono::steady_clock::now() < deadline) {
      KafkaMessage m(rd_kafka_consumer_poll(rk, 200));
      if (!m) continue;
      if (!m->err) {
        auto j = json::parse(std::string_view(static_cast<const char*>(m->payload), m->len),
                             nullptr, false);
        if (j.is_object() && j.value("origin", "") == origin && j.contains("seq") &&
            j["seq"].is_number_unsigned())
          published.insert(j["seq"].get<uint64_t>());
        if (m->offset + 1 >= ends[m->partition]) ends.erase(m->partition);
      }
    }
    consumer->close();  // destroyed at return
    if (!ends.empty())
      return Error{ErrorCode::unavailable, "",
                   "could not read back the tail of " + opts.kafka.changes()};
    auto b = store.batch();
    size_t dropped = 0;
    for (auto& [seq, change] : pending)
      if (published.count(seq)) state::delete_outbox(b, seq), ++dropped;
    if (dropped)
      log::info("changes: " + std::to_string(dropped) +
                " change(s) were already published before a restart");
    return store.write(b);
  }

  // Produces what the outbox holds, in order, removing each once acknowledged.
  void drain() {
    auto outbox = state::outbox(store);
    if (!outbox.ok()) {
      log::error("changes: " + outbox.error().message);
      return;
    }
    for (auto& [seq, change] : *outbox) {
      auto key = change.value("tenant_id", "") + "/" + change.value("goal_id", "");
      auto r = producer->produce_sync(opts.kafka.changes(), key, change.dump());
      if (!r.ok()) {
        metrics.kafka_errors++;
        log::warn("changes: cannot publish, will retry: " + r.error().message);
        return;
      }
      if (exit_after_publish) {
        log::warn(
            "changes: GOALSTREAM_FAULT=exit-after-publish: exiting before the outbox entry is "
            "removed");
        std::_Exit(137);
      }
      auto b = store.batch();
      state::delete_outbox(b, seq);
      if (auto st = store.write(b); !st.ok()) {
        log::error("changes: " + st.error().message);
        return;
      }
    }
  }

  json change(const char* type, const model::GrowthGoal& g, const std::string& before,
              const std::string& after, const growth::GoalEvaluation& e, int64_t event_time,
              const char* cause, int64_t now, uint64_t seq) {
    return {{"type", type},
            {"cause", cause},
            {"tenant_id", g.tenant_id},
            {"goal_id", g.id},
            {"metric", g.metric},
            {"before", before},
            {"after", after},
            {"current", whole(e.current)},
            {"target", whole(g.target)},
            {"event_time", event_time > 0 ? json(time::format_rfc3339(event_time)) : json(nullptr)},
            {"detected_at", time::format_rfc3339(now)},
            {"origin", origin},
            {"seq", seq}};
  }

  // Evaluates goals; records and queues their transitions. `all`: every goal.
  Status evaluate(const std::unordered_map<std::string, int64_t>& changed, bool all) {
    std::vector<model::GrowthGoal> goals;
    if (all) {
      auto read = growth::all_goals(store);
      if (!read.ok()) return read.error();
      goals = std::move(read).value();
    } else {
      std::set<std::string> tenants;
      for (auto& [k, ts] : changed) tenants.insert(k.substr(0, k.find('\0')));
      for (auto& t : tenants) {
        auto read = growth::goals(store, t);
        if (!read.ok()) return read.error();
        for (auto& g : *read) goals.push_back(std::move(g));
      }
    }
    int64_t now = time::now_ms();
    auto b = store.batch();
    size_t transitions = 0;
    std::vector<json> recorded;  // for opts.on_status_changed, once written
    for (const auto& g : goals) {
      int64_t event_time = 0;
      bool by_command = changed.count(g.tenant_id + '\0') > 0;
      bool relevant = all || by_command;
      auto targets = growth::metric_targets(store, g.tenant_id, g.metric);
      if (!targets.ok()) return targets.error();
      for (const auto& target : *targets) {
        auto it = changed.find(keys::join(g.tenant_id, target));
        if (it == changed.end()) continue;
        relevant = true;
        event_time = std::max(event_time, it->second);
      }
      if (!relevant) continue;
      auto evaluated = growth::evaluate(store, g, now, opts.thresholds);
      if (!evaluated.ok()) return evaluated.error();
      const auto& e = *evaluated;
      auto read = growth::status(store, g.tenant_id, g.id);
      if (!read.ok()) return read.error();
      const auto& before = *read;
      if (before == e.status) continue;
      growth::put_status(b, g.tenant_id, g.id, e.status);
      if (!before) continue;  // a new goal: its first status is not a transition
      const char* cause = event_time > 0 ? "events" : by_command ? "command" : "time";
      uint64_t seq = next_seq++;
      auto message =
          change("goal.status_changed", g, *before, e.status, e, event_time, cause, now, seq);
      if (opts.on_status_changed) recorded.push_back(message);
      state::put_outbox(b, seq, message);
      ++transitions;
      if (e.status == "completed") {
        seq = next_seq++;
        state::put_outbox(
            b, seq, change("goal.completed", g, *before, e.status, e, event_time, cause, now, seq));
        ++transitions;
      }
    }
    if (b.count() == 0) return {};
    state::put_meta(b, "out_next", std::to_string(next_seq));
    if (transitions) metrics.changes_published += transitions;
    auto st = store.write(b);
    if (st.ok())
      for (const auto& message : recorded) opts.on_status_changed(message);
    return st;
  }

  void run() {
    auto last_full = std::chrono::steady_clock::time_point{};
    while (true) {
      std::unordered_map<std::string, int64_t> changed;
      {
        std::unique_lock lock(mu);
        cv.wait_for(lock, opts.interval, [&] { return stopping || !touched.empty(); });
        if (stopping) return;
        changed.swap(touched);
      }
      bool full = std::chrono::steady_clock::now() - last_full >= opts.full_pass;
      if (full) last_full = std::chrono::steady_clock::now();
      if (full || !changed.empty()) {
        if (auto st = evaluate(changed, full); !st.ok())
          log::error("changes: " + st.error().message);
      }
      drain();
    }
  }
};

ChangesPublisher::ChangesPublisher(storage::Store& store, ChangesOptions opts, Metrics& metrics)
    : impl_(std::make_unique<Impl>(store, std::move(opts), metrics)) {}

ChangesPublisher::~ChangesPublisher() { stop(); }

Status ChangesPublisher::start() {
  auto& I = *impl_;
  // A change not acknowledged within 10 s stays in the outbox and is
  // retried on the next round (as before the delivery report was awaited).
  auto producer = Producer::create(I.opts.kafka, {.message_timeout_ms = 10000});
  if (!producer.ok()) return producer.error();
  I.producer = std::move(producer).value();
  I.origin = I.store.instance_id();
  const char* fault = std::getenv("GOALSTREAM_FAULT");
  I.exit_after_publish = fault && std::string_view(fault) == "exit-after-publish";
  auto out_next_row = state::meta(I.store, "out_next");
  if (!out_next_row.ok()) return out_next_row.error();
  auto out_next = out_next_row->value_or("0");
  auto [end, ec] = std::from_chars(out_next.data(), out_next.data() + out_next.size(), I.next_seq);
  if (ec != std::errc() || end != out_next.data() + out_next.size())
    return Error{ErrorCode::internal, "data-dir",
                 "malformed outbox position '" + out_next + "' (rebuild into a new --data-dir)"};
  auto outbox = state::outbox(I.store);
  if (!outbox.ok()) return outbox.error();
  for (auto& [seq, change] : *outbox) I.next_seq = std::max(I.next_seq, seq + 1);
  if (auto st = I.reconcile(); !st.ok()) return st;
  I.thread = spawn("gs-changes", I.fatal, [&I] { I.run(); });
  return {};
}

void ChangesPublisher::stop() {
  auto& I = *impl_;
  {
    std::lock_guard lock(I.mu);
    if (I.stopping) return;
    I.stopping = true;
  }
  I.cv.notify_all();
  if (I.thread.joinable()) I.thread.join();
  if (I.producer) I.producer->flush(5000);
}

std::optional<Error> ChangesPublisher::failure() const { return impl_->fatal.error(); }

void ChangesPublisher::notify(const std::unordered_map<std::string, int64_t>& touched) {
  auto& I = *impl_;
  {
    std::lock_guard lock(I.mu);
    for (auto& [k, ts] : touched) {
      auto& t = I.touched[k];
      t = std::max(t, ts);
    }
  }
  I.cv.notify_all();
}

Result<size_t> ChangesPublisher::seed(storage::Store& store,
                                      const projection::PacingThresholds& thresholds,
                                      int64_t now_ms) {
  auto b = store.batch();
  size_t n = 0;
  auto goals = growth::all_goals(store);
  if (!goals.ok()) return goals.error();
  for (auto& g : *goals) {
    auto e = growth::evaluate(store, g, now_ms, thresholds);
    if (!e.ok()) return e.error();
    growth::put_status(b, g.tenant_id, g.id, e->status);
    ++n;
  }
  if (auto st = store.write(b); !st.ok()) return st.error();
  return n;
}

}  // namespace gs::kernel
