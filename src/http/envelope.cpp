#include "http/envelope.h"

#include <charconv>
#include <cstdint>

namespace gs::http {
namespace {

// A whole number written in plain decimal digits, within [min, max].
Result<int64_t> parse_count(const std::map<std::string, std::string>& query,
                            const std::string& name, int64_t fallback, int64_t min, int64_t max) {
  auto it = query.find(name);
  if (it == query.end()) return fallback;
  const std::string& s = it->second;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  bool digits = !s.empty() && s.front() != '-';
  if (!digits || ec != std::errc() || end != s.data() + s.size() || v < min || v > max)
    return invalid(name, "must be a whole number from " + std::to_string(min) + " to " +
                             std::to_string(max) + " (query parameter)");
  return v;
}

class ReferenceEnvelope final : public Envelope {
 public:
  ojson success(ojson data, const std::optional<Page>&) const override { return data; }
  ojson error(std::string_view code, std::string_view message,
              std::string_view field) const override {
    // The members in the order of the sorted-key objects this shape always had.
    ojson body;
    body["error"] = code;
    if (!field.empty()) body["field"] = field;
    body["message"] = message;
    return body;
  }
};

class AgentEnvelope final : public Envelope {
 public:
  ojson success(ojson data, const std::optional<Page>& page) const override {
    ojson body;
    body["success"] = true;
    body["data"] = std::move(data);
    if (page)
      body["pagination"] = {{"total", page->total},
                            {"limit", page->limit},
                            {"offset", page->offset},
                            {"has_more", page->has_more()}};
    return body;
  }
  ojson error(std::string_view code, std::string_view message,
              std::string_view field) const override {
    ojson e;
    e["code"] = code;
    e["message"] = message;
    if (!field.empty()) e["field"] = field;
    return {{"success", false}, {"error", std::move(e)}};
  }
};

}  // namespace

Result<Page> parse_page(const std::map<std::string, std::string>& query, int64_t default_limit,
                        int64_t max_limit) {
  auto limit = parse_count(query, "limit", default_limit, 1, max_limit);
  if (!limit.ok()) return limit.error();
  auto offset = parse_count(query, "offset", 0, 0, INT32_MAX);
  if (!offset.ok()) return offset.error();
  return Page{*offset, *limit, 0};
}

const Envelope& reference_envelope() {
  static const ReferenceEnvelope e;
  return e;
}

const Envelope& agent_envelope() {
  static const AgentEnvelope e;
  return e;
}

}  // namespace gs::http
