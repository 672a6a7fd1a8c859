#include "http/auth.h"

namespace gs::api {

std::string presented_key(const Request& req) {
  std::string token;
  if (auto it = req.find("x-api-key"); it != req.end()) token = std::string(it->value());
  if (token.empty())
    if (auto it = req.find(http::field::authorization); it != req.end()) {
      std::string_view v = it->value();
      if (v.size() > 7 && (v.substr(0, 7) == "Bearer " || v.substr(0, 7) == "bearer "))
        token = std::string(v.substr(7));
    }
  return token;
}

Result<model::ApiKey> authorize(const Request& req, std::string_view scope, const KeyLookup& lookup,
                                std::optional<std::string_view> query_token) {
  auto token = presented_key(req);
  if (token.empty() && query_token) token = std::string(*query_token);
  if (token.empty())
    return Error{ErrorCode::unauthorized, "",
                 query_token ? "missing API key: send x-api-key, Authorization: Bearer or ?token="
                             : "missing API key: send x-api-key or Authorization: Bearer"};
  auto key = lookup(token);
  if (!key) return Error{ErrorCode::unauthorized, "", "invalid API key"};
  if (!key->has_scope(scope))
    return Error{ErrorCode::forbidden, "",
                 "this API key lacks the " + std::string(scope) + " scope"};
  return std::move(*key);
}

}  // namespace gs::api
