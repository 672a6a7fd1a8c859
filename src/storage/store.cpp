#include "storage/store.h"

#include <algorithm>
#include <stdexcept>

#include <openssl/evp.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include "base/crypto.h"
#include "base/hex.h"
#include "base/log.h"
#include "storage/rocksdb_log.h"

namespace gs::storage {

namespace {

// A declared MergeOperator as RocksDB's.
class DeclaredMerge : public rocksdb::AssociativeMergeOperator {
 public:
  explicit DeclaredMerge(const storage::MergeOperator& op) : op_(op) {}
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger*) const override {
    std::string_view prev = existing ? existing->ToStringView() : std::string_view();
    *new_value = op_.merge(existing ? &prev : nullptr, value.ToStringView());
    return true;
  }
  const char* Name() const override { return op_.name; }

 private:
  const storage::MergeOperator& op_;
};

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

Error read_error(const rocksdb::Status& s, const std::string& dir) {
  return Error{ErrorCode::internal, "data-dir",
               "cannot read the store in " + dir + ": " + s.ToString()};
}

std::string format_refusal(const std::string& dir, const std::string& format) {
  return "the store in " + dir + " has format " + format + "; this goalstream reads format " +
         kFormat + ": rebuild into a new --data-dir (goalstream rebuild) and serve from there";
}

// The options of each Tuning (see the enum). When the WAL reaches its bound,
// every column family with data in its oldest file switches memtables and
// queues a flush, the small ones often behind a large one's: with the default
// of 2 memtables per column family, a second switch before that flush ran
// stopped all writes. Small memtables for the small column families, more of
// them everywhere.
rocksdb::ColumnFamilyOptions tuned(const rocksdb::Options& base, const ColumnFamilySpec& spec) {
  rocksdb::ColumnFamilyOptions o(base);
  switch (spec.tuning) {
    case Tuning::plain:
      o.write_buffer_size = 8 << 20;
      o.max_write_buffer_number = 6;
      break;
    case Tuning::point_lookups: {
      rocksdb::BlockBasedTableOptions table;
      table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
      table.whole_key_filtering = true;
      o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
      o.max_write_buffer_number = 3;
      break;
    }
    case Tuning::merge_heavy:
      o.max_write_buffer_number = 3;
      break;
    case Tuning::presence:
      o.max_write_buffer_number = 6;
      break;
  }
  if (spec.merge) o.merge_operator = std::make_shared<DeclaredMerge>(*spec.merge);
  return o;
}

rocksdb::Options db_options() {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.IncreaseParallelism(2);
  options.max_open_files = 512;
  options.compression = rocksdb::kLZ4Compression;
  // No LOG file in the data directory: RocksDB's warnings and errors go to
  // our stderr log.
  options.info_log = stderr_logger();
  // Bounds the WAL. A WAL file is deleted only once every column family
  // with data in it has been flushed, and the small ones (meta: offsets in
  // every batch) never fill a memtable: without a bound the WAL grew by
  // every byte written (987 MB for 2.1 M events). Past this total, RocksDB
  // flushes the column families that hold the oldest WAL file, which also
  // bounds what a restart replays.
  options.max_total_wal_size = kMaxTotalWalBytes;
  return options;
}

}  // namespace

Batch::Batch() : wb_(std::make_unique<rocksdb::WriteBatch>()) {}
Batch::~Batch() = default;
Batch::Batch(Batch&&) noexcept = default;
Batch& Batch::operator=(Batch&&) noexcept = default;

void Batch::put(Cf cf, std::string_view key, std::string_view value) {
  wb_->Put(store_->handle(cf), key, value);
}
void Batch::del(Cf cf, std::string_view key) { wb_->Delete(store_->handle(cf), key); }
void Batch::merge(Cf cf, std::string_view key, std::string_view operand) {
  wb_->Merge(store_->handle(cf), key, operand);
}
void Batch::delete_range(Cf cf, std::string_view from, std::string_view to) {
  if (!to.empty()) {
    wb_->DeleteRange(store_->handle(cf), from, to);
    return;
  }
  // No upper bound: RocksDB needs one, so up to the last key there is now,
  // and that key.
  std::unique_ptr<rocksdb::Iterator> it(
      store_->db_->NewIterator(rocksdb::ReadOptions(), store_->handle(cf)));
  it->SeekToLast();
  if (!it->Valid() || it->key().compare(rocksdb::Slice(from)) < 0) return;
  std::string last = it->key().ToString();
  wb_->DeleteRange(store_->handle(cf), from, last);
  wb_->Delete(store_->handle(cf), last);
}
size_t Batch::count() const { return wb_->Count(); }

