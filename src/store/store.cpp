#include "store/store.h"

#include <cstring>

#include <openssl/evp.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include "base/hex.h"

namespace gs::store {
namespace {

using projection::Cell;

std::string encode_cell(const Cell& c) {
  std::string out(16, '\0');
  std::memcpy(out.data(), &c.count, 8);
  std::memcpy(out.data() + 8, &c.sum_micros, 8);
  return out;
}

Cell decode_cell(const rocksdb::Slice& s) {
  Cell c;
  if (s.size() == 16) {
    std::memcpy(&c.count, s.data(), 8);
    std::memcpy(&c.sum_micros, s.data() + 8, 8);
  }
  return c;
}

// Adds cells. Integer addition is associative and commutative, so the result
// is independent of merge order and compaction.
class CellAdd : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger*) const override {
    Cell a = existing ? decode_cell(*existing) : Cell{};
    Cell b = decode_cell(value);
    a.count += b.count;
    a.sum_micros += b.sum_micros;
    *new_value = encode_cell(a);
    return true;
  }
  const char* Name() const override { return "goalstream.CellAdd"; }
};

std::string two(std::string_view a, std::string_view b) {
  std::string k;
  k.reserve(a.size() + b.size() + 1);
  k.append(a).push_back('\0');
  k.append(b);
  return k;
}

std::string offset_key(Source src, int32_t partition) {
  return std::string(src == Source::events ? "off/e/" : "off/c/") + std::to_string(partition);
}

std::string job_key(const std::string& tenant, const std::string& goal_id) {
  return "job/" + two(tenant, goal_id);
}

std::string prefix_end(std::string p) {
  // Smallest key greater than every key with prefix p (p never ends in 0xff here).
  p.back() = static_cast<char>(p.back() + 1);
  return p;
}

Error io_error(const rocksdb::Status& s) {
  return Error{ErrorCode::internal, "", "RocksDB: " + s.ToString()};
}

}  // namespace

Batch::Batch() : wb_(std::make_unique<rocksdb::WriteBatch>()) {}
Batch::~Batch() = default;
Batch::Batch(Batch&&) noexcept = default;
Batch& Batch::operator=(Batch&&) noexcept = default;

void Batch::set_offset(Source src, int32_t partition, int64_t next_offset) {
  std::string v;
  projection::append_be64(v, next_offset);
  wb_->Put(store_->meta_, offset_key(src, partition), v);
}

void Batch::put_key(const std::string& key_hash, const model::ApiKey& key) {
  wb_->Put(store_->keys_, key_hash, model::to_json(key).dump());
}

void Batch::put_goal(const model::ConversionGoal& goal) {
  wb_->Put(store_->goals_, two(goal.tenant_id, goal.id), model::to_json(goal).dump());
}

void Batch::delete_goal(const std::string& tenant, const std::string& goal_id) {
  wb_->Delete(store_->goals_, two(tenant, goal_id));
  auto p = projection::cell_prefix(tenant, goal_id);
  wb_->DeleteRange(store_->agg_, p, prefix_end(p));
}

void Batch::put_dedup(std::string_view tenant, std::string_view event_id, Position pos) {
  put_dedup_key(two(tenant, event_id), pos);
}

void Batch::put_dedup_key(std::string_view key, Position pos) {
  char v[12];
  uint32_t p = static_cast<uint32_t>(pos.partition);
  for (int i = 0; i < 4; ++i) v[i] = static_cast<char>((p >> (24 - 8 * i)) & 0xff);
  uint64_t o = static_cast<uint64_t>(pos.offset);
  for (int i = 0; i < 8; ++i) v[4 + i] = static_cast<char>((o >> (56 - 8 * i)) & 0xff);
  wb_->Put(store_->dedup_, rocksdb::Slice(key.data(), key.size()), rocksdb::Slice(v, 12));
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

  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.whole_key_filtering = true;

  rocksdb::ColumnFamilyOptions plain(options);
  rocksdb::ColumnFamilyOptions dedup(options);
  dedup.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  dedup.write_buffer_size = 64 << 20;
  // Almost every lookup is for a new event: a memtable bloom filter answers
  // "absent" without walking the skip list.
  dedup.memtable_whole_key_filtering = true;
  dedup.memtable_prefix_bloom_size_ratio = 0.1;
  // A batch's dedup keys are inserted in sorted order (see the processor):
  // one shared insert hint lets each insert start where the last one ended.
  dedup.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewCappedPrefixTransform(0));
  rocksdb::ColumnFamilyOptions agg(options);
  agg.merge_operator = std::make_shared<CellAdd>();

  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, plain}, {"meta", plain}, {"keys", plain},
      {"goals", plain}, {"dedup", dedup}, {"agg", agg}};
  std::unique_ptr<Store> s(new Store());
  rocksdb::DB* raw = nullptr;
  auto st = read_only ? rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(options), dir, cfs, &s->handles_, &raw)
                      : rocksdb::DB::Open(rocksdb::DBOptions(options), dir, cfs, &s->handles_, &raw);
  if (!st.ok()) return Error{ErrorCode::internal, "data-dir", "cannot open store in " + dir + ": " + st.ToString()};
  s->db_.reset(raw);
  s->read_only_ = read_only;
  s->meta_ = s->handles_[1];
  s->keys_ = s->handles_[2];
  s->goals_ = s->handles_[3];
  s->dedup_ = s->handles_[4];
  s->agg_ = s->handles_[5];
  return s;
}

