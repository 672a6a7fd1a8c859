#include "store/store.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <unordered_set>

#include <openssl/evp.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include "base/hex.h"
#include "base/keys.h"
#include "base/log.h"

namespace gs::store {

using projection::Cell;

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

Cell decode_cell(std::string_view s) {
  Cell c;
  if (s.size() != 16 && s.size() != 24) return c;
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

// Adds cells. Integer addition is associative and commutative, and 128-bit
// sums do not overflow (projection.h), so the result is independent of merge
// order and compaction.
class CellAdd : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger*) const override {
    Cell a = existing ? decode_cell(existing->ToStringView()) : Cell{};
    Cell b = decode_cell(value.ToStringView());
    a.count += b.count;
    a.sum_micros += b.sum_micros;
    *new_value = encode_cell(a);
    return true;
  }
  const char* Name() const override { return "goalstream.CellAdd"; }
};

std::string offset_key(Source src, int32_t partition) {
  return std::string(src == Source::events ? "off/e/" : "off/c/") + std::to_string(partition);
}

std::string job_key(const std::string& tenant, const std::string& goal_id) {
  return "job/" + keys::join(tenant, goal_id);
}

std::string seq_key(const char* prefix, uint64_t seq) {
  std::string k = prefix;
  keys::append_be64(k, static_cast<int64_t>(seq));
  return k;
}

bool no_space(const rocksdb::Status& s) {
  return s.IsNoSpace() || s.ToString().find("No space left on device") != std::string::npos;
}

// A failed write or open of the store: field "data-dir", so that a fatal one
// ends serve with `goalstream: data-dir: ...`.
Error io_error(const rocksdb::Status& s, const std::string& dir) {
  if (no_space(s))
    return Error{ErrorCode::internal, "data-dir", "no space left on device in " + dir};
  return Error{ErrorCode::internal, "data-dir",
               "cannot write the store in " + dir + ": " + s.ToString()};
}

// RocksDB's own log, at WARN and above, as goalstream's log lines on stderr
// rather than a LOG file in the data directory: on a full disk that file
// fails too, and Debian's RocksDB (built with assertions) then aborts on
// its way to report the real error. Informational lines (flushes,
// compactions, statistics) are dropped.
class StderrLogger : public rocksdb::Logger {
 public:
  StderrLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel() || level == rocksdb::InfoLogLevel::HEADER_LEVEL) return;
    char buf[1024];
    int n = std::vsnprintf(buf, sizeof buf, format, ap);
    if (n < 0) return;
    std::string_view msg(buf, std::min<size_t>(n, sizeof buf - 1));
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.remove_suffix(1);
    log::write(level >= rocksdb::InfoLogLevel::ERROR_LEVEL ? log::Level::error : log::Level::warn,
               "rocksdb: " + std::string(msg));
  }
};

}  // namespace

Batch::Batch() : wb_(std::make_unique<rocksdb::WriteBatch>()) {}
Batch::~Batch() = default;
Batch::Batch(Batch&&) noexcept = default;
Batch& Batch::operator=(Batch&&) noexcept = default;

void Batch::set_offset(Source src, int32_t partition, int64_t next_offset) {
  std::string v;
  keys::append_be64(v, next_offset);
  wb_->Put(store_->meta_, offset_key(src, partition), v);
}

void Batch::put_key(const std::string& key_hash, const model::ApiKey& key) {
  wb_->Put(store_->keys_, key_hash, model::to_json(key).dump());
}

void Batch::put_goal(const model::ConversionGoal& goal) {
  wb_->Put(store_->goals_, keys::join(goal.tenant_id, goal.id), model::to_json(goal).dump());
}

void Batch::delete_goal(const std::string& tenant, const std::string& goal_id) {
  wb_->Delete(store_->goals_, keys::join(tenant, goal_id));
  delete_series(tenant, goal_id);
}

void Batch::delete_series(const std::string& tenant, const std::string& target) {
  auto p = keys::cell_prefix(tenant, target);
  wb_->DeleteRange(store_->agg_, p, keys::prefix_end(p));
  wb_->DeleteRange(store_->uniq_, p, keys::prefix_end(p));
}

void Batch::put_presence(const std::string& presence_key) {
  wb_->Put(store_->uniq_, presence_key, "");
}

