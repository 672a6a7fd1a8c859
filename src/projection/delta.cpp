#include "projection/delta.h"

#include <algorithm>
#include <initializer_list>
#include <optional>
#include <utility>

namespace gs::projection {
namespace {

constexpr std::string_view kMagic = "GSDL";
constexpr uint8_t kVersion = 2;
constexpr uint16_t kTagDedup = 0x0001;
constexpr uint16_t kTagCells = 0x0100;
constexpr uint16_t kTagTallies = 0x0101;

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void put_zigzag(std::string& out, int64_t v) {
  put_varint(out, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}
void put_be(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (i * 8)) & 0xff));
}
void put_bytes(std::string& out, std::string_view b) {
  put_varint(out, b.size());
  out.append(b);
}
// Appends the non-empty sections, preceded by their count.
void put_sections(std::string& out,
                  std::initializer_list<std::pair<uint16_t, std::string>> sections) {
  uint64_t n = 0;
  for (const auto& s : sections) n += !s.second.empty();
  put_varint(out, n);
  for (const auto& [tag, payload] : sections) {
    if (payload.empty()) continue;
    put_be(out, tag, 2);
    put_bytes(out, payload);
  }
}

// Reads the encoding; the first failure sticks and names the offset.
class Reader {
 public:
  Reader(std::string_view b, size_t base = 0) : b_(b), base_(base) {}
  bool done() const { return pos_ == b_.size(); }
  size_t offset() const { return base_ + pos_; }
  std::optional<uint64_t> varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= b_.size()) return std::nullopt;
      auto c = static_cast<uint8_t>(b_[pos_++]);
      if (shift == 63 && c > 1) return std::nullopt;  // more than 64 bits
      v |= static_cast<uint64_t>(c & 0x7f) << shift;
      if (!(c & 0x80)) return v;
    }
    return std::nullopt;
  }
  std::optional<int64_t> zigzag() {
    auto u = varint();
    if (!u) return std::nullopt;
    return static_cast<int64_t>((*u >> 1) ^ (~(*u & 1) + 1));
  }
  std::optional<uint64_t> be(int bytes) {
    if (b_.size() - pos_ < static_cast<size_t>(bytes)) return std::nullopt;
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(b_[pos_++]);
    return v;
  }
  std::optional<std::string_view> bytes() {
    auto n = varint();
    if (!n || *n > b_.size() - pos_) return std::nullopt;
    auto s = b_.substr(pos_, *n);
    pos_ += *n;
    return s;
  }
  std::optional<std::string_view> raw(size_t n) {
    if (n > b_.size() - pos_) return std::nullopt;
    auto s = b_.substr(pos_, n);
    pos_ += n;
    return s;
  }

 private:
  std::string_view b_;
  size_t base_;
  size_t pos_ = 0;
};

bool in_int32(int64_t v) { return v >= INT32_MIN && v <= INT32_MAX; }

Error bad(const Reader& r, const std::string& what) {
  return invalid("delta", what + " at byte " + std::to_string(r.offset()));
}

std::string encode_dedup(const Delta& d) {
  std::string out;
  if (d.first_seen.empty() && d.duplicates.empty() && d.watermarks.empty()) return out;
  put_varint(out, d.first_seen.size());
  for (const auto& f : d.first_seen) {
    put_zigzag(out, f.partition);
    put_be(out, f.fp.hi, 8);
    put_be(out, f.fp.lo, 8);
    put_zigzag(out, f.hour);
  }
  put_varint(out, d.duplicates.size());
  for (const auto& p : d.duplicates) {
    put_zigzag(out, p.partition);
    put_zigzag(out, p.offset);
  }
  put_varint(out, d.watermarks.size());
  for (const auto& w : d.watermarks) {
    put_zigzag(out, w.partition);
    put_zigzag(out, w.hour);
  }
  return out;
}

std::string encode_cells(const Aggregator& a) {
  std::string out;
  if (a.empty()) return out;
  std::vector<const std::pair<const std::string, Cell>*> cells;
  cells.reserve(a.cells().size());
  for (const auto& kv : a.cells()) cells.push_back(&kv);
  std::sort(cells.begin(), cells.end(), [](auto* x, auto* y) { return x->first < y->first; });
  put_varint(out, cells.size());
  for (const auto* kv : cells) {
    put_bytes(out, kv->first);
    put_zigzag(out, kv->second.count);
    auto sum = static_cast<unsigned __int128>(kv->second.sum_micros);
    put_be(out, static_cast<uint64_t>(sum >> 64), 8);
    put_be(out, static_cast<uint64_t>(sum), 8);
    put_zigzag(out, kv->second.max_ts_ms);
  }
  std::vector<std::string_view> presence(a.presence().begin(), a.presence().end());
  std::sort(presence.begin(), presence.end());
  put_varint(out, presence.size());
  for (auto p : presence) put_bytes(out, p);
  return out;
}

