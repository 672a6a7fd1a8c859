// Roadmap goals (docs/api.md, "Roadmap goals"): GET and POST
// /api/v1/goals, GET, PATCH and DELETE /api/v1/goals/{goal_id}, PATCH
// /api/v1/goals/{goal_id}/roadmap/nodes/{node_id}, GET
// /api/v1/goals/{goal_id}/history, and the WebSocket /api/v1/ws/roadmap,
// every answer in the reference envelope.
#include "modules/roadmap/routes.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <variant>

#include "base/keys.h"
#include "base/log.h"
#include "base/time.h"
#include "http/body.h"
#include "http/route.h"
#include "http/service.h"
#include "http/websocket_session.h"
#include "modules/roadmap/keyspace.h"
#include "modules/roadmap/signals.h"
#include "projection/tally.h"

namespace gs::roadmap {
namespace http = api::http;  // Beast's, as in the rest of the API

namespace {

using namespace gs::api;
using Stored = Result<std::optional<RoadmapGoal>>;

constexpr const char* kPath = "/api/v1/goals";
constexpr const char* kWsPath = "/api/v1/ws/roadmap";
constexpr size_t kMaxHistoryPoints = 1000;

std::string location(const std::string& id) { return std::string(kPath) + "/" + id; }

// ---- views -------------------------------------------------------------------

Result<ojson> goal_view(const RoadmapGoal& g) { return to_json(g); }

// An item of GET /api/v1/goals: the reference's list members.
Result<ojson> list_item_view(const RoadmapGoal& g) {
  ojson full = to_json(g), j;
  for (const char* m :
       {"id", "title", "description", "target_date", "progress", "status", "created_at"})
    j[m] = full[m];
  return j;
}

// The answer to a node PATCH: the reference's {id, progress, roadmap}, then status.
Result<ojson> node_view(const RoadmapGoal& g) {
  ojson full = to_json(g), j;
  for (const char* m : {"id", "progress", "roadmap", "status"}) j[m] = full[m];
  return j;
}

Response goal_not_found(const Request& req, const std::string& id) {
  return not_found(req, "goal", id);
}

// The caller's goal `id` (composed), or the answer to give instead (404
// for a malformed id, another tenant's or an unknown goal alike).
std::variant<RoadmapGoal, Response> found(Service& s, const Call& c, const std::string& id) {
  if (!valid_goal_id(id)) return goal_not_found(c.req, id);
  auto g = goal(s.ctx.store, c.key.tenant_id, id);
  if (!g.ok()) return from_error(c.req, g.error());
  if (!*g) return goal_not_found(c.req, id);
  return std::move(**g);
}

// ---- REST --------------------------------------------------------------------

Response list(Service& s, const Call& c) {
  return list_response(c.req, tenant_goals(s.ctx.store, c.key.tenant_id), list_item_view);
}

Response get(Service& s, const Call& c, const std::string& id) {
  auto g = found(s, c, id);
  if (auto* r = std::get_if<Response>(&g)) return std::move(*r);
  return view_response(c.req, http::status::ok, goal_view(std::get<RoadmapGoal>(g)));
}

Response create(Service& s, const Call& c) {
  auto body = s.write_body(c);
  if (auto* r = std::get_if<Response>(&body)) return std::move(*r);
  auto g = goal_from_request(std::get<json>(body));
  if (!g.ok()) return from_error(c.req, g.error());
  g->tenant_id = c.key.tenant_id;
  g->id = new_goal_id();
  g->created_at_ms = g->updated_at_ms = time::now_ms();
  model::Command cmd{"", command_type::roadmap_goal_created, c.key.tenant_id, 0,
                     json(stored_json(*g))};
  if (auto err = s.write_command(c, std::move(cmd))) return *err;
  return created_response(c.req, goal(s.ctx.store, c.key.tenant_id, g->id), goal_view,
                          location(g->id));
}

Response update(Service& s, const Call& c, const std::string& id) {
  auto body = s.write_body(c);
  if (auto* r = std::get_if<Response>(&body)) return std::move(*r);
  auto patch = patch_from_request(std::get<json>(body));
  if (!patch.ok()) return from_error(c.req, patch.error());
  auto current = found(s, c, id);
  if (auto* r = std::get_if<Response>(&current)) return std::move(*r);
  patch->id = id;
  model::Command cmd{"", command_type::roadmap_goal_updated, c.key.tenant_id, 0, to_json(*patch)};
  if (auto err = s.write_command(c, std::move(cmd))) return *err;
  auto after = goal(s.ctx.store, c.key.tenant_id, id);
  if (!after.ok()) return from_error(c.req, after.error());
  if (!*after) return goal_not_found(c.req, id);  // deleted meanwhile
  return view_response(c.req, http::status::ok, goal_view(**after));
}

// PATCH /api/v1/goals/{goal_id}/roadmap/nodes/{node_id}
Response update_node(Service& s, const Call& c) {
  auto body = s.write_body(c);
  if (auto* r = std::get_if<Response>(&body)) return std::move(*r);
  auto patch = node_patch_from_request(std::get<json>(body));
  if (!patch.ok()) return from_error(c.req, patch.error());
  const std::string& id = c.param("goal_id");
  patch->goal_id = id;
  patch->node_id = c.param("node_id");
  auto current = found(s, c, id);
  if (auto* r = std::get_if<Response>(&current)) return std::move(*r);
  // A goal without a roadmap, or without that node: 404 naming node_id.
  if (auto applied = apply(std::get<RoadmapGoal>(current), *patch, 0); !applied.ok())
    return error_response(c.req, http::status::not_found, "not_found", applied.error().message,
                          applied.error().field);
  model::Command cmd{"", command_type::roadmap_node_updated, c.key.tenant_id, 0, to_json(*patch)};
  if (auto err = s.write_command(c, std::move(cmd))) return *err;
  auto after = goal(s.ctx.store, c.key.tenant_id, id);
  if (!after.ok()) return from_error(c.req, after.error());
  if (!*after) return goal_not_found(c.req, id);  // deleted meanwhile
  return view_response(c.req, http::status::ok, node_view(**after));
}

// A history bound: an RFC 3339 date-time, or a date (its midnight, UTC).
Result<int64_t> instant(const char* name, const std::string& value) {
  if (auto t = time::parse_rfc3339(value)) return *t;
  if (auto d = time::parse_date(value)) return *d * 86'400'000;
  return invalid(name, "must be a date YYYY-MM-DD or an RFC 3339 date-time (query parameter)");
}

// GET /api/v1/goals/{goal_id}/history?from=&to=: the goal's progress after
// each node signal that counts, by event time, in [from, to).
Response history_view(Service& s, const Call& c, const std::string& id) {
  auto found_goal = found(s, c, id);
  if (auto* r = std::get_if<Response>(&found_goal)) return std::move(*r);
  const RoadmapGoal& g = std::get<RoadmapGoal>(found_goal);
  int64_t from = std::numeric_limits<int64_t>::min(), to = std::numeric_limits<int64_t>::max();
  if (auto v = c.query("from")) {
    auto t = instant("from", *v);
    if (!t.ok()) return bad_request(c.req, t.error());
    from = *t;
  }
  if (auto v = c.query("to")) {
    auto t = instant("to", *v);
    if (!t.ok()) return bad_request(c.req, t.error());
    to = *t;
  }
  if (from >= to) return bad_request(c.req, invalid("to", "must be later than from"));
  std::vector<HistoryPoint> points;
  if (g.roadmap) {
    auto signals = goal_signals(s.ctx.store, g.tenant_id, g.id);
    if (!signals.ok()) return from_error(c.req, signals.error());
    points = history(*g.roadmap, std::move(*signals), g.node_since);
  }
  std::erase_if(points, [&](const HistoryPoint& p) { return p.at_ms < from || p.at_ms >= to; });
  if (points.size() > kMaxHistoryPoints)
    return bad_request(
        c.req,
        invalid("from", "the range holds " + std::to_string(points.size()) + " points, more than " +
                            std::to_string(kMaxHistoryPoints) + "; narrow it with from and to"));
  ojson rows = ojson::array();
  for (const auto& p : points) {
    ojson row;
    row["at"] = time::format_rfc3339(p.at_ms);
    row["node_id"] = p.node_id;
    row["signal"] = to_string(p.signal);
    row["count"] = p.count;
    row["progress"] = p.progress;
    row["completed_nodes"] = p.completed_nodes;
    row["counted_nodes"] = p.counted_nodes;
    rows.push_back(std::move(row));
  }
  ojson data;
  data["goal_id"] = g.id;
  data["progress"] = progress(g);
  data["status"] = to_string(status(g));
  data["points"] = std::move(rows);
  return json_response(c.req, http::status::ok, data);
}

// ---- generation over the WebSocket ------------------------------------------

// What the family shares: the generator, the goals generating now (at most
// one generation per goal and kMaxGenerations in all), and the Service
// (set when the routes are added).
struct Shared {
  std::shared_ptr<Generator> generator;
  Service* service = nullptr;

