// The delta's encoding (projection/delta.h): every value round-trips, the
// bytes are deterministic, and decoding refuses anything else.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "projection/delta.h"

using gs::projection::Cell;
using gs::projection::decode;
using gs::projection::Delta;
using gs::projection::encode;
using gs::projection::Micros;

namespace {

std::string key(const std::string& tenant, const std::string& target, int64_t bucket) {
  std::string k = tenant + '\0' + target + '\0';
  for (int i = 7; i >= 0; --i) k.push_back(static_cast<char>((bucket >> (i * 8)) & 0xff));
  return k;
}

Delta sample() {
  Delta d;
  d.first_seen = {{0, {1, 2}, 487000},
                  {5, {0xffffffffffffffffULL, 0}, -1},
                  {2, {42, 0x8000000000000000ULL}, INT32_MIN}};
  d.duplicates = {{0, 0}, {5, 1234567890123}, {2, 7}};
  d.watermarks = {{0, 487001}, {5, INT32_MAX}, {2, 0}};
  Micros big = Micros(1) << 100;
  d.cells.add_cell(key("acme", "cg_1", 1930000), Cell{3, 4500000, 1740787200000});
  d.cells.add_cell(key("acme", "cg_1", 1930001), Cell{1, -2500000, 1740787300000});
  d.cells.add_cell(key("acme", "cg_2\x1fsum:plan.amount", 0), Cell{2, big, 0});
  d.cells.add_cell(key("globex", "cg_9", 5), Cell{-1, -big, 1});
  d.cells.add_presence(key("acme", "cg_3\x1funique", 1930000) + std::string("u\0\xff", 3));
  d.cells.add_presence(key("acme", "cg_3\x1funique", 1930000) + "user-2");
  return d;
}

}  // namespace

TEST_CASE("an empty delta encodes to the header alone and decodes to an empty delta") {
  auto b = encode(Delta{});
  CHECK(b == std::string("GSDL\x02\x00", 6));
  auto d = decode(b);
  REQUIRE(d.ok());
  CHECK(d->empty());
}

TEST_CASE(
    "first-seen events (partition, fingerprint, hour), duplicates, watermarks, cells (negative and "
    "beyond 64-bit sums) and presences "
    "round-trip") {
  Delta d = sample();
  auto b = encode(d);
  auto back = decode(b);
  REQUIRE_MESSAGE(back.ok(), back.error().message);
  CHECK(*back == d);
  CHECK(back->cells.cells().at(key("acme", "cg_2\x1fsum:plan.amount", 0)).sum_micros == Micros(1)
                                                                                            << 100);
  CHECK(back->cells.cells().at(key("globex", "cg_9", 5)).sum_micros == -(Micros(1) << 100));
  CHECK(back->cells.presence().count(key("acme", "cg_3\x1funique", 1930000) +
                                     std::string("u\0\xff", 3)) == 1);
  // Deterministic bytes: encode(decode(b)) == b, whatever the hash maps' order.
  CHECK(encode(*back) == b);
  Delta other;  // the same content inserted in another order
  for (auto it = d.cells.cells().begin(); it != d.cells.cells().end(); ++it)
    other.cells.add_cell(it->first, it->second);
  other.first_seen = d.first_seen;
  other.duplicates = d.duplicates;
  other.watermarks = d.watermarks;
  for (const auto& p : d.cells.presence()) other.cells.add_presence(p);
  CHECK(encode(other) == b);
}

TEST_CASE(
    "decoding refuses every strict prefix, a wrong magic or version, unknown or repeated "
    "sections and trailing bytes, naming the byte") {
  auto b = encode(sample());
  for (size_t n = 0; n < b.size(); ++n) {
    auto d = decode(b.substr(0, n));
    INFO("prefix of " << n << " of " << b.size() << " bytes");
    REQUIRE_FALSE(d.ok());
    CHECK(d.error().field == "delta");
  }
  auto bad = b;
  bad[0] = 'X';
  CHECK(decode(bad).error().message.find("no GSDL magic") != std::string::npos);
  bad = b;
  bad[4] = 1;  // version 1 had no partitions, hours or watermarks
  CHECK(decode(bad).error().message == "delta version 1, this goalstream reads 2 at byte 5");
  CHECK(decode(b + '\0').error().message ==
        "trailing bytes after the last section at byte " + std::to_string(b.size()));
  // An unknown section (tag 0x7000, 1 byte) after the known ones.
  auto more = b + std::string("\x70\x00\x01\x00", 4);
  more[5] = 3;  // three sections
  CHECK(decode(more).error().message ==
        "unknown section 28672 at byte " + std::to_string(b.size() + 4));
  // The dedup section twice.
  Delta only_dedup;
  only_dedup.first_seen = {{3, {1, 2}, 7}};
  auto once = encode(only_dedup);
  auto twice = once + once.substr(6);
  twice[5] = 2;
  CHECK(decode(twice).error().message.find("out of order or repeated") != std::string::npos);
  // Trailing bytes inside a section: its length says one byte more.
  auto grown = once;
  grown[8] = static_cast<char>(grown[8] + 1);
  grown.push_back('\0');
  CHECK(decode(grown).error().message.find("trailing bytes in the dedup section") !=
        std::string::npos);
}