// The keys of the cells that are a tally's (Cell::tally), sorted.
std::string encode_tallies(const Aggregator& a) {
  std::vector<std::string_view> keys;
  for (const auto& [key, cell] : a.cells())
    if (cell.tally) keys.push_back(key);
  std::string out;
  if (keys.empty()) return out;
  std::sort(keys.begin(), keys.end());
  put_varint(out, keys.size());
  for (auto k : keys) put_bytes(out, k);
  return out;
}

Status decode_dedup(Reader r, Delta& d) {
  auto n = r.varint();
  if (!n) return bad(r, "truncated fingerprint count");
  for (uint64_t i = 0; i < *n; ++i) {
    auto p = r.zigzag();
    auto hi = r.be(8), lo = r.be(8);
    auto h = r.zigzag();
    if (!p || !hi || !lo || !h) return bad(r, "truncated fingerprint");
    if (!in_int32(*p) || !in_int32(*h)) return bad(r, "fingerprint partition or hour out of range");
    d.first_seen.push_back({static_cast<int32_t>(*p), {*lo, *hi}, static_cast<int32_t>(*h)});
  }
  auto m = r.varint();
  if (!m) return bad(r, "truncated duplicate count");
  for (uint64_t i = 0; i < *m; ++i) {
    auto p = r.zigzag(), o = r.zigzag();
    if (!p || !o) return bad(r, "truncated duplicate position");
    if (!in_int32(*p)) return bad(r, "partition out of range");
    d.duplicates.push_back({static_cast<int32_t>(*p), *o});
  }
  auto w = r.varint();
  if (!w) return bad(r, "truncated watermark count");
  for (uint64_t i = 0; i < *w; ++i) {
    auto p = r.zigzag(), h = r.zigzag();
    if (!p || !h) return bad(r, "truncated watermark");
    if (!in_int32(*p) || !in_int32(*h)) return bad(r, "watermark out of range");
    d.watermarks.push_back({static_cast<int32_t>(*p), static_cast<int32_t>(*h)});
  }
  if (!r.done()) return bad(r, "trailing bytes in the dedup section");
  return {};
}

Status decode_cells(Reader r, Delta& d) {
  auto n = r.varint();
  if (!n) return bad(r, "truncated cell count");
  for (uint64_t i = 0; i < *n; ++i) {
    auto key = r.bytes();
    auto count = r.zigzag();
    auto hi = r.be(8), lo = r.be(8);
    auto ts = r.zigzag();
    if (!key || !count || !hi || !lo || !ts) return bad(r, "truncated cell");
    auto sum = (static_cast<unsigned __int128>(*hi) << 64) | *lo;
    if (d.cells.cells().count(std::string(*key))) return bad(r, "repeated cell key");
    d.cells.add_cell(*key, Cell{*count, static_cast<Micros>(sum), *ts});
  }
  auto m = r.varint();
  if (!m) return bad(r, "truncated presence count");
  for (uint64_t i = 0; i < *m; ++i) {
    auto key = r.bytes();
    if (!key) return bad(r, "truncated presence key");
    d.cells.add_presence(*key);
  }
  if (!r.done()) return bad(r, "trailing bytes in the cells section");
  return {};
}

Status decode_tallies(Reader r, Delta& d) {
  auto n = r.varint();
  if (!n) return bad(r, "truncated tally key count");
  for (uint64_t i = 0; i < *n; ++i) {
    auto key = r.bytes();
    if (!key) return bad(r, "truncated tally key");
    // Tags ascend, so the cells section came first: the key must name one of its cells.
    if (!d.cells.mark_tally(*key)) return bad(r, "tally key of no cell");
  }
  if (!r.done()) return bad(r, "trailing bytes in the tallies section");
  return {};
}

}  // namespace

void Delta::append(const Delta& other) {
  first_seen.insert(first_seen.end(), other.first_seen.begin(), other.first_seen.end());
  duplicates.insert(duplicates.end(), other.duplicates.begin(), other.duplicates.end());
  for (const auto& w : other.watermarks) set_watermark(w);
  for (const auto& [key, cell] : other.cells.cells()) cells.add_cell(key, cell);
  for (const auto& key : other.cells.presence()) cells.add_presence(key);
}

void Delta::set_watermark(DedupWatermark w) {
  for (auto& x : watermarks)
    if (x.partition == w.partition) {
      x.hour = w.hour;
      return;
    }
  watermarks.push_back(w);
}

bool Delta::operator==(const Delta& other) const {
  if (first_seen != other.first_seen || duplicates != other.duplicates ||
      watermarks != other.watermarks || cells.presence() != other.cells.presence() ||
      cells.cells().size() != other.cells.cells().size())
    return false;
  for (const auto& [key, cell] : cells.cells()) {
    auto it = other.cells.cells().find(key);
    if (it == other.cells.cells().end() || it->second.count != cell.count ||
        it->second.sum_micros != cell.sum_micros || it->second.max_ts_ms != cell.max_ts_ms ||
        it->second.tally != cell.tally)
      return false;
  }
  return true;
}

