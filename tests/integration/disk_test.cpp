// A full data directory: serve ends with exit 1 and the line
// `goalstream: data-dir: no space left on device in DIR`, at run time and at
// start, never with an abort; once space is freed nothing accepted is lost.
// The data directory is a small tmpfs, so the test must run as root (it does
// in CI and on the development machine); otherwise it fails, it never skips.
#include <doctest/doctest.h>

#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "harness.h"
#include "kernel/cells.h"
#include "kernel/state.h"
#include "modules/all.h"
#include "modules/conversion/keyspace.h"
#include "modules/growth/keyspace.h"
#include "storage/store.h"

using it::json;

namespace {

// A tmpfs of `size_mb` MiB mounted at a fresh directory; unmounted at the end.
struct SmallDisk {
  std::string dir = it::temp_dir("small-disk");
  explicit SmallDisk(int size_mb) {
    REQUIRE_MESSAGE(geteuid() == 0,
                    "this test mounts a tmpfs as the data directory and must run as root");
    std::string opts = "size=" + std::to_string(size_mb) + "m";
    REQUIRE_MESSAGE(::mount("tmpfs", dir.c_str(), "tmpfs", 0, opts.c_str()) == 0,
                    "mount tmpfs on " << dir << ": " << std::strerror(errno));
  }
  ~SmallDisk() { ::umount2(dir.c_str(), MNT_DETACH); }

  // Writes `path` until the file system refuses more; returns the bytes written.
  static size_t fill(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    REQUIRE(f);
    std::vector<char> chunk(64 * 1024, 'x');
    size_t total = 0;
    for (size_t n = chunk.size(); n > 0;) {
      size_t w = std::fwrite(chunk.data(), 1, n, f);
      total += w;
      if (w < n || std::fflush(f) != 0) n /= 2;  // top up the last pages
    }
    std::fclose(f);
    return total;
  }
};

// The lines of a log that start with "goalstream: " (the one line serve
// prints when it exits 1; the rest of its log has timestamps).
std::vector<std::string> exit_lines(const std::string& log) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < log.size()) {
    auto end = log.find('\n', start);
    if (end == std::string::npos) end = log.size();
    auto line = log.substr(start, end - start);
    if (line.starts_with("goalstream: ")) out.push_back(line);
    start = end + 1;
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> events(int from, int n) {
  std::vector<std::pair<std::string, std::string>> msgs;
  for (int i = from; i < from + n; ++i)
    msgs.push_back(
        {"acme/u" + std::to_string(i),
         it::event("e" + std::to_string(i), "acme", "form_submit", "2025-03-01T12:00:00Z",
                   "https://acme.com/signup/complete?padding=" + std::string(200, 'p'),
                   {{"value", 1}}, "u" + std::to_string(i))});
  return msgs;
}

int64_t count_of(it::Serve& s, const std::string& key, const std::string& id) {
  auto r = s.get("/api/conversion-goals/" + id, key);
  return r.status == 200 ? r.json_body().value("count", int64_t{-1}) : -1;
}

}  // namespace

TEST_CASE(
    "a full data directory ends serve with exit 1 and `goalstream: data-dir: no space left on "
    "device`, at run time and at start; nothing is lost") {
  SmallDisk disk(16);
  const std::string data = disk.dir + "/data";
  const std::string expected = "goalstream: data-dir: no space left on device in " + data;
  auto prefix = it::unique_prefix("disk");
  it::ensure_topics(prefix);
  auto key = it::create_key(prefix, "acme");

  std::string id;
  {
    it::Serve serve(prefix, data);
    serve.start();
    auto r =
        serve.post("/api/conversion-goals", key, R"({"name":"Signups","eventType":"form_submit"})");
    REQUIRE_MESSAGE(r.status == 201, r.body);
    id = r.json_body()["id"];
    it::produce(prefix + "events", events(0, 100));
    REQUIRE(it::eventually([&] { return count_of(serve, key, id) == 100; }));

    // The disk fills up while serve ingests.
    SmallDisk::fill(disk.dir + "/filler");
    it::produce(prefix + "events", events(100, 2000));
    int code = serve.wait_exit(60000);
    INFO("serve log:\n" << serve.log());
    CHECK(code == 1);  // not 134 (an assertion's abort), not a hang
    CHECK(exit_lines(serve.log()) == std::vector<std::string>{expected});
    CHECK(serve.log().find("Assertion") == std::string::npos);
  }

  // Every restart on the still-full disk says the same, never aborts. (Fill
  // again what RocksDB released on its way out, and give serve events to
  // write in case opening the store needs no space.)
  it::produce(prefix + "events", events(2100, 100));
  for (int attempt = 0; attempt < 2; ++attempt) {
    SmallDisk::fill(disk.dir + "/filler" + std::to_string(attempt));
    auto r = it::run_cli_bounded(
        {"serve", "--brokers", it::brokers(), "--topic-prefix", prefix, "--data-dir", data,
         "--listen", "127.0.0.1:" + std::to_string(it::free_port())},
        60000);
    INFO("attempt " << attempt << ", serve stderr:\n" << r.err);
    CHECK(r.exit_code == 1);
    CHECK(exit_lines(r.err) == std::vector<std::string>{expected});
    CHECK(r.err.find("Assertion") == std::string::npos);
  }

  // Space freed: serve starts and counts every event exactly once.
  for (const char* f : {"/filler", "/filler0", "/filler1"}) std::filesystem::remove(disk.dir + f);
  it::Serve serve(prefix, data);
  serve.start();
  CHECK(it::eventually([&] { return count_of(serve, key, id) == 2200; }, 60000));
  CHECK(count_of(serve, key, id) == 2200);
  CHECK(serve.terminate() == 0);
}

TEST_CASE(
    "a malformed record in the data directory ends serve with exit 1 and a line naming it, never "
    "an abort") {
  // A backfill job whose snapshot names no partition number: the backfill
  // thread cannot read it. (A bug or a damaged disk writes such a record.)
  auto prefix = it::unique_prefix("badrow");
  it::ensure_topics(prefix);
  const std::string data = it::temp_dir("badrow");
  {
    auto store = gs::modules::open_store(data);
    REQUIRE(store.ok());
    auto batch = (*store)->batch();
    gs::state::put_job(batch, "acme", "g1", json{{"generation", 0}, {"snapshot", {{"x", 5}}}});
    REQUIRE((*store)->write(batch).ok());
  }
  auto r = it::run_cli_bounded(
      {"serve", "--brokers", it::brokers(), "--topic-prefix", prefix, "--data-dir", data,
       "--listen", "127.0.0.1:" + std::to_string(it::free_port())},
      60000);
  INFO("serve stderr:\n" << r.err);
  CHECK(r.exit_code == 1);  // not 134 (std::terminate's abort), not a hang
  CHECK(exit_lines(r.err) ==
        std::vector<std::string>{"goalstream: data-dir: malformed backfill job of acme/g1: "
                                 "snapshot names partition 'x' (rebuild into a new --data-dir)"});
}
