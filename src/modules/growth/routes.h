// The growth family's routes: /api/goals, /api/metrics, /api/settings.
#pragma once

#include "http/route.h"

namespace gs::growth {

void add_routes(api::RouteTable& table, api::Service& service);

}  // namespace gs::growth
