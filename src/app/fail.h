// How `goalstream` ends on an error: one line on stderr, then an exit that
// nothing on the way out can hold up.
#pragma once

#include <chrono>
#include <string>

#include "base/result.h"

namespace gs::app {

// Ends the process with `code` if it is still running `limit` from now: a
// failed or stopping process must not hang in a destructor (a librdkafka
// handle waiting for an unreachable broker, a RocksDB close on a full disk).
void exit_within(std::chrono::seconds limit, int code, std::string what);

// Every fatal error: one line `goalstream: <field>: <message>`, then exit 1
// within a bounded time, whatever the cleanup on the way out does. Returns
// the exit code (1).
int fail(const std::string& what);
int fail(const Error& e);

}  // namespace gs::app
