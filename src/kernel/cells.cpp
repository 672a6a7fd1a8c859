#include "kernel/cells.h"

#include <chrono>
#include <cstring>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "base/keys.h"
#include "base/log.h"
#include "base/time.h"
#include "kernel/state.h"
#include "projection/tally.h"

namespace gs::cells {

// A cell's bytes: count (int64) and the sum's low 64 bits, 16 bytes, while
// the sum fits in int64 (always so before sums became 128-bit, so stores and
// digests of such sums are unchanged); the high 64 bits follow, 24 bytes,
// only when it does not. The form depends on the value alone, so any merge
// grouping stores the same bytes. Native byte order, as before.
std::string encode_cell(const Cell& c) {
  const bool wide = c.sum_micros != static_cast<int64_t>(c.sum_micros);
  const auto u = static_cast<unsigned __int128>(c.sum_micros);
  const auto lo = static_cast<uint64_t>(u), hi = static_cast<uint64_t>(u >> 64);
  std::string out(wide ? 24 : 16, '\0');
  std::memcpy(out.data(), &c.count, 8);
  std::memcpy(out.data() + 8, &lo, 8);
  if (wide) std::memcpy(out.data() + 16, &hi, 8);
  return out;
}

std::optional<Cell> decode_cell(std::string_view s) {
  if (s.size() != 16 && s.size() != 24) return std::nullopt;
  Cell c;
  uint64_t lo = 0;
  std::memcpy(&c.count, s.data(), 8);
  std::memcpy(&lo, s.data() + 8, 8);
  if (s.size() == 16) {
    c.sum_micros = static_cast<int64_t>(lo);  // sign-extends
  } else {
    uint64_t hi = 0;
    std::memcpy(&hi, s.data() + 16, 8);
    c.sum_micros = static_cast<projection::Micros>((static_cast<unsigned __int128>(hi) << 64) | lo);
  }
  return c;
}

namespace {
// Integer addition is associative and commutative, and 128-bit sums do not
// overflow (projection.h), so the result is independent of merge order and
// compaction. An operand or value that is not a cell adds nothing here; a
// read of such a cell reports it (totals, sum).
std::string add_cells(const std::string_view* existing, std::string_view operand) {
  Cell a = existing ? decode_cell(*existing).value_or(Cell{}) : Cell{};
  Cell b = decode_cell(operand).value_or(Cell{});
  a.count += b.count;
  a.sum_micros += b.sum_micros;
  return encode_cell(a);
}
}  // namespace

const storage::MergeOperator kCellAdd = {"goalstream.CellAdd", add_cells};

namespace {

constexpr int64_t kBucketsPerDay = time::kMsPerDay / projection::kBucketMs;  // 96
constexpr char kDay = 'd', kMonth = 'm', kTotal = 't';

// The roll-up key of `level` at `index` (none for the total) of a counter
// whose cell keys start with `prefix` (tenant \0 counter \0).
void rollup_key(std::string& out, std::string_view prefix, char level, int64_t index) {
  out.assign(prefix);
  out.push_back(level);
  if (level != kTotal) keys::append_be64(out, index);
}

// The roll-ups of cells, added up in memory (one entry per counter and
// day, month, total), then merged once each: batch-level work, a few map
// updates per distinct cell, never per event.
class Rollups {
 public:
  void add(std::string_view cell_key, const Cell& c) {
    if (cell_key.size() < 9) return;  // not a cell key (never written)
    auto prefix = cell_key.substr(0, cell_key.size() - 8);
    int64_t day = time::floor_div(keys::read_be64(cell_key.substr(prefix.size())), kBucketsPerDay);
    add_to(prefix, kDay, day, c);
    add_to(prefix, kMonth, time::month_of_day(day), c);
    add_to(prefix, kTotal, 0, c);
  }
  void merge_into(Batch& b) {
    storage::Cf roll = b.store().cf("roll");
    for (const auto& [key, cell] : sums_) b.merge(roll, key, encode_cell(cell));
    sums_.clear();
  }
  size_t size() const { return sums_.size(); }

