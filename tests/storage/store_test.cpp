// The RocksDB store and the pure projection fold: dedup positions, exact
// cell arithmetic, goal deletion, and a digest that depends on content only.
#include <doctest/doctest.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>
#include <system_error>
#include <thread>

#include <rocksdb/db.h>

#include "kernel/cells.h"
#include "kernel/state.h"
#include "model/event.h"
#include "modules/all.h"
#include "modules/conversion/keyspace.h"
#include "modules/growth/keyspace.h"
#include "projection/projection.h"
#include "storage/store.h"
#include "test_util.h"

using gs::projection::Cell;
namespace fs = std::filesystem;

namespace {

std::string fresh_dir(const std::string& name) { return store_test::fresh_dir("store-" + name); }
using store_test::cell_key;

gs::conversion::ConversionGoal goal(const std::string& tenant, const std::string& id,
                                    const std::string& type) {
  return {id, tenant, "name " + id, type, std::nullopt, nullptr, std::nullopt, 1740787200000LL};
}

}  // namespace

TEST_CASE(
    "dedup records, watermarks and duplicate positions survive a reopen; offsets and goals "
    "round-trip") {
  auto dir = fresh_dir("dedup");
  using gs::projection::fingerprint;
  constexpr int32_t H0 = 490'000;
  {
    auto s = gs::modules::open_store(dir);
    REQUIRE(s.ok());
    CHECK((*s)->empty());
    auto b = (*s)->batch();
    gs::state::put_dedup_horizon(b, 24);
    gs::state::put_fingerprints(
        b, 0,
        std::vector<gs::projection::FirstSeen>{{1, fingerprint("acme", "e1"), H0},
                                               {3, fingerprint("acme", "e2"), H0 - 30},
                                               {1, fingerprint("acme", "e4"), H0 - 25}});
    gs::state::put_fingerprints(
        b, 1, std::vector<gs::projection::FirstSeen>{{1, fingerprint("other", "e1"), H0 + 1}});
    gs::state::put_dedup_watermark(b, {1, H0 + 1});
    gs::state::put_dedup_watermark(b, {3, H0});
    gs::state::put_duplicate(b, {3, 1234567890123LL});
    REQUIRE((*s)->write(b).ok());
  }
  auto s = gs::modules::open_store(dir);
  REQUIRE(s.ok());
  auto& st = **s;
  CHECK((*gs::state::dedup_horizon(st)) == 24);
  std::vector<gs::projection::PartitionDedup> parts(4, gs::projection::PartitionDedup(24));
  auto loaded = gs::state::load_dedup(st, parts);
  REQUIRE(loaded.ok());
  CHECK(loaded->next_seq == 2);  // the next record's sequence
  CHECK(loaded->entries == 4);
  // Partition 3's only record is beyond its horizon (H0 - 30 < H0 - 24).
  CHECK(loaded->beyond_horizon == std::vector<std::pair<int32_t, uint64_t>>{{3, 0}});
  // The rest, per partition, with their last watermark, to be deleted as the
  // horizon passes them.
  CHECK(loaded->records[1] == std::vector<std::pair<uint64_t, int32_t>>{{0, H0}, {1, H0 + 1}});
  CHECK(loaded->records[3].empty());
  CHECK(parts[1].watermark() == H0 + 1);
  CHECK(parts[3].watermark() == H0);
  CHECK(parts[0].watermark() == gs::projection::kNoWatermark);
  CHECK(parts[1].size() == 2);  // acme/e1, other/e1; acme/e4 (H0 - 25) is beyond it
  CHECK(parts[3].size() == 0);
  CHECK_FALSE(parts[1].admit(fingerprint("acme", "e1"), H0));
  CHECK(parts[1].admit(fingerprint("acme", "e4"), H0));
  CHECK(parts[0].admit(fingerprint("acme", "e1"), H0));  // dedup is per partition
  CHECK((*gs::state::is_duplicate(st, {3, 1234567890123LL})));
  CHECK_FALSE((*gs::state::is_duplicate(st, {3, 1234567890124LL})));
  CHECK_FALSE((*gs::state::is_duplicate(st, {2, 1234567890123LL})));
  // A record of a partition the topic does not have is unreadable.
  {
    std::vector<gs::projection::PartitionDedup> two(2, gs::projection::PartitionDedup(24));
    auto refused = gs::state::load_dedup(st, two);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().message.find("partition 3 of 2") != std::string::npos);
  }
  auto b = st.batch();
  gs::state::set_offset(b, gs::state::Source::events, 3, 99);
  gs::state::set_offset(b, gs::state::Source::commands, 0, 7);
  gs::conversion::put_goal(b, goal("acme", "cg_1", "form_submit"));
  REQUIRE(st.write(b).ok());
  CHECK_FALSE(st.empty());
  CHECK((*gs::state::offsets(st, gs::state::Source::events)) ==
        std::map<int32_t, int64_t>{{3, 99}});
  CHECK((*gs::state::offsets(st, gs::state::Source::commands)) ==
        std::map<int32_t, int64_t>{{0, 7}});
  REQUIRE((*gs::conversion::goals(st, "acme")).goals.size() == 1);
  CHECK((*gs::conversion::goals(st, "acme")).goals[0]["id"] == "cg_1");
  CHECK((*gs::conversion::goals(st, "acm")).goals.empty());  // prefix of another tenant's name
  CHECK((*gs::conversion::all_goals(st)).size() == 1);
}

