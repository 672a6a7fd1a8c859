// The request target of an HTTP request (RFC 9112 origin-form, "/path?query"),
// parsed with Boost.URL and percent-decoded. Pure functions, thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "base/result.h"

namespace gs::http {

// A decoded request target. Every id and name reaches the handlers through
// here, so every piece is valid UTF-8.
struct Target {
  std::string path;                          // decoded; one trailing '/' dropped ("/a/" is "/a")
  std::map<std::string, std::string> query;  // decoded; a name given twice keeps its last value
};

// Parses and percent-decodes `target`. '+' decodes to a space, in the path
// as in the query. Errors (ErrorCode::invalid) name the field:
// - "path" when the path is not RFC 3986 (a '%' without two hex digits, a
//   space, a byte above 0x7F unescaped, ...) or not UTF-8 once decoded (%FF,
//   overlong forms such as %C0%AF, surrogates, above U+10FFFF);
// - "query" when the query is not RFC 3986, or a parameter's name is not
//   UTF-8 once decoded;
// - the parameter's name when its value is not UTF-8 once decoded.
Result<Target> parse_target(std::string_view target);

// The target's path as sent (before '?', not decoded), one trailing '/'
// dropped: what the routes answered on the I/O threads are matched against,
// so that they answer whatever the rest of the target holds.
std::string_view raw_path(std::string_view target);

}  // namespace gs::http
