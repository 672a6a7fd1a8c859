#include "model/event.h"

#include <algorithm>
#include <charconv>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/time.h"

namespace gs::model {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

Error err(std::string field, std::string message) {
  return Error{ErrorCode::invalid, std::move(field), std::move(message)};
}

// Length in Unicode code points; the schema's minLength/maxLength count those.
size_t code_points(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// Checks an optional string member with length bounds. `e` is null when the
// member is absent.
std::optional<Error> check_string(const element* e, size_t min_len, size_t max_len,
                                  std::optional<std::string_view>& out, std::string_view path) {
  out.reset();
  if (!e) return std::nullopt;
  std::string_view s;
  if (e->get_string().get(s) != simdjson::SUCCESS)
    return err(std::string(path), "must be a string");
  // Code points <= bytes: count them only when the byte length is too long.
  if (min_len > 0 && s.empty()) return err(std::string(path), "must not be empty");
  if (s.size() > max_len && code_points(s) > max_len)
    return err(std::string(path), "must be at most " + std::to_string(max_len) + " characters");
  out = s;
  return std::nullopt;
}

std::optional<Error> require_string(const element* e, size_t min_len, size_t max_len,
                                    std::optional<std::string_view>& out, std::string_view key) {
  if (auto er = check_string(e, min_len, max_len, out, key)) return er;
  if (!out) return err(std::string(key), "is required");
  return std::nullopt;
}

bool all_of(std::string_view s, size_t min, size_t max, bool (*ok)(char)) {
  if (s.size() < min || s.size() > max) return false;
  for (char c : s)
    if (!ok(c)) return false;
  return true;
}

// The envelope's members, found in one pass over the object with the
// members the rules declare (after these).
enum Member { kEventId, kTenantId, kType, kTimestamp, kSubjectId, kUrl, kProperties, kEnvelope };
constexpr std::string_view kEnvelopeNames[kEnvelope] = {
    "event_id", "tenant_id", "type", "timestamp", "subject_id", "url", "properties"};
// Envelope and rule members the validator can track in one event.
constexpr size_t kMaxMembers = 32;

// Re-serializes a JSON document with each integer beyond int64/uint64 written
// as the nearest double, in exponent form. simdjson 3.0.1's DOM refuses such
// integers (NUMBER_ERROR) although JSON and the schema allow them (a 20-digit
// order number); nlohmann's lexer reads them as doubles. Everything else is
// kept: member order, duplicate keys (the validator takes the first),
// numbers as written (so 49.0 reads as before); strings are re-escaped.
class BigIntegerRewriter {
 public:
  explicit BigIntegerRewriter(std::string& out) : out_(out) {}

  bool null() { return raw("null"); }
  bool boolean(bool b) { return raw(b ? "true" : "false"); }
  bool number_integer(int64_t v) { return integer(v); }
  bool number_unsigned(uint64_t v) { return integer(v); }
  bool number_float(double v, const std::string& text) {
    if (text.find_first_of(".eE") != std::string::npos) return raw(text);
    // An integer token that fits neither int64 nor uint64: the shortest
    // exponent form that reads back as the same double.
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
    return raw(std::string_view(buf, r.ptr - buf));
  }
  bool string(std::string& s) {
    separate();
    quote(s);
    return true;
  }
  bool binary(nlohmann::json::binary_t&) { return false; }  // not in JSON text
  bool start_object(std::size_t) { return open('{'); }
  bool end_object() { return close('}'); }
  bool start_array(std::size_t) { return open('['); }
  bool end_array() { return close(']'); }
  bool key(std::string& k) {
    separate();
    quote(k);
    out_.push_back(':');
    after_key_ = true;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
    return false;
  }

 private:
  // A comma before every value or key but the first of its container; none
  // between a key and its value.
  void separate() {
    if (after_key_) {
      after_key_ = false;
    } else if (!first_.empty()) {
      if (!first_.back()) out_.push_back(',');
      first_.back() = false;
    }
  }
  bool raw(std::string_view text) {
    separate();
    out_.append(text);
    return true;
  }
  template <class T>
  bool integer(T v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    return raw(std::string_view(buf, r.ptr - buf));
  }
  bool open(char c) {
    separate();
    out_.push_back(c);
    first_.push_back(true);
    return true;
  }
  bool close(char c) {
    out_.push_back(c);
    first_.pop_back();
    return true;
  }
  void quote(std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    out_.push_back('"');
    for (char ch : s) {
      auto c = static_cast<unsigned char>(ch);
      if (c == '"' || c == '\\') {
        out_.push_back('\\');
        out_.push_back(ch);
      } else if (c < 0x20) {
        out_.append("\\u00");
        out_.push_back(kHex[c >> 4]);
        out_.push_back(kHex[c & 15]);
      } else {
        out_.push_back(ch);
      }
    }
    out_.push_back('"');
  }

  std::string& out_;
  std::vector<bool> first_;  // per open container: no member written yet
  bool after_key_ = false;
};

// Writes `bytes` with big integers rewritten into `out`; false when `bytes`
// is not JSON for nlohmann either (then simdjson's error stands).
bool rewrite_big_integers(std::string_view bytes, std::string& out) {
  out.clear();
  BigIntegerRewriter rewriter(out);
  try {
    return nlohmann::json::sax_parse(bytes.begin(), bytes.end(), &rewriter);
  } catch (...) {  // sax_parse reports errors through parse_error; never let one escape
    return false;
  }
}

}  // namespace

std::optional<Error> check_id(element e, std::string_view path) {
  std::optional<std::string_view> s;
  if (auto er = check_string(&e, 1, 200, s, path)) return er;
  return std::nullopt;
}

EventParser::EventParser(std::span<const EventMemberRule> rules)
    : rules_(rules.begin(), rules.end()),
      names_(std::begin(kEnvelopeNames), std::end(kEnvelopeNames)) {
  for (const auto& r : rules_) {
    auto first = std::find(names_.begin() + kEnvelope, names_.end(), r.member);
    slot_.push_back(static_cast<size_t>(first - names_.begin()));
    names_.push_back(r.member);
  }
  if (names_.size() > kMaxMembers) throw std::logic_error("too many event member rules");
}

bool valid_tenant_id(std::string_view s) {
  return all_of(s, 1, 64, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

bool valid_event_type(std::string_view s) {
  return all_of(s, 1, 64, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' ||
           c == '-';
  });
}

Result<Event> EventParser::parse(std::string_view bytes) {
  element root;
  auto code = parser_.parse(bytes.data(), bytes.size(), true).get(root);
  // Only a number error takes the slow path (see rewrite_big_integers); the
  // DOM keeps copies of strings, so the rewritten text need not outlive it.
  if (code == simdjson::NUMBER_ERROR && rewrite_big_integers(bytes, rewritten_))
    code = parser_.parse(rewritten_.data(), rewritten_.size(), true).get(root);
  if (code != simdjson::SUCCESS)
    return err("", std::string("not valid JSON: ") + simdjson::error_message(code));
  return validate(root);
}

Result<Event> EventParser::parse(std::string_view bytes, simdjson::dom::document& doc) {
  element root;
  auto code = parser_.parse_into_document(doc, bytes.data(), bytes.size(), true).get(root);
  if (code == simdjson::NUMBER_ERROR && rewrite_big_integers(bytes, rewritten_))
    code = parser_.parse_into_document(doc, rewritten_.data(), rewritten_.size(), true).get(root);
  if (code != simdjson::SUCCESS)
    return err("", std::string("not valid JSON: ") + simdjson::error_message(code));
  return validate(root);
}

Result<Event> EventParser::validate(simdjson::dom::element root) {
  object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS)
    return err("", "an event must be a JSON object");

  // One pass over the members; the first occurrence of a key wins.
  element found[kMaxMembers];
  bool has[kMaxMembers] = {};
  const size_t n_names = names_.size();
  for (auto field : obj) {
    for (size_t m = 0; m < n_names; ++m)
      if (field.key == names_[m]) {
        if (!has[m]) {
          has[m] = true;
          found[m] = field.value;
        }
        break;
      }
  }
  auto at = [&](size_t m) -> const element* { return has[m] ? &found[m] : nullptr; };

  Event ev;
  ev.root = obj;
  std::optional<std::string_view> s;
  if (auto e = require_string(at(kEventId), 1, 200, s, "event_id")) return *e;
  for (unsigned char c : *s)
    if (c < 0x20) return err("event_id", "must not contain control characters");
  ev.event_id = *s;
  if (auto e = require_string(at(kTenantId), 0, 1000, s, "tenant_id")) return *e;
  if (!valid_tenant_id(*s)) return err("tenant_id", "must match ^[A-Za-z0-9_.-]{1,64}$");
  ev.tenant_id = *s;
  if (auto e = require_string(at(kType), 0, 1000, s, "type")) return *e;
  if (!valid_event_type(*s)) return err("type", "must match ^[a-z0-9_.:-]{1,64}$");
  ev.type = *s;
  if (auto e = require_string(at(kTimestamp), 0, 1000, s, "timestamp")) return *e;
  auto ts = time::parse_rfc3339(*s);
  if (!ts)
    return err("timestamp", "must be an RFC 3339 date-time with a zone, e.g. 2025-03-01T12:00:00Z");
  ev.timestamp_ms = *ts;
  if (auto e = check_string(at(kSubjectId), 0, 200, ev.subject_id, "subject_id")) return *e;
  if (auto e = check_string(at(kUrl), 0, 4096, ev.url, "url")) return *e;

  if (has[kProperties]) {
    element props = found[kProperties];
    if (props.type() != element_type::OBJECT) return err("properties", "must be an object");
    ev.properties = props;
    element v;
    if (props["value"].get(v) == simdjson::SUCCESS) {
      double d;
      if (v.get_double().get(d) == simdjson::SUCCESS) ev.value = d;
    }
  }

  // The families' members: checked whenever present (ids first), then
  // required by the event's type.
  using Kind = EventMemberRule::Kind;
  for (Kind kind : {Kind::id, Kind::custom})
    for (size_t r = 0; r < rules_.size(); ++r) {
      const auto& rule = rules_[r];
      if (rule.kind != kind || !has[slot_[r]]) continue;
      auto e =
          kind == Kind::id ? check_id(found[slot_[r]], rule.member) : rule.check(found[slot_[r]]);
      if (e) return *e;
    }
  for (size_t r = 0; r < rules_.size(); ++r)
    if (rules_[r].required_for == ev.type && !has[slot_[r]])
      return err(std::string(rules_[r].member), std::string(rules_[r].required_message));
  return ev;
}

}  // namespace gs::model
