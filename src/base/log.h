// Minimal leveled logging to stderr, one line per call, with a UTC timestamp.
// Thread-safe (each line is written with a single fprintf).
#pragma once

#include <cstdio>
#include <string>

#include "base/time.h"

namespace gs::log {

enum class Level { debug, info, warn, error };
inline Level& threshold() {
  static Level l = Level::info;
  return l;
}

inline void write(Level l, const std::string& msg) {
  if (l < threshold()) return;
  static const char* names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
  std::fprintf(stderr, "%s %s %s\n", time::format_rfc3339(time::now_ms()).c_str(),
               names[static_cast<int>(l)], msg.c_str());
}
inline void info(const std::string& m) { write(Level::info, m); }
inline void warn(const std::string& m) { write(Level::warn, m); }
inline void error(const std::string& m) { write(Level::error, m); }

}  // namespace gs::log