void Batch::put_metric(const model::Metric& m) {
  wb_->Put(store_->growth_, "m/" + keys::join(m.tenant_id, m.name), model::to_json(m).dump());
}
void Batch::delete_metric(const std::string& tenant, const std::string& name) {
  wb_->Delete(store_->growth_, "m/" + keys::join(tenant, name));
}
void Batch::put_growth_goal(const model::GrowthGoal& g) {
  wb_->Put(store_->growth_, "g/" + keys::join(g.tenant_id, g.id), model::to_json(g).dump());
}
void Batch::delete_growth_goal(const std::string& tenant, const std::string& id) {
  wb_->Delete(store_->growth_, "g/" + keys::join(tenant, id));
}
void Batch::put_timezone(const std::string& tenant, const std::string& tz) {
  wb_->Put(store_->growth_, "tz/" + tenant, tz);
}
void Batch::put_status(const std::string& tenant, const std::string& goal_id,
                       const std::string& status) {
  wb_->Put(store_->meta_, "st/" + keys::join(tenant, goal_id), status);
}
void Batch::delete_status(const std::string& tenant, const std::string& goal_id) {
  wb_->Delete(store_->meta_, "st/" + keys::join(tenant, goal_id));
}
void Batch::put_outbox(uint64_t seq, const json& change) {
  wb_->Put(store_->meta_, seq_key("out/", seq), change.dump());
}
void Batch::put_meta(const std::string& key, const std::string& value) {
  wb_->Put(store_->meta_, "x/" + key, value);
}
void Batch::delete_outbox(uint64_t seq) { wb_->Delete(store_->meta_, seq_key("out/", seq)); }
void Batch::put_idempotency(const std::string& tenant, const std::string& key, const json& record) {
  wb_->Put(store_->growth_, "i/" + keys::join(tenant, key), record.dump());
}
void Batch::delete_idempotency(const std::string& tenant, const std::string& key) {
  wb_->Delete(store_->growth_, "i/" + keys::join(tenant, key));
}

namespace {
void append_be32(std::string& out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((v >> (i * 8)) & 0xff));
}
std::string duplicate_key(Position pos) {
  std::string k = "d";
  append_be32(k, static_cast<uint32_t>(pos.partition));
  keys::append_be64(k, pos.offset);
  return k;
}
}  // namespace

void Batch::put_fingerprints(uint64_t seq, const std::vector<projection::Fingerprint>& fps) {
  std::string k = "f";
  keys::append_be64(k, static_cast<int64_t>(seq));
  std::string v(fps.size() * 16, '\0');
  for (size_t i = 0; i < fps.size(); ++i) {
    std::memcpy(v.data() + 16 * i, &fps[i].lo, 8);
    std::memcpy(v.data() + 16 * i + 8, &fps[i].hi, 8);
  }
  wb_->Put(store_->dedup_, k, v);
}

void Batch::put_duplicate(Position pos) { wb_->Put(store_->dedup_, duplicate_key(pos), ""); }

void Batch::fold(const projection::Delta& d, uint64_t& fingerprint_seq) {
  if (!d.first_seen.empty()) put_fingerprints(fingerprint_seq++, d.first_seen);
  for (auto pos : d.duplicates) put_duplicate({pos.partition, pos.offset});
  for (const auto& [key, cell] : d.cells.cells()) merge_cell(key, cell);
  for (const auto& key : d.cells.presence()) put_presence(key);
}

void Batch::merge_cell(const std::string& cell_key, const Cell& delta) {
  wb_->Merge(store_->agg_, cell_key, encode_cell(delta));
}

void Batch::put_job(const std::string& tenant, const std::string& goal_id, const json& job) {
  wb_->Put(store_->meta_, job_key(tenant, goal_id), job.dump());
}

void Batch::delete_job(const std::string& tenant, const std::string& goal_id) {
  wb_->Delete(store_->meta_, job_key(tenant, goal_id));
}

size_t Batch::count() const { return wb_->Count(); }

