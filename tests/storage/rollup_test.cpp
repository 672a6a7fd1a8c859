// Roll-ups (kernel/cells.h): every read composed from them equals the sum
// of the cells it stands for, in any window and time zone; they follow
// deletes. A store of an older format is refused for writing.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <random>
#include <utility>
#include <vector>

#include "base/keys.h"
#include "base/time.h"
#include "base/zone.h"
#include "test_util.h"

using gs::projection::Cell;
using namespace store_test;

namespace {

constexpr int64_t kDay = 96;  // buckets per day

// The brute-force answer: every cell of `counter`, read one by one once,
// with prefix sums, so that a window's sum is two binary searches.
struct Reference {
  std::vector<int64_t> buckets;
  std::vector<Cell> upto{Cell{}};  // upto[i]: the sum of the first i cells
  Reference(const gs::storage::Store& s, const std::string& counter) {
    auto t = gs::cells::totals(s, "acme", counter);
    REQUIRE(t.ok());
    for (auto& [bucket, cell] : t->buckets) {
      buckets.push_back(bucket);
      Cell c = upto.back();
      c.count += cell.count;
      c.sum_micros += cell.sum_micros;
      upto.push_back(c);
    }
  }
  Cell in(int64_t from, int64_t to) const {
    if (to <= from) return {};
    auto a = std::lower_bound(buckets.begin(), buckets.end(), from) - buckets.begin();
    auto b = std::lower_bound(buckets.begin(), buckets.end(), to) - buckets.begin();
    return Cell{upto[b].count - upto[a].count, upto[b].sum_micros - upto[a].sum_micros, 0};
  }
};

void check_window(const gs::storage::Store& s, const std::string& counter, const Reference& ref,
                  int64_t from, int64_t to) {
  auto got = gs::cells::sum(s, "acme", counter, from, to);
  REQUIRE(got.ok());
  auto want = ref.in(from, to);
  INFO("window [" << from << ", " << to << ")");
  CHECK(got->count == want.count);
  CHECK(got->sum_micros == want.sum_micros);
}

// Random cells of one counter over `days` days from 2024-11-03, folded as
// deltas in batches of 500 (the way ingest writes them) and a few through
// merge_cell (the way a module writes one).
void fill(gs::storage::Store& s, const std::string& counter, int days, int n, uint32_t seed) {
  std::mt19937 rng(seed);
  int64_t first = *gs::time::parse_date("2024-11-03") * kDay;
  uint64_t seq = 0;
  for (int batch = 0; batch < n / 500; ++batch) {
    gs::projection::Delta d;
    for (int i = 0; i < 500; ++i) {
      Cell c{1 + int64_t(rng() % 3), int64_t(rng() % 10'000'000) - 2'000'000, 0};
      d.cells.add_cell(cell_key("acme", counter, first + rng() % (days * kDay)), c);
    }
    auto b = s.batch();
    gs::cells::fold(b, d, seq);
    gs::cells::merge_cell(b, cell_key("acme", counter, first + rng() % (days * kDay)),
                          Cell{1, 1'500'000, 0});
    REQUIRE(s.write(b).ok());
  }
}

}  // namespace

TEST_CASE("month numbers and their first days agree with the calendar") {
  CHECK(gs::time::month_of_day(0) == 0);  // 1970-01-01
  CHECK(gs::time::month_of_day(*gs::time::parse_date("2024-02-29")) == 54 * 12 + 1);
  CHECK(gs::time::first_day_of_month(54 * 12 + 1) == *gs::time::parse_date("2024-02-01"));
  CHECK(gs::time::first_day_of_month(-1) == *gs::time::parse_date("1970-01-01") - 31);
  for (int64_t day = 0; day < 2'932'897; day += 17) {  // 1970 .. 9999
    int64_t m = gs::time::month_of_day(day);
    REQUIRE(gs::time::first_day_of_month(m) <= day);
    REQUIRE(gs::time::first_day_of_month(m + 1) > day);
    REQUIRE(gs::time::format_date(gs::time::first_day_of_month(m)).substr(8) == "01");
  }
  // Any day number, also one a millisecond-keyed cell gives: no overflow.
  int64_t huge = 1'733'000'000'000LL / kDay;
  CHECK(gs::time::first_day_of_month(gs::time::month_of_day(huge)) <= huge);
}

