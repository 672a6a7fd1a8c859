#include "kernel/state.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <tuple>

#include "base/keys.h"
#include "kernel/cells.h"

namespace gs::state {

namespace {

using projection::Fingerprint;

void append_be32(std::string& out, int32_t v) {
  auto u = static_cast<uint32_t>(v);
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((u >> (i * 8)) & 0xff));
}
int32_t read_be32(std::string_view b) {
  uint32_t u = 0;
  for (int i = 0; i < 4; ++i) u = (u << 8) | static_cast<uint8_t>(b[i]);
  return static_cast<int32_t>(u);
}

Fingerprint read_fingerprint(const char* p) {
  Fingerprint fp;
  std::memcpy(&fp.lo, p, 8);
  std::memcpy(&fp.hi, p + 8, 8);
  return fp;
}

// The dedup records (state.h): "f" + partition (4 BE) + sequence (8 BE) ->
// 20 bytes per event (fingerprint, 16; hour, 4 BE). A format-3 store's
// records ("f" + sequence -> 16-byte fingerprints, no partition and no
// hour; read only by the digest) are `legacy`.
constexpr size_t kRecordKey = 13, kEntry = 20, kLegacyKey = 9, kLegacyEntry = 16;

std::string dedup_record_key(int32_t partition, uint64_t seq) {
  std::string k = "f";
  append_be32(k, partition);
  keys::append_be64(k, static_cast<int64_t>(seq));
  return k;
}

bool well_formed_record(std::string_view key, std::string_view v) {
  return key.size() == kRecordKey && v.size() % kEntry == 0;
}

// The dedup state enters the digest as the sorted set of the fingerprints
// remembered within the horizon (what decides future duplicates), whatever
// partition remembers them. Which segment first saw an event, the hours,
// what is kept on disk beyond the horizon and the positions of duplicates
// are bookkeeping, not content.
void digest_dedup(const storage::Rows& rows, storage::DigestSink& sink) {
  sink.feed("dedup");
  std::vector<Fingerprint> fps;
  std::vector<std::tuple<int32_t, Fingerprint, int32_t>> entries;
  std::map<int32_t, int32_t> watermark;
  std::optional<int32_t> horizon;
  rows([&](std::string_view k, std::string_view v) {
    if (k.starts_with("f") && k.size() == kLegacyKey) {
      for (size_t off = 0; off + kLegacyEntry <= v.size(); off += kLegacyEntry)
        fps.push_back(read_fingerprint(v.data() + off));
    } else if (k.starts_with("f") && well_formed_record(k, v)) {
      int32_t p = read_be32(k.substr(1));
      for (size_t off = 0; off < v.size(); off += kEntry)
        entries.emplace_back(p, read_fingerprint(v.data() + off), read_be32(v.substr(off + 16)));
    } else if (k.starts_with("w") && k.size() == 5 && v.size() == 4) {
      watermark[read_be32(k.substr(1))] = read_be32(v);
    } else if (k == "h" && v.size() == 4) {
      horizon = read_be32(v);
    }
  });
  for (const auto& [p, fp, hour] : entries) {
    auto w = watermark.find(p);
    if (!horizon || w == watermark.end() || int64_t(hour) >= int64_t(w->second) - *horizon)
      fps.push_back(fp);
  }
  std::sort(fps.begin(), fps.end());
  fps.erase(std::unique(fps.begin(), fps.end()), fps.end());
  for (const auto& fp : fps) {
    char b[16];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(fp.hi >> (56 - 8 * i));
    for (int i = 0; i < 8; ++i) b[8 + i] = static_cast<char>(fp.lo >> (56 - 8 * i));
    sink.raw(std::string_view(b, 16));
  }
}

const storage::ColumnFamilySpec kColumnFamilies[] = {
    {"meta"},
    {"keys", storage::Tuning::plain, nullptr, 10},
    {"dedup", storage::Tuning::point_lookups, nullptr, 60, digest_dedup},
    {"agg", storage::Tuning::merge_heavy, &cells::kCellAdd, 30},
    {"uniq", storage::Tuning::presence, nullptr, 40},
    {"growth", storage::Tuning::plain, nullptr, 50},
    // Roll-ups of the cells (cells.h): a function of `agg`, so not digested.
    {"roll", storage::Tuning::merge_heavy, &cells::kCellAdd, 0},
};

std::string offset_prefix(Source src) {
  switch (src) {
    case Source::events:
      return "off/e/";
    case Source::commands:
      return "off/c/";
    case Source::deltas:
      return "off/d/";
    case Source::chain:
      return "off/t/";
  }
  return "off/?/";
}

std::string offset_key(Source src, int32_t partition) {
  return offset_prefix(src) + std::to_string(partition);
}

std::string job_key(const std::string& tenant, const std::string& counter) {
  return "job/" + keys::join(tenant, counter);
}

std::string seq_key(const char* prefix, uint64_t seq) {
  std::string k = prefix;
  keys::append_be64(k, static_cast<int64_t>(seq));
  return k;
}

std::string duplicate_key(InputPosition pos) {
  std::string k = "d";
  auto p = static_cast<uint32_t>(pos.partition);
  for (int i = 3; i >= 0; --i) k.push_back(static_cast<char>((p >> (i * 8)) & 0xff));
  keys::append_be64(k, pos.offset);
  return k;
}

// A JSON row of keyspace `what`; an unparsable one is unreadable.
Result<json> parse_row(const Store& s, std::string_view what, std::string_view key,
                       std::string_view value) {
  auto j = json::parse(value, nullptr, false);
  if (j.is_discarded()) return s.unreadable(what, key, "not JSON");
  return j;
}

// Every row under `prefix` as (tenant, rest of the key, JSON).
Result<std::vector<std::tuple<std::string, std::string, json>>> tenant_rows(const Store& s,
                                                                            storage::Cf cf,
                                                                            std::string_view prefix,
                                                                            std::string_view what) {
  using Row = std::tuple<std::string, std::string, json>;
  return storage::collect<Row>(s, cf, prefix, [&](std::string_view key, std::string_view value) {
    auto k = key.substr(prefix.size());
    auto nul = k.find('\0');
    auto j = parse_row(s, what, key, value);
    if (!j.ok()) return Result<Row>(j.error());
    if (nul == std::string_view::npos)
      return Result<Row>(s.unreadable(what, key, "no tenant in the key"));
    return Result<Row>(
        Row{std::string(k.substr(0, nul)), std::string(k.substr(nul + 1)), std::move(j).value()});
  });
}

Result<std::optional<json>> json_row(const Store& s, storage::Cf cf, const std::string& key,
                                     std::string_view what) {
  auto v = s.get(cf, key);
  if (!v.ok()) return v.error();
  if (!*v) return std::optional<json>();
  auto j = parse_row(s, what, key, **v);
  if (!j.ok()) return j.error();
  return std::optional<json>(std::move(j).value());
}

}  // namespace