Result<std::unique_ptr<Store>> Store::open(const std::string& dir, bool read_only) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.IncreaseParallelism(2);
  options.max_open_files = 512;
  options.compression = rocksdb::kLZ4Compression;
  // No LOG file in the data directory: RocksDB's warnings and errors go to
  // our stderr log (StderrLogger).
  options.info_log = std::make_shared<StderrLogger>();
  // Bounds the WAL. A WAL file is deleted only once every column family
  // with data in it has been flushed, and the small ones (meta: offsets in
  // every batch) never fill a memtable: without a bound the WAL grew by
  // every byte written (987 MB for 2.1 M events). Past this total, RocksDB
  // flushes the column families that hold the oldest WAL file, which also
  // bounds what a restart replays.
  options.max_total_wal_size = kMaxTotalWalBytes;

  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.whole_key_filtering = true;

  // When the WAL reaches its bound, every column family with data in its
  // oldest file switches memtables and queues a flush, the small ones often
  // behind a large one's: with the default of 2 memtables per column family,
  // a second switch before that flush ran stopped all writes. Small
  // memtables for the small column families, more of them everywhere.
  rocksdb::ColumnFamilyOptions plain(options);
  plain.write_buffer_size = 8 << 20;
  plain.max_write_buffer_number = 6;
  rocksdb::ColumnFamilyOptions dedup(options);
  dedup.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  dedup.max_write_buffer_number = 3;

  rocksdb::ColumnFamilyOptions agg(options);
  agg.merge_operator = std::make_shared<CellAdd>();
  agg.max_write_buffer_number = 3;
  rocksdb::ColumnFamilyOptions uniq(options);
  uniq.max_write_buffer_number = 6;

  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {{rocksdb::kDefaultColumnFamilyName, plain},
                                                      {"meta", plain},
                                                      {"keys", plain},
                                                      {"goals", plain},
                                                      {"dedup", dedup},
                                                      {"agg", agg},
                                                      {"uniq", uniq},
                                                      {"growth", plain}};
  // A format-1 store has no uniq/growth column families: refuse it before
  // opening creates them (which would lock older binaries out of it).
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(options), dir, &existing).ok() &&
      !existing.empty() && std::find(existing.begin(), existing.end(), "growth") == existing.end())
    return Error{ErrorCode::conflict, "data-dir",
                 "the store in " + dir + " has format 1; this goalstream reads format " +
                     std::string(kFormat) +
                     ": rebuild into a new --data-dir (goalstream rebuild) and serve from there"};
  std::unique_ptr<Store> s(new Store());
  rocksdb::DB* raw = nullptr;
  auto st =
      read_only
          ? rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(options), dir, cfs, &s->handles_, &raw)
          : rocksdb::DB::Open(rocksdb::DBOptions(options), dir, cfs, &s->handles_, &raw);
  if (!st.ok()) {
    if (no_space(st)) return io_error(st, dir);
    return Error{ErrorCode::internal, "data-dir",
                 "cannot open store in " + dir + ": " + st.ToString()};
  }
  s->db_.reset(raw);
  s->dir_ = dir;
  s->read_only_ = read_only;
  s->meta_ = s->handles_[1];
  s->keys_ = s->handles_[2];
  s->goals_ = s->handles_[3];
  s->dedup_ = s->handles_[4];
  s->agg_ = s->handles_[5];
  s->uniq_ = s->handles_[6];
  s->growth_ = s->handles_[7];
  std::string format;
  bool has_format = s->db_->Get(rocksdb::ReadOptions(), s->meta_, "fmt", &format).ok();
  if (!has_format && !s->empty()) format = "1";
  if (!format.empty() && format != kFormat)
    return Error{ErrorCode::conflict, "data-dir",
                 "the store in " + dir + " has format " + format +
                     "; this goalstream reads format " + kFormat +
                     ": rebuild into a new --data-dir (goalstream rebuild) and serve from there"};
  if (!has_format && !read_only) {
    rocksdb::WriteBatch wb;
    wb.Put(s->meta_, "fmt", kFormat);
    wb.Put(s->meta_, "x/instance", model::random_hex(8));
    auto st2 = s->db_->Write(rocksdb::WriteOptions(), &wb);
    if (!st2.ok()) {
      s->write_failed_ = true;
      return io_error(st2, dir);
    }
  }
  return s;
}

Store::~Store() {
  if (db_) {
    // A clean close flushes the memtables, so that the next start replays
    // no WAL and the directory holds only SST files.
    if (!read_only_ && !write_failed_) {
      rocksdb::FlushOptions fo;
      fo.allow_write_stall = true;
      if (!db_->Flush(fo, handles_).ok()) db_->FlushWAL(true);
    }
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    db_->Close();
  }
}

