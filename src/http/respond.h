// Responses of the HTTP API: JSON bodies (numbers as body.h prints them),
// errors in a family's envelope, and the route types the handler families
// register (route.h). Pure functions, thread-safe.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "base/result.h"
#include "http/body.h"
#include "http/envelope.h"
#include "http/server.h"

namespace gs::api {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

template <class J = json>
Response json_response(const Request& req, http::status status, const J& body) {
  Response res{status, req.version()};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::server, "goalstream");
  res.body() = to_text(body);  // never throws, numbers as body.h says
  res.prepare_payload();
  return res;
}

// An error: {"error": code, "message": message, "field": field} in the
// reference envelope, or as `envelope` shapes it. No field when it is empty.
Response error_response(const Request& req, http::status status, const std::string& code,
                        const std::string& message, const std::string& field = "",
                        const gs::http::Envelope& envelope = gs::http::reference_envelope());

// The answer to an expected failure: invalid 422 validation_error (the
// message starts with the field), not_found 404, unauthorized 401, forbidden
// 403, conflict 409, unavailable 503, internal 500.
Response from_error(const Request& req, const Error& e,
                    const gs::http::Envelope& envelope = gs::http::reference_envelope());

// 400 bad_request naming the field: a request target that does not parse,
// a query parameter out of range.
Response bad_request(const Request& req, const Error& e,
                     const gs::http::Envelope& envelope = gs::http::reference_envelope());

// 404 for a path no route has.
Response no_such_resource(const Request& req,
                          const gs::http::Envelope& envelope = gs::http::reference_envelope());

// 405 with the Allow header.
Response method_not_allowed(const Request& req, const std::string& allow,
                            const gs::http::Envelope& envelope);

}  // namespace gs::api
