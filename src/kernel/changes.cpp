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
#include "kernel/kafka_txn.h"
#include "kernel/state.h"
#include "kernel/threads.h"

namespace gs::kernel {
namespace {

using json = nlohmann::json;

// The store's positions: the next events offset per partition and the next
// command, which the statuses recorded after them were evaluated at.
struct Positions {
  std::map<int32_t, int64_t> events;
  int64_t commands = 0;

  json to_json() const {
    json e = json::object();
    for (auto [p, o] : events) e[std::to_string(p)] = o;
    return {{"events", std::move(e)}, {"commands", commands}};
  }
  // Element-wise maximum with `j` (to_json's form; anything else is ignored).
  void raise(const json& j) {
    if (!j.is_object()) return;
    if (auto c = j.find("commands"); c != j.end() && c->is_number_integer())
      commands = std::max(commands, c->get<int64_t>());
    if (auto e = j.find("events"); e != j.end() && e->is_object())
      for (auto& [k, v] : e->items()) {
        int32_t p = 0;
        auto [end, ec] = std::from_chars(k.data(), k.data() + k.size(), p);
        if (ec != std::errc() || end != k.data() + k.size() || !v.is_number_integer()) continue;
        events[p] = std::max(events[p], v.get<int64_t>());
      }
  }
  // Whether `this` (a store's) is at or past `need` everywhere.
  bool reached(const Positions& need) const {
    if (commands < need.commands) return false;
    for (auto [p, o] : need.events) {
      auto it = events.find(p);
      if ((it == events.end() ? 0 : it->second) < o) return false;
    }
    return true;
  }
};

Result<Positions> store_positions(const storage::Store& store) {
  auto ev = state::offsets(store, state::Source::events);
  if (!ev.ok()) return ev.error();
  auto cmd = state::offsets(store, state::Source::commands);
  if (!cmd.ok()) return cmd.error();
  Positions out;
  out.events = std::move(ev).value();
  if (auto it = cmd->find(0); it != cmd->end()) out.commands = it->second;
  return out;
}

// The tenant of an announcer's key in `meta`: "<kind>/<tenant>\0...".
std::optional<std::string_view> tenant_of(std::string_view key) {
  auto slash = key.find('/'), nul = key.find('\0');
  if (slash == std::string_view::npos || nul == std::string_view::npos || nul < slash)
    return std::nullopt;
  return key.substr(slash + 1, nul - slash - 1);
}

// The announced topic's key of the positions of a partition's last owner.
constexpr std::string_view kPositionsKey = "positions";

}  // namespace

struct ChangesPublisher::Impl {
  storage::Store& store;
  ChangesOptions opts;
  Telemetry& telemetry;
  std::unique_ptr<TxnProducer> producer;
  std::string origin;
  uint64_t next_seq = 0;
  // Fault injection for tests of the crash window between producing a change
  // and removing it from the outbox (docs/operations.md).
  bool exit_after_publish = false;

  std::mutex mu;
  std::condition_variable cv;
  Touched touched;  // guarded by mu
  bool stopping = false;
  bool running = false;                          // guarded by mu: the thread takes requests
  std::set<int32_t> to_adopt;                    // guarded by mu
  std::vector<int32_t> to_release;               // guarded by mu
  uint64_t release_asked = 0, release_done = 0;  // guarded by mu
  std::thread thread;
  Fatal fatal;

  std::vector<Announcer*> announcers;  // read-only

  // The changes thread's: the partitions whose tenants it publishes, and
  // those adopted but not yet caught up with (what was announced of them,
  // and the positions it was announced at).
  std::set<int32_t> publishing;
  struct Adoption {
    std::map<std::string, std::string> states;
    Positions need;
  };
  std::map<int32_t, Adoption> adopting;
  bool full_now = false;
  int partitions = 1;  // the events topic's (start())

  Impl(storage::Store& s, ChangesOptions o, Telemetry& m, std::vector<Announcer*> a)
      : store(s), opts(std::move(o)), telemetry(m), announcers(std::move(a)) {}

