// The conversion family's part of the API: /api/conversion-goals, the
// replay of its writes and its live-feed frames.
#pragma once

#include "http/route.h"

namespace gs::conversion {

api::RouteFamily route_family();

}  // namespace gs::conversion