std::span<const storage::ColumnFamilySpec> column_families() { return kColumnFamilies; }

void set_offset(Batch& b, Source src, int32_t partition, int64_t next_offset) {
  std::string v;
  keys::append_be64(v, next_offset);
  b.put(b.store().cf("meta"), offset_key(src, partition), v);
}

Result<std::map<int32_t, int64_t>> offsets(const Store& s, Source src) {
  std::map<int32_t, int64_t> out;
  std::string prefix = offset_prefix(src);
  std::optional<Error> bad;
  auto st = s.scan(s.cf("meta"), prefix, [&](std::string_view key, std::string_view value) {
    auto k = key.substr(prefix.size());
    int32_t p = 0;
    bool digits = !k.empty() && k.size() <= 9 &&
                  std::all_of(k.begin(), k.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits || value.size() != 8) {
      bad = s.unreadable("offset", key, "not a partition and an 8-byte offset");
      return false;
    }
    for (char c : k) p = p * 10 + (c - '0');
    out[p] = keys::read_be64(value);
    return true;
  });
  if (!st.ok()) return st.error();
  if (bad) return *bad;
  return out;
}

void put_key(Batch& b, const std::string& key_hash, const model::ApiKey& key) {
  b.put(b.store().cf("keys"), key_hash, model::to_json(key).dump());
}

