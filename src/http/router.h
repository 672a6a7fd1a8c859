// The route table: (method, path pattern) -> a route with its handler, the
// scope its API key must carry and the envelope of its family, in the manner
// of pandaproxy's `routes.emplace_back(route_t{descriptor, handler})`.
// Patterns are literal segments and parameters: "/api/goals/{id}" matches
// "/api/goals/goal_1" with id = "goal_1" (a parameter is one decoded segment,
// possibly empty). A table is built once, then only read: lookups are
// thread-safe.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <ostream>  // boost/core/detail/string_view.hpp, via verb.hpp, needs it
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <boost/beast/http/verb.hpp>

namespace gs::http {

using Verb = boost::beast::http::verb;
using Params = std::map<std::string, std::string, std::less<>>;

// The patterns of a table and their methods, without the handlers: matching,
// 405s and the Allow header. For a path, the first pattern added that matches
// it decides (add literal patterns before parameters that would shadow them).
class PatternTable {
 public:
  // The path matched a pattern that has this method (or GET, for HEAD).
  struct Found {
    size_t route;  // index in the order add() was called
    Params params;
  };
  // No pattern matches the path: 404.
  struct NotFound {};
  // A pattern matches but lacks the method: 405. `route` is one of the
  // pattern's routes (its family answers), `allow` the Allow header.
  struct NotAllowed {
    size_t route;
    std::string allow;
  };
  using Match = std::variant<Found, NotFound, NotAllowed>;

  // Adds the route of `method` on `pattern` (a path starting with '/'; a
  // segment "{name}" is a parameter); returns its index. Verb::unknown
  // stands for any method. Throws std::invalid_argument for a malformed
  // pattern or a (method, pattern) added twice: a bug in the table.
  size_t add(Verb method, std::string_view pattern);

  // Looks up a decoded path (http::Target::path). HEAD is answered wherever
  // GET is.
  Match match(Verb method, std::string_view path) const;

  // The exact-text lookup of a literal pattern added with Verb::unknown (any
  // method), for routes matched against the raw target; nullopt when none.
  std::optional<size_t> match_literal(std::string_view path) const;

 private:
  struct Pattern {
    std::string text;
    std::vector<std::string> segments;  // "{id}" for a parameter
    std::vector<std::pair<Verb, size_t>> routes;
  };
  static std::optional<Params> bind(const Pattern& p, const std::vector<std::string_view>& parts);
  std::vector<Pattern> patterns_;
  size_t routes_ = 0;
};

// The Allow header for a pattern with these methods, in one fixed order:
// GET, HEAD (wherever GET is), POST, PUT, PATCH, DELETE, then others.
std::string allow_header(const std::vector<Verb>& methods);

// A route table whose routes carry `Route` (a struct with the handler, the
// scope and the envelope; the table looks inside none of them).
template <class Route>
class Router {
 public:
  struct Matched {
    const Route* route = nullptr;  // null: no pattern matches (404)
    Params params;
    std::string allow;  // non-empty: the pattern lacks the method (405)
  };

  void add(Verb method, std::string_view pattern, Route route) {
    patterns_.add(method, pattern);
    routes_.push_back(std::move(route));
  }

  Matched match(Verb method, std::string_view path) const {
    auto m = patterns_.match(method, path);
    if (auto* f = std::get_if<PatternTable::Found>(&m))
      return {&routes_[f->route], std::move(f->params), {}};
    if (auto* n = std::get_if<PatternTable::NotAllowed>(&m))
      return {&routes_[n->route], {}, std::move(n->allow)};
    return {};
  }

  const Route* match_literal(std::string_view path) const {
    auto i = patterns_.match_literal(path);
    return i ? &routes_[*i] : nullptr;
  }

 private:
  PatternTable patterns_;
  std::vector<Route> routes_;
};

}  // namespace gs::http
