#include "storage/rocksdb_log.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <string>
#include <string_view>

#include <rocksdb/env.h>

#include "base/log.h"

namespace gs::storage {

namespace {

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

std::shared_ptr<rocksdb::Logger> stderr_logger() { return std::make_shared<StderrLogger>(); }

}  // namespace gs::storage