Batch Store::batch() {
  Batch b;
  b.store_ = this;
  return b;
}

Status Store::write(Batch& b) {
  auto st = db_->Write(rocksdb::WriteOptions(), b.wb_.get());
  if (!st.ok()) {
    write_failed_ = true;
    return io_error(st, dir_);
  }
  b.wb_->Clear();
  return {};
}

std::map<int32_t, int64_t> Store::offsets(Source src) const {
  std::map<int32_t, int64_t> out;
  std::string prefix = src == Source::events ? "off/e/" : "off/c/";
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    auto k = it->key().ToString().substr(prefix.size());
    out[std::stoi(k)] = keys::read_be64(it->value().ToStringView());
  }
  return out;
}

bool Store::empty() const {
  for (auto* h : handles_) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), h));
    it->SeekToFirst();
    // Written at creation: the format and the instance id.
    if (h == meta_ && it->Valid() && it->key() == "fmt") it->Next();
    if (h == meta_ && it->Valid() && it->key() == "x/instance") it->Next();
    if (it->Valid()) return false;
  }
  return true;
}

std::optional<model::ApiKey> Store::find_key(const std::string& key_hash) const {
  std::string v;
  if (!db_->Get(rocksdb::ReadOptions(), keys_, key_hash, &v).ok()) return std::nullopt;
  auto k = model::api_key_from_json(json::parse(v, nullptr, false));
  if (!k.ok()) return std::nullopt;
  return std::move(k).value();
}

std::optional<json> Store::goal(const std::string& tenant, const std::string& goal_id) const {
  std::string v;
  if (!db_->Get(rocksdb::ReadOptions(), goals_, keys::join(tenant, goal_id), &v).ok())
    return std::nullopt;
  return json::parse(v, nullptr, false);
}

std::vector<json> Store::goals(const std::string& tenant) const {
  std::vector<json> out;
  std::string prefix = tenant + '\0';
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), goals_));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next())
    out.push_back(json::parse(it->value().ToStringView(), nullptr, false));
  return out;
}

std::vector<model::ConversionGoal> Store::all_goals() const {
  std::vector<model::ConversionGoal> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), goals_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto key = it->key().ToStringView();
    auto tenant = std::string(key.substr(0, key.find('\0')));
    auto g = model::conversion_goal_from_json(
        json::parse(it->value().ToStringView(), nullptr, false), tenant);
    if (g.ok()) out.push_back(std::move(g).value());
  }
  return out;
}

namespace {
template <class F>
void for_each_fingerprint(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                          const rocksdb::ReadOptions& ro, F&& f) {
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cf));
  for (it->Seek("f"); it->Valid() && it->key().starts_with("f"); it->Next()) {
    auto v = it->value();
    for (size_t off = 0; off + 16 <= v.size(); off += 16) {
      projection::Fingerprint fp;
      std::memcpy(&fp.lo, v.data() + off, 8);
      std::memcpy(&fp.hi, v.data() + off + 8, 8);
      f(fp, it->key());
    }
  }
}
}  // namespace

uint64_t Store::load_fingerprints(projection::FingerprintSet& set) const {
  uint64_t next = 0;
  for_each_fingerprint(
      db_.get(), dedup_, rocksdb::ReadOptions(),
      [&](projection::Fingerprint fp, rocksdb::Slice key) {
        set.insert(fp);
        next = std::max<uint64_t>(
            next, static_cast<uint64_t>(keys::read_be64(key.ToStringView().substr(1))) + 1);
      });
  return next;
}

bool Store::is_duplicate(Position pos) const {
  std::string v;
  return db_->Get(rocksdb::ReadOptions(), dedup_, duplicate_key(pos), &v).ok();
}

GoalTotals Store::totals(const std::string& tenant, const std::string& goal_id) const {
  GoalTotals t;
  auto prefix = keys::cell_prefix(tenant, goal_id);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), agg_));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    Cell c = decode_cell(it->value().ToStringView());
    int64_t bucket = keys::read_be64(it->key().ToStringView().substr(prefix.size()));
    t.total.count += c.count;
    t.total.sum_micros += c.sum_micros;
    t.buckets.emplace_back(bucket, c);
  }
  return t;
}

