// The RocksDB store and the pure projection fold: dedup positions, exact
// cell arithmetic, goal deletion, and a digest that depends on content only.
#include <doctest/doctest.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>
#include <thread>

#include <rocksdb/db.h>

#include "model/event.h"
#include "projection/projection.h"
#include "store/store.h"
#include "test_util.h"

using gs::projection::Cell;
namespace fs = std::filesystem;

namespace {

std::string fresh_dir(const std::string& name) { return store_test::fresh_dir("store-" + name); }
using store_test::cell_key;

gs::model::ConversionGoal goal(const std::string& tenant, const std::string& id,
                               const std::string& type) {
  return {id, tenant, "name " + id, type, std::nullopt, nullptr, std::nullopt, 1740787200000LL};
}

}  // namespace

TEST_CASE(
    "dedup fingerprints and duplicate positions survive a reopen; offsets and goals round-trip") {
  auto dir = fresh_dir("dedup");
  using gs::projection::fingerprint;
  {
    auto s = gs::store::Store::open(dir);
    REQUIRE(s.ok());
    CHECK((*s)->empty());
    auto b = (*s)->batch();
    b.put_fingerprints(0, {fingerprint("acme", "e1"), fingerprint("acme", "e2")});
    b.put_fingerprints(1, {fingerprint("other", "e1")});
    b.put_duplicate({3, 1234567890123LL});
    REQUIRE((*s)->write(b).ok());
  }
  auto s = gs::store::Store::open(dir);
  REQUIRE(s.ok());
  auto& st = **s;
  gs::projection::FingerprintSet seen;
  CHECK(st.load_fingerprints(seen) == 2);  // the next batch sequence
  CHECK(seen.size() == 3);
  CHECK(seen.contains(fingerprint("acme", "e1")));
  CHECK(seen.contains(fingerprint("other", "e1")));  // dedup is per tenant
  CHECK_FALSE(seen.contains(fingerprint("acme", "e3")));
  CHECK(st.is_duplicate({3, 1234567890123LL}));
  CHECK_FALSE(st.is_duplicate({3, 1234567890124LL}));
  CHECK_FALSE(st.is_duplicate({2, 1234567890123LL}));
  auto b = st.batch();
  b.set_offset(gs::store::Source::events, 3, 99);
  b.set_offset(gs::store::Source::commands, 0, 7);
  b.put_goal(goal("acme", "cg_1", "form_submit"));
  REQUIRE(st.write(b).ok());
  CHECK_FALSE(st.empty());
  CHECK(st.offsets(gs::store::Source::events) == std::map<int32_t, int64_t>{{3, 99}});
  CHECK(st.offsets(gs::store::Source::commands) == std::map<int32_t, int64_t>{{0, 7}});
  REQUIRE(st.goals("acme").size() == 1);
  CHECK(st.goals("acme")[0]["id"] == "cg_1");
  CHECK(st.goals("acm").empty());  // prefix of another tenant's name
  CHECK(st.all_goals().size() == 1);
}

TEST_CASE("cells add exactly through the merge operator; deleting a goal removes its cells only") {
  auto s = gs::store::Store::open(fresh_dir("cells"));
  REQUIRE(s.ok());
  auto& st = **s;
  for (int i = 0; i < 1000; ++i) {
    auto b = st.batch();
    b.merge_cell(cell_key("acme", "cg_1", 480000 + i % 48),
                 Cell{1, gs::projection::to_micros(0.1)});
    b.merge_cell(cell_key("acme", "cg_2", 480000), Cell{2, gs::projection::to_micros(49.99)});
    REQUIRE(st.write(b).ok());
  }
  auto t = st.totals("acme", "cg_1");
  CHECK(t.total.count == 1000);
  CHECK(t.total.sum_micros == 100'000'000);  // exactly 100.0: no floating-point drift
  CHECK(t.buckets.size() == 48);
  CHECK(t.buckets.front().first == 480000);
  CHECK(st.totals("acme", "cg_2").total.count == 2000);
  auto b = st.batch();
  b.put_goal(goal("acme", "cg_1", "x"));
  b.delete_goal("acme", "cg_1");
  REQUIRE(st.write(b).ok());
  CHECK(st.totals("acme", "cg_1").total.count == 0);
  CHECK(st.totals("acme", "cg_1").buckets.empty());
  CHECK(st.totals("acme", "cg_2").total.count == 2000);
  CHECK_FALSE(st.goal("acme", "cg_1"));
}

