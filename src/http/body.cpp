#include "http/body.h"

#include <charconv>
#include <cmath>
#include <vector>

#include "base/decimal.h"
#include "model/command.h"

namespace gs::api {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

// A SAX consumer (nlohmann's interface) that builds the DOM as
// nlohmann's own does, and on the way tracks where it is, so that every
// refusal names the place: nesting depth, duplicate members, numbers out of
// range, syntax errors. Returning false stops the parse at once.
class BodySax {
 public:
  explicit BodySax(json& root) : root_(root) {}

  bool null() { return put(nullptr); }
  bool boolean(bool v) { return put(v); }
  bool number_integer(json::number_integer_t v) { return put(v); }
  bool number_unsigned(json::number_unsigned_t v) { return put(v); }
  bool number_float(json::number_float_t v, const json::string_t&) { return put(v); }
  bool string(json::string_t& v) { return put(std::move(v)); }
  bool binary(json::binary_t& v) { return put(json::binary(std::move(v))); }
  bool start_object(std::size_t) { return open(json::value_t::object); }
  bool start_array(std::size_t) { return open(json::value_t::array); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }

  bool key(json::string_t& k) {
    Frame& top = stack_.back();
    if (top.value->contains(k)) {
      top.key = std::move(k);
      auto field = path();
      return fail(field, field + ": appears more than once");
    }
    top.key = std::move(k);
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    auto field = path();
    if (e.id == 406)  // out_of_range.406: a number beyond a double's range
      return fail(field,
                  (field.empty() ? std::string("request body") : field) +
                      ": number is out of range (a number must be within ±1.7976931348623157e308)");
    std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 2: ..."
    if (auto close = what.find("] ");
        what.starts_with("[json.exception.") && close != std::string::npos)
      what = what.substr(close + 2);
    // The position says where; the path would name the last member read,
    // which may not be where the text went wrong.
    return fail("", "request body is not valid JSON: " + what);
  }

  const std::optional<Error>& error() const { return error_; }

 private:
  struct Frame {
    json* value;
    std::string key;  // objects: the member being read
  };

  json* slot() {
    if (stack_.empty()) return &root_;
    Frame& top = stack_.back();
    if (top.value->is_object()) return &(*top.value)[top.key];
    top.value->push_back(nullptr);
    return &top.value->back();
  }

  template <class V>
  bool put(V&& v) {
    *slot() = json(std::forward<V>(v));
    return true;
  }

  bool open(json::value_t type) {
    if (static_cast<int>(stack_.size()) + 1 > model::kMaxRequestDepth)
      return fail(path(), "request body nests deeper than " +
                              std::to_string(model::kMaxRequestDepth) + " levels");
    json* v = slot();
    *v = json(type);
    stack_.push_back({v, {}});
    return true;
  }

  bool close() {
    stack_.pop_back();
    return true;
  }

  // The dotted path of the value being read: members by name, array
  // elements by index in brackets.
  std::string path() const {
    std::string out;
    for (const Frame& f : stack_) {
      if (f.value->is_object()) {
        if (!out.empty()) out += '.';
        out += f.key;
      } else {
        out += "[" + std::to_string(f.value->size()) + "]";
      }
    }
    return out;
  }

  bool fail(std::string field, std::string message) {
    error_ = Error{ErrorCode::invalid, std::move(field), std::move(message)};
    return false;
  }

  json& root_;
  std::vector<Frame> stack_;
  std::optional<Error> error_;
};

void write_string(std::string& out, const std::string& s) {
  out += json(s).dump(-1, ' ', false, json::error_handler_t::replace);
}

void write_double(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[400];  // the longest fixed form of a double is 309 digits and a sign
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  std::string_view text(buf, r.ptr - buf);
  out += text;
  if (text.find('.') == std::string_view::npos) out += ".0";
}

template <class J>
void write(std::string& out, const J& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::object: {
      out += '{';
      bool first = true;
      for (auto it = j.begin(); it != j.end(); ++it) {
        if (!first) out += ',';
        first = false;
        write_string(out, it.key());
        out += ':';
        write(out, it.value());
      }
      out += '}';
      return;
    }
    case nlohmann::json::value_t::array: {
      out += '[';
      bool first = true;
      for (const auto& e : j) {
        if (!first) out += ',';
        first = false;
        write(out, e);
      }
      out += ']';
      return;
    }
    case nlohmann::json::value_t::string:
      write_string(out, j.template get_ref<const std::string&>());
      return;
    case nlohmann::json::value_t::number_float:
      write_double(out, j.template get<double>());
      return;
    case nlohmann::json::value_t::binary:
    case nlohmann::json::value_t::discarded:
      out += "null";
      return;
    default:  // null, boolean, integers
      out += j.dump();
      return;
  }
}

}  // namespace

Result<json> parse_body(std::string_view text) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return Error{ErrorCode::invalid, "",
                 "request body is not valid JSON: it is empty; send a JSON object"};
  json root;
  BodySax sax(root);
  bool ok = false;
  try {
    ok = json::sax_parse(text, &sax);
  } catch (const std::exception& e) {  // not expected: errors go to BodySax::parse_error
    return Error{ErrorCode::invalid, "",
                 std::string("request body is not valid JSON: ") + e.what()};
  }
  if (!ok) {
    if (sax.error()) return *sax.error();
    return Error{ErrorCode::invalid, "", "request body is not valid JSON"};
  }
  return root;
}

ojson number(double v) {
  if (!std::isfinite(v)) return nullptr;
  double r = round6(v);
  if (std::abs(r) < kMaxExactWhole && r == std::trunc(r)) return static_cast<int64_t>(r);
  return r;
}

std::string to_text(const json& j) {
  std::string out;
  write(out, j);
  return out;
}

std::string to_text(const ojson& j) {
  std::string out;
  write(out, j);
  return out;
}

}  // namespace gs::api
