#include "http/service.h"

#include "base/time.h"

namespace gs::api {
namespace {

std::string_view idempotency_header(const Request& req) {
  auto it = req.find("Idempotency-Key");
  return it == req.end() ? std::string_view() : std::string_view(it->value());
}

// What a key stands for: the SHA-256 of the method, the target and the body.
std::string request_hash(const Request& req) {
  std::string s(req.method_string());
  s.push_back(' ');
  s.append(req.target());
  s.push_back('\n');
  s.append(req.body());
  return model::sha256_hex(s);
}

}  // namespace

// Parses a request body without throwing (api::parse_body); a 400
// invalid_json Response naming the place when it is refused.
std::variant<json, Response> parse_json_body(const Request& req,
                                             const gs::http::Envelope& envelope) {
  auto body = api::parse_body(req.body());
  if (!body.ok())
    return error_response(req, http::status::bad_request, "invalid_json", body.error().message,
                          body.error().field, envelope);
  return std::move(body).value();
}

Response not_found(const Request& req, const std::string& what, const std::string& item) {
  return error_response(req, http::status::not_found, "not_found",
                        what + " " + item + " not found");
}

std::variant<json, Response> Service::write_body(const Call& c) {
  if (auto answer = replay(c)) return std::move(*answer);
  return parse_json_body(c.req, c.envelope);
}

Response Service::remove(const Call& c, const Removal& r, const std::string& item) {
  if (auto answer = replay(c)) return *answer;
  auto exists = r.exists(c.key.tenant_id, item);
  if (!exists.ok()) return from_error(c.req, exists.error());
  if (!*exists) return not_found(c.req, r.what, item);
  model::Command cmd{"", r.command_type, c.key.tenant_id, 0, {{r.member, item}}};
  if (auto err = write_command(c, std::move(cmd))) return *err;
  return deleted_response(c.req, r.member, item);
}

Response deleted_response(const Request& req, const char* member, const std::string& item) {
  return json_response(req, http::status::ok, json{{member, item}, {"deleted", true}});
}

std::optional<Response> Service::write_command(const Call& c, model::Command cmd) {
  const Request& req = c.req;
  const auto& env = c.envelope;
  cmd.command_id = "cmd_" + model::random_hex(12);
  cmd.issued_at_ms = time::now_ms();
  if (auto k = idempotency_header(req); !k.empty()) {  // replay() checked it
    cmd.idempotency_key = std::string(k);
    cmd.request_hash = request_hash(req);
  }
  auto payload = model::serialize(cmd);
  // A body within the 1 MiB limit can still make a larger command (the
  // envelope; 1e5 is written back as 100000.0): refuse what Kafka would.
  if (payload.size() + cmd.tenant_id.size() > kernel::kMaxCommandBytes)
    return error_response(req, http::status::payload_too_large, "payload_too_large",
                          "this write makes a command of " + std::to_string(payload.size()) +
                              " bytes; the commands topic takes at most " +
                              std::to_string(kernel::kMaxCommandBytes) + ": send a smaller body",
                          "", env);
  auto d = ctx.commands.submit(cmd.tenant_id, payload);
  if (d.err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
      d.err == RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE)
    return error_response(req, http::status::payload_too_large, "payload_too_large",
                          "Kafka refused this write's command of " +
                              std::to_string(payload.size()) + " bytes as too large (" + d.error +
                              "); nothing was written: send a smaller body",
                          "", env);
  if (!d.ok()) {
    // librdkafka's delivery report says whether the command may be in the
    // log (sent, no acknowledgement) or certainly is not.
    auto res =
        d.possibly_persisted
            ? error_response(
                  req, http::status::service_unavailable, "outcome_unknown",
                  "Kafka did not confirm the write (" + d.error +
                      "); it may have been stored and then it will be applied: send it again "
                      "with the same Idempotency-Key to get its outcome (without one, "
                      "a retry may apply it twice)",
                  "", env)
            : error_response(req, http::status::service_unavailable, "not_written",
                             "Kafka did not take the write (" + d.error +
                                 "); nothing was written: it is safe to send it again",
                             "", env);
    res.set(http::field::retry_after, "1");
    return res;
  }
  if (!ctx.commands.wait_applied(d.offset, ctx.write_timeout)) {
    auto res = error_response(req, http::status::service_unavailable, "not_applied",
                              "the write is stored in Kafka but the processor has not applied it "
                              "yet; retry the read shortly",
                              "", env);
    res.set(http::field::retry_after, "1");
    return res;
  }
  if (cmd.idempotency_key.empty()) return std::nullopt;
  auto read = state::idempotency(ctx.store, cmd.tenant_id, cmd.idempotency_key);
  if (!read.ok()) return from_error(req, read.error(), env);
  auto& record = *read;
  if (!record) return std::nullopt;
  if (record->value("command_id", "") != cmd.command_id) return recorded_answer(c, *record);
  if (record->value("outcome", "") != "applied") return outcome_answer(c, *record);
  return std::nullopt;
}

std::optional<Response> Service::replay(const Call& c) {
  const Request& req = c.req;
  size_t n = req.count("Idempotency-Key");
  if (n == 0) return std::nullopt;
  auto v = idempotency_header(req);
  if (n > 1 || !model::valid_idempotency_key(v))
    return error_response(
        req, http::status::bad_request, "invalid_header",
        "Idempotency-Key: must be sent once, 1 to 255 visible ASCII characters (e.g. a UUID)",
        "Idempotency-Key", c.envelope);
  auto read = state::idempotency(ctx.store, c.key.tenant_id, std::string(v));
  if (!read.ok()) return from_error(req, read.error(), c.envelope);
  auto& record = *read;
  if (!record) return std::nullopt;
  // Past the window the processor forgets the key when this write's
  // command arrives (its issued_at is now): the write is a new one.
  auto issued = time::parse_rfc3339(record->value("issued_at", ""));
  if (!issued || *issued < time::now_ms() - model::kIdempotencyWindowMs) return std::nullopt;
  return recorded_answer(c, *record);
}

Response Service::recorded_answer(const Call& c, const json& record) {
  if (record.value("request", "") != request_hash(c.req))
    return error_response(
        c.req, http::status::unprocessable_entity, "idempotency_key_reused",
        "Idempotency-Key: was used for another request (method, path or body differ) in the "
        "last 24 hours; use a new key for a new write",
        "Idempotency-Key", c.envelope);
  auto res = outcome_answer(c, record);
  res.set("Idempotent-Replayed", "true");
  return res;
}

Response Service::outcome_answer(const Call& c, const json& record) {
  const Request& req = c.req;
  const std::string& tenant = c.key.tenant_id;
  if (record.value("outcome", "") != "applied") {
    auto e = record.value("error", json::object());
    return error_response(req, http::status::unprocessable_entity, "validation_error",
                          e.value("message", "the write was rejected"), e.value("field", ""),
                          c.envelope);
  }
  std::string type = record.value("type", ""), resource = record.value("resource", "");
  if (type == model::command_type::timezone_set) {
    auto tz = state::timezone(ctx.store, tenant);
    if (!tz.ok()) return from_error(req, tz.error(), c.envelope);
    return json_response(req, http::status::ok, json{{"timezone", *tz}});
  }
  for (const RouteFamily& family : ctx.families)
    if (family.replayed)
      if (auto answer = family.replayed(*this, req, tenant, type, resource)) return *answer;
  return error_response(req, http::status::internal_server_error, "internal",
                        "unknown recorded write " + type, "", c.envelope);
}

}  // namespace gs::api
