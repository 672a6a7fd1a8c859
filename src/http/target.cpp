#include "http/target.h"

#include <boost/url/parse.hpp>
#include <boost/url/parse_path.hpp>
#include <boost/url/url_view.hpp>

#include "base/text.h"

namespace gs::http {
namespace {

namespace urls = boost::urls;

constexpr const char* kNotUtf8 = "is not valid UTF-8 once percent-decoded";

std::string_view drop_trailing_slash(std::string_view path) {
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  return path;
}

}  // namespace

Result<Target> parse_target(std::string_view target) {
  auto url = urls::parse_origin_form(target);
  if (!url) {
    std::string_view path = target.substr(0, target.find('?'));
    if (path.empty() || path.front() != '/' || !urls::parse_path(path))
      return invalid("path",
                     "is not a valid request target path (RFC 3986): percent-encode spaces, "
                     "bytes above 0x7F and a literal '%' (%25)");
    return invalid("query",
                   "is not a valid query (RFC 3986): percent-encode spaces, bytes above 0x7F "
                   "and a literal '%' (%25)");
  }
  // Form encoding ('+' is a space) in the path too, as the API always read it.
  urls::encoding_opts plus_is_space(true, false, false);
  Target out;
  out.path = std::string(drop_trailing_slash(url->encoded_path().decode(plus_is_space)));
  if (!text::valid_utf8(out.path)) return invalid("path", kNotUtf8);
  for (auto param : url->params(plus_is_space)) {
    // "?" alone, "&&" and a trailing '&' name no parameter.
    if (param.key.empty() && !param.has_value) continue;
    if (!text::valid_utf8(param.key))
      return invalid("query", "a parameter name is not valid UTF-8 once percent-decoded");
    if (!text::valid_utf8(param.value))
      return invalid(param.key, std::string(kNotUtf8) + " (query parameter)");
    out.query[param.key] = param.value;
  }
  return out;
}

std::string_view raw_path(std::string_view target) {
  return drop_trailing_slash(target.substr(0, target.find('?')));
}

}  // namespace gs::http