  int32_t partition_of(std::string_view tenant) const {
    return opts.partition_of ? opts.partition_of(tenant) : 0;
  }
  bool publishes(std::string_view tenant) const {
    return publishing.count(partition_of(tenant)) > 0;
  }

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
                                   {"isolation.level", "read_committed"},
                                   {"enable.partition.eof", "true"},
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
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        // The end, past a transaction's commit marker; short of the high
        // watermark, another instance's open transaction holds the
        // read_committed end: read on once it is over.
        if (m->offset >= ends[m->partition]) ends.erase(m->partition);
        continue;
      }
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

  // The partitions whose tenants outbox entry `entry` is about (an entry of
  // recorded statuses: every one it has a record or the positions of), or
  // nullopt if it is malformed.
  std::optional<std::set<int32_t>> partitions_of(const json& entry) const {
    std::set<int32_t> out;
    if (!entry.is_object()) return std::nullopt;
    if (!entry.contains("announced")) {
      auto t = entry.find("tenant_id");
      if (t == entry.end() || !t->is_string()) return std::nullopt;
      out.insert(partition_of(t->get_ref<const std::string&>()));
      return out;
    }
    const auto& a = entry["announced"];
    if (!a.is_array()) return std::nullopt;
    for (const auto& kv : a) {
      if (!kv.is_array() || kv.size() != 2 || !kv[0].is_string() || !kv[1].is_string())
        return std::nullopt;
      auto t = tenant_of(kv[0].get_ref<const std::string&>());
      if (!t) return std::nullopt;
      out.insert(partition_of(*t));
    }
    if (auto r = entry.find("release"); r != entry.end()) {
      if (!r->is_array()) return std::nullopt;
      for (const auto& p : *r) {
        if (!p.is_number_integer()) return std::nullopt;
        out.insert(p.get<int32_t>());
      }
    }
    return out;
  }

  // Removes from the outbox what concerns partitions `parts` (everything
  // with nullopt), and malformed entries (logged); returns how many entries
  // it changed or removed.
  Result<size_t> drop_outbox(const std::optional<std::set<int32_t>>& parts) {
    auto outbox = state::outbox(store);
    if (!outbox.ok()) return outbox.error();
    auto b = store.batch();
    size_t n = 0;
    auto in = [&](int32_t p) { return !parts || parts->count(p) > 0; };
    for (auto& [seq, entry] : *outbox) {
      auto of = partitions_of(entry);
      if (!of) {
        log::error("changes: outbox entry " + std::to_string(seq) +
                   " is malformed and is dropped: " + entry.dump().substr(0, 200));
        state::delete_outbox(b, seq), ++n;
        continue;
      }
      if (std::none_of(of->begin(), of->end(), in)) continue;
      ++n;
      if (!entry.contains("announced")) {
        state::delete_outbox(b, seq);
        continue;
      }
      // Recorded statuses: those of the partitions go, the others stay.
      json keep = json::array(), release = json::array();
      for (auto& kv : entry["announced"])
        if (!in(partition_of(*tenant_of(kv[0].get_ref<const std::string&>())))) keep.push_back(kv);
      for (auto& p : entry.value("release", json::array()))
        if (!in(p.get<int32_t>())) release.push_back(p);
      if (keep.empty() && release.empty()) {
        state::delete_outbox(b, seq);
        continue;
      }
      entry["announced"] = std::move(keep);
      entry["release"] = std::move(release);
      state::put_outbox(b, seq, entry);
    }
    if (auto st = store.write(b); !st.ok()) return st.error();
    return n;
  }

  // The transaction's records of outbox entry `entry` (partitions_of()
  // accepted it).
  void records_of(const json& entry, std::vector<TxnProducer::Record>& out) {
    if (!entry.contains("announced")) {
      out.push_back({.partition = RD_KAFKA_PARTITION_UA,
                     .value = entry.dump(),
                     .key = entry.value("tenant_id", "") + "/" + entry.value("goal_id", ""),
                     .topic = opts.kafka.changes()});
      return;
    }
    std::set<int32_t> parts;
    for (const auto& kv : entry["announced"]) {
      const auto& key = kv[0].get_ref<const std::string&>();
      int32_t p = partition_of(*tenant_of(key));
      parts.insert(p);
      out.push_back({.partition = p,
                     .value = kv[1].get<std::string>(),
                     .key = key,
                     .topic = opts.kafka.announced()});
    }
    for (const auto& p : entry.value("release", json::array())) parts.insert(p.get<int32_t>());
    if (entry.contains("positions"))
      for (int32_t p : parts)
        out.push_back({.partition = p,
                       .value = entry["positions"].dump(),
                       .key = std::string(kPositionsKey),
                       .topic = opts.kafka.announced()});
  }