Result<std::optional<model::ApiKey>> find_key(const Store& s, const std::string& key_hash) {
  auto j = json_row(s, s.cf("keys"), key_hash, "API key");
  if (!j.ok()) return j.error();
  if (!*j) return std::optional<model::ApiKey>();
  auto k = model::api_key_from_json(**j);
  if (!k.ok()) return s.unreadable("API key", key_hash, k.error().message);
  return std::optional<model::ApiKey>(std::move(k).value());
}

void put_fingerprints(Batch& b, uint64_t seq, std::span<const projection::FirstSeen> fps) {
  // One record per partition (a segment's events come from several).
  std::map<int32_t, std::string> by_partition;
  for (const auto& f : fps) {
    std::string& v = by_partition[f.partition];
    char e[16];
    std::memcpy(e, &f.fp.lo, 8);
    std::memcpy(e + 8, &f.fp.hi, 8);
    v.append(e, 16);
    append_be32(v, f.hour);
  }
  for (const auto& [p, v] : by_partition) b.put(b.store().cf("dedup"), dedup_record_key(p, seq), v);
}

void put_dedup_watermark(Batch& b, projection::DedupWatermark w) {
  std::string k = "w", v;
  append_be32(k, w.partition);
  append_be32(v, w.hour);
  b.put(b.store().cf("dedup"), k, v);
}

void put_duplicate(Batch& b, InputPosition pos) {
  b.put(b.store().cf("dedup"), duplicate_key(pos), "");
}

void put_dedup_horizon(Batch& b, int32_t hours) {
  std::string v;
  append_be32(v, hours);
  b.put(b.store().cf("dedup"), "h", v);
}

Result<std::optional<int32_t>> dedup_horizon(const Store& s) {
  auto v = s.get(s.cf("dedup"), "h");
  if (!v.ok()) return v.error();
  if (!*v) return std::optional<int32_t>();
  if ((*v)->size() != 4) return s.unreadable("dedup", "h", "not a 4-byte horizon");
  return std::optional<int32_t>(read_be32(**v));
}

Result<DedupLoad> load_dedup(const Store& s, std::vector<projection::PartitionDedup>& parts) {
  DedupLoad out;
  out.records.resize(parts.size());
  std::optional<Error> bad;
  auto partition_of = [&](std::string_view key, int32_t p) {
    if (p >= 0 && static_cast<size_t>(p) < parts.size()) return true;
    bad = s.unreadable("dedup", key,
                       "partition " + std::to_string(p) + " of " + std::to_string(parts.size()));
    return false;
  };
  auto st = s.scan(s.cf("dedup"), "w", [&](std::string_view key, std::string_view value) {
    if (key.size() != 5 || value.size() != 4) {
      bad = s.unreadable("dedup", key, "not a partition and a 4-byte watermark");
      return false;
    }
    int32_t p = read_be32(key.substr(1));
    if (!partition_of(key, p)) return false;
    parts[static_cast<size_t>(p)].restore_watermark(read_be32(value));
    return true;
  });
  if (!st.ok()) return st.error();
  if (bad) return *bad;
  st = s.scan(s.cf("dedup"), "f", [&](std::string_view key, std::string_view value) {
    if (!well_formed_record(key, value)) {
      bad = s.unreadable("dedup", key, "not a partition, a sequence and 20-byte entries");
      return false;
    }
    int32_t p = read_be32(key.substr(1));
    if (!partition_of(key, p)) return false;
    auto& part = parts[static_cast<size_t>(p)];
    auto seq = static_cast<uint64_t>(keys::read_be64(key.substr(5)));
    int32_t last = projection::kNoWatermark;
    for (size_t off = 0; off < value.size(); off += kEntry) {
      int32_t hour = read_be32(value.substr(off + 16));
      last = std::max(last, hour);
      part.restore(read_fingerprint(value.data() + off), hour);
      ++out.entries;
    }
    if (part.within(last))
      out.records[static_cast<size_t>(p)].emplace_back(seq, last);
    else
      out.beyond_horizon.emplace_back(p, seq);
    out.next_seq = std::max(out.next_seq, seq + 1);
    return true;
  });
  if (!st.ok()) return st.error();
  if (bad) return *bad;
  return out;
}

