// Random ids and hashes (OpenSSL).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace gs::crypto {

// Random lowercase hex of 2*bytes characters from a CSPRNG.
std::string random_hex(size_t bytes);
// Lowercase hex SHA-256 of `s`.
std::string sha256_hex(std::string_view s);

}  // namespace gs::crypto