std::string encode(const Delta& d) {
  std::string out(kMagic);
  out.push_back(static_cast<char>(kVersion));
  put_sections(out, {{kTagDedup, encode_dedup(d)},
                     {kTagCells, encode_cells(d.cells)},
                     {kTagTallies, encode_tallies(d.cells)}});
  return out;
}

Result<Delta> decode(std::string_view bytes) {
  Reader r(bytes);
  auto magic = r.raw(kMagic.size());
  if (!magic || *magic != kMagic) return bad(r, "not a delta (no GSDL magic)");
  auto version = r.be(1);
  if (!version) return bad(r, "truncated version");
  if (*version != kVersion)
    return bad(r, "delta version " + std::to_string(*version) + ", this goalstream reads " +
                      std::to_string(kVersion));
  auto sections = r.varint();
  if (!sections) return bad(r, "truncated section count");
  Delta d;
  int last_tag = -1;
  for (uint64_t i = 0; i < *sections; ++i) {
    auto tag = r.be(2);
    if (!tag) return bad(r, "truncated section tag");
    if (static_cast<int>(*tag) <= last_tag) return bad(r, "section out of order or repeated");
    last_tag = static_cast<int>(*tag);
    size_t base = r.offset();
    auto payload = r.bytes();
    if (!payload) return bad(r, "truncated section");
    base += r.offset() - base - payload->size();
    Status st;
    if (*tag == kTagDedup)
      st = decode_dedup(Reader(*payload, base), d);
    else if (*tag == kTagCells)
      st = decode_cells(Reader(*payload, base), d);
    else if (*tag == kTagTallies)
      st = decode_tallies(Reader(*payload, base), d);
    else
      return bad(r, "unknown section " + std::to_string(*tag));
    if (!st.ok()) return st.error();
  }
  if (!r.done()) return bad(r, "trailing bytes after the last section");
  return d;
}

namespace {
constexpr std::string_view kRecordMagic = "GSDR";
constexpr uint8_t kRecordVersion = 1;
}  // namespace

std::string encode_record(const DeltaRecord& r, std::string_view delta_bytes) {
  std::string out(kRecordMagic);
  out.reserve(40 + delta_bytes.size());
  out.push_back(static_cast<char>(kRecordVersion));
  put_zigzag(out, r.partition);
  put_varint(out, static_cast<uint64_t>(r.from));
  put_varint(out, static_cast<uint64_t>(r.to));
  put_varint(out, static_cast<uint64_t>(r.commands));
  put_varint(out, static_cast<uint64_t>(r.horizon_hours));
  out.append(delta_bytes);
  return out;
}

std::string encode_record(const DeltaRecord& r) { return encode_record(r, encode(r.delta)); }

Result<DeltaRecord> decode_record(std::string_view bytes) {
  Reader r(bytes);
  auto magic = r.raw(kRecordMagic.size());
  if (!magic || *magic != kRecordMagic) return bad(r, "not a delta record (no GSDR magic)");
  auto version = r.be(1);
  if (!version) return bad(r, "truncated version");
  if (*version != kRecordVersion)
    return bad(r, "delta record version " + std::to_string(*version) + ", this goalstream reads " +
                      std::to_string(kRecordVersion));
  DeltaRecord out;
  auto partition = r.zigzag();
  if (!partition || !in_int32(*partition) || *partition < 0)
    return bad(r, "partition missing or out of range");
  auto from = r.varint(), to = r.varint(), commands = r.varint(), horizon = r.varint();
  if (!from || !to || !commands || !horizon) return bad(r, "truncated record header");
  if (*horizon == 0 || *horizon > static_cast<uint64_t>(INT32_MAX))
    return bad(r, "dedup horizon out of range");
  out.horizon_hours = static_cast<int32_t>(*horizon);
  if (*from > static_cast<uint64_t>(INT64_MAX) || *to > static_cast<uint64_t>(INT64_MAX) ||
      *commands > static_cast<uint64_t>(INT64_MAX) || *to < *from)
    return bad(r, "record offsets out of range");
  out.partition = static_cast<int32_t>(*partition);
  out.from = static_cast<int64_t>(*from);
  out.to = static_cast<int64_t>(*to);
  out.commands = static_cast<int64_t>(*commands);
  size_t at = r.offset();
  auto d = decode(bytes.substr(at));
  if (!d.ok()) {
    Error e = d.error();
    e.message += " (the delta starts at byte " + std::to_string(at) + " of the record)";
    return e;
  }
  out.delta = std::move(d).value();
  for (const auto& f : out.delta.first_seen)
    if (f.partition != out.partition) return bad(r, "first-seen event of another partition");
  for (const auto& p : out.delta.duplicates)
    if (p.partition != out.partition || p.offset < out.from || p.offset >= out.to)
      return bad(r, "duplicate position outside the record");
  for (const auto& w : out.delta.watermarks)
    if (w.partition != out.partition) return bad(r, "watermark of another partition");
  return out;
}

}  // namespace gs::projection
