#include "http/router.h"

#include <algorithm>
#include <array>
#include <stdexcept>

namespace gs::http {
namespace {

bool is_param(std::string_view segment) {
  return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

// "/a/b" -> {"a", "b"}; "/" -> {""}.
std::vector<std::string_view> split(std::string_view path) {
  std::vector<std::string_view> out;
  path.remove_prefix(1);
  while (true) {
    auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

}  // namespace

size_t PatternTable::add(Verb method, std::string_view pattern) {
  if (pattern.empty() || pattern.front() != '/')
    throw std::invalid_argument("route pattern must start with '/': " + std::string(pattern));
  auto it = std::find_if(patterns_.begin(), patterns_.end(),
                         [&](const Pattern& p) { return p.text == pattern; });
  if (it == patterns_.end()) {
    Pattern p{std::string(pattern), {}, {}};
    for (auto s : split(pattern)) {
      if (s.find_first_of("{}") != std::string_view::npos && !is_param(s))
        throw std::invalid_argument("malformed route segment: " + std::string(pattern));
      p.segments.emplace_back(s);
    }
    patterns_.push_back(std::move(p));
    it = patterns_.end() - 1;
  }
  for (auto& [m, _] : it->routes)
    if (m == method)
      throw std::invalid_argument("route added twice: " + std::string(to_string(method)) + " " +
                                  std::string(pattern));
  it->routes.emplace_back(method, routes_);
  return routes_++;
}

std::optional<Params> PatternTable::bind(const Pattern& p,
                                         const std::vector<std::string_view>& parts) {
  if (parts.size() != p.segments.size()) return std::nullopt;
  Params params;
  for (size_t i = 0; i < parts.size(); ++i) {
    const auto& s = p.segments[i];
    if (is_param(s))
      params.emplace(s.substr(1, s.size() - 2), parts[i]);
    else if (s != parts[i])
      return std::nullopt;
  }
  return params;
}

PatternTable::Match PatternTable::match(Verb method, std::string_view path) const {
  if (path.empty() || path.front() != '/') return NotFound{};
  auto parts = split(path);
  for (const auto& p : patterns_) {
    auto params = bind(p, parts);
    if (!params) continue;
    auto lookup = method == Verb::head ? Verb::get : method;
    for (auto& [m, route] : p.routes)
      if (m == lookup || m == Verb::unknown) return Found{route, std::move(*params)};
    std::vector<Verb> methods;
    for (auto& [m, _] : p.routes) methods.push_back(m);
    return NotAllowed{p.routes.front().second, allow_header(methods)};
  }
  return NotFound{};
}

std::optional<size_t> PatternTable::match_literal(std::string_view path) const {
  for (const auto& p : patterns_)
    if (p.text == path)
      for (auto& [m, route] : p.routes)
        if (m == Verb::unknown) return route;
  return std::nullopt;
}

std::string allow_header(const std::vector<Verb>& methods) {
  static constexpr std::array kOrder = {Verb::get, Verb::head,  Verb::post,
                                        Verb::put, Verb::patch, Verb::delete_};
  std::string out;
  auto append = [&](Verb v) {
    if (!out.empty()) out += ", ";
    out += to_string(v);
  };
  bool get = std::find(methods.begin(), methods.end(), Verb::get) != methods.end();
  for (Verb v : kOrder)
    if ((v == Verb::head && get) || std::find(methods.begin(), methods.end(), v) != methods.end())
      append(v);
  for (Verb v : methods)
    if (std::find(kOrder.begin(), kOrder.end(), v) == kOrder.end()) append(v);
  return out;
}

}  // namespace gs::http
