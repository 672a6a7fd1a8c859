// The HTTP server (Boost.Beast), shaped like Beast's chat-multi example:
// a listener accepts connections, each http_session owns its socket on its own
// strand, reads one request at a time with explicit limits, and answers it
// either at once on its I/O thread (Routes::now: health, readiness, /metrics,
// which must never wait behind API work) or through the Router on one of two
// pools: reads (GET, HEAD) on the reader pool, everything else on the worker
// pool (writes block until their command is applied, so they must not run on
// the I/O threads, and a read never waits for a thread a write holds).
// Responses go back through the session's strand. The
// header is read before the body, so that the server's own 400 and 413 for
// the body come in the envelope of the route's family (Routes::envelope).
//
// A WebSocket upgrade request (GET with Upgrade: websocket) goes, header and
// (empty) body read, to Routes::upgrade on a worker: its answer either joins
// the connection, handed to a gs::http::WebSocketSession, to what it follows,
// or refuses it with an HTTP response. Stopping the server closes the
// WebSocket sessions (1001) before the I/O threads stop.
//
// Limits: at most `max_connections` connections at once (beyond it a new
// connection is answered 503 and closed); accept errors such as EMFILE back
// off with a timer instead of retrying at once. A response to HEAD carries
// the headers of the same request as GET, Content-Length included, and no
// body.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/beast/http.hpp>

#include "base/result.h"
#include "base/telemetry.h"
#include "http/envelope.h"

namespace gs::http {
class WebSocketSession;
}

namespace gs::api {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;
using Handler = std::function<Response(const Request&)>;
// Answers a request without blocking, or nullopt to hand it to `work`.
using InlineHandler = std::function<std::optional<Response>(const Request&)>;

// The envelope of the route a request header names, for the server's own
// answers to that request (400 for a malformed body, 413 for one over the
// limit). Called on the I/O thread; must not block.
using EnvelopeOf = std::function<const gs::http::Envelope&(const http::request_header<>&)>;

// The answer to a WebSocket upgrade request: `join` is called with the
// session once the handshake is done; when it is empty, `refusal` is sent
// instead (an HTTP answer: 401, 403, 404, ...).
struct Upgrade {
  std::function<void(const std::shared_ptr<gs::http::WebSocketSession>&)> join;
  Response refusal;
};
using UpgradeHandler = std::function<Upgrade(const Request&)>;

struct Routes {
  InlineHandler now;              // on the I/O thread that read the request; must not block
  Handler work;                   // on a reader (GET, HEAD) or worker thread; may block
  EnvelopeOf envelope = nullptr;  // empty: the reference envelope for every request
  // On a worker thread; may block. Empty: upgrade requests go to `now` and
  // `work` like any other.
  UpgradeHandler upgrade = nullptr;
};

struct ServerOptions {
  std::string address = "127.0.0.1";
  unsigned short port = 8080;
  int io_threads = 2;
  int worker_threads = 8;  // writes and WebSocket upgrades
  int reader_threads = 4;  // GET and HEAD
  size_t body_limit = 1 << 20;
  int max_connections = 1000;
  Telemetry* telemetry = nullptr;  // WebSocket sessions and frames; must outlive stop()
};

// Parses "host:port". Error names "listen".
Result<ServerOptions> parse_listen(const std::string& listen);

// The default of --max-connections for a process that may open `fd_limit`
// file descriptors: what is left after a reserve for RocksDB (its
// max_open_files), the Kafka clients and the process's own files, at most
// 10 000 and at least 16.
int default_max_connections(long fd_limit);

class Server {
 public:
  explicit Server(ServerOptions opts);
  ~Server();
  // Opens the listening socket (bind and listen). Error names "listen",
  // e.g. when the port is taken. Connections wait in the backlog until start().
  Status bind();
  // Binds if not bound yet, then starts the I/O and worker threads.
  Status start(Routes routes);
  // Stops accepting, lets in-flight requests finish (bounded), joins threads.
  void stop();
  unsigned short port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gs::api
