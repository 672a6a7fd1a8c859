// GET, PUT and PATCH /api/settings (docs/api.md): the tenant's settings,
// today its IANA time zone (the kernel's tenant.timezone_set command).
#include "base/zone.h"
#include "http/route.h"
#include "http/service.h"

namespace gs::api {
namespace {

Response get_settings(Service& s, const Call& c) {
  auto tz = state::timezone(s.ctx.store, c.key.tenant_id);
  if (!tz.ok()) return from_error(c.req, tz.error());
  return json_response(c.req, http::status::ok, json{{"timezone", *tz}});
}

Response put_settings(Service& s, const Call& c) {
  const auto& req = c.req;
  auto parsed = s.write_body(c);
  if (auto* r = std::get_if<Response>(&parsed)) return *r;
  const json& body = std::get<json>(parsed);
  if (!body.is_object()) return from_error(req, invalid("", "request body must be a JSON object"));
  for (auto it = body.begin(); it != body.end(); ++it)
    if (it.key() != "timezone")
      return from_error(req, invalid(it.key(), "unknown field; expected timezone"));
  auto tz = body.find("timezone");
  if (tz == body.end() || tz->is_null()) return from_error(req, invalid("timezone", "is required"));
  if (!tz->is_string()) return from_error(req, invalid("timezone", "must be a string"));
  if (!time::valid_time_zone(tz->get<std::string>()))
    return from_error(
        req, invalid("timezone", "must be an IANA time zone such as Europe/Berlin or UTC"));
  model::Command cmd{
      "", model::command_type::timezone_set, c.key.tenant_id, 0, {{"timezone", *tz}}};
  if (auto err = s.write_command(c, std::move(cmd))) return *err;
  return get_settings(s, c);
}

}  // namespace

void add_settings_routes(RouteTable& t, Service& s) {
  using http::verb;
  t.add(verb::get, "/api/settings", read_route(bind(s, get_settings), Reuse::while_unchanged));
  t.add(verb::put, "/api/settings", write_route(bind(s, put_settings)));
  t.add(verb::patch, "/api/settings", write_route(bind(s, put_settings)));
}

}  // namespace gs::api
