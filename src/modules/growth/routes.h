// The growth family's part of the API: /api/goals and /api/metrics, the
// replay of their writes and their live-feed frames.
#pragma once

#include "http/route.h"
#include "modules/growth/pacing.h"

namespace gs::growth {

// `thresholds`: the pacing statuses the views show (serve's --at-risk-from).
api::RouteFamily route_family(PacingThresholds thresholds);

}  // namespace gs::growth
