// The agent family's part of the API: /v1/goals (list, create, read,
// update, delete) in the agent envelope ({success, data, pagination};
// errors {success: false, error: {code, message, field}}), and the replay
// of its writes; /v1/goals/{id}/progress and /history (ours, beyond the
// reference); live-feed frames of a goal's progress.
#pragma once

#include "http/route.h"
#include "modules/growth/pacing.h"

namespace gs::agent {

// `thresholds`: when a count target is at_risk (those of growth goals).
api::RouteFamily route_family(growth::PacingThresholds thresholds);

}  // namespace gs::agent
