// Cells: the pre-aggregated counts and sums of every counter (a conversion
// goal, or one of the series a growth metric keeps over it) per 15-minute
// bucket of event time, in the kernel's column families `agg` (merged, so
// ingest never reads a cell) and `uniq` (presences of unique series). The
// fold of a delta (projection/delta.h) into a batch is here too: it is the
// one way ingest changes the store.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "projection/delta.h"
#include "projection/projection.h"
#include "storage/store.h"

namespace gs::cells {

using projection::Cell;
using storage::Batch;
using storage::Store;

// The bytes of a cell in `agg`: count and sum (16 bytes) while the sum fits
// in int64, with the sum's high 64 bits after them (24 bytes) only when it
// does not. decode_cell reads both forms; any other size is not a cell.
std::string encode_cell(const Cell& c);
std::optional<Cell> decode_cell(std::string_view bytes);
// The merge operator of `agg` (goalstream.CellAdd): adds cells.
extern const storage::MergeOperator kCellAdd;

void merge_cell(Batch& b, std::string_view cell_key, const Cell& delta);
void put_presence(Batch& b, std::string_view presence_key);
// Removes every cell and presence of one counter.
void delete_counter(Batch& b, const std::string& tenant, const std::string& counter);
// Removes every cell and presence of the counters of `tenant` whose id
// starts with `counter_prefix` (a tally entry's, projection::tally_prefix).
void delete_counters(Batch& b, const std::string& tenant, const std::string& counter_prefix);

// Roll-ups. Every counter cell added to `agg` (fold, merge_cell) is added,
// with the same merge operator, to three roll-ups of its counter in `roll`:
// its UTC day, its UTC month and the counter's total (keys: cell prefix +
// 'd' + day since the epoch (8 BE), + 'm' + month since 1970-01 (8 BE),
// + 't'). So `roll` is a function of `agg` (not digested), and a read of a
// window composes it from the coarsest roll-ups that fit it exactly (sum):
// at most 95 cells at each end, the days up to whole months, and the months,
// whatever the counter's history. A tally's cells (Cell::tally: agent
// verdicts, roadmap signals) get none: they are read per period or per
// millisecond, and rolling them up cost more ingest CPU than it saved.

// Folds what ingest produced: its first-seen events as one record per
// partition under `fingerprint_seq` (then incremented; none when there are
// none), the partitions' dedup watermarks, its duplicate positions, its cells as merge operands
// (never read) and its presences.
void fold(Batch& b, const projection::Delta& d, uint64_t& fingerprint_seq);

// The total of `counter` (one roll-up read).
Result<Cell> total(const Store& s, const std::string& tenant, const std::string& counter);
// The cells of `counter` per UTC day (day since the epoch -> cell), in day
// order, from the day roll-ups.
Result<std::vector<std::pair<int64_t, Cell>>> daily(const Store& s, const std::string& tenant,
                                                    const std::string& counter);
// Sum of the cells of `counter` in buckets [from, to), composed from the
// roll-ups (above).
Result<Cell> sum(const Store& s, const std::string& tenant, const std::string& counter,
                 int64_t from_bucket, int64_t to_bucket);
// Every cell of `counter` and their total, read cell by cell (what the
// roll-ups must agree with: tests and checks; the API reads roll-ups).
struct CounterTotals {
  Cell total;
  std::vector<std::pair<int64_t, Cell>> buckets;  // 15-minute bucket since epoch -> cell
};
Result<CounterTotals> totals(const Store& s, const std::string& tenant, const std::string& counter);
// Calls f(counter, bucket, cell) for every cell in buckets [from, to) of
// the counters of `tenant` whose id starts with `counter_prefix`, in key
// order (a tally entry's cells). Skips from counter to counter: it reads the
// cells in the range and two keys per counter, not the counters' whole
// history.
Status each_cell(
    const Store& s, const std::string& tenant, const std::string& counter_prefix,
    int64_t from_bucket, int64_t to_bucket,
    const std::function<void(std::string_view counter, int64_t bucket, const Cell& cell)>& f);
// Distinct subjects of a unique series in buckets [from, to).
Result<int64_t> unique_subjects(const Store& s, const std::string& tenant,
                                const std::string& counter, int64_t from_bucket, int64_t to_bucket);

}  // namespace gs::cells