TEST_CASE("appending deltas adds cells and unites the rest; a later watermark replaces one") {
  Delta a = sample(), b = sample();
  b.watermarks = {{5, 10}, {4, 3}};
  a.append(b);
  CHECK(a.first_seen.size() == 6);
  CHECK(a.duplicates.size() == 6);
  CHECK(a.watermarks ==
        std::vector<gs::projection::DedupWatermark>{{0, 487001}, {5, 10}, {2, 0}, {4, 3}});
  CHECK(a.cells.cells().at(key("acme", "cg_1", 1930000)).count == 6);
  CHECK(a.cells.cells().at(key("acme", "cg_1", 1930000)).sum_micros == 9000000);
  CHECK(a.cells.presence().size() == 2);
  auto back = decode(encode(a));
  REQUIRE(back.ok());
  CHECK(*back == a);
}

TEST_CASE("a tally's cells keep their mark through the encoding; a mark of no cell is refused") {
  Delta d = sample();
  d.cells.add_tally(std::string("acme\0g1\x1f", 8), "success", "web", 1740830400000);
  auto tally_key = key("acme", "g1\x1fsuccess\x1fweb", 1740830400000 / 900'000);
  REQUIRE(d.cells.cells().at(tally_key).tally);
  auto b = encode(d);
  auto back = decode(b);
  REQUIRE_MESSAGE(back.ok(), back.error().message);
  CHECK(*back == d);
  CHECK(back->cells.cells().at(tally_key).tally);
  CHECK_FALSE(back->cells.cells().at(key("acme", "cg_1", 1930000)).tally);
  CHECK(encode(*back) == b);
  // Without the mark it is another delta (whose cell would be rolled up).
  Delta unmarked = sample();
  unmarked.cells.add_cell(tally_key, Cell{1, 0, 1740830400000});
  CHECK_FALSE(unmarked == d);
  CHECK(encode(unmarked) != b);
  // Appending keeps the mark.
  Delta sum;
  sum.append(d);
  CHECK(sum.cells.cells().at(tally_key).tally);
  for (size_t n = 0; n < b.size(); ++n) REQUIRE_FALSE(decode(b.substr(0, n)).ok());
  // The tallies section naming a key the cells section does not have.
  auto bad = b;
  auto at = bad.rfind(tally_key);
  REQUIRE(at != std::string::npos);
  bad[at + tally_key.size() - 1] ^= 1;
  REQUIRE_FALSE(decode(bad).ok());
  CHECK(decode(bad).error().message.find("tally key of no cell") != std::string::npos);
}

namespace {

// A record of partition 2: its part of the sample delta.
gs::projection::DeltaRecord sample_record() {
  gs::projection::DeltaRecord r{2, 7, 1234, 987654321, 168, {}};
  r.delta.first_seen = {{2, {42, 0x8000000000000000ULL}, INT32_MIN}, {2, {1, 2}, 5}};
  r.delta.duplicates = {{2, 7}, {2, 1233}};
  r.delta.watermarks = {{2, 487001}};
  r.delta.cells.add_cell(key("acme", "cg_1", 1930000), Cell{3, 4500000, 1740787200000});
  r.delta.cells.add_presence(key("acme", "cg_3\x1funique", 1930000) + "user-2");
  return r;
}

}  // namespace

TEST_CASE("a deltas-topic record round-trips its header and its partition's delta") {
  using gs::projection::decode_record;
  using gs::projection::encode_record;
  auto r = sample_record();
  auto bytes = encode_record(r);
  CHECK(bytes.substr(0, 5) == std::string("GSDR\x01"));
  CHECK(bytes == encode_record(r, encode(r.delta)));
  auto back = decode_record(bytes);
  REQUIRE(back.ok());
  CHECK(back->partition == 2);
  CHECK(back->from == 7);
  CHECK(back->to == 1234);
  CHECK(back->commands == 987654321);
  CHECK(back->horizon_hours == 168);
  CHECK(back->delta == r.delta);
  CHECK(*back == r);
  // An empty delta (events that were all invalid) still carries its range.
  gs::projection::DeltaRecord empty{0, 0, 3, 0, 24, {}};
  auto e = decode_record(encode_record(empty));
  REQUIRE(e.ok());
  CHECK(*e == empty);
}

TEST_CASE("a deltas-topic record is refused when its header or its delta is wrong") {
  using gs::projection::decode_record;
  using gs::projection::encode_record;
  auto r = sample_record();
  auto bytes = encode_record(r);
  auto error = [](const std::string& b) {
    auto d = decode_record(b);
    REQUIRE_FALSE(d.ok());
    return d.error().message;
  };
  CHECK(error("GSDL" + bytes.substr(4)) == "not a delta record (no GSDR magic) at byte 4");
  CHECK(error("GSDR\x02" + bytes.substr(5)) ==
        "delta record version 2, this goalstream reads 1 at byte 5");
  CHECK(error(bytes.substr(0, 8)) == "truncated record header at byte 8");
  // A delta cut short names where it starts in the record.
  CHECK(error(bytes.substr(0, bytes.size() - 1)).find("(the delta starts at byte ") !=
        std::string::npos);
  // Its content must be of its partition and within its offsets.
  auto other = r;
  other.delta.first_seen[1].partition = 3;
  CHECK(error(encode_record(other)) ==
        "first-seen event of another partition at byte " +
            std::to_string(encode_record(other).size() - encode(other.delta).size()));
  other = r;
  other.delta.duplicates[1].offset = 1234;  // `to` is exclusive
  CHECK(error(encode_record(other)).starts_with("duplicate position outside the record"));
  other = r;
  other.delta.watermarks[0].partition = 0;
  CHECK(error(encode_record(other)).starts_with("watermark of another partition"));
  other = r;
  other.to = 6;  // before `from`
  CHECK(error(encode_record(other)).starts_with("record offsets out of range"));
  other = r;
  other.horizon_hours = 0;
  CHECK(error(encode_record(other)).starts_with("dedup horizon out of range"));
}
