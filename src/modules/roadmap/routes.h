// The roadmap family's part of the API (docs/api.md, "Roadmap goals"):
// /api/v1/goals (list, create, read, update, delete), the node PATCH, the
// progress history, and the WebSocket /api/v1/ws/roadmap that generates a
// goal's roadmap, in the reference envelope; the replay of its writes; live
// frames of a goal as GET shows it.
#pragma once

#include <memory>

#include "http/route.h"
#include "modules/roadmap/generator.h"

namespace gs::roadmap {

// At most this many generations run at once in one process; another
// request gets an error frame (code busy).
inline constexpr size_t kMaxGenerations = 8;

// `generator` makes the roadmaps of /api/v1/ws/roadmap (shared by every
// generation; generate() is thread-safe). RouteFamily::stop waits for the
// generations running (each is bounded by its generator's timeout); their
// results are then dropped, not stored.
api::RouteFamily route_family(std::shared_ptr<Generator> generator);

}  // namespace gs::roadmap
