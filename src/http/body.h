// Request input for the HTTP API: the one parser of request bodies, and
// number formatting for responses. Pure functions (no I/O), thread-safe.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "base/result.h"

namespace gs::api {

// Parses a request body into JSON without throwing. Refuses, with an Error
// whose `field` is the dotted path of the offending place ("conditions.plan",
// "conditions.plan.in[2]"; empty at the top level) where there is one:
// - text that is not JSON (the message says where: line, column, token);
// - nesting deeper than model::kMaxRequestDepth, what the commands topic
//   accepts once the body is wrapped in a command's envelope;
// - numbers outside the range of a double (1e400);
// - an object member that appears more than once ({"name":"a","name":"b"}).
// Parsing stops at the first of these, so deep or long input costs no more
// than it takes to reach it.
Result<nlohmann::json> parse_body(std::string_view text);

// The API's numbers: a whole number (after rounding) within ±2^53 is a JSON
// integer (342, not 342.0); anything else is rounded to 6 decimal places
// (round6). to_text prints it in the shortest decimal form that reads back
// to the same double, so a rounded value shows at most 6 decimals.
nlohmann::ordered_json number(double v);

// Serializes a response body. Like dump(), except that (1) a non-integer
// number is printed in plain decimal notation, shortest round trip
// (2.571048, 0.000001; never 2.5710479999999998 or 1e-06), a whole one
// with ".0" as nlohmann does, and (2) it never throws: invalid UTF-8 in a
// string is replaced with U+FFFD.
std::string to_text(const nlohmann::json& j);
std::string to_text(const nlohmann::ordered_json& j);

}  // namespace gs::api