void delete_dedup_record(Batch& b, int32_t partition, uint64_t seq) {
  b.del(b.store().cf("dedup"), dedup_record_key(partition, seq));
}

Result<bool> is_duplicate(const Store& s, InputPosition pos) {
  auto v = s.get(s.cf("dedup"), duplicate_key(pos));
  if (!v.ok()) return v.error();
  return v->has_value();
}

void put_job(Batch& b, const std::string& tenant, const std::string& counter, const json& job) {
  b.put(b.store().cf("meta"), job_key(tenant, counter), job.dump());
}

void delete_job(Batch& b, const std::string& tenant, const std::string& counter) {
  b.del(b.store().cf("meta"), job_key(tenant, counter));
}

Result<std::optional<json>> job(const Store& s, const std::string& tenant,
                                const std::string& counter) {
  return json_row(s, s.cf("meta"), job_key(tenant, counter), "backfill job");
}

Result<std::vector<std::tuple<std::string, std::string, json>>> jobs(const Store& s) {
  return tenant_rows(s, s.cf("meta"), "job/", "backfill job");
}

void put_outbox(Batch& b, uint64_t seq, const json& change) {
  b.put(b.store().cf("meta"), seq_key("out/", seq), change.dump());
}

void delete_outbox(Batch& b, uint64_t seq) { b.del(b.store().cf("meta"), seq_key("out/", seq)); }

Result<std::vector<std::pair<uint64_t, json>>> outbox(const Store& s) {
  using Row = std::pair<uint64_t, json>;
  return storage::collect<Row>(
      s, s.cf("meta"), "out/", [&](std::string_view key, std::string_view value) {
        auto j = parse_row(s, "outbox", key, value);
        if (!j.ok()) return Result<Row>(j.error());
        if (key.size() != 12)
          return Result<Row>(s.unreadable("outbox", key, "not an 8-byte sequence"));
        return Result<Row>(
            Row{static_cast<uint64_t>(keys::read_be64(key.substr(4))), std::move(j).value()});
      });
}

void put_meta(Batch& b, const std::string& key, const std::string& value) {
  b.put(b.store().cf("meta"), "x/" + key, value);
}

Result<std::optional<std::string>> meta(const Store& s, const std::string& key) {
  return s.get(s.cf("meta"), "x/" + key);
}

void put_idempotency(Batch& b, const std::string& tenant, const std::string& key,
                     const json& record) {
  b.put(b.store().cf("growth"), "i/" + keys::join(tenant, key), record.dump());
}

void delete_idempotency(Batch& b, const std::string& tenant, const std::string& key) {
  b.del(b.store().cf("growth"), "i/" + keys::join(tenant, key));
}

Result<std::optional<json>> idempotency(const Store& s, const std::string& tenant,
                                        const std::string& key) {
  return json_row(s, s.cf("growth"), "i/" + keys::join(tenant, key), "Idempotency-Key");
}

Result<std::vector<std::tuple<std::string, std::string, json>>> all_idempotency(const Store& s) {
  return tenant_rows(s, s.cf("growth"), "i/", "Idempotency-Key");
}

void put_timezone(Batch& b, const std::string& tenant, const std::string& tz) {
  b.put(b.store().cf("growth"), "tz/" + tenant, tz);
}

Result<std::string> timezone(const Store& s, const std::string& tenant) {
  auto v = s.get(s.cf("growth"), "tz/" + tenant);
  if (!v.ok()) return v.error();
  return v->value_or("UTC");
}

}  // namespace gs::state
