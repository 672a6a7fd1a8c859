// The agent family's part of the API: /v1/goals (list, create, read,
// update, delete) in the agent envelope ({success, data, pagination};
// errors {success: false, error: {code, message, field}}), and the replay
// of its writes. No live-feed frames yet.
#pragma once

#include "http/route.h"

namespace gs::agent {

api::RouteFamily route_family();

}  // namespace gs::agent