  // A group member: the partitions the group no longer gives this instance
  // (lost, or handed over while the thread was busy) are not published
  // here any more, and what the outbox holds of them is dropped (not
  // committed, so the next owner announces it). Also drops malformed
  // entries.
  void forget_lost(const std::vector<std::pair<uint64_t, json>>& outbox) {
    std::set<int32_t> lost;
    if (opts.owns)
      for (int32_t p = 0; p < partitions; ++p)
        if (!opts.owns(p)) lost.insert(p);
    bool any = false;
    for (const auto& [seq, entry] : outbox) {
      auto of = partitions_of(entry);
      any = any || !of ||
            std::any_of(of->begin(), of->end(), [&](int32_t p) { return lost.count(p) > 0; });
    }
    for (int32_t p : lost) {
      if (publishing.erase(p))
        log::warn("changes: events partition " + std::to_string(p) +
                  " is no longer this instance's: its tenants are not published here any more");
      adopting.erase(p);
    }
    if (!any) return;
    auto dropped = drop_outbox(lost);
    if (!dropped.ok()) return log::error("changes: " + dropped.error().message);
    if (!lost.empty())
      log::warn("changes: dropped " + std::to_string(*dropped) +
                " outbox entr(ies) of partitions this instance no longer owns (their next owner "
                "announces them)");
  }

  // Produces what the outbox holds, in order, in transactions of whole
  // evaluations (at least 500 entries unless fewer remain), removing them
  // once committed. False if some remain.
  bool drain() {
    while (true) {
      auto outbox = state::outbox(store);
      if (!outbox.ok()) {
        log::error("changes: " + outbox.error().message);
        return false;
      }
      if (outbox->empty()) return true;
      forget_lost(*outbox);
      outbox = state::outbox(store);
      if (!outbox.ok()) return false;
      if (outbox->empty()) return true;
      // One evaluation's entries (its recorded statuses first, then its
      // messages) go in one transaction: a record without its messages
      // would hide them from the next owner.
      size_t n = std::min<size_t>(outbox->size(), 500);
      while (n < outbox->size() && !(*outbox)[n].second.contains("announced")) ++n;
      std::vector<TxnProducer::Record> records;
      std::set<int32_t> parts;
      for (size_t i = 0; i < n; ++i) {
        records_of((*outbox)[i].second, records);
        auto of = partitions_of((*outbox)[i].second);
        parts.insert(of->begin(), of->end());
      }
      // Asked again before each attempt: a partition lost meanwhile.
      auto may_commit = [&]() -> Status {
        if (opts.owns)
          for (int32_t p : parts)
            if (!opts.owns(p))
              return Error{
                  ErrorCode::unavailable, "",
                  "events partition " + std::to_string(p) + " is no longer this instance's"};
        return {};
      };
      std::map<int32_t, int64_t> next;
      auto st = producer->commit(opts.kafka.changes(), records, nullptr, nullptr, next, may_commit);
      if (!st.ok()) {
        if (st.error().code == ErrorCode::conflict) {
          fatal.set(st.error());  // fenced: serve exits 1 saying why
          return false;
        }
        telemetry.kafka_errors++;
        log::warn("changes: cannot publish, will retry: " + st.error().message);
        return false;
      }
      if (exit_after_publish) {
        log::warn(
            "changes: GOALSTREAM_FAULT=exit-after-publish: exiting before the outbox entry is "
            "removed");
        std::_Exit(137);
      }
      auto b = store.batch();
      for (size_t i = 0; i < n; ++i) state::delete_outbox(b, (*outbox)[i].first);
      if (auto w = store.write(b); !w.ok()) {
        log::error("changes: " + w.error().message);
        return false;
      }
    }
  }