TEST_CASE("a window read from the roll-ups equals the sum of its cells, in every time zone") {
  auto s = open(fresh_dir("rollup_windows"));
  fill(*s, "cg_1", 800, 20'000, 7);
  fill(*s, "cg_2", 3, 1'000, 8);  // a neighbour: never in cg_1's sums

  Reference ref(*s, "cg_1");
  // Total and days.
  auto all = gs::cells::totals(*s, "acme", "cg_1");
  REQUIRE(all.ok());
  auto total = gs::cells::total(*s, "acme", "cg_1");
  REQUIRE(total.ok());
  CHECK(total->count == all->total.count);
  CHECK(total->sum_micros == all->total.sum_micros);
  std::map<int64_t, Cell> by_day;
  for (auto& [bucket, cell] : all->buckets) {
    by_day[bucket / kDay].count += cell.count;
    by_day[bucket / kDay].sum_micros += cell.sum_micros;
  }
  auto daily = gs::cells::daily(*s, "acme", "cg_1");
  REQUIRE(daily.ok());
  REQUIRE(daily->size() == by_day.size());
  size_t i = 0;
  for (auto& [day, cell] : by_day) {
    CHECK((*daily)[i].first == day);
    CHECK((*daily)[i].second.count == cell.count);
    CHECK((*daily)[i].second.sum_micros == cell.sum_micros);
    ++i;
  }
  CHECK((*gs::cells::total(*s, "acme", "cg_none")).count == 0);

  // Calendar windows of every length in zones with whole-hour, half-hour
  // and 45-minute offsets (and daylight saving time).
  int64_t first_day = *gs::time::parse_date("2024-11-01");
  for (std::string tz : {"UTC", "Asia/Kolkata", "America/St_Johns", "Asia/Kathmandu",
                         "Pacific/Chatham", "America/New_York"}) {
    for (int64_t start = first_day; start < first_day + 820; start += 29) {
      for (int64_t len : {1, 6, 7, 31, 92, 365, 800}) {
        auto a = gs::time::start_of_day(start, tz), b = gs::time::start_of_day(start + len, tz);
        REQUIRE(a.ok());
        REQUIRE(b.ok());
        REQUIRE(*a % 900'000 == 0);
        check_window(*s, "cg_1", ref, *a / 900'000, *b / 900'000);
      }
    }
  }
  // Arbitrary windows: within a day, across one boundary, ragged years,
  // empty and inverted, before the epoch.
  std::mt19937 rng(11);
  int64_t base = first_day * kDay;
  for (int k = 0; k < 400; ++k) {
    int64_t from = base - 200 + int64_t(rng() % (830 * kDay));
    int64_t to = from + int64_t(rng() % (k % 4 == 0 ? 200 : 500 * kDay)) - 10;
    check_window(*s, "cg_1", ref, from, to);
  }
  check_window(*s, "cg_1", ref, -5, base + 900 * kDay);
  check_window(*s, "cg_1", ref, 0, INT64_MAX / 2);
}

TEST_CASE("deleting a counter deletes its roll-ups, and only its") {
  auto s = open(fresh_dir("rollup_delete"));
  fill(*s, "cg_1", 60, 1'000, 1);
  fill(*s, "cg_10", 60, 1'000, 2);  // the deleted id is a prefix of this one
  auto before = *gs::cells::total(*s, "acme", "cg_10");
  auto b = s->batch();
  gs::cells::delete_counter(b, "acme", "cg_1");
  REQUIRE(s->write(b).ok());
  CHECK((*gs::cells::total(*s, "acme", "cg_1")).count == 0);
  CHECK((*gs::cells::daily(*s, "acme", "cg_1")).empty());
  CHECK((*gs::cells::sum(*s, "acme", "cg_1", 0, INT64_MAX / 2)).count == 0);
  CHECK((*gs::cells::total(*s, "acme", "cg_10")).count == before.count);
  CHECK((*gs::cells::total(*s, "acme", "cg_10")).count > 0);
}

TEST_CASE(
    "a store of format 2 or 3 is refused for writing, naming the rebuild; the digest reads a "
    "format-3 store's dedup records as they are") {
  int64_t day0 = *gs::time::parse_date("2025-01-30") * kDay;
  auto fp = gs::projection::fingerprint("acme", "order-1");
  // The same cells and event in a format-4 store and in what goalstream
  // wrote before dedup records had partitions and hours (format 3).
  auto write = [&](const std::string& dir, const char* format) {
    auto s = open(dir);
    auto b = s->batch();
    for (int i = 0; i < 30; ++i)
      gs::cells::merge_cell(b, cell_key("acme", "cg_1", day0 + i * 7), Cell{2, 250'000, 0});
    if (std::string(format) == "3") {
      std::string key = "f", value(16, '\0');
      gs::keys::append_be64(key, 0);
      std::memcpy(value.data(), &fp.lo, 8);
      std::memcpy(value.data() + 8, &fp.hi, 8);
      b.put(s->cf("dedup"), key, value);
      b.put(s->cf("meta"), "fmt", format);
    } else {
      gs::state::put_dedup_horizon(b, 24);
      gs::state::put_fingerprints(
          b, 0, std::vector<gs::projection::FirstSeen>{{2, fp, int32_t(day0 / 4)}});
      gs::state::put_dedup_watermark(b, {2, int32_t(day0 / 4)});
    }
    REQUIRE(s->write(b).ok());
  };
  auto now = fresh_dir("format_4"), old = fresh_dir("format_3");
  write(now, "4");
  write(old, "3");
  auto two = fresh_dir("format_2");
  {
    auto s = open(two);
    auto b = s->batch();
    b.put(s->cf("meta"), "fmt", "2");
    REQUIRE(s->write(b).ok());
  }
  for (auto [dir, format] : {std::pair{old, "3"}, std::pair{two, "2"}}) {
    auto refused = gs::modules::open_store(dir);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().message == "the store in " + dir + " has format " + format +
                                         "; this goalstream reads format 4: rebuild into a new "
                                         "--data-dir (goalstream rebuild) and serve from there");
  }
  auto ro_old = gs::modules::open_store(old, true);
  auto ro_now = gs::modules::open_store(now, true);
  REQUIRE(ro_old.ok());
  REQUIRE(ro_now.ok());
  CHECK((*ro_old)->digest() == (*ro_now)->digest());
}

TEST_CASE("a tally's cells get no roll-ups") {
  auto dir = fresh_dir("rollup_tally");
  const std::string tally = "g1\x1fsuccess\x1fweb";
  int64_t day0 = *gs::time::parse_date("2025-03-01") * kDay;
  {
    auto s = open(dir);
    gs::projection::Delta d;
    d.cells.add_tally(std::string("acme\0g1\x1f", 8), "success", "web", day0 * 900'000);
    d.cells.add_cell(cell_key("acme", "cg_1", day0), Cell{2, 0, 0});
    uint64_t seq = 0;
    auto b = s->batch();
    gs::cells::fold(b, d, seq);
    gs::cells::merge_cell(b, cell_key("acme", tally, day0 + 1), Cell{1, 0, 0, true});
    REQUIRE(s->write(b).ok());
    CHECK((*gs::cells::totals(*s, "acme", tally)).total.count == 2);  // the cells are there
    CHECK((*gs::cells::total(*s, "acme", tally)).count == 0);         // no roll-ups
    CHECK((*gs::cells::daily(*s, "acme", tally)).empty());
    CHECK((*gs::cells::total(*s, "acme", "cg_1")).count == 2);
  }
  // Deleting without an upper bound deletes to the last key.
  auto s = open(dir);
  auto w = s->batch();
  w.delete_range(s->cf("agg"), "", "");
  REQUIRE(s->write(w).ok());
  CHECK((*gs::cells::totals(*s, "acme", tally)).total.count == 0);
  CHECK((*gs::cells::totals(*s, "acme", "cg_1")).total.count == 0);
}
