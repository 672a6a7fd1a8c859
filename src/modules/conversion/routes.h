// The conversion family's routes: /api/conversion-goals.
#pragma once

#include "http/route.h"

namespace gs::conversion {

void add_routes(api::RouteTable& table, api::Service& service);

}  // namespace gs::conversion