  // Asks every announcer what changed; records and queues the transitions
  // and the statuses recorded of the tenants published here. `all`:
  // everything (a full pass). `release`: partitions handed over after this
  // evaluation (their positions are recorded even if nothing changed).
  Status evaluate(const Touched& changed, bool all, const std::vector<int32_t>& release = {}) {
    int64_t now = time::now_ms();
    auto b = store.batch();
    std::vector<Announcement> out;
    for (Announcer* a : announcers)
      if (auto st = a->announce(store, changed, all, now, b, out); !st.ok()) return st;
    if (b.count() == 0 && release.empty()) return {};
    // What the announcers recorded of published tenants, with the store's
    // positions after the evaluation (it saw at most what they cover).
    json announced = json::array();
    for (auto& [key, value] : b.puts(store.cf("meta"))) {
      auto t = tenant_of(key);
      if (t && publishes(*t)) announced.push_back(json::array({key, value}));
    }
    if (!announced.empty() || !release.empty()) {
      auto pos = store_positions(store);
      if (!pos.ok()) return pos.error();
      json entry = {{"announced", std::move(announced)}, {"positions", pos->to_json()}};
      if (!release.empty()) entry["release"] = release;
      state::put_outbox(b, next_seq++, entry);
    }
    std::vector<json> recorded;  // for opts.on_status_changed, once written
    for (auto& a : out) {
      if (!publishes(a.message.value("tenant_id", ""))) {
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

  // Partitions `parts` go: what was applied is evaluated and published
  // first (bounded by release_timeout), then their tenants are not
  // published here any more.
  void release_now(const std::vector<int32_t>& parts, Touched& changed) {
    std::vector<int32_t> mine;
    for (int32_t p : parts) {
      adopting.erase(p);
      if (publishing.count(p)) mine.push_back(p);
    }
    if (mine.empty()) return;
    if (auto st = evaluate(changed, false, mine); !st.ok())
      log::error("changes: " + st.error().message);
    changed.clear();
    auto deadline = std::chrono::steady_clock::now() + opts.release_timeout;
    bool done = drain();
    while (!done && !fatal.failed() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      done = drain();
    }
    for (int32_t p : mine) publishing.erase(p);
    std::string list;
    for (int32_t p : mine) list += (list.empty() ? "" : ",") + std::to_string(p);
    if (!done) {
      // Not committed: the next owner announces them from what the
      // announced topic holds (its own evaluation), not this one.
      auto dropped = drop_outbox(std::set<int32_t>(mine.begin(), mine.end()));
      log::warn(
          "changes: could not publish the transitions of the tenants of events partition(s) " +
          list + " before handing them over; " + std::to_string(dropped.ok() ? *dropped : 0) +
          " outbox entr(ies) dropped, which their next owner announces instead");
    } else {
      log::info("changes: published the transitions of the tenants of events partition(s) " + list +
                " before handing them over");
    }
  }

  // Reads partition p of the announced topic: what was announced of its
  // tenants, and the positions they were announced at.
  Result<Adoption> read_announced(int32_t p) {
    auto consumer =
        make_consumer(opts.kafka, {{"group.id", opts.kafka.topic_prefix + "changes-adopt"},
                                   {"enable.auto.commit", "false"},
                                   {"enable.partition.eof", "true"},
                                   {"isolation.level", "read_committed"}});
    if (!consumer.ok()) return consumer.error();
    rd_kafka_t* rk = consumer->get();
    Adoption out;
    auto wm = query_watermarks(rk, opts.kafka.announced(), p);
    if (!wm.ok()) return wm.error();
    if (wm->second > wm->first) {
      PartitionList l = new_partition_list(1);
      rd_kafka_topic_partition_list_add(l.get(), opts.kafka.announced().c_str(), p)->offset =
          RD_KAFKA_OFFSET_BEGINNING;
      rd_kafka_poll_set_consumer(rk);
      rd_kafka_assign(rk, l.get());
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      bool end = false;
      while (!end && std::chrono::steady_clock::now() < deadline) {
        KafkaMessage m(rd_kafka_consumer_poll(rk, 200));
        if (!m) continue;
        // The end of what is committed (an open transaction of an owner
        // that crashed is aborted, never counts).
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) end = true;
        if (m->err || !m->key) continue;
        std::string key(static_cast<const char*>(m->key), m->key_len);
        std::string value(static_cast<const char*>(m->payload), m->len);
        if (key == kPositionsKey)
          out.need.raise(json::parse(value, nullptr, false));
        else
          out.states[std::move(key)] = std::move(value);
      }
      if (!end)
        return Error{ErrorCode::unavailable, "",
                     "could not read " + opts.kafka.announced() + " partition " +
                         std::to_string(p) + " to its end within 60 s"};
    }
    consumer->close();
    return out;
  }

  // Adoptions: reads what was asked, then takes what the store caught up with.
  void adopt_now(std::set<int32_t>& asked) {
    for (auto it = asked.begin(); it != asked.end();) {
      auto read = read_announced(*it);
      if (!read.ok()) {
        log::warn("changes: " + read.error().message + "; trying again");
        ++it;
        continue;
      }
      adopting[*it] = std::move(read).value();
      it = asked.erase(it);
    }
    if (adopting.empty()) return;
    auto pos = store_positions(store);
    if (!pos.ok()) return log::error("changes: " + pos.error().message);
    for (auto it = adopting.begin(); it != adopting.end();) {
      auto& [p, a] = *it;
      if (!pos->reached(a.need)) {
        ++it;
        continue;
      }
      auto b = store.batch();
      for (auto& [key, value] : a.states) b.put(store.cf("meta"), key, value);
      if (auto st = store.write(b); !st.ok()) return log::error("changes: " + st.error().message);
      log::info("changes: publishing the transitions of the tenants of events partition " +
                std::to_string(p) + " (" + std::to_string(a.states.size()) +
                " announced status(es) read from " + opts.kafka.announced() + ")");
      publishing.insert(p);
      full_now = true;
      it = adopting.erase(it);
    }
  }

  void run() {
    using Clock = std::chrono::steady_clock;
    auto last_full = Clock::time_point{}, last_eval = Clock::time_point{};
    std::set<int32_t> asked;  // adoptions not read yet
    while (true) {
      Touched changed;
      std::vector<int32_t> release;
      uint64_t release_gen = 0;
      {
        std::unique_lock lock(mu);
        auto requests = [&] { return release_asked != release_done || !to_adopt.empty(); };
        cv.wait_for(lock, opts.interval,
                    [&] { return stopping || !touched.empty() || requests(); });
        if (stopping) return;
        // What more batches touch meanwhile joins this evaluation; a command
        // (a tenant's "<tenant>\0" key: a goal created, changed, deleted) is
        // evaluated at once, so that a new goal's first status is recorded
        // before the events that may move it.
        auto command = [&] {
          return std::any_of(touched.begin(), touched.end(),
                             [](const auto& t) { return t.first.ends_with('\0'); });
        };
        if (!touched.empty() && !command() && !requests())
          cv.wait_until(lock, last_eval + opts.coalesce,
                        [&] { return stopping || command() || requests(); });
        if (stopping) return;
        changed.swap(touched);
        release.swap(to_release);
        if (release_asked != release_done) release_gen = release_asked;
        asked.merge(to_adopt);
        to_adopt.clear();
        for (int32_t p : release) asked.erase(p);  // released before it was adopted
      }
      if (release_gen != 0) {
        release_now(release, changed);
        {
          std::lock_guard lock(mu);
          release_done = release_gen;
        }
        cv.notify_all();
      }
      if (!asked.empty() || !adopting.empty()) adopt_now(asked);
      bool full = full_now || Clock::now() - last_full >= opts.full_pass;
      if (full) last_full = Clock::now(), full_now = false;
      if (full || !changed.empty()) {
        last_eval = Clock::now();
        if (auto st = evaluate(changed, full); !st.ok())
          log::error("changes: " + st.error().message);
      }
      drain();
      if (fatal.failed()) return;
    }
  }
};

ChangesPublisher::ChangesPublisher(storage::Store& store, ChangesOptions opts, Telemetry& telemetry,
                                   std::vector<Announcer*> announcers)
    : impl_(std::make_unique<Impl>(store, std::move(opts), telemetry, std::move(announcers))) {}

ChangesPublisher::~ChangesPublisher() { stop(); }

Status ChangesPublisher::start(int partitions, const std::vector<int32_t>& publishing) {
  auto& I = *impl_;
  I.partitions = partitions;
  I.publishing.insert(publishing.begin(), publishing.end());
  I.origin = I.store.instance_id();
  {
    // The announced topic is partitioned like the events topic.
    auto consumer =
        make_consumer(I.opts.kafka, {{"group.id", I.opts.kafka.topic_prefix + "changes"}});
    if (!consumer.ok()) return consumer.error();
    auto parts = partition_count(consumer->get(), I.opts.kafka.announced());
    if (!parts.ok()) return parts.error();
    consumer->close();
    if (*parts != partitions)
      return Error{ErrorCode::conflict, "topic-prefix",
                   I.opts.kafka.announced() + " has " + std::to_string(*parts) +
                       " partitions and " + I.opts.kafka.events() + " has " +
                       std::to_string(partitions) +
                       ": the announced topic is partitioned like the events topic; give both "
                       "the same number (Kafka adds partitions with kafka-topics.sh --alter "
                       "--partitions N)"};
  }
  // A new client with this id aborts what a crashed one left open.
  auto producer = TxnProducer::create(I.opts.kafka, I.opts.transactional_id, 30000, "changes");
  if (!producer.ok()) return producer.error();
  I.producer = std::move(producer).value();
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
  if (I.opts.group) {
    // Not committed, so not announced: the next owner of their tenants
    // (maybe this instance again) announces them from the announced topic.
    auto dropped = I.drop_outbox(std::nullopt);
    if (!dropped.ok()) return dropped.error();
    if (*dropped)
      log::info("changes: dropped " + std::to_string(*dropped) +
                " outbox entr(ies) not published before a restart (a group member publishes a "
                "tenant only after reading what was announced of it)");
  }
  I.fatal.on_set([&I] {
    std::lock_guard lock(I.mu);
    I.cv.notify_all();
  });
  {
    std::lock_guard lock(I.mu);
    I.running = true;
  }
  I.thread = spawn("gs-changes", I.fatal, [&I] {
    I.run();
    std::lock_guard lock(I.mu);
    I.running = false;
    I.cv.notify_all();
  });
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
  I.producer.reset();  // flushes, within 5 s
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

void ChangesPublisher::adopt(const std::vector<int32_t>& partitions) {
  auto& I = *impl_;
  {
    std::lock_guard lock(I.mu);
    I.to_adopt.insert(partitions.begin(), partitions.end());
  }
  I.cv.notify_all();
}

void ChangesPublisher::release(const std::vector<int32_t>& partitions) {
  auto& I = *impl_;
  std::unique_lock lock(I.mu);
  if (!I.running) {
    // Nothing published yet (not started) or any more (stopped).
    for (int32_t p : partitions) I.to_adopt.erase(p);
    return;
  }
  for (int32_t p : partitions) I.to_adopt.erase(p);
  I.to_release.insert(I.to_release.end(), partitions.begin(), partitions.end());
  uint64_t gen = ++I.release_asked;
  I.cv.notify_all();
  // release_now is bounded by release_timeout; a transaction attempt in
  // it by the producer's own timeouts.
  auto limit = I.opts.release_timeout + std::chrono::seconds(20);
  bool done = I.cv.wait_for(
      lock, limit, [&] { return I.release_done >= gen || !I.running || I.fatal.failed(); });
  // Late, the handover goes on: once the group no longer gives this
  // instance the partitions, the thread drops what it queued of them
  // (forget_lost) instead of publishing it.
  if (!done)
    log::warn("changes: not done publishing before a handover after " +
              std::to_string(limit.count()) + " ms; going on");
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