  std::mutex mu;
  std::condition_variable cv;
  std::set<std::string> generating;  // tenant\0goal_id; guarded by mu
  size_t running = 0;                // threads started and not ended; guarded by mu
  bool stopped = false;              // guarded by mu

  // Takes the goal's slot, or says why not.
  std::optional<Error> begin(const std::string& goal_key, const std::string& goal_id) {
    std::lock_guard lock(mu);
    if (stopped) return Error{ErrorCode::unavailable, "", "the server is stopping"};
    if (generating.count(goal_key))
      return Error{
          ErrorCode::conflict, "goal_id",
          "a roadmap for goal " + goal_id + " is being generated already; wait for it to finish"};
    if (running >= kMaxGenerations)
      return Error{ErrorCode::unavailable, "",
                   std::to_string(kMaxGenerations) +
                       " roadmaps are being generated already; try again shortly"};
    generating.insert(goal_key);
    ++running;
    return std::nullopt;
  }
  void end(const std::string& goal_key) {
    std::lock_guard lock(mu);
    generating.erase(goal_key);
    --running;
    cv.notify_all();
  }
  bool stopping() {
    std::lock_guard lock(mu);
    return stopped;
  }
  void stop() {
    std::unique_lock lock(mu);
    stopped = true;
    cv.wait(lock, [&] { return running == 0; });
  }
};

// One WebSocket connection: the upgrade request it was authorized with
// (what its writes are made as) and whether it is generating.
struct Connection {
  Request req;
  gs::http::Target target;
  gs::http::Params params;
  model::ApiKey key;
  std::atomic<bool> busy{false};
};

using Session = std::shared_ptr<gs::http::WebSocketSession>;

void send(const Session& session, const ojson& frame) {
  session->send(std::make_shared<const std::string>(to_text(frame)));
}

// {"error": code, "field": field (when there is one), "message": message}:
// the reference envelope's error, as a frame.
ojson error_frame(std::string_view code, std::string_view message, std::string_view field = "") {
  return gs::http::reference_envelope().error(code, message, field);
}

ojson error_frame(const Error& e) {
  switch (e.code) {
    case ErrorCode::invalid:
      return error_frame("validation_error", e.message, e.field);
    case ErrorCode::not_found:
      return error_frame("not_found", e.message, e.field);
    case ErrorCode::conflict:
      return error_frame("conflict", e.message, e.field);
    case ErrorCode::unavailable:
      return error_frame("unavailable", e.message, e.field);
    default:
      return error_frame("internal", e.message, e.field);
  }
}

// A generator's failure: generator_unavailable (the endpoint could not be
// reached or refused), invalid_roadmap (its answer is not a valid roadmap).
ojson generation_error_frame(const Error& e) {
  if (e.code == ErrorCode::invalid) return error_frame("invalid_roadmap", e.message, e.field);
  if (e.code == ErrorCode::unavailable) return error_frame("generator_unavailable", e.message);
  return error_frame("generation_failed", e.message, e.field);
}

// One generation, on its own thread: the goal, the generator's statuses,
// the roadmap.generated command, then {"roadmap"} and {"success"}.
void generate(Shared& shared, Connection& conn, const Session& session,
              const std::string& goal_id) {
  Service& s = *shared.service;
  const std::string& tenant = conn.key.tenant_id;
  auto out = [&](const ojson& frame) {
    if (!shared.stopping()) send(session, frame);
  };
  auto g = goal(s.ctx.store, tenant, goal_id);
  if (!g.ok()) return out(error_frame(g.error()));
  // Another tenant's goal reads as no goal at all.
  if (!*g) return out(error_frame("not_found", "goal " + goal_id + " not found", "goal_id"));
  const RoadmapGoal& current = **g;
  out({{"status", "Generating a roadmap for \"" + current.title + "\" with " +
                      std::string(shared.generator->name())}});
  auto fresh = shared.generator->generate(
      {current.id, current.title, current.description, current.target_date},
      [&](std::string status) {
        out({{"status", std::move(status)}});
      });
  if (!fresh.ok()) {
    log::warn("roadmap generation for goal " + goal_id + " of tenant " + tenant +
              " failed: " + fresh.error().message);
    return out(generation_error_frame(fresh.error()));
  }
  if (shared.stopping()) return;  // the server stops: nothing is stored
  Roadmap merged =
      current.roadmap ? merge_regenerated(*current.roadmap, std::move(*fresh)) : std::move(*fresh);
  out({{"status",
        current.roadmap ? "Storing the roadmap (completed steps kept)" : "Storing the roadmap"}});
  Call call{conn.req, conn.target, conn.params, conn.key, gs::http::reference_envelope()};
  model::Command cmd{"", command_type::roadmap_generated, tenant, 0,
                     to_json(GeneratedRoadmap{goal_id, std::move(merged)})};
  if (auto err = s.write_command(call, std::move(cmd))) {
    auto body = json::parse(err->body(), nullptr, false);
    return out(body.is_object() ? ojson(body)
                                : error_frame("internal", "the roadmap could not be stored"));
  }
  auto after = goal(s.ctx.store, tenant, goal_id);
  if (!after.ok()) return out(error_frame(after.error()));
  if (!*after) return out(error_frame("not_found", "goal " + goal_id + " was deleted", "goal_id"));
  ojson view = to_json(**after);
  out({{"roadmap", view["roadmap"]}});
  out({{"success", true},
       {"goal_id", goal_id},
       {"progress", view["progress"]},
       {"status", view["status"]},
       {"generator", std::string(shared.generator->name())}});
}

// A request of the client: {"goal_id", "goal_title"} (goal_title is
// accepted as the reference's clients send it; the goal's stored title is
// what the generator gets). On the session's strand: checks the request,
// takes the goal's slot and starts the generation's thread.
void on_request(const std::shared_ptr<Shared>& shared, const std::shared_ptr<Connection>& conn,
                const Session& session, const std::string& text) {
  auto body = parse_body(text);
  if (!body.ok())
    return send(session, error_frame("invalid_json", body.error().message, body.error().field));
  if (!body->is_object())
    return send(session,
                error_frame("validation_error",
                            "a request is a JSON object {\"goal_id\": ..., \"goal_title\": ...}"));
  for (const auto& [name, value] : body->items())
    if (name != "goal_id" && name != "goal_title")
      return send(session,
                  error_frame("validation_error",
                              name + ": unknown field; expected one of goal_id, goal_title", name));
  auto id = body->find("goal_id");
  if (id == body->end() || id->is_null())
    return send(session, error_frame("validation_error", "goal_id: is required", "goal_id"));
  if (!id->is_string())
    return send(session, error_frame("validation_error", "goal_id: must be a string", "goal_id"));
  if (auto t = body->find("goal_title"); t != body->end() && !t->is_null() && !t->is_string())
    return send(session,
                error_frame("validation_error", "goal_title: must be a string", "goal_title"));
  std::string goal_id = id->get<std::string>();
  if (!valid_goal_id(goal_id))
    return send(session, error_frame("not_found", "goal " + goal_id + " not found", "goal_id"));
  if (conn->busy.exchange(true))
    return send(session, error_frame("conflict",
                                     "this connection is generating a roadmap already; send the "
                                     "next request after its answer",
                                     "goal_id"));
  std::string goal_key = keys::join(conn->key.tenant_id, goal_id);
  if (auto refused = shared->begin(goal_key, goal_id)) {
    conn->busy = false;
    return send(session, error_frame(*refused));
  }
  struct Task {
    std::shared_ptr<Connection> conn;
    Session session;
  };
  auto task = std::make_unique<Task>(Task{conn, session});
  std::thread([shared, goal_key, goal_id, task = std::move(task)]() mutable {
    try {
      generate(*shared, *task->conn, task->session, goal_id);
    } catch (const std::exception& e) {
      log::error("roadmap generation for goal " + goal_id + " failed: " + e.what());
      if (!shared->stopping())
        send(task->session, error_frame("internal", "the roadmap could not be generated"));
    }
    task->conn->busy = false;
    task.reset();  // the session is released before stop() may return
    shared->end(goal_key);
  }).detach();
}

// ---- replay and live frames ------------------------------------------------

std::optional<Response> replayed(Service& s, const Request& req, const std::string& tenant,
                                 const std::string& type, const std::string& id) {
  namespace ct = command_type;
  if (type == ct::roadmap_goal_created)
    return replayed_response(req, http::status::created, goal(s.ctx.store, tenant, id), goal_view,
                             "goal", id, location(id));
  if (type == ct::roadmap_goal_updated)
    return replayed_response(req, http::status::ok, goal(s.ctx.store, tenant, id), goal_view,
                             "goal", id);
  if (type == ct::roadmap_node_updated)
    return replayed_response(req, http::status::ok, goal(s.ctx.store, tenant, id), node_view,
                             "goal", id);
  if (type == ct::roadmap_goal_deleted) return deleted_response(req, "id", id);
  return std::nullopt;
}

// A goal whose node signals a batch counted, or every goal after a command
// of the tenant: its GET /api/v1/goals/{goal_id} body.
void live_progress(Service& s, const std::string& tenant, const gs::http::TenantChanges& changes,
                   std::vector<ProgressFrame>& out) {
  auto all = tenant_goals(s.ctx.store, tenant);
  if (!all.ok()) return;
  for (const auto& g : *all) {
    bool moved = changes.command;
    if (!moved) {
      auto prefix = projection::tally_prefix(g.id);
      auto it = changes.counters.lower_bound(prefix);
      moved = it != changes.counters.end() && it->starts_with(prefix);
    }
    if (moved) out.push_back({location(g.id), to_json(g)});
  }
}

void add_routes(const std::shared_ptr<Shared>& shared, RouteTable& t, Service& s) {
  shared->service = &s;
  using http::verb;
  auto item = [&s](auto f) { return item_in_path("goal_id", bind_item(s, f)); };
  t.add(verb::get, kPath, read_route(bind(s, list)));
  t.add(verb::post, kPath, write_route(bind(s, create)));
  t.add(verb::get, "/api/v1/goals/{goal_id}", read_route(item(get)));
  t.add(verb::patch, "/api/v1/goals/{goal_id}", write_route(item(update)));
  auto exists = [&s](const std::string& tenant, const std::string& id) -> Result<bool> {
    if (!valid_goal_id(id)) return false;
    auto g = stored_goal(s.ctx.store, tenant, id);
    if (!g.ok()) return g.error();
    return g->has_value();
  };
  t.add(verb::delete_, "/api/v1/goals/{goal_id}",
        write_route(item_in_path(
            "goal_id",
            [&s,
             removal = Service::Removal{"goal", command_type::roadmap_goal_deleted, "id", exists}](
                const Call& c, const std::string& id) { return s.remove(c, removal, id); })));
  t.add(verb::patch, "/api/v1/goals/{goal_id}/roadmap/nodes/{node_id}",
        write_route(bind(s, update_node)));
  t.add(verb::get, "/api/v1/goals/{goal_id}/history", read_route(item(history_view)));

  // Generation writes a command: the key needs goals:write.
  Route ws = write_route([](const Call& c) { return upgrade_required(c.req, kWsPath); });
  ws.websocket = [shared](const Call& c) -> UpgradeJoin {
    auto conn = std::make_shared<Connection>();
    conn->req = c.req;
    conn->req.erase("Idempotency-Key");  // generations are not replayed by key
    conn->target = c.target;
    conn->params = c.params;
    conn->key = c.key;
    return [shared, conn](const Session& session) {
      session->on_message([shared, conn](const Session& s, std::string text) {
        on_request(shared, conn, s, text);
      });
    };
  };
  t.add(verb::get, kWsPath, std::move(ws));
}

}  // namespace

api::RouteFamily route_family(std::shared_ptr<Generator> generator) {
  auto shared = std::make_shared<Shared>();
  shared->generator = generator ? std::move(generator) : template_generator();
  return {[shared](RouteTable& t, Service& s) { add_routes(shared, t, s); }, replayed,
          live_progress, [shared] { shared->stop(); }};
}

}  // namespace gs::roadmap
