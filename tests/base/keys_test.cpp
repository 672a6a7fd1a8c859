// The key encoder (base/keys.h): the exact bytes of the store's keys, since
// the digest and every stored key depend on them.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "base/keys.h"

using namespace std::string_literals;

TEST_CASE("keys are tenant \\0 id, and cell prefixes end in \\0") {
  CHECK(gs::keys::join("acme", "cg_1") == "acme\0cg_1"s);
  CHECK(gs::keys::join("", "") == "\0"s);
  CHECK(gs::keys::cell_prefix("acme", "cg_1\x1funique") == "acme\0cg_1\x1funique\0"s);
  std::string out = "g/";
  gs::keys::append_join(out, "t", "x");
  CHECK(out == "g/t\0x"s);
}

TEST_CASE("buckets are 8 bytes big-endian: they read back, and sort as numbers") {
  std::string k;
  gs::keys::append_be64(k, 0x0102030405060708);
  CHECK(k == "\x01\x02\x03\x04\x05\x06\x07\x08"s);
  CHECK(gs::keys::read_be64(k) == 0x0102030405060708);
  std::string neg;
  gs::keys::append_be64(neg, -1);
  CHECK(neg == std::string(8, '\xff'));
  CHECK(gs::keys::read_be64(neg) == -1);
  std::vector<int64_t> buckets = {0, 1, 255, 256, 65535, 1930000, 1LL << 40, INT64_MAX};
  std::vector<std::string> encoded;
  for (auto b : buckets) {
    std::string e;
    gs::keys::append_be64(e, b);
    encoded.push_back(e);
  }
  CHECK(std::is_sorted(encoded.begin(), encoded.end()));
}

TEST_CASE("prefix_end bounds exactly the keys with the prefix") {
  CHECK(gs::keys::prefix_end("acme\0cg_1\0"s) == "acme\0cg_1\x01"s);
  CHECK(gs::keys::prefix_end("a\xff\xff"s) == "b");
  CHECK(gs::keys::prefix_end("\xff\xff"s).empty());  // no upper bound
  auto p = gs::keys::cell_prefix("acme", "cg_1");
  auto end = gs::keys::prefix_end(p);
  std::string inside = p + std::string(8, '\xff');
  CHECK(inside < end);
  CHECK(gs::keys::cell_prefix("acme", "cg_10") >= end);  // another counter is outside
}