TEST_CASE("the digest depends on content, not on write order, batching or compaction") {
  std::vector<std::tuple<std::string, int64_t, Cell>> ops;
  std::mt19937 rng(42);
  for (int i = 0; i < 5000; ++i)
    ops.emplace_back("cg_" + std::to_string(rng() % 7), 480000 + rng() % 100,
                     Cell{1, int64_t(rng() % 1000000)});
  auto build = [&](const std::string& name, bool reverse, size_t batch_size, bool compact) {
    auto s = gs::store::Store::open(fresh_dir(name));
    REQUIRE(s.ok());
    auto order = ops;
    if (reverse) std::reverse(order.begin(), order.end());
    auto b = (*s)->batch();
    std::vector<gs::projection::Fingerprint> fps;
    uint64_t seq = reverse ? 100 : 0;
    for (size_t i = 0; i < order.size(); ++i) {
      auto& [g, h, c] = order[i];
      b.merge_cell(cell_key("acme", g, h), c);
      fps.push_back(gs::projection::fingerprint("acme", "ev" + std::to_string(i)));
      if (i % 50 == 0)
        b.put_duplicate({0, int64_t(reverse ? i : order.size() - i)});  // positions are bookkeeping
      if ((i + 1) % batch_size == 0) {
        b.put_fingerprints(seq++, fps);
        fps.clear();
        REQUIRE((*s)->write(b).ok());
      }
    }
    b.put_fingerprints(seq++, fps);
    REQUIRE((*s)->write(b).ok());
    // Offsets are progress, not content: they must not change the digest.
    auto o = (*s)->batch();
    o.set_offset(gs::store::Source::events, 0, reverse ? 1 : 2);
    REQUIRE((*s)->write(o).ok());
    if (compact) {
      (*s)->db()->Flush(rocksdb::FlushOptions());
      rocksdb::CompactRangeOptions cro;
      (*s)->db()->CompactRange(cro, nullptr, nullptr);
    }
    return (*s)->digest();
  };
  auto a = build("d1", false, 100, false);
  auto b = build("d2", true, 977, true);
  CHECK(a.size() == 64);
  CHECK(a == b);
  // And it does see content: one more count changes it.
  ops.emplace_back("cg_1", 480000, Cell{1, 0});
  CHECK(build("d3", false, 100, false) != a);
}

TEST_CASE("the goal index returns only the candidates of the event's tenant and type") {
  gs::projection::GoalIndex index;
  for (auto [tenant, id, type] :
       std::vector<std::tuple<std::string, std::string, std::string>>{{"a", "g1", "form_submit"},
                                                                      {"a", "g2", "form_submit"},
                                                                      {"a", "g3", "purchase"},
                                                                      {"b", "g4", "form_submit"}}) {
    auto c = gs::projection::compile(goal(tenant, id, type));
    REQUIRE(c.ok());
    index.put(*c);
  }
  CHECK(index.candidates("a", "form_submit").size() == 2);
  CHECK(index.candidates("a", "purchase").size() == 1);
  CHECK(index.candidates("b", "form_submit").size() == 1);
  CHECK(index.candidates("b", "purchase").empty());
  CHECK(index.candidates("c", "form_submit").empty());
  index.remove("a", "g1");
  CHECK(index.candidates("a", "form_submit").size() == 1);
  CHECK(index.candidates("a", "form_submit")[0]->base->def.id == "g2");
  CHECK(index.size() == 3);

  // The aggregator buckets by 15 minutes of event time and sums fixed-point values.
  gs::model::EventParser parser;
  gs::projection::Aggregator agg;
  auto g2 = index.find("a", "g2");
  for (const char* t : {"2025-03-01T12:00:00Z", "2025-03-01T12:14:59Z", "2025-03-01T12:15:00Z"}) {
    auto e = parser.parse(R"({"event_id":"e","tenant_id":"a","type":"form_submit","timestamp":")" +
                          std::string(t) + R"(","properties":{"value":0.25}})");
    REQUIRE(e.ok());
    REQUIRE(g2->counts(*e));
    agg.add(*g2, *e);
  }
  REQUIRE(agg.cells().size() == 2);
  auto noon = agg.cells().at(cell_key("a", "g2", 1740830400000LL / 900000));
  CHECK(noon.count == 2);
  CHECK(noon.sum_micros == 500000);
}

