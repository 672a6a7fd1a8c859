// What the handler families share: the context, writes through the
// commands topic with their Idempotency-Key (a replayed write is answered
// by the family that wrote it: RouteFamily::replayed), the request body
// parser, and the shapes of the common answers.
// Thread-safe: handlers call it from every worker.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "http/respond.h"
#include "http/route.h"
#include "http/routes.h"
#include "kernel/state.h"
#include "model/command.h"

namespace gs::api {

class Service {
 public:
  explicit Service(ApiContext& ctx) : ctx(ctx) {}

  ApiContext& ctx;

  // Called first by every write handler: 400 for a malformed Idempotency-Key;
  // the answer recorded for the key when a write with it was applied within
  // the window; nullopt to go on and write. The Service's own answers come
  // in the route's envelope (Call::envelope), a replayed write's in its
  // family's (RouteFamily::replayed).
  std::optional<Response> replay(const Call& c);

  // Produces a command and waits until the processor applied it. Returns
  // the answer when it is not the handler's to give: the write failed, or
  // (with an Idempotency-Key) another attempt was first or it was rejected.
  std::optional<Response> write_command(const Call& c, model::Command cmd);

  // The body of a write with one: the Idempotency-Key replay's answer, a
  // 400 for a body that is not JSON, or the parsed body.
  std::variant<json, Response> write_body(const Call& c);

  // What a DELETE of one item of a family writes.
  struct Removal {
    const char* what;          // "goal": the 404 says "goal <id> not found"
    const char* command_type;  // model::command_type::...
    const char* member;        // the command's and the answer's member naming the item
    std::function<Result<bool>(const std::string& tenant, const std::string& item)> exists;
  };
  // Deletes `item`: the Idempotency-Key replay, 404 when it does not exist,
  // the command, then 200 {"<member>": item, "deleted": true}.
  Response remove(const Call& c, const Removal& r, const std::string& item);

 private:
  Response recorded_answer(const Call& c, const json& record);
  Response outcome_answer(const Call& c, const json& record);
};

// 404 not_found: "<what> <item> not found".
Response not_found(const Request& req, const std::string& what, const std::string& item);

// 200 {"<member>": item, "deleted": true}: the answer to a DELETE.
Response deleted_response(const Request& req, const char* member, const std::string& item);

// `status` with the view's body, or the Error the read met (500 for an
// unreadable row).
template <class Body>
Response view_response(const Request& req, http::status status, const Result<Body>& body) {
  if (!body.ok()) return from_error(req, body.error());
  return json_response(req, status, *body);
}

// The answer to a replayed create (201, Location: <location>) or update
// (200) of `what` `id`: `stored` as `view` shows it now; 410 gone when it
// was deleted since.
template <class Item, class View>
Response replayed_response(const Request& req, http::status status,
                           const Result<std::optional<Item>>& stored, View view,
                           const std::string& what, const std::string& id,
                           const std::string& location = "") {
  if (!stored.ok()) return from_error(req, stored.error());
  if (!*stored)
    return error_response(
        req, http::status::gone, "gone",
        what + " " + id +
            " was written by the request with this Idempotency-Key and has been deleted since");
  auto res = view_response(req, status, view(**stored));
  if (!location.empty() && res.result() == status) res.set(http::field::location, location);
  return res;
}

// 200 with `items`, each as `view` shows it.
template <class Items, class View>
Response list_response(const Request& req, const Result<Items>& items, View view) {
  if (!items.ok()) return from_error(req, items.error());
  ojson out = ojson::array();
  for (const auto& item : *items) {
    auto v = view(item);
    if (!v.ok()) return from_error(req, v.error());
    out.push_back(std::move(*v));
  }
  return json_response(req, http::status::ok, out);
}

// 200 with `item` as `view` shows it; 404 "<what> <name> not found" without it.
template <class Item, class View>
Response found_response(const Request& req, const Result<std::optional<Item>>& item, View view,
                        const std::string& what, const std::string& name) {
  if (!item.ok()) return from_error(req, item.error());
  if (!*item) return not_found(req, what, name);
  return view_response(req, http::status::ok, view(**item));
}

// The answer to a create once applied: 201 with `stored` as `view` shows
// it and `Location: <location>`; 500 when it is not in the store.
template <class Item, class View>
Response created_response(const Request& req, const Result<std::optional<Item>>& stored, View view,
                          const std::string& location, const char* what = "goal") {
  if (!stored.ok()) return from_error(req, stored.error());
  if (!*stored)
    return error_response(req, http::status::internal_server_error, "internal",
                          std::string(what) + " vanished after write");
  auto res = view_response(req, http::status::created, view(**stored));
  if (res.result() == http::status::created) res.set(http::field::location, location);
  return res;
}

// Parses a request body without throwing (api::parse_body); a 400
// invalid_json Response in `envelope` naming the place when it is refused.
std::variant<json, Response> parse_json_body(
    const Request& req, const gs::http::Envelope& envelope = gs::http::reference_envelope());

}  // namespace gs::api
