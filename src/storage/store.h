// The RocksDB store, knowing keyspaces, not entities: it opens the column
// families the kernel and the modules declare (ColumnFamilySpec), and offers
// reads, scans, pages and atomic batches over them. What a key or a value
// means is the business of the keyspace's owner (src/stream/state.h for the
// kernel's, src/modules/<family>/keyspace.h for a module's).
//
// Reads return Result<optional<...>>: NotFound is an empty optional, an I/O
// failure is an Error. A row its owner cannot parse is reported through
// unreadable(), which logs it and counts it (goalstream_store_unreadable_rows_total)
// and returns the Error to pass up: such a row is never skipped silently.
//
// Thread-safety: reads are safe from any thread. Writes go through write();
// a Batch is not thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class WriteBatch;
}  // namespace rocksdb

namespace gs::storage {

// RocksDB options per kind of column family. Each reproduces the options the
// store had before keyspaces were declared, so existing stores open as they did.
enum class Tuning : uint8_t {
  plain,          // small entity rows: 8 MiB memtables, 6 of them
  point_lookups,  // bloom filters (dedup records)
  merge_heavy,    // merge operands on every batch (cells)
  presence,       // many tiny keys (unique-series presences)
};

// A merge operator as a pure function of the existing value (null when the
// key has none) and one operand. It must be associative.
struct MergeOperator {
  const char* name;  // recorded by RocksDB; never rename one in use
  std::string (*merge)(const std::string_view* existing, std::string_view operand);
};

// Receives what enters the digest.
struct DigestSink {
  // Length-prefixed (8 bytes BE) bytes.
  std::function<void(std::string_view)> feed;
  // Bytes as they are.
  std::function<void(std::string_view)> raw;
};
// Iterates every row of one column family at the digest's snapshot.
using RowVisitor = std::function<void(std::string_view key, std::string_view value)>;
using Rows = std::function<void(const RowVisitor&)>;
// How a column family enters the digest when not row by row.
using CustomDigest = void (*)(const Rows& rows, DigestSink& sink);
// A family's digest as the default one feeds it (its name, then every key
// and value), but nothing at all while it is empty: a column family added
// to the digest leaves every store without its rows with the digest it had.
// For a CustomDigest that names its family: [](auto& r, auto& s) {
// digest_when_used("agent", r, s); }.
void digest_when_used(std::string_view name, const Rows& rows, DigestSink& sink);

struct ColumnFamilySpec {
  std::string_view name;
  Tuning tuning = Tuning::plain;
  const MergeOperator* merge = nullptr;
  // 0: not in the digest. Otherwise column families are digested in
  // ascending rank: by default their name, then every key and value in key
  // order; `custom_digest` replaces that.
  int digest_rank = 0;
  CustomDigest custom_digest = nullptr;
};

// A declared column family, resolved at open.
struct Cf {
  uint16_t index = 0;
};

// The WAL's bound (RocksDB's max_total_wal_size; see Store::open).
inline constexpr uint64_t kMaxTotalWalBytes = 64ull << 20;

// Store format: 4 since dedup is per partition within a horizon (dedup
// records carry the partition and the watermark), 3 since cells have
// roll-ups (kernel/cells.h), 2 since cells became 15-minute buckets (1 had
// hours). Kept in the column family "meta" under "fmt" (the one key storage
// owns there, with "x/instance", a random id given to the store when it is
// created). A store of the previous format is read as it is when opened
// read-only (the digest reads format-3 dedup records), and upgraded when
// opened for writing only with an Upgrade (none exists from 3 to 4: the
// partitions of a format-3 store's events are not in it).
inline constexpr const char* kFormat = "4";
inline constexpr const char* kPreviousFormat = "3";

class Store;
// Brings a store of kPreviousFormat up to kFormat (before "fmt" is
// rewritten, so an interrupted upgrade runs again at the next open).
using Upgrade = Status (*)(Store& s);

// One atomic unit of change.
class Batch {
 public:
  Batch();
  ~Batch();
  Batch(Batch&&) noexcept;
  Batch& operator=(Batch&&) noexcept;
  void put(Cf cf, std::string_view key, std::string_view value);
  void del(Cf cf, std::string_view key);
  void merge(Cf cf, std::string_view key, std::string_view operand);
  // Deletes every key in [from, to); an empty `to` means no upper bound.
  void delete_range(Cf cf, std::string_view from, std::string_view to);
  size_t count() const;
  // The puts of column family `cf` in this batch, in order (key, value).
  std::vector<std::pair<std::string, std::string>> puts(Cf cf) const;
  const Store& store() const { return *store_; }