TEST_CASE("cells add exactly through the merge operator; deleting a goal removes its cells only") {
  auto s = gs::modules::open_store(fresh_dir("cells"));
  REQUIRE(s.ok());
  auto& st = **s;
  for (int i = 0; i < 1000; ++i) {
    auto b = st.batch();
    gs::cells::merge_cell(b, cell_key("acme", "cg_1", 480000 + i % 48),
                          Cell{1, gs::projection::to_micros(0.1)});
    gs::cells::merge_cell(b, cell_key("acme", "cg_2", 480000),
                          Cell{2, gs::projection::to_micros(49.99)});
    REQUIRE(st.write(b).ok());
  }
  auto t = (*gs::cells::totals(st, "acme", "cg_1"));
  CHECK(t.total.count == 1000);
  CHECK(t.total.sum_micros == 100'000'000);  // exactly 100.0: no floating-point drift
  CHECK(t.buckets.size() == 48);
  CHECK(t.buckets.front().first == 480000);
  CHECK((*gs::cells::totals(st, "acme", "cg_2")).total.count == 2000);
  auto b = st.batch();
  gs::conversion::put_goal(b, goal("acme", "cg_1", "x"));
  gs::conversion::delete_goal(b, "acme", "cg_1");
  REQUIRE(st.write(b).ok());
  CHECK((*gs::cells::totals(st, "acme", "cg_1")).total.count == 0);
  CHECK((*gs::cells::totals(st, "acme", "cg_1")).buckets.empty());
  CHECK((*gs::cells::totals(st, "acme", "cg_2")).total.count == 2000);
  CHECK_FALSE((*gs::conversion::goal(st, "acme", "cg_1")));
}