 private:
  void add_to(std::string_view prefix, char level, int64_t index, const Cell& c) {
    rollup_key(scratch_, prefix, level, index);
    auto it = sums_.find(scratch_);
    if (it == sums_.end()) it = sums_.emplace(scratch_, Cell{}).first;
    it->second.count += c.count;
    it->second.sum_micros += c.sum_micros;
  }
  std::unordered_map<std::string, Cell> sums_;
  std::string scratch_;
};

}  // namespace

void merge_cell(Batch& b, std::string_view cell_key, const Cell& delta) {
  b.merge(b.store().cf("agg"), cell_key, encode_cell(delta));
  if (delta.tally) return;
  Rollups r;
  r.add(cell_key, delta);
  r.merge_into(b);
}

void put_presence(Batch& b, std::string_view presence_key) {
  b.put(b.store().cf("uniq"), presence_key, "");
}

void delete_counter(Batch& b, const std::string& tenant, const std::string& counter) {
  auto p = keys::cell_prefix(tenant, counter);
  for (const char* cf : {"agg", "uniq", "roll"})
    b.delete_range(b.store().cf(cf), p, keys::prefix_end(p));
}

void delete_counters(Batch& b, const std::string& tenant, const std::string& counter_prefix) {
  auto p = keys::join(tenant, counter_prefix);
  for (const char* cf : {"agg", "uniq", "roll"})
    b.delete_range(b.store().cf(cf), p, keys::prefix_end(p));
}

void fold(Batch& b, const projection::Delta& d, uint64_t& fingerprint_seq) {
  if (!d.first_seen.empty()) state::put_fingerprints(b, fingerprint_seq++, d.first_seen);
  for (auto w : d.watermarks) state::put_dedup_watermark(b, w);
  for (auto pos : d.duplicates) state::put_duplicate(b, pos);
  storage::Cf agg = b.store().cf("agg"), uniq = b.store().cf("uniq");
  Rollups rollups;
  for (const auto& [key, cell] : d.cells.cells()) {
    b.merge(agg, key, encode_cell(cell));
    if (!cell.tally) rollups.add(key, cell);
  }
  rollups.merge_into(b);
  for (const auto& key : d.cells.presence()) b.put(uniq, key, "");
}

namespace {
Error not_a_cell(const Store& s, std::string_view key) {
  return s.unreadable("cell", key, "not 16 or 24 bytes");
}
}  // namespace

Result<CounterTotals> totals(const Store& s, const std::string& tenant,
                             const std::string& counter) {
  CounterTotals t;
  auto prefix = keys::cell_prefix(tenant, counter);
  std::optional<Error> bad;
  auto st = s.scan(s.cf("agg"), prefix, [&](std::string_view key, std::string_view value) {
    auto c = decode_cell(value);
    if (!c || key.size() != prefix.size() + 8) {
      bad = not_a_cell(s, key);
      return false;
    }
    t.total.count += c->count;
    t.total.sum_micros += c->sum_micros;
    t.buckets.emplace_back(keys::read_be64(key.substr(prefix.size())), *c);
    return true;
  });
  if (!st.ok()) return st.error();
  if (bad) return *bad;
  return t;
}

namespace {
// Adds the roll-ups or cells in [from, to) of column family `cf` to `acc`.
Status add_rows(const Store& s, storage::Cf cf, const std::string& from, const std::string& to,
                Cell& acc) {
  if (to <= from) return {};
  std::optional<Error> bad;
  auto st = s.scan_range(cf, from, to, [&](std::string_view key, std::string_view value) {
    auto c = decode_cell(value);
    if (!c) {
      bad = not_a_cell(s, key);
      return false;
    }
    acc.count += c->count;
    acc.sum_micros += c->sum_micros;
    return true;
  });
  if (!st.ok()) return st.error();
  if (bad) return *bad;
  return {};
}

// Roll-ups of `level` with index in [from, to) of the counter at `prefix`.
Status add_rollups(const Store& s, const std::string& prefix, char level, int64_t from, int64_t to,
                   Cell& acc) {
  if (to <= from) return {};
  std::string lo, hi;
  rollup_key(lo, prefix, level, from);
  rollup_key(hi, prefix, level, to);
  return add_rows(s, s.cf("roll"), lo, hi, acc);
}

// Cells in buckets [from, to) of the counter at `prefix`.
Status add_cells_in(const Store& s, const std::string& prefix, int64_t from, int64_t to,
                    Cell& acc) {
  if (to <= from) return {};
  std::string lo = prefix, hi = prefix;
  keys::append_be64(lo, from);
  keys::append_be64(hi, to);
  return add_rows(s, s.cf("agg"), lo, hi, acc);
}
}  // namespace

Result<Cell> total(const Store& s, const std::string& tenant, const std::string& counter) {
  std::string key;
  rollup_key(key, keys::cell_prefix(tenant, counter), kTotal, 0);
  auto v = s.get(s.cf("roll"), key);
  if (!v.ok()) return v.error();
  if (!*v) return Cell{};
  auto c = decode_cell(**v);
  if (!c) return not_a_cell(s, key);
  return *c;
}

Result<std::vector<std::pair<int64_t, Cell>>> daily(const Store& s, const std::string& tenant,
                                                    const std::string& counter) {
  std::string prefix = keys::cell_prefix(tenant, counter) + kDay;
  return storage::collect<std::pair<int64_t, Cell>>(
      s, s.cf("roll"), prefix,
      [&](std::string_view key, std::string_view value) -> Result<std::pair<int64_t, Cell>> {
        auto c = decode_cell(value);
        if (!c || key.size() != prefix.size() + 8) return not_a_cell(s, key);
        return std::pair{keys::read_be64(key.substr(prefix.size())), *c};
      });
}

Result<Cell> sum(const Store& s, const std::string& tenant, const std::string& counter,
                 int64_t from_bucket, int64_t to_bucket) {
  Cell acc;
  int64_t from = std::max<int64_t>(from_bucket, 0), to = to_bucket;
  if (to <= from) return acc;
  auto prefix = keys::cell_prefix(tenant, counter);
  // Whole UTC days [d0, d1) inside the window; cells at both ends.
  int64_t d0 = (from + kBucketsPerDay - 1) / kBucketsPerDay, d1 = to / kBucketsPerDay;
  if (d0 >= d1) {
    auto st = add_cells_in(s, prefix, from, to, acc);
    if (!st.ok()) return st.error();
    return acc;
  }
  // Whole months [m0, m1) inside the days; days at both ends.
  int64_t m0 = time::month_of_day(d0);
  if (time::first_day_of_month(m0) < d0) ++m0;
  int64_t m1 = time::month_of_day(d1);
  Status parts[] = {
      add_cells_in(s, prefix, from, d0 * kBucketsPerDay, acc),
      add_cells_in(s, prefix, d1 * kBucketsPerDay, to, acc),
      m0 < m1 ? add_rollups(s, prefix, kDay, d0, time::first_day_of_month(m0), acc) : Status{},
      m0 < m1 ? add_rollups(s, prefix, kMonth, m0, m1, acc) : Status{},
      add_rollups(s, prefix, kDay, m0 < m1 ? time::first_day_of_month(m1) : d0, d1, acc),
  };
  for (auto& st : parts)
    if (!st.ok()) return st.error();
  return acc;
}

namespace {
// The keys of `counter` in buckets [from, to) of column family `cf`.
Status each_in_buckets(const Store& s, storage::Cf cf, const std::string& tenant,
                       const std::string& counter, int64_t from_bucket, int64_t to_bucket,
                       const std::function<bool(std::string_view, std::string_view)>& f) {
  if (to_bucket <= from_bucket) return {};
  auto prefix = keys::cell_prefix(tenant, counter);
  std::string from = prefix, to = prefix;
  keys::append_be64(from, std::max<int64_t>(from_bucket, 0));
  keys::append_be64(to, to_bucket);
  return s.scan_range(cf, from, to, f);
}
}  // namespace

Status each_cell(
    const Store& s, const std::string& tenant, const std::string& counter_prefix,
    int64_t from_bucket, int64_t to_bucket,
    const std::function<void(std::string_view counter, int64_t bucket, const Cell& cell)>& f) {
  if (to_bucket <= from_bucket) return {};
  auto prefix = keys::join(tenant, counter_prefix);
  auto end = keys::prefix_end(prefix);
  size_t counter_at = tenant.size() + 1;
  storage::Cf agg = s.cf("agg");
  std::optional<Error> bad;
  std::string cursor = prefix;
  while (true) {
    // The next counter: the first key at or after the cursor (its key less
    // the bucket is tenant \0 counter \0).
    std::string counter_key;
    auto st = s.scan_range(agg, cursor, end, [&](std::string_view key, std::string_view) {
      if (key.size() < prefix.size() + 9 || key[key.size() - 9] != '\0')
        bad = not_a_cell(s, key);
      else
        counter_key.assign(key.substr(0, key.size() - 8));
      return false;
    });
    if (!st.ok()) return st.error();
    if (bad) return *bad;
    if (counter_key.empty()) return {};
    // Its cells in the range.
    std::string from = counter_key, to = counter_key;
    keys::append_be64(from, std::max<int64_t>(from_bucket, 0));
    keys::append_be64(to, to_bucket);
    std::string_view counter =
        std::string_view(counter_key).substr(counter_at, counter_key.size() - 1 - counter_at);
    st = s.scan_range(agg, from, to, [&](std::string_view key, std::string_view value) {
      auto c = decode_cell(value);
      if (!c || key.size() != counter_key.size() + 8) {
        bad = not_a_cell(s, key);
        return false;
      }
      f(counter, keys::read_be64(key.substr(counter_key.size())), *c);
      return true;
    });
    if (!st.ok()) return st.error();
    if (bad) return *bad;
    // Past every key of this counter (a bucket's first byte is below 0x80:
    // buckets are not negative).
    cursor = counter_key + '\xff';
  }
}

Result<int64_t> unique_subjects(const Store& s, const std::string& tenant,
                                const std::string& counter, int64_t from_bucket,
                                int64_t to_bucket) {
  std::unordered_set<std::string> subjects;
  size_t skip = keys::cell_prefix(tenant, counter).size() + 8;
  auto st = each_in_buckets(s, s.cf("uniq"), tenant, counter, from_bucket, to_bucket,
                            [&](std::string_view key, std::string_view) {
                              subjects.emplace(key.substr(skip));
                              return true;
                            });
  if (!st.ok()) return st.error();
  return static_cast<int64_t>(subjects.size());
}

}  // namespace gs::cells