namespace {
// Calls f(key without the series prefix) for each key of `target` in buckets
// [from, to) of column family `cf`.
template <class F>
void for_each_in_buckets(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                         const std::string& tenant, const std::string& target, int64_t from_bucket,
                         int64_t to_bucket, F&& f) {
  if (to_bucket <= from_bucket) return;
  auto prefix = keys::cell_prefix(tenant, target);
  std::string from = prefix, to = prefix;
  keys::append_be64(from, std::max<int64_t>(from_bucket, 0));
  keys::append_be64(to, to_bucket);
  rocksdb::Slice upper(to);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cf));
  for (it->Seek(from); it->Valid(); it->Next())
    f(it->key().ToStringView().substr(prefix.size()), it->value());
}
}  // namespace

Cell Store::cells(const std::string& tenant, const std::string& target, int64_t from_bucket,
                  int64_t to_bucket) const {
  Cell total;
  for_each_in_buckets(db_.get(), agg_, tenant, target, from_bucket, to_bucket,
                      [&](std::string_view, rocksdb::Slice v) {
                        Cell c = decode_cell(v.ToStringView());
                        total.count += c.count;
                        total.sum_micros += c.sum_micros;
                      });
  return total;
}

int64_t Store::unique_subjects(const std::string& tenant, const std::string& target,
                               int64_t from_bucket, int64_t to_bucket) const {
  std::unordered_set<std::string> subjects;
  for_each_in_buckets(
      db_.get(), uniq_, tenant, target, from_bucket, to_bucket,
      [&](std::string_view key, rocksdb::Slice) { subjects.emplace(key.substr(8)); });
  return static_cast<int64_t>(subjects.size());
}

namespace {
template <class T, class Parse>
std::vector<T> scan_growth(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                           const std::string& prefix, Parse parse) {
  std::vector<T> out;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), cf));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    auto key = it->key().ToStringView().substr(2);  // after "g/" or "m/"
    std::string tenant(key.substr(0, key.find('\0')));
    auto v = parse(json::parse(it->value().ToStringView(), nullptr, false), tenant);
    if (v.ok()) out.push_back(std::move(v).value());
  }
  return out;
}
template <class T, class Parse>
std::optional<T> get_growth(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                            const std::string& key, const std::string& tenant, Parse parse) {
  std::string v;
  if (!db->Get(rocksdb::ReadOptions(), cf, key, &v).ok()) return std::nullopt;
  auto r = parse(json::parse(v, nullptr, false), tenant);
  if (!r.ok()) return std::nullopt;
  return std::move(r).value();
}
}  // namespace

std::vector<model::Metric> Store::metrics(const std::string& tenant) const {
  return scan_growth<model::Metric>(db_.get(), growth_, "m/" + tenant + '\0',
                                    model::metric_from_json);
}
std::optional<model::Metric> Store::metric(const std::string& tenant,
                                           const std::string& name) const {
  return get_growth<model::Metric>(db_.get(), growth_, "m/" + keys::join(tenant, name), tenant,
                                   model::metric_from_json);
}
std::vector<model::Metric> Store::all_metrics() const {
  return scan_growth<model::Metric>(db_.get(), growth_, "m/", model::metric_from_json);
}
std::vector<model::GrowthGoal> Store::growth_goals(const std::string& tenant) const {
  return scan_growth<model::GrowthGoal>(db_.get(), growth_, "g/" + tenant + '\0',
                                        model::growth_goal_from_json);
}
std::optional<model::GrowthGoal> Store::growth_goal(const std::string& tenant,
                                                    const std::string& id) const {
  return get_growth<model::GrowthGoal>(db_.get(), growth_, "g/" + keys::join(tenant, id), tenant,
                                       model::growth_goal_from_json);
}
std::vector<model::GrowthGoal> Store::all_growth_goals() const {
  return scan_growth<model::GrowthGoal>(db_.get(), growth_, "g/", model::growth_goal_from_json);
}
std::string Store::timezone(const std::string& tenant) const {
  std::string v;
  if (!db_->Get(rocksdb::ReadOptions(), growth_, "tz/" + tenant, &v).ok()) return "UTC";
  return v;
}
std::optional<std::string> Store::status(const std::string& tenant,
                                         const std::string& goal_id) const {
  std::string v;
  if (!db_->Get(rocksdb::ReadOptions(), meta_, "st/" + keys::join(tenant, goal_id), &v).ok())
    return std::nullopt;
  return v;
}
std::optional<std::string> Store::meta(const std::string& key) const {
  std::string v;
  if (!db_->Get(rocksdb::ReadOptions(), meta_, "x/" + key, &v).ok()) return std::nullopt;
  return v;
}