 private:
  friend class Store;
  std::unique_ptr<rocksdb::WriteBatch> wb_;
  Store* store_ = nullptr;
};

// One page of a keyspace: the rows at [offset, offset + limit) of the
// prefix in key order, and how many rows the prefix has in all.
struct Page {
  std::vector<std::pair<std::string, std::string>> rows;
  int64_t total = 0;
};

class Store {
 public:
  // Opens (creating if missing) the store in `dir` with the declared column
  // families (names unique; "meta" among them). Fails with a message on a
  // directory that is not a goalstream store or is locked by another
  // process. read_only: open beside a running process (no lock taken, no
  // writes), as `goalstream digest` does. Errors have the field "data-dir";
  // a full disk reads "no space left on device in DIR".
  // `upgrade` brings a store of kPreviousFormat opened for writing up to
  // date; without one such a store is refused like any other format.
  static Result<std::unique_ptr<Store>> open(const std::string& dir,
                                             std::span<const ColumnFamilySpec> specs,
                                             bool read_only = false, Upgrade upgrade = nullptr);
  ~Store();

  // The declared column family `name`; a name never declared is a bug
  // (std::logic_error).
  Cf cf(std::string_view name) const;

  Batch batch();
  // Writes the batch atomically. A failure (an Error with field "data-dir",
  // "no space left on device in DIR" on a full disk) leaves the store
  // unwritable until it is reopened.
  Status write(Batch& b);

  // True when nothing has ever been written (but the format record).
  bool empty() const;

  Result<std::optional<std::string>> get(Cf cf, std::string_view key) const;
  // Calls f(key, value) for each key that starts with `prefix`, in key
  // order, until f returns false.
  Status scan(Cf cf, std::string_view prefix,
              const std::function<bool(std::string_view, std::string_view)>& f) const;
  // The same over the keys in [from, to).
  Status scan_range(Cf cf, std::string_view from, std::string_view to,
                    const std::function<bool(std::string_view, std::string_view)>& f) const;
  Result<Page> page(Cf cf, std::string_view prefix, int64_t offset, int64_t limit) const;

  // A row of keyspace `what` at `key` that its owner cannot read: logged
  // (once per key) and counted; returns the Error to pass up ("data-dir:
  // unreadable <what> row <key>: <why>; rebuild ..." ).
  Error unreadable(std::string_view what, std::string_view key, std::string_view why) const;
  uint64_t unreadable_rows() const { return unreadable_rows_.load(); }

  // The id given to the store when it was created: tells apart the changes
  // published from different stores (a rebuilt store starts anew).
  std::string instance_id() const;

  // SHA-256 over the declared column families with a digest rank (see
  // ColumnFamilySpec), at one snapshot, independent of RocksDB's file layout.
  std::string digest() const;

  const std::string& dir() const { return dir_; }
  rocksdb::DB* db() { return db_.get(); }

 private:
  friend class Batch;
  Store() = default;
  rocksdb::ColumnFamilyHandle* handle(Cf cf) const { return handles_[cf.index]; }
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<ColumnFamilySpec> specs_;  // handles_[i + 1] is specs_[i]
  // [0] is RocksDB's default; null for a declared column family a read-only
  // store has not got (it reads as empty)
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::string dir_;
  bool read_only_ = false;
  // Set by a failed write: RocksDB (built with assertions) aborts when a
  // WAL writer that saw an error is flushed again, so close without that.
  std::atomic<bool> write_failed_{false};
  mutable std::atomic<uint64_t> unreadable_rows_{0};
  mutable std::mutex unreadable_mu_;
  mutable std::set<std::string> unreadable_logged_;  // guarded by unreadable_mu_
};

// Reads every row under `prefix` in key order with `read(key, value)`,
// which returns Result<T>; the first Error (an unreadable row) ends the
// scan and is the answer.
template <class T, class Read>
Result<std::vector<T>> collect(const Store& s, Cf cf, std::string_view prefix, Read read) {
  std::vector<T> out;
  std::optional<Error> bad;
  auto st = s.scan(cf, prefix, [&](std::string_view key, std::string_view value) {
    auto r = read(key, value);
    if (!r.ok()) {
      bad = r.error();
      return false;
    }
    out.push_back(std::move(r).value());
    return true;
  });
  if (!st.ok()) return st.error();
  if (bad) return *bad;
  return out;
}

}  // namespace gs::storage