TEST_CASE("a since window excludes earlier events") {
  auto def = goal("a", "g", "form_submit");
  def.since_ms = 1740787200000LL;  // 2025-03-01
  auto c = gs::projection::compile(def);
  REQUIRE(c.ok());
  gs::model::EventParser parser;
  auto before = parser.parse(
      R"({"event_id":"e","tenant_id":"a","type":"form_submit","timestamp":"2025-02-28T23:59:59Z"})");
  REQUIRE(before.ok());
  CHECK_FALSE((*c)->counts(*before));
  auto at = parser.parse(
      R"({"event_id":"e","tenant_id":"a","type":"form_submit","timestamp":"2025-03-01T00:00:00Z"})");
  REQUIRE(at.ok());
  CHECK((*c)->counts(*at));
}

TEST_CASE("the fingerprint set finds what was inserted, across growth") {
  gs::projection::FingerprintSet set;
  int fresh = 0;
  for (int i = 0; i < 100000; ++i)
    fresh += set.insert(gs::projection::fingerprint("t", std::to_string(i)));
  CHECK(fresh == 100000);
  CHECK(set.size() == 100000);
  int again = 0, absent = 0;
  for (int i = 0; i < 100000; ++i)
    again += !set.insert(gs::projection::fingerprint("t", std::to_string(i)));
  for (int i = 100000; i < 110000; ++i)
    absent += !set.contains(gs::projection::fingerprint("t", std::to_string(i)));
  CHECK(again == 100000);
  CHECK(absent == 10000);
  CHECK(set.all().size() == 100000);
  // The tenant boundary is part of the fingerprint.
  CHECK(gs::projection::fingerprint("ab", "c") != gs::projection::fingerprint("a", "bc"));
}