std::string Store::instance_id() const { return meta("instance").value_or("unknown"); }

std::vector<std::pair<uint64_t, json>> Store::outbox() const {
  std::vector<std::pair<uint64_t, json>> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_));
  for (it->Seek("out/"); it->Valid() && it->key().starts_with("out/"); it->Next())
    out.emplace_back(static_cast<uint64_t>(keys::read_be64(it->key().ToStringView().substr(4))),
                     json::parse(it->value().ToStringView(), nullptr, false));
  return out;
}

std::optional<json> Store::job(const std::string& tenant, const std::string& goal_id) const {
  std::string v;
  if (!db_->Get(rocksdb::ReadOptions(), meta_, job_key(tenant, goal_id), &v).ok())
    return std::nullopt;
  return json::parse(v, nullptr, false);
}

std::vector<std::tuple<std::string, std::string, json>> Store::jobs() const {
  std::vector<std::tuple<std::string, std::string, json>> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_));
  for (it->Seek("job/"); it->Valid() && it->key().starts_with("job/"); it->Next()) {
    auto k = it->key().ToStringView().substr(4);
    auto nul = k.find('\0');
    out.emplace_back(std::string(k.substr(0, nul)), std::string(k.substr(nul + 1)),
                     json::parse(it->value().ToStringView(), nullptr, false));
  }
  return out;
}

std::optional<json> Store::idempotency(const std::string& tenant, const std::string& key) const {
  std::string v;
  if (!db_->Get(rocksdb::ReadOptions(), growth_, "i/" + keys::join(tenant, key), &v).ok())
    return std::nullopt;
  auto j = json::parse(v, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

std::vector<std::tuple<std::string, std::string, json>> Store::all_idempotency() const {
  std::vector<std::tuple<std::string, std::string, json>> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), growth_));
  for (it->Seek("i/"); it->Valid() && it->key().starts_with("i/"); it->Next()) {
    auto k = it->key().ToStringView().substr(2);
    auto nul = k.find('\0');
    out.emplace_back(std::string(k.substr(0, nul)), std::string(k.substr(nul + 1)),
                     json::parse(it->value().ToStringView(), nullptr, false));
  }
  return out;
}

std::string Store::digest() const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  auto feed = [&](std::string_view s) {
    uint64_t n = s.size();
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (56 - 8 * i));
    EVP_DigestUpdate(ctx, len, 8);
    EVP_DigestUpdate(ctx, s.data(), s.size());
  };
  rocksdb::ReadOptions ro;
  const rocksdb::Snapshot* snap = db_->GetSnapshot();
  ro.snapshot = snap;
  std::pair<const char*, rocksdb::ColumnFamilyHandle*> cfs[] = {
      {"keys", keys_}, {"goals", goals_}, {"agg", agg_}, {"uniq", uniq_}, {"growth", growth_}};
  for (auto [name, h] : cfs) {
    feed(name);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, h));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      feed(it->key().ToStringView());
      feed(it->value().ToStringView());
    }
  }
  // The set of events seen. Which batch first saw an event, and which copy
  // of it was first (copies on different partitions may be met in either
  // order), are bookkeeping, not content.
  feed("dedup");
  std::vector<projection::Fingerprint> fps;
  for_each_fingerprint(db_.get(), dedup_, ro,
                       [&](projection::Fingerprint fp, rocksdb::Slice) { fps.push_back(fp); });
  std::sort(fps.begin(), fps.end());
  for (const auto& fp : fps) {
    unsigned char b[16];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(fp.hi >> (56 - 8 * i));
    for (int i = 0; i < 8; ++i) b[8 + i] = static_cast<unsigned char>(fp.lo >> (56 - 8 * i));
    EVP_DigestUpdate(ctx, b, 16);
  }
  db_->ReleaseSnapshot(snap);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  return to_hex(md, len);
}

}  // namespace gs::store
