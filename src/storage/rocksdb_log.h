// RocksDB's own log as goalstream's log lines (see rocksdb_log.cpp).
#pragma once

#include <memory>

namespace rocksdb {
class Logger;
}

namespace gs::storage {

// RocksDB's warnings and errors on goalstream's stderr log, informational
// lines dropped.
std::shared_ptr<rocksdb::Logger> stderr_logger();

}  // namespace gs::storage
