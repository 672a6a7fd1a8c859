// The server's own answers about a body (413 over the limit) in the envelope
// of the route's family: the header is read first. A real socket on
// 127.0.0.1, no Kafka.
#include <doctest/doctest.h>

#include <string>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "http/server.h"

namespace {

namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

// Sends `head` (a request header promising a body) and reads the answer.
bhttp::response<bhttp::string_body> exchange(unsigned short port, const std::string& head) {
  net::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect({net::ip::make_address("127.0.0.1"), port});
  net::write(socket, net::buffer(head));
  boost::beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(socket, buffer, res);
  return res;
}

std::string post_header(const std::string& target, size_t length) {
  return "POST " + target + " HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(length) +
         "\r\n\r\n";
}

}  // namespace

TEST_CASE("server: 413 for a body over the limit, in the envelope of the route's family") {
  auto opts = gs::api::parse_listen("127.0.0.1:0");
  REQUIRE(opts.ok());
  opts->io_threads = 1;
  opts->worker_threads = 1;
  gs::api::Server server(*opts);
  gs::api::Routes routes;
  routes.now = [](const gs::api::Request&) { return std::nullopt; };
  routes.work = [](const gs::api::Request& req) {
    gs::api::Response res{bhttp::status::ok, req.version()};
    res.body() = "handled";
    res.prepare_payload();
    return res;
  };
  routes.envelope = [](const bhttp::request_header<>& h) -> const gs::http::Envelope& {
    return h.target().starts_with("/v1/") ? gs::http::agent_envelope()
                                          : gs::http::reference_envelope();
  };
  REQUIRE(server.start(routes).ok());

  auto agent = exchange(server.port(), post_header("/v1/goals", 2 << 20));
  CHECK(agent.result_int() == 413);
  CHECK(
      agent.body() ==
      R"({"success":false,"error":{"code":"payload_too_large","message":"request body exceeds the limit"}})");

  // Any other path: the bytes the server always sent.
  auto other = exchange(server.port(), post_header("/api/goals", 2 << 20));
  CHECK(other.result_int() == 413);
  CHECK(other.body() ==
        R"({"error":"payload_too_large","message":"request body exceeds the limit"})");
  CHECK(other[bhttp::field::content_type] == "application/json");
  CHECK(other[bhttp::field::server] == "goalstream");

  // Within the limit: read in full and handed to the route.
  auto small = exchange(server.port(), post_header("/v1/goals", 2) + "{}");
  CHECK(small.result_int() == 200);
  CHECK(small.body() == "handled");
  server.stop();
}