TEST_CASE(
    "sums beyond int64 are exact: 4 x 9e12 reads 3.6e13, and any merge grouping stores the same "
    "bytes") {
  using gs::projection::Micros;
  using gs::projection::to_micros;
  const Micros k9e12 = to_micros(9e12);  // one event at the per-event limit
  CHECK(k9e12 == Micros(9'000'000'000'000'000'000ULL));
  CHECK(to_micros(1e13) == k9e12);  // larger values are clamped to it
  CHECK(to_micros(-1e300) == -k9e12);

  // Encoding: the 16 bytes of before (count, sum; native order) while the sum
  // fits in int64, so existing stores and digests are unchanged; 24 beyond.
  const int64_t i64max = std::numeric_limits<int64_t>::max(),
                i64min = std::numeric_limits<int64_t>::min();
  for (Micros sum : {Micros(0), Micros(-5), Micros(i64max), Micros(i64min), Micros(i64max) + 1,
                     Micros(i64min) - 1, 4 * k9e12, -4 * k9e12, Micros(i64max) * 3}) {
    const bool fits = sum >= i64min && sum <= i64max;
    auto bytes = gs::store::encode_cell(Cell{7, sum});
    CHECK(bytes.size() == (fits ? 16u : 24u));
    if (fits) {
      std::string old(16, '\0');
      int64_t count = 7, narrow = static_cast<int64_t>(sum);
      std::memcpy(old.data(), &count, 8);
      std::memcpy(old.data() + 8, &narrow, 8);
      CHECK(bytes == old);
    }
    auto back = gs::store::decode_cell(bytes);
    CHECK(back.count == 7);
    CHECK(back.sum_micros == sum);
  }

  // Reads add up cells across buckets without wrapping: four cells of one
  // event each (each fits in int64; their sum does not).
  auto st = store_test::open(fresh_dir("wide-read"));
  for (int i = 0; i < 4; ++i) {
    auto b = st->batch();
    b.merge_cell(cell_key("acme", "cg_1", 480000 + i), Cell{1, k9e12});
    b.merge_cell(cell_key("acme", "cg_neg", 480000), Cell{1, -k9e12});  // one cell, four operands
    REQUIRE(st->write(b).ok());
  }
  auto t = st->totals("acme", "cg_1");
  CHECK(t.total.count == 4);
  CHECK(t.total.sum_micros == 4 * k9e12);
  CHECK(gs::projection::micros_to_value(t.total.sum_micros) == 3.6e13);
  CHECK(st->cells("acme", "cg_1", 480000, 480004).sum_micros == 4 * k9e12);
  CHECK(gs::projection::micros_to_value(st->totals("acme", "cg_neg").total.sum_micros) == -3.6e13);
  CHECK(st->totals("acme", "cg_neg").buckets.size() == 1);

  // +4 and -3 events at the limit, merged in different groupings: one operand
  // per batch then a reopen (which flushes, merging operands), all in one
  // batch in reverse order, two pre-summed deltas whose intermediate sum needs
  // 128 bits, and the final delta alone. The cell ends at 9e18 micro-units.
  std::vector<Cell> ops;
  for (int i = 0; i < 4; ++i) ops.push_back(Cell{1, k9e12});
  for (int i = 0; i < 3; ++i) ops.push_back(Cell{1, -k9e12});
  auto digest_of = [&](const std::string& name, const std::vector<std::vector<Cell>>& batches,
                       bool reopen, Micros want) {
    auto dir = fresh_dir(name);
    {
      auto s = store_test::open(dir);
      for (const auto& cells : batches) {
        auto b = s->batch();
        for (const auto& c : cells) b.merge_cell(cell_key("acme", "cg_1", 480000), c);
        REQUIRE(s->write(b).ok());
      }
      if (!reopen) {
        auto c = s->totals("acme", "cg_1").total;
        CHECK(c.count == 7);
        CHECK(c.sum_micros == want);
        return s->digest();
      }
    }
    auto s = store_test::open(dir);
    auto c = s->totals("acme", "cg_1").total;
    CHECK(c.count == 7);
    CHECK(c.sum_micros == want);
    return s->digest();
  };
  std::vector<std::vector<Cell>> one_per_batch;
  for (const auto& c : ops) one_per_batch.push_back({c});
  auto reversed = ops;
  std::reverse(reversed.begin(), reversed.end());
  auto a = digest_of("group-a", one_per_batch, true, k9e12);
  CHECK(a == digest_of("group-b", {reversed}, false, k9e12));
  CHECK(a == digest_of("group-c", {{Cell{4, 4 * k9e12}}, {Cell{3, -3 * k9e12}}}, true, k9e12));
  CHECK(a == digest_of("group-d", {{Cell{7, k9e12}}}, false, k9e12));
  CHECK(a != digest_of("group-e", {{Cell{7, k9e12 + 1}}}, false, k9e12 + 1));
}

namespace {
// Bytes of the WAL files (*.log) in a store directory.
uint64_t wal_bytes(const std::string& dir) {
  uint64_t n = 0;
  for (const auto& f : fs::directory_iterator(dir))
    if (f.path().extension() == ".log") n += f.file_size();
  return n;
}
}  // namespace