Store::~Store() {
  if (db_) {
    if (!read_only_) db_->FlushWAL(true);
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
  if (!st.ok()) return io_error(st);
  b.wb_->Clear();
  return {};
}

std::map<int32_t, int64_t> Store::offsets(Source src) const {
  std::map<int32_t, int64_t> out;
  std::string prefix = src == Source::events ? "off/e/" : "off/c/";
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    auto k = it->key().ToString().substr(prefix.size());
    out[std::stoi(k)] = projection::read_be64(it->value().ToStringView());
  }
  return out;
}

bool Store::empty() const {
  for (auto* h : handles_) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), h));
    it->SeekToFirst();
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
  if (!db_->Get(rocksdb::ReadOptions(), goals_, two(tenant, goal_id), &v).ok()) return std::nullopt;
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
    auto g = model::conversion_goal_from_json(json::parse(it->value().ToStringView(), nullptr, false), tenant);
    if (g.ok()) out.push_back(std::move(g).value());
  }
  return out;
}

std::optional<Position> Store::dedup(std::string_view tenant, std::string_view event_id) const {
  std::string v;
  if (!db_->Get(rocksdb::ReadOptions(), dedup_, two(tenant, event_id), &v).ok() || v.size() != 12)
    return std::nullopt;
  Position p;
  uint32_t part = 0;
  for (int i = 0; i < 4; ++i) part = (part << 8) | static_cast<unsigned char>(v[i]);
  p.partition = static_cast<int32_t>(part);
  p.offset = projection::read_be64(std::string_view(v).substr(4));
  return p;
}

void Store::dedup_key(std::string& out, std::string_view tenant, std::string_view event_id) {
  out.assign(tenant).push_back('\0');
  out.append(event_id);
}

void Store::dedup_contains(const std::vector<std::string_view>& keys, std::vector<char>& found) const {
  found.assign(keys.size(), 0);
  if (keys.empty()) return;
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  db_->MultiGet(rocksdb::ReadOptions(), dedup_, keys.size(), slices.data(), values.data(), statuses.data());
  for (size_t i = 0; i < keys.size(); ++i) found[i] = statuses[i].ok();
}

GoalTotals Store::totals(const std::string& tenant, const std::string& goal_id) const {
  GoalTotals t;
  auto prefix = projection::cell_prefix(tenant, goal_id);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), agg_));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    Cell c = decode_cell(it->value());
    int64_t hour = projection::read_be64(it->key().ToStringView().substr(prefix.size()));
    t.total.count += c.count;
    t.total.sum_micros += c.sum_micros;
    t.hours.emplace_back(hour, c);
  }
  return t;
}

std::optional<json> Store::job(const std::string& tenant, const std::string& goal_id) const {
  std::string v;
  if (!db_->Get(rocksdb::ReadOptions(), meta_, job_key(tenant, goal_id), &v).ok()) return std::nullopt;
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
      {"keys", keys_}, {"goals", goals_}, {"dedup", dedup_}, {"agg", agg_}};
  for (auto [name, h] : cfs) {
    feed(name);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, h));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      feed(it->key().ToStringView());
      // A dedup value is the position of the first copy: bookkeeping for
      // backfills, not content. Copies of one event on different partitions
      // may be met in either order; the set of seen ids is what counts.
      if (h != dedup_) feed(it->value().ToStringView());
    }
  }
  db_->ReleaseSnapshot(snap);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  return to_hex(md, len);
}

}  // namespace gs::store