TEST_CASE("the digest depends on content, not on write order, batching or compaction") {
  std::vector<std::tuple<std::string, int64_t, Cell>> ops;
  std::mt19937 rng(42);
  for (int i = 0; i < 5000; ++i)
    ops.emplace_back("cg_" + std::to_string(rng() % 7), 480000 + rng() % 100,
                     Cell{1, int64_t(rng() % 1000000)});
  auto build = [&](const std::string& name, bool reverse, size_t batch_size, bool compact) {
    auto s = gs::modules::open_store(fresh_dir(name));
    REQUIRE(s.ok());
    auto order = ops;
    if (reverse) std::reverse(order.begin(), order.end());
    auto b = (*s)->batch();
    std::vector<gs::projection::FirstSeen> fps;
    uint64_t seq = reverse ? 100 : 0;
    for (size_t i = 0; i < order.size(); ++i) {
      auto& [g, h, c] = order[i];
      gs::cells::merge_cell(b, cell_key("acme", g, h), c);
      fps.push_back(
          {int32_t(i % 3), gs::projection::fingerprint("acme", "ev" + std::to_string(i)), 490'000});
      if (i % 50 == 0)
        gs::state::put_duplicate(
            b, {0, int64_t(reverse ? i : order.size() - i)});  // positions are bookkeeping
      if ((i + 1) % batch_size == 0) {
        gs::state::put_fingerprints(b, seq++, fps);
        fps.clear();
        REQUIRE((*s)->write(b).ok());
      }
    }
    gs::state::put_fingerprints(b, seq++, fps);
    REQUIRE((*s)->write(b).ok());
    // Offsets are progress, not content: they must not change the digest.
    auto o = (*s)->batch();
    gs::state::set_offset(o, gs::state::Source::events, 0, reverse ? 1 : 2);
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

TEST_CASE("the counter index returns only the candidates of the event's tenant and type") {
  gs::projection::CounterIndex index;
  for (auto [tenant, id, type] :
       std::vector<std::tuple<std::string, std::string, std::string>>{{"a", "g1", "form_submit"},
                                                                      {"a", "g2", "form_submit"},
                                                                      {"a", "g3", "purchase"},
                                                                      {"b", "g4", "form_submit"}}) {
    auto c = gs::projection::compile(gs::conversion::counter_rule(goal(tenant, id, type)));
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
  CHECK(index.candidates("a", "form_submit")[0]->base->rule.id == "g2");
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
  auto c = gs::projection::compile(gs::conversion::counter_rule(def));
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
    auto bytes = gs::cells::encode_cell(Cell{7, sum});
    CHECK(bytes.size() == (fits ? 16u : 24u));
    if (fits) {
      std::string old(16, '\0');
      int64_t count = 7, narrow = static_cast<int64_t>(sum);
      std::memcpy(old.data(), &count, 8);
      std::memcpy(old.data() + 8, &narrow, 8);
      CHECK(bytes == old);
    }
    auto back = gs::cells::decode_cell(bytes);
    REQUIRE(back);
    CHECK(back->count == 7);
    CHECK(back->sum_micros == sum);
  }

  // Reads add up cells across buckets without wrapping: four cells of one
  // event each (each fits in int64; their sum does not).
  auto st = store_test::open(fresh_dir("wide-read"));
  for (int i = 0; i < 4; ++i) {
    auto b = st->batch();
    gs::cells::merge_cell(b, cell_key("acme", "cg_1", 480000 + i), Cell{1, k9e12});
    gs::cells::merge_cell(b, cell_key("acme", "cg_neg", 480000),
                          Cell{1, -k9e12});  // one cell, four operands
    REQUIRE(st->write(b).ok());
  }
  auto t = (*gs::cells::totals(*st, "acme", "cg_1"));
  CHECK(t.total.count == 4);
  CHECK(t.total.sum_micros == 4 * k9e12);
  CHECK(gs::projection::micros_to_value(t.total.sum_micros) == 3.6e13);
  CHECK((*gs::cells::sum(*st, "acme", "cg_1", 480000, 480004)).sum_micros == 4 * k9e12);
  CHECK(gs::projection::micros_to_value(
            (*gs::cells::totals(*st, "acme", "cg_neg")).total.sum_micros) == -3.6e13);
  CHECK((*gs::cells::totals(*st, "acme", "cg_neg")).buckets.size() == 1);

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
        for (const auto& c : cells) gs::cells::merge_cell(b, cell_key("acme", "cg_1", 480000), c);
        REQUIRE(s->write(b).ok());
      }
      if (!reopen) {
        auto c = (*gs::cells::totals(*s, "acme", "cg_1")).total;
        CHECK(c.count == 7);
        CHECK(c.sum_micros == want);
        return s->digest();
      }
    }
    auto s = store_test::open(dir);
    auto c = (*gs::cells::totals(*s, "acme", "cg_1")).total;
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
// Bytes of the WAL files (*.log) in a store directory. RocksDB deletes an
// old WAL file in the background: one listed a moment ago may be gone when
// its size is asked (it holds nothing then).
uint64_t wal_bytes(const std::string& dir) {
  uint64_t n = 0;
  for (const auto& f : fs::directory_iterator(dir)) {
    if (f.path().extension() != ".log") continue;
    std::error_code ec;
    auto size = fs::file_size(f.path(), ec);
    if (!ec) n += size;
  }
  return n;
}
}  // namespace

TEST_CASE(
    "the WAL stays bounded while far more is written, and a clean close leaves none to replay") {
  auto dir = fresh_dir("wal");
  const uint64_t bound = gs::storage::kMaxTotalWalBytes;
  uint64_t written = 0, most = 0;
  {
    auto st = store_test::open(dir);
    std::vector<gs::projection::FirstSeen> fps(1000);
    std::mt19937_64 rng(7);
    // Each batch as the processor writes it: the fingerprints first seen
    // (dedup, 20 KB of random bytes) and the offset (meta, a few bytes).
    for (uint64_t seq = 0; written < 5 * bound; ++seq) {
      for (auto& f : fps) f = {0, {rng(), rng()}, 490'000};
      auto b = st->batch();
      gs::state::put_fingerprints(b, seq, fps);
      gs::state::set_offset(b, gs::state::Source::events, 0, static_cast<int64_t>(seq));
      REQUIRE(st->write(b).ok());
      written += fps.size() * 20;
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
    int64_t seq = static_cast<int64_t>(written / 20000);
    int small_batches = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      if (flushes() > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      if (wal_bytes(dir) < 2 * bound) break;
      auto b = st->batch();
      gs::state::set_offset(b, gs::state::Source::events, 0,
                            seq - 1);  // the same offset: state unchanged
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
  CHECK((*gs::state::offsets(*st, gs::state::Source::events)).at(0) ==
        static_cast<int64_t>(written / 20000 - 1));
}

TEST_CASE("folding a delta, or its decoded encoding, or it in two parts gives the same store") {
  using gs::projection::Delta;
  auto delta = [](int from, int n) {
    Delta d;
    for (int i = from; i < from + n; ++i) {
      d.first_seen.push_back(
          {i % 6, gs::projection::fingerprint("acme", "ev" + std::to_string(i)), 490'000 + i % 5});
      d.set_watermark({i % 6, 490'000 + i % 5});
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
    auto s = gs::modules::open_store(fresh_dir(name));
    REQUIRE(s.ok());
    uint64_t seq = 0;
    for (const auto& d : parts) {
      auto b = (*s)->batch();
      gs::cells::fold(b, d, seq);
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

TEST_CASE("reads: NotFound is an empty optional, an unreadable row an Error that is counted") {
  auto st = store_test::open(fresh_dir("unreadable"));
  // Nothing there: no error, no value.
  auto missing = gs::conversion::goal(*st, "acme", "cg_none");
  REQUIRE(missing.ok());
  CHECK_FALSE(missing->has_value());
  CHECK(st->unreadable_rows() == 0);

  // A row written by something else than its keyspace's owner.
  auto b = st->batch();
  b.put(st->cf("goals"), gs::keys::join("acme", "cg_bad"), "{not json");
  b.put(st->cf("growth"), "m/" + gs::keys::join("acme", "revenue"), "{\"name\":1}");
  b.put(st->cf("agg"), gs::keys::cell_prefix("acme", "cg_bad") + std::string(8, '\0'), "xyz");
  REQUIRE(st->write(b).ok());

  auto goal = gs::conversion::goal(*st, "acme", "cg_bad");
  REQUIRE_FALSE(goal.ok());
  CHECK(goal.error().field == "data-dir");
  CHECK(goal.error().message.find("unreadable conversion goal row acme\\0cg_bad") !=
        std::string::npos);
  CHECK(st->unreadable_rows() == 1);
  // A list meets it too, instead of leaving it out.
  CHECK_FALSE(gs::conversion::goals(*st, "acme").ok());
  CHECK_FALSE(gs::conversion::all_goals(*st).ok());
  auto metric = gs::growth::metric(*st, "acme", "revenue");
  REQUIRE_FALSE(metric.ok());
  CHECK(metric.error().message.find("unreadable metric row m/acme\\0revenue") != std::string::npos);
  CHECK(metric.error().message.find("createdAt: must be") != std::string::npos);
  auto totals = gs::cells::totals(*st, "acme", "cg_bad");
  REQUIRE_FALSE(totals.ok());
  CHECK(totals.error().message.find("unreadable cell row") != std::string::npos);
  CHECK(st->unreadable_rows() == 5);
}

TEST_CASE("pages: limit and offset over a keyspace, with the total") {
  auto st = store_test::open(fresh_dir("pages"));
  auto b = st->batch();
  for (const char* id : {"cg_a", "cg_b", "cg_c", "cg_d", "cg_e"})
    gs::conversion::put_goal(b, goal("acme", id, "form_submit"));
  gs::conversion::put_goal(b, goal("acmf", "cg_z", "form_submit"));
  REQUIRE(st->write(b).ok());
  auto page = gs::conversion::goals(*st, "acme", 1, 2);
  REQUIRE(page.ok());
  CHECK(page->total == 5);
  REQUIRE(page->goals.size() == 2);
  CHECK(page->goals[0]["id"] == "cg_b");
  CHECK(page->goals[1]["id"] == "cg_c");
  auto tail = gs::conversion::goals(*st, "acme", 4, 10);
  REQUIRE(tail.ok());
  CHECK(tail->total == 5);
  REQUIRE(tail->goals.size() == 1);
  CHECK(tail->goals[0]["id"] == "cg_e");
  auto past = gs::conversion::goals(*st, "acme", 9, 10);
  REQUIRE(past.ok());
  CHECK(past->total == 5);
  CHECK(past->goals.empty());
}

TEST_CASE(
    "read-only, a column family a newer module declares and the store has not got reads as empty") {
  auto dir = fresh_dir("newer-family");
  auto declared = gs::modules::column_families();
  std::string before;
  {
    auto st = store_test::open(dir);
    auto b = st->batch();
    b.put(st->cf("goals"), gs::keys::join("acme", "cg_1"), "{}");
    REQUIRE(st->write(b).ok());
    before = st->digest();
  }
  // As `goalstream digest` of a newer version opens it: one family more,
  // in the digest only with rows (as a new family must be, so that stores
  // without its data keep their digest).
  auto newer = declared;
  newer.push_back({"newer", gs::storage::Tuning::plain, nullptr, 99,
                   [](const gs::storage::Rows& rows, gs::storage::DigestSink& sink) {
                     bool any = false;
                     rows([&](std::string_view k, std::string_view v) {
                       if (!any) sink.feed("newer");
                       any = true;
                       sink.feed(k);
                       sink.feed(v);
                     });
                   }});
  auto ro = gs::storage::Store::open(dir, newer, true);
  REQUIRE_MESSAGE(ro.ok(), ro.error().message);
  auto& st = **ro;
  auto none = st.get(st.cf("newer"), "anything");
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());
  int rows = 0;
  CHECK(st.scan(st.cf("newer"), "", [&](std::string_view, std::string_view) {
            ++rows;
            return true;
          }).ok());
  CHECK(rows == 0);
  CHECK(st.digest() == before);
  // Its own families still read as before.
  auto goal = st.get(st.cf("goals"), gs::keys::join("acme", "cg_1"));
  REQUIRE(goal.ok());
  CHECK(*goal == std::optional<std::string>("{}"));
}

TEST_CASE("a batch's puts of one column family, in order (what the changes publisher queues)") {
  auto st = store_test::open(fresh_dir("puts"));
  auto b = st->batch();
  b.put(st->cf("meta"), std::string("st/acme\0g1", 10), "\"behind\"");
  b.put(st->cf("goals"), "other-family", "{}");
  b.merge(st->cf("agg"), "merged", std::string(16, '\0'));
  b.del(st->cf("meta"), "deleted");
  b.delete_range(st->cf("meta"), "a", "b");
  b.put(st->cf("meta"), std::string("st/acme\0g1", 10), "\"on_track\"");
  auto puts = b.puts(st->cf("meta"));
  REQUIRE(puts.size() == 2);
  CHECK(puts[0].first == std::string("st/acme\0g1", 10));
  CHECK(puts[0].second == "\"behind\"");
  CHECK(puts[1].second == "\"on_track\"");
  CHECK(b.puts(st->cf("goals")).size() == 1);
  CHECK(b.puts(st->cf("growth")).empty());
  CHECK(b.count() == 6);  // asking changes nothing
}
