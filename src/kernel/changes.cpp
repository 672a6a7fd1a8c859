#include "kernel/changes.h"

#include <algorithm>

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

namespace gs::kernel {
namespace {

using json = nlohmann::json;

}  // namespace

struct ChangesPublisher::Impl {
  storage::Store& store;
  ChangesOptions opts;
  Telemetry& telemetry;
  std::unique_ptr<Producer> producer;
  std::string origin;
  uint64_t next_seq = 0;
  // Fault injection for tests of the crash window between producing a change
  // and removing it from the outbox (docs/operations.md).
  bool exit_after_publish = false;

  std::mutex mu;
  std::condition_variable cv;
  Touched touched;  // guarded by mu
  bool stopping = false;
  std::thread thread;
  Fatal fatal;

  std::vector<Announcer*> announcers;  // read-only

  Impl(storage::Store& s, ChangesOptions o, Telemetry& m, std::vector<Announcer*> a)
      : store(s), opts(std::move(o)), telemetry(m), announcers(std::move(a)) {}

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
        telemetry.kafka_errors++;
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

  // Asks every announcer what changed; records and queues the transitions.
  // `all`: everything (a full pass).
  Status evaluate(const Touched& changed, bool all) {
    int64_t now = time::now_ms();
    auto b = store.batch();
    std::vector<Announcement> out;
    for (Announcer* a : announcers)
      if (auto st = a->announce(store, changed, all, now, b, out); !st.ok()) return st;
    if (b.count() == 0) return {};
    std::vector<json> recorded;  // for opts.on_status_changed, once written
    for (auto& a : out) {
      if (opts.publishes && !opts.publishes(a.message.value("tenant_id", ""))) {
        if (a.live && opts.on_status_changed) recorded.push_back(a.message);
        continue;
      }
      uint64_t seq = next_seq++;
      a.message["origin"] = origin;
      a.message["seq"] = seq;
      if (a.live && opts.on_status_changed) recorded.push_back(a.message);
      state::put_outbox(b, seq, a.message);
    }
    state::put_meta(b, "out_next", std::to_string(next_seq));
    telemetry.changes_published += static_cast<uint64_t>(std::count_if(
        out.begin(), out.end(), [&](const auto& a) { return a.message.contains("seq"); }));
    auto st = store.write(b);
    if (st.ok())
      for (const auto& message : recorded) opts.on_status_changed(message);
    return st;
  }

  void run() {
    using Clock = std::chrono::steady_clock;
    auto last_full = Clock::time_point{}, last_eval = Clock::time_point{};
    while (true) {
      Touched changed;
      {
        std::unique_lock lock(mu);
        cv.wait_for(lock, opts.interval, [&] { return stopping || !touched.empty(); });
        if (stopping) return;
        // What more batches touch meanwhile joins this evaluation; a command
        // (a tenant's "<tenant>\0" key: a goal created, changed, deleted) is
        // evaluated at once, so that a new goal's first status is recorded
        // before the events that may move it.
        auto command = [&] {
          return std::any_of(touched.begin(), touched.end(),
                             [](const auto& t) { return t.first.ends_with('\0'); });
        };
        if (!touched.empty() && !command())
          cv.wait_until(lock, last_eval + opts.coalesce, [&] { return stopping || command(); });
        if (stopping) return;
        changed.swap(touched);
      }
      bool full = Clock::now() - last_full >= opts.full_pass;
      if (full) last_full = Clock::now();
      if (full || !changed.empty()) {
        last_eval = Clock::now();
        if (auto st = evaluate(changed, full); !st.ok())
          log::error("changes: " + st.error().message);
      }
      drain();
    }
  }
};

ChangesPublisher::ChangesPublisher(storage::Store& store, ChangesOptions opts, Telemetry& telemetry,
                                   std::vector<Announcer*> announcers)
    : impl_(std::make_unique<Impl>(store, std::move(opts), telemetry, std::move(announcers))) {}

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

void ChangesPublisher::notify(const Touched& touched) {
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
                                      const std::vector<Announcer*>& announcers, int64_t now_ms) {
  auto b = store.batch();
  size_t n = 0;
  for (Announcer* a : announcers) {
    auto seeded = a->seed(store, now_ms, b);
    if (!seeded.ok()) return seeded.error();
    n += *seeded;
  }
  if (auto st = store.write(b); !st.ok()) return st.error();
  return n;
}

}  // namespace gs::kernel
