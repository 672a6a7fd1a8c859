// UTF-8 checks for untrusted text: percent-decoded paths and query values,
// and the one rule for human-readable names and descriptions. Pure,
// thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace gs::text {

// True when `s` is well-formed UTF-8 (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF).
bool valid_utf8(std::string_view s);

// Length of valid UTF-8 text in Unicode code points.
size_t code_points(std::string_view s);

// The rule for every human-readable text field of the API (a conversion
// goal's name, descriptions, units): valid UTF-8, 1 to `max_chars` Unicode
// code points, no control characters (U+0000-U+001F, U+007F-U+009F), not
// blank (not only Unicode white space). Returns the reason when `s` breaks
// it, phrased to follow "<field>: ".
std::optional<std::string> check_label(std::string_view s, size_t max_chars);

}  // namespace gs::text