std::vector<std::pair<std::string, std::string>> Batch::puts(Cf cf) const {
  struct Collect : rocksdb::WriteBatch::Handler {
    uint32_t id = 0;
    std::vector<std::pair<std::string, std::string>> out;
    rocksdb::Status PutCF(uint32_t cf_id, const rocksdb::Slice& key,
                          const rocksdb::Slice& value) override {
      if (cf_id == id) out.emplace_back(key.ToString(), value.ToString());
      return rocksdb::Status::OK();
    }
    // The other records are not asked for (the default handlers of merges
    // and range deletions fail the iteration).
    rocksdb::Status DeleteCF(uint32_t, const rocksdb::Slice&) override {
      return rocksdb::Status::OK();
    }
    rocksdb::Status MergeCF(uint32_t, const rocksdb::Slice&, const rocksdb::Slice&) override {
      return rocksdb::Status::OK();
    }
    rocksdb::Status DeleteRangeCF(uint32_t, const rocksdb::Slice&, const rocksdb::Slice&) override {
      return rocksdb::Status::OK();
    }
  } c;
  c.id = store_->handle(cf)->GetID();
  wb_->Iterate(&c).PermitUncheckedError();
  return std::move(c.out);
}

Result<std::unique_ptr<Store>> Store::open(const std::string& dir,
                                           std::span<const ColumnFamilySpec> specs, bool read_only,
                                           Upgrade upgrade) {
  rocksdb::Options options = db_options();
  ColumnFamilySpec default_spec{rocksdb::kDefaultColumnFamilyName};
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, tuned(options, default_spec)}};
  for (const auto& spec : specs) {
    for (const auto& d : cfs)
      if (d.name == spec.name)
        throw std::logic_error("column family " + std::string(spec.name) + " declared twice");
    cfs.emplace_back(std::string(spec.name), tuned(options, spec));
  }
  // A format-1 store has no uniq/growth column families: refuse it before
  // opening creates them (which would lock older binaries out of it).
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(options), dir, &existing).ok() &&
      !existing.empty() && std::find(existing.begin(), existing.end(), "growth") == existing.end())
    return Error{ErrorCode::conflict, "data-dir", format_refusal(dir, "1")};
  std::unique_ptr<Store> s(new Store());
  s->specs_.assign(specs.begin(), specs.end());
  rocksdb::DB* raw = nullptr;
  rocksdb::Status st;
  if (read_only) {
    // Read-only, RocksDB cannot create a column family: one a newer module
    // declares and this store has not got yet (no write opened it since)
    // has no handle, and reads as empty.
    std::vector<rocksdb::ColumnFamilyDescriptor> present;
    for (const auto& d : cfs)
      if (existing.empty() || std::find(existing.begin(), existing.end(), d.name) != existing.end())
        present.push_back(d);
    std::vector<rocksdb::ColumnFamilyHandle*> opened;
    st = rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(options), dir, present, &opened, &raw);
    if (st.ok()) {
      s->handles_.assign(cfs.size(), nullptr);
      for (size_t i = 0, k = 0; i < cfs.size() && k < present.size(); ++i)
        if (cfs[i].name == present[k].name) s->handles_[i] = opened[k++];
    }
  } else {
    st = rocksdb::DB::Open(rocksdb::DBOptions(options), dir, cfs, &s->handles_, &raw);
  }
  if (!st.ok()) {
    if (no_space(st)) return io_error(st, dir);
    return Error{ErrorCode::internal, "data-dir",
                 "cannot open store in " + dir + ": " + st.ToString()};
  }
  s->db_.reset(raw);
  s->dir_ = dir;
  s->read_only_ = read_only;
  Cf meta = s->cf("meta");
  std::string format;
  bool has_format = s->db_->Get(rocksdb::ReadOptions(), s->handle(meta), "fmt", &format).ok();
  if (!has_format && !s->empty()) format = "1";
  bool previous = format == kPreviousFormat && (read_only || upgrade);
  if (!format.empty() && format != kFormat && !previous)
    return Error{ErrorCode::conflict, "data-dir", format_refusal(dir, format)};
  if (previous && !read_only) {
    auto up = upgrade(*s);
    if (!up.ok()) return up.error();
    auto st2 = s->db_->Put(rocksdb::WriteOptions(), s->handle(meta), "fmt", kFormat);
    if (!st2.ok()) {
      s->write_failed_ = true;
      return io_error(st2, dir);
    }
  }
  if (!has_format && !read_only) {
    rocksdb::WriteBatch wb;
    wb.Put(s->handle(meta), "fmt", kFormat);
    wb.Put(s->handle(meta), "x/instance", crypto::random_hex(8));
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
    for (auto* h : handles_)
      if (h) db_->DestroyColumnFamilyHandle(h);
    db_->Close();
  }
}

