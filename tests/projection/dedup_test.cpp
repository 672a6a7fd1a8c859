// Dedup within a horizon on event time (projection/dedup.h): the edges of
// the horizon, the watermark, restoring from records, bounded memory.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "projection/dedup.h"

using gs::projection::dedup_hour;
using gs::projection::fingerprint;
using gs::projection::PartitionDedup;

namespace {
constexpr int64_t kHour = 3'600'000;
constexpr int32_t H0 = 490'000;  // an hour in 2025
}  // namespace

TEST_CASE("dedup hours are whole UTC hours since the epoch, floored also before 1970") {
  CHECK(dedup_hour(0) == 0);
  CHECK(dedup_hour(kHour - 1) == 0);
  CHECK(dedup_hour(kHour) == 1);
  CHECK(dedup_hour(-1) == -1);
  CHECK(dedup_hour(-kHour) == -1);
  CHECK(dedup_hour(-kHour - 1) == -2);
  CHECK(dedup_hour(int64_t(H0) * kHour + 59 * 60'000) == H0);
}

TEST_CASE(
    "a repeat is a duplicate while the watermark is at most the horizon past the watermark at "
    "its first occurrence") {
  auto e = fingerprint("acme", "order-1");
  PartitionDedup d(24);
  CHECK(d.admit(e, H0));
  CHECK_FALSE(d.admit(e, H0));  // a retry
  // Other events move the watermark to exactly H0 + 24: still within.
  CHECK(d.admit(fingerprint("acme", "x"), H0 + 24));
  CHECK(d.watermark() == H0 + 24);
  CHECK_FALSE(d.admit(e, H0));
  // One hour more and order-1 is beyond the horizon: it counts again, and is
  // remembered at the watermark of this occurrence.
  CHECK(d.admit(fingerprint("acme", "y"), H0 + 25));
  CHECK(d.admit(e, H0));
  CHECK_FALSE(d.admit(e, H0));
  CHECK(d.admit(fingerprint("acme", "z"), H0 + 49));
  CHECK_FALSE(d.admit(e, H0));  // H0 + 25 + 24
  CHECK(d.admit(fingerprint("acme", "z2"), H0 + 50));
  CHECK(d.admit(e, H0));
}

TEST_CASE("the watermark includes the event itself and never goes back") {
  auto e = fingerprint("acme", "order-1");
  PartitionDedup d(24);
  CHECK(d.admit(e, H0));
  // A repeat stamped 25 hours later moves the watermark past its first
  // occurrence's horizon itself: it counts.
  CHECK(d.admit(e, H0 + 25));
  CHECK(d.watermark() == H0 + 25);
  CHECK(d.admit(fingerprint("acme", "old"), H0 - 100));  // late: counts, watermark stays
  CHECK(d.watermark() == H0 + 25);
}

TEST_CASE("a late event's retries are duplicates: it is remembered at the watermark") {
  PartitionDedup d(24);
  CHECK(d.admit(fingerprint("acme", "now"), H0));
  auto late = fingerprint("acme", "late");
  CHECK(d.admit(late, H0 - 1000));  // six weeks late
  CHECK_FALSE(d.admit(late, H0 - 1000));
  CHECK(d.admit(fingerprint("acme", "later"), H0 + 24));
  CHECK_FALSE(d.admit(late, H0 - 1000));
  CHECK(d.admit(fingerprint("acme", "latest"), H0 + 25));
  CHECK(d.admit(late, H0 - 1000));  // the watermark moved a horizon since
}

TEST_CASE("restoring the recorded first occurrences and watermark gives the same answers") {
  PartitionDedup live(48);
  struct Rec {
    gs::projection::Fingerprint fp;
    int32_t hour;
  };
  std::vector<Rec> records;  // what the store keeps: every first occurrence
  for (int i = 0; i < 5000; ++i) {
    auto f = fingerprint("t", std::to_string(i % 3000));  // 2000 repeats
    int32_t hour = H0 + i / 50 - (i % 7 == 0 ? 60 : 0);   // 100 hours, some late
    if (live.admit(f, hour)) records.push_back({f, live.watermark()});
  }
  PartitionDedup restored(48);
  restored.restore_watermark(live.watermark());
  for (const auto& r : records) restored.restore(r.fp, r.hour);
  CHECK(restored.size() <= live.size());
  // Every fingerprint ever seen, probed at the watermark, and new ones.
  for (int i = 0; i < 3500; ++i) {
    auto f = fingerprint("t", std::to_string(i));
    INFO("event " << i);
    CHECK(live.admit(f, live.watermark()) == restored.admit(f, restored.watermark()));
  }
  auto a = live.live(), b = restored.live();
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  CHECK(a == b);
}

TEST_CASE("memory is bounded by the events within the horizon") {
  PartitionDedup d(24);
  // 1,000 events an hour for 500 hours: 500,000 events, about 25,000 within.
  size_t most = 0;
  for (int i = 0; i < 500'000; ++i) {
    CHECK(d.admit(fingerprint("t", std::to_string(i)), H0 + i / 1000));
    most = std::max(most, d.bytes());
  }
  CHECK(d.live().size() == 25'000);  // hours H0+475 .. H0+499
  CHECK(d.size() < 2 * 25'000 + 10'000);
  // At most 4 slots of 24 bytes per event within the horizon.
  CHECK(most <= 4 * 26'000 * 24);
  // Without a horizon worth speaking of (100 years), all are kept.
  PartitionDedup all(100 * 366 * 24);
  for (int i = 0; i < 100'000; ++i) all.admit(fingerprint("t", std::to_string(i)), H0 + i / 1000);
  CHECK(all.size() == 100'000);
  CHECK(all.live().size() == 100'000);
}

TEST_CASE("the tenant boundary is part of the fingerprint") {
  CHECK(fingerprint("ab", "c") != fingerprint("a", "bc"));
  PartitionDedup d;
  CHECK(d.admit(fingerprint("acme", "e1"), H0));
  CHECK(d.admit(fingerprint("other", "e1"), H0));
}