TEST_CASE(
    "the WAL stays bounded while far more is written, and a clean close leaves none to replay") {
  auto dir = fresh_dir("wal");
  const uint64_t bound = gs::store::kMaxTotalWalBytes;
  uint64_t written = 0, most = 0;
  {
    auto st = store_test::open(dir);
    std::vector<gs::projection::Fingerprint> fps(1000);
    std::mt19937_64 rng(7);
    // Each batch as the processor writes it: the fingerprints first seen
    // (dedup, 16 KB of random bytes) and the offset (meta, a few bytes).
    for (uint64_t seq = 0; written < 5 * bound; ++seq) {
      for (auto& f : fps) f = {rng(), rng()};
      auto b = st->batch();
      b.put_fingerprints(seq, fps);
      b.set_offset(gs::store::Source::events, 0, static_cast<int64_t>(seq));
      REQUIRE(st->write(b).ok());
      written += fps.size() * 16;
      if (seq % 1000 == 0) most = std::max(most, wal_bytes(dir));
    }
    // Writing this fast outruns the flushes (memtables not yet flushed keep
    // their WAL files), and RocksDB checks the bound on each write: past it,
    // the write queues flushes of the column families that hold the oldest
    // WAL file, unless that file's flush is under way already. So, as the
    // processor does with its next batches, go on writing small batches
    // (offsets only) while the queued flushes run: the WAL must come back
    // under twice its bound. Without the bound it holds everything. (Waiting
    // without writing is not enough: once in CI the WAL stayed at 143 MB
    // with no flush queued.)
    uint64_t pending = 0, running = 0;
    auto flushes = [&] {
      st->db()->GetAggregatedIntProperty("rocksdb.mem-table-flush-pending", &pending);
      st->db()->GetAggregatedIntProperty("rocksdb.num-running-flushes", &running);
      return pending + running;
    };
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(240);
    int64_t seq = static_cast<int64_t>(written / 16000);
    int small_batches = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      if (flushes() > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      if (wal_bytes(dir) < 2 * bound) break;
      auto b = st->batch();
      b.set_offset(gs::store::Source::events, 0, seq - 1);  // the same offset: state unchanged
      REQUIRE(st->write(b).ok());
      ++small_batches;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    INFO("largest WAL seen while writing: "
         << most << " bytes, after writing " << written << "; then " << small_batches
         << " small batches; flushes pending " << pending << ", running " << running);
    CHECK(wal_bytes(dir) < 2 * bound);
  }
  CHECK(wal_bytes(dir) < 64 * 1024);
  auto st = store_test::open(dir);
  CHECK(st->offsets(gs::store::Source::events).at(0) == static_cast<int64_t>(written / 16000 - 1));
}

TEST_CASE("folding a delta, or its decoded encoding, or it in two parts gives the same store") {
  using gs::projection::Delta;
  auto delta = [](int from, int n) {
    Delta d;
    for (int i = from; i < from + n; ++i) {
      d.first_seen.push_back(gs::projection::fingerprint("acme", "ev" + std::to_string(i)));
      if (i % 7 == 0) d.duplicates.push_back({i % 3, int64_t(i)});
      d.cells.add_cell(cell_key("acme", "cg_" + std::to_string(i % 4), 480000 + i % 9),
                       Cell{1, gs::projection::Micros(i) * 1000000 - 5, 1740787200000 + i});
      if (i % 5 == 0)
        d.cells.add_presence(cell_key("acme", "cg_u\x1funique", 480000) + "user" +
                             std::to_string(i % 11));
    }
    return d;
  };
  auto fold_into = [](const std::string& name, const std::vector<Delta>& parts) {
    auto s = gs::store::Store::open(fresh_dir(name));
    REQUIRE(s.ok());
    uint64_t seq = 0;
    for (const auto& d : parts) {
      auto b = (*s)->batch();
      b.fold(d, seq);
      REQUIRE((*s)->write(b).ok());
    }
    return (*s)->digest();
  };
  Delta whole = delta(0, 300);
  auto decoded = gs::projection::decode(gs::projection::encode(whole));
  REQUIRE(decoded.ok());
  auto a = fold_into("fold-whole", {whole});
  CHECK(fold_into("fold-decoded", {*decoded}) == a);
  // Associative: fold(d1); fold(d2) == fold(d1 + d2), as scale-out needs.
  Delta d1 = delta(0, 120), d2 = delta(120, 180);
  CHECK(fold_into("fold-parts", {d1, d2}) == a);
  Delta joined = d1;
  joined.append(d2);
  CHECK(fold_into("fold-joined", {joined}) == a);
  // And the digest sees the delta's content.
  CHECK(fold_into("fold-less", {delta(0, 299)}) != a);
}