Cf Store::cf(std::string_view name) const {
  for (size_t i = 0; i < specs_.size(); ++i)
    if (specs_[i].name == name) return Cf{static_cast<uint16_t>(i + 1)};
  throw std::logic_error("column family " + std::string(name) + " was not declared");
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

bool Store::empty() const {
  for (size_t i = 0; i < handles_.size(); ++i) {
    if (!handles_[i]) continue;  // absent (read-only): empty
    bool meta = i > 0 && specs_[i - 1].name == "meta";
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handles_[i]));
    it->SeekToFirst();
    // Written at creation: the format and the instance id.
    if (meta && it->Valid() && it->key() == "fmt") it->Next();
    if (meta && it->Valid() && it->key() == "x/instance") it->Next();
    if (it->Valid()) return false;
  }
  return true;
}

Result<std::optional<std::string>> Store::get(Cf cf, std::string_view key) const {
  if (!handle(cf)) return std::optional<std::string>();  // absent (read-only): empty
  std::string v;
  auto st = db_->Get(rocksdb::ReadOptions(), handle(cf), key, &v);
  if (st.IsNotFound()) return std::optional<std::string>();
  if (!st.ok()) return read_error(st, dir_);
  return std::optional<std::string>(std::move(v));
}

Status Store::scan(Cf cf, std::string_view prefix,
                   const std::function<bool(std::string_view, std::string_view)>& f) const {
  if (!handle(cf)) return {};
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), handle(cf)));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next())
    if (!f(it->key().ToStringView(), it->value().ToStringView())) break;
  if (!it->status().ok()) return read_error(it->status(), dir_);
  return {};
}

Status Store::scan_range(Cf cf, std::string_view from, std::string_view to,
                         const std::function<bool(std::string_view, std::string_view)>& f) const {
  if ((!to.empty() && to <= from) || !handle(cf)) return {};
  rocksdb::Slice upper(to);
  rocksdb::ReadOptions ro;
  if (!to.empty()) ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handle(cf)));
  for (it->Seek(from); it->Valid(); it->Next())
    if (!f(it->key().ToStringView(), it->value().ToStringView())) break;
  if (!it->status().ok()) return read_error(it->status(), dir_);
  return {};
}

Result<Page> Store::page(Cf cf, std::string_view prefix, int64_t offset, int64_t limit) const {
  Page p;
  auto st = scan(cf, prefix, [&](std::string_view k, std::string_view v) {
    if (p.total >= offset && p.total - offset < limit) p.rows.emplace_back(k, v);
    ++p.total;
    return true;
  });
  if (!st.ok()) return st.error();
  return p;
}

Error Store::unreadable(std::string_view what, std::string_view key, std::string_view why) const {
  std::string printable;
  for (unsigned char c : key) printable += c == 0 ? std::string("\\0") : std::string(1, char(c));
  Error e{ErrorCode::internal, "data-dir",
          "unreadable " + std::string(what) + " row " + printable + " in " + dir_ + ": " +
              std::string(why) + "; rebuild into a new --data-dir (goalstream rebuild)"};
  ++unreadable_rows_;
  std::lock_guard lock(unreadable_mu_);
  if (unreadable_logged_.size() < 1000 && unreadable_logged_.emplace(key).second)
    log::error(e.field + ": " + e.message);
  return e;
}

std::string Store::instance_id() const {
  auto v = get(cf("meta"), "x/instance");
  return v.ok() && *v ? **v : "unknown";
}

std::string Store::digest() const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  DigestSink sink;
  sink.raw = [&](std::string_view s) { EVP_DigestUpdate(ctx, s.data(), s.size()); };
  sink.feed = [&](std::string_view s) {
    uint64_t n = s.size();
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (56 - 8 * i));
    EVP_DigestUpdate(ctx, len, 8);
    EVP_DigestUpdate(ctx, s.data(), s.size());
  };
  rocksdb::ReadOptions ro;
  const rocksdb::Snapshot* snap = db_->GetSnapshot();
  ro.snapshot = snap;
  std::vector<size_t> order;
  for (size_t i = 0; i < specs_.size(); ++i)
    if (specs_[i].digest_rank > 0) order.push_back(i);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return specs_[a].digest_rank < specs_[b].digest_rank;
  });
  for (size_t i : order) {
    Rows rows = [&](const RowVisitor& visit) {
      if (!handles_[i + 1]) return;  // absent (read-only): empty
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handles_[i + 1]));
      for (it->SeekToFirst(); it->Valid(); it->Next())
        visit(it->key().ToStringView(), it->value().ToStringView());
    };
    if (specs_[i].custom_digest) {
      specs_[i].custom_digest(rows, sink);
    } else {
      sink.feed(specs_[i].name);
      rows([&](std::string_view k, std::string_view v) {
        sink.feed(k);
        sink.feed(v);
      });
    }
  }
  db_->ReleaseSnapshot(snap);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  return to_hex(md, len);
}

void digest_when_used(std::string_view name, const Rows& rows, DigestSink& sink) {
  bool named = false;
  rows([&](std::string_view key, std::string_view value) {
    if (!named) sink.feed(name);
    named = true;
    sink.feed(key);
    sink.feed(value);
  });
}

}  // namespace gs::storage
