#include "http/respond.h"

namespace gs::api {

Response error_response(const Request& req, http::status status, const std::string& code,
                        const std::string& message, const std::string& field,
                        const gs::http::Envelope& envelope) {
  return json_response(req, status, envelope.error(code, message, field));
}

Response from_error(const Request& req, const Error& e, const gs::http::Envelope& envelope) {
  auto answer = [&](http::status status, const char* code, const std::string& message,
                    const std::string& field = "") {
    return error_response(req, status, code, message, field, envelope);
  };
  switch (e.code) {
    case ErrorCode::invalid:
      return answer(http::status::unprocessable_entity, "validation_error",
                    e.field.empty() || e.message.starts_with(e.field + ":")
                        ? e.message
                        : e.field + ": " + e.message,
                    e.field);
    case ErrorCode::not_found:
      return answer(http::status::not_found, "not_found", e.message);
    case ErrorCode::unauthorized:
      return answer(http::status::unauthorized, "unauthorized", e.message);
    case ErrorCode::forbidden:
      return answer(http::status::forbidden, "forbidden", e.message);
    case ErrorCode::conflict:
      return answer(http::status::conflict, "conflict", e.message);
    case ErrorCode::unavailable:
      return answer(http::status::service_unavailable, "unavailable", e.message);
    case ErrorCode::internal:
      break;
  }
  return answer(http::status::internal_server_error, "internal", e.message);
}

Response bad_request(const Request& req, const Error& e, const gs::http::Envelope& envelope) {
  return error_response(req, http::status::bad_request, "bad_request", e.field + ": " + e.message,
                        e.field, envelope);
}

Response no_such_resource(const Request& req, const gs::http::Envelope& envelope) {
  return error_response(req, http::status::not_found, "not_found", "no such resource", "",
                        envelope);
}

Response method_not_allowed(const Request& req, const std::string& allow,
                            const gs::http::Envelope& envelope) {
  auto res = error_response(req, http::status::method_not_allowed, "method_not_allowed",
                            "allowed methods: " + allow, "", envelope);
  res.set(http::field::allow, allow);
  return res;
}

}  // namespace gs::api
