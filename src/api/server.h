// The HTTP server (Boost.Beast), shaped like Beast's chat-multi example:
// a listener accepts connections, each http_session owns its socket on its own
// strand, reads one request at a time with explicit limits, and hands the
// request to the Router on a worker pool (writes block until their command is
// applied, so they must not run on the I/O threads). Responses go back through
// the session's strand.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <boost/beast/http.hpp>

#include "base/result.h"

namespace gs::api {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;
using Handler = std::function<Response(const Request&)>;

struct ServerOptions {
  std::string address = "127.0.0.1";
  unsigned short port = 8080;
  int io_threads = 2;
  int worker_threads = 8;
  size_t body_limit = 1 << 20;
};

// Parses "host:port". Error names "listen".
Result<ServerOptions> parse_listen(const std::string& listen);

class Server {
 public:
  Server(ServerOptions opts, Handler handler);
  ~Server();
  // Binds and starts the I/O and worker threads. Error if the port is taken.
  Status start();
  // Stops accepting, lets in-flight requests finish (bounded), joins threads.
  void stop();
  unsigned short port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gs::api
