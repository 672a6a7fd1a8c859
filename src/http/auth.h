// API keys on requests: which key a request presents, and whether it may
// call a route of a given scope. Pure given the lookup; thread-safe when the
// lookup is.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "http/server.h"
#include "model/command.h"

namespace gs::api {

// The key a request presents: the x-api-key header, else Authorization:
// Bearer (or bearer). Empty when it presents none.
std::string presented_key(const Request& req);

// Finds the key whose text is `token`; nullopt when there is none.
using KeyLookup = std::function<std::optional<model::ApiKey>(const std::string& token)>;

// The key of a request to a route that needs `scope` (goals:read,
// goals:write). Errors: unauthorized without a key ("missing API key: ...")
// or with one `lookup` does not find ("invalid API key"); forbidden when the
// key lacks the scope. `lookup` is called only when a key is presented.
// `query_token`, for a route that takes the key from the `token` query
// parameter (WebSocket routes), is its value (possibly empty), used when the
// headers present none.
Result<model::ApiKey> authorize(const Request& req, std::string_view scope, const KeyLookup& lookup,
                                std::optional<std::string_view> query_token = std::nullopt);

}  // namespace gs::api
