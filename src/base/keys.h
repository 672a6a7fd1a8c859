// The one key encoder of the store's keyspaces: every key of a tenant's
// entity is `tenant \0 id`, cell keys are `tenant \0 counter \0 bucket` with
// the bucket 8 bytes big-endian (so keys sort by time), and a range over a
// prefix ends at prefix_end(prefix). Tenant ids cannot hold \0 (they match
// ^[A-Za-z0-9_.-]{1,64}$), so the first \0 always ends the tenant.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace gs::keys {

// Appends `a \0 b` to `out`.
inline void append_join(std::string& out, std::string_view a, std::string_view b) {
  out.append(a).push_back('\0');
  out.append(b);
}

// `a \0 b`: a tenant's entity (goal, metric, key record, job, series...).
inline std::string join(std::string_view a, std::string_view b) {
  std::string k;
  k.reserve(a.size() + b.size() + 1);
  append_join(k, a, b);
  return k;
}

// `tenant \0 counter \0`: the prefix of every cell (and presence) of one
// counter (a conversion goal or one of its series).
inline std::string cell_prefix(std::string_view tenant, std::string_view counter) {
  std::string k = join(tenant, counter);
  k.push_back('\0');
  return k;
}

// Appends v as 8 bytes, big-endian (two's complement).
void append_be64(std::string& out, int64_t v);
// Reads 8 big-endian bytes at the start of `bytes` (which must hold 8).
int64_t read_be64(std::string_view bytes);

// The smallest key greater than every key that starts with `prefix`;
// empty when there is none (a prefix of 0xff bytes only), i.e. no bound.
std::string prefix_end(std::string_view prefix);

}  // namespace gs::keys
