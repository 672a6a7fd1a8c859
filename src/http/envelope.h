// Envelopes: the shape a family of routes gives its response bodies, success
// and error alike, and pages of lists. Pure (bodies are JSON values; the
// caller serializes them), thread-safe; the envelopes are immutable
// singletons.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/result.h"

namespace gs::http {

using ojson = nlohmann::ordered_json;

// A window into a list: `limit` items from `offset`, of `total` in all.
struct Page {
  int64_t offset = 0;
  int64_t limit = 0;
  int64_t total = 0;
  bool has_more() const { return offset + limit < total; }
  // The index range [begin, end) of the page's items in a list of `total`.
  int64_t begin() const { return std::min(offset, total); }
  int64_t end() const { return std::min(offset + limit, total); }
};

// Reads `limit` (1 to max_limit, default default_limit) and `offset` (0 or
// more, default 0) from decoded query parameters; `total` is left 0 for the
// caller to set. An error names the parameter ("limit", "offset") and says
// what it must be.
Result<Page> parse_page(const std::map<std::string, std::string>& query, int64_t default_limit,
                        int64_t max_limit);

class Envelope {
 public:
  virtual ~Envelope() = default;
  // The body of a successful answer holding `data`, with its page when
  // `data` is one page of a list.
  virtual ojson success(ojson data, const std::optional<Page>& page = std::nullopt) const = 0;
  // The body of an error: a machine-readable code, a sentence, the field it
  // concerns (empty: none).
  virtual ojson error(std::string_view code, std::string_view message,
                      std::string_view field) const = 0;
};

// The Goals API reference's shape (every route today): data as it is, no
// pagination; errors {"error": code, "field": field (when there is one),
// "message": message}.
const Envelope& reference_envelope();

// The shape of agent goals: {"success": true, "data": data} and, for a page,
// "pagination": {"total", "limit", "offset", "has_more"}; errors
// {"success": false, "error": {"code", "message", "field" (when there is
// one)}}.
const Envelope& agent_envelope();

}  // namespace gs::http
