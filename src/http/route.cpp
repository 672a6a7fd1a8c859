#include "http/route.h"

#include "http/respond.h"

namespace gs::api {

const std::string& Call::param(std::string_view name) const { return params.find(name)->second; }

std::optional<std::string> Call::query(const std::string& name) const {
  auto it = target.query.find(name);
  if (it == target.query.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

Route read_route(RouteHandler handler, Reuse reuse) {
  return {model::kScopeRead, &gs::http::reference_envelope(), std::move(handler), nullptr, reuse};
}

Route write_route(RouteHandler handler) {
  return {model::kScopeWrite, &gs::http::reference_envelope(), std::move(handler)};
}

RouteHandler item_in_path(const char* name, ItemHandler handler) {
  return [name, handler = std::move(handler)](const Call& c) { return handler(c, c.param(name)); };
}

RouteHandler item_in_query(const char* name, ItemHandler handler) {
  return [name, handler = std::move(handler)](const Call& c) {
    auto item = c.query(name);
    if (!item) return from_error(c.req, invalid(name, "is required (query parameter)"), c.envelope);
    return handler(c, *item);
  };
}

}  // namespace gs::api
