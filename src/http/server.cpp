#include "http/server.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "base/log.h"
#include "http/body.h"
#include "http/websocket_session.h"

namespace gs::api {
namespace {

namespace beast = boost::beast;
namespace net = boost::asio;

// What an exception says, for a log line (any type).
std::string what_of(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "an exception that is not a std::exception";
  }
}
using tcp = net::ip::tcp;

// File descriptors kept for the rest of the process: RocksDB's table cache
// (max_open_files 512 in store.cpp) and its WAL, MANIFEST and LOG, the Kafka
// clients' sockets and wake-up pipes, the I/O threads' epoll and eventfds.
constexpr long kFdReserve = 640;
constexpr int kMaxDefaultConnections = 10000;
// Connections beyond the cap that linger after their 503 (each holds a
// descriptor for up to 1 s); the others close right after the answer.
constexpr int kMaxRejectionsInFlight = 64;

Response plain_error(unsigned version, http::status status, const std::string& code,
                     const std::string& message,
                     const gs::http::Envelope& envelope = gs::http::reference_envelope()) {
  Response res{status, version};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::server, "goalstream");
  res.body() = to_text(envelope.error(code, message, ""));
  res.prepare_payload();
  return res;
}

// A response to HEAD is the GET response's status and headers, with the
// Content-Length of its body, and no body (RFC 9110 9.3.2): a keep-alive
// client reads no body after it, so none may follow.
void finish_for(const Request& req, Response& res) {
  if (req.method() != http::verb::head) return;
  res.content_length(res.body().size());
  res.body().clear();
}

// Counts the open connections; each http_session holds one slot, and hands
// it to the WebSocket session its connection becomes.
struct Slots {
  std::atomic<int> open{0};
  std::atomic<int> rejecting{0};
};

class http_session : public std::enable_shared_from_this<http_session> {
 public:
  http_session(tcp::socket&& socket, net::thread_pool& workers, net::thread_pool& readers,
               const Routes& routes, size_t body_limit, std::shared_ptr<Slots> slots,
               std::shared_ptr<gs::http::WebSocketSessions> websockets)
      : stream_(std::move(socket)),
        workers_(workers),
        readers_(readers),
        routes_(routes),
        body_limit_(body_limit),
        slots_(std::move(slots)),
        websockets_(std::move(websockets)) {}
  ~http_session() {
    if (slots_) slots_->open--;
  }

  void run() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&http_session::do_read, shared_from_this()));
  }

 private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(body_limit_);
    parser_->header_limit(16 * 1024);
    envelope_ = &gs::http::reference_envelope();
    stream_.expires_after(std::chrono::seconds(60));
    http::async_read_header(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&http_session::on_header, shared_from_this()));
  }

  // The header is in: the route's envelope shapes the server's own answers
  // about the body. A Content-Length over the limit fails here already, with
  // the start line and fields read.
  void on_header(beast::error_code ec, size_t) {
    bool header = parser_->is_header_done() || ec == http::error::body_limit;
    if (header && routes_.envelope) envelope_ = &routes_.envelope(parser_->get());
    if (ec) return on_read(ec, 0);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&http_session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, size_t) {
    if (ec == http::error::end_of_stream) return do_close();
    if (ec == http::error::body_limit)
      return send(plain_error(11, http::status::payload_too_large, "payload_too_large",
                              "request body exceeds the limit", *envelope_),
                  true);
    if (ec) {
      if (ec != beast::error::timeout && ec != net::error::operation_aborted &&
          ec != net::error::connection_reset && ec != net::error::eof) {
        // A malformed request gets a 400 when the connection is still usable.
        if (ec.category() == http::make_error_code(http::error::bad_method).category())
          return send(plain_error(11, http::status::bad_request, "bad_request",
                                  "malformed HTTP request", *envelope_),
                      true);
      }
      return do_close();
    }
    auto req = std::make_shared<Request>(parser_->release());
    stream_.expires_never();
    bool close = !req->keep_alive();
    if (routes_.upgrade && boost::beast::websocket::is_upgrade(*req)) return upgrade(req, close);
    // Health, readiness and /metrics: answered here, never queued behind API work.
    std::optional<Response> now;
    try {
      now = routes_.now(*req);
    } catch (...) {
      log::error("handler threw: " + what_of(std::current_exception()));
      now = plain_error(req->version(), http::status::internal_server_error, "internal",
                        "internal error");
    }
    if (now) {
      finish_for(*req, *now);
      return send(std::move(*now), close);
    }
    // Handlers may block (writes wait for Kafka and the processor): reads
    // go to their own pool, so that they never queue behind writes.
    bool read = req->method() == http::verb::get || req->method() == http::verb::head;
    net::post(read ? readers_ : workers_, [self = shared_from_this(), req, close] {
      Response res;
      try {
        res = self->routes_.work(*req);
      } catch (...) {
        log::error("handler threw: " + what_of(std::current_exception()));
        res = plain_error(req->version(), http::status::internal_server_error, "internal",
                          "internal error");
      }
      finish_for(*req, res);
      net::post(self->stream_.get_executor(), [self, res = std::move(res), close]() mutable {
        self->send(std::move(res), close);
      });
    });
  }

  // Authorizing may block (an unknown key waits for the commands topic): on
  // a worker. Accepted, the socket and its connection slot go to a
  // WebSocket session; this session ends.
  void upgrade(std::shared_ptr<Request> req, bool close) {
    net::post(workers_, [self = shared_from_this(), req, close] {
      Upgrade answer;
      try {
        answer = self->routes_.upgrade(*req);
      } catch (...) {
        log::error("upgrade handler threw: " + what_of(std::current_exception()));
        answer = {nullptr, plain_error(req->version(), http::status::internal_server_error,
                                       "internal", "internal error")};
      }
      net::post(self->stream_.get_executor(),
                [self, req, close, answer = std::move(answer)]() mutable {
                  if (!answer.join) {
                    finish_for(*req, answer.refusal);
                    return self->send(std::move(answer.refusal), close);
                  }
                  auto slots = std::move(self->slots_);
                  std::shared_ptr<void> slot(nullptr, [slots](void*) { slots->open--; });
                  std::make_shared<gs::http::WebSocketSession>(self->stream_.release_socket(),
                                                               self->websockets_, std::move(slot))
                      ->run(*req, std::move(answer.join));
                });
    });
  }

  void send(Response res, bool close) {
    res.keep_alive(!close);
    res_ = std::make_shared<Response>(std::move(res));
    stream_.expires_after(std::chrono::seconds(30));
    http::async_write(
        stream_, *res_,
        beast::bind_front_handler(&http_session::on_write, shared_from_this(), close));
  }

  void on_write(bool close, beast::error_code ec, size_t) {
    if (ec || close) return do_close();
    res_.reset();
    do_read();
  }

  void do_close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const gs::http::Envelope* envelope_ = &gs::http::reference_envelope();  // of parser_'s route
  std::shared_ptr<Response> res_;
  net::thread_pool& workers_;
  net::thread_pool& readers_;
  const Routes& routes_;
  size_t body_limit_;
  std::shared_ptr<Slots> slots_;  // null once handed to a WebSocket session
  std::shared_ptr<gs::http::WebSocketSessions> websockets_;
};

// A connection beyond the cap: answered 503 (Connection: close) at once,
// without a session. What the client already sent is read and dropped first,
// and the socket lingers (up to 1 s, until the client's EOF) before it
// closes: closing over unread input resets the connection, which can make
// the client's kernel drop the answer before it is read. At most
// kMaxRejectionsInFlight linger; the others close at once after the answer.
class rejection : public std::enable_shared_from_this<rejection> {
 public:
  rejection(tcp::socket&& socket, std::shared_ptr<Slots> slots)
      : stream_(std::move(socket)), slots_(std::move(slots)) {
    slots_->rejecting++;
  }
  ~rejection() { slots_->rejecting--; }

  static void answer(tcp::socket& socket) {
    static const std::string text = [] {
      std::string body =
          R"({"error":"unavailable","message":"too many open connections; retry shortly"})";
      return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nServer: "
             "goalstream\r\n"
             "Retry-After: 1\r\nConnection: close\r\nContent-Length: " +
             std::to_string(body.size()) + "\r\n\r\n" + body;
    }();
    beast::error_code ec;
    socket.non_blocking(true, ec);
    char scratch[4096];
    for (int i = 0; i < 16 && !ec; ++i) socket.read_some(net::buffer(scratch), ec);
    net::write(socket, net::buffer(text), ec);  // a fresh socket's send buffer takes it
    socket.shutdown(tcp::socket::shutdown_send, ec);
  }

  void linger() {
    stream_.expires_after(std::chrono::seconds(1));
    stream_.async_read_some(net::buffer(scratch_),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (!ec) self->linger();
                            });
  }

 private:
  beast::tcp_stream stream_;
  char scratch_[512];
  std::shared_ptr<Slots> slots_;
};

class listener : public std::enable_shared_from_this<listener> {
 public:
  listener(net::io_context& ioc, tcp::acceptor&& acceptor, net::thread_pool& workers,
           net::thread_pool& readers, const Routes& routes, size_t body_limit, int max_connections,
           std::shared_ptr<Slots> slots, std::shared_ptr<gs::http::WebSocketSessions> websockets)
      : ioc_(ioc),
        acceptor_(std::move(acceptor)),
        retry_(acceptor_.get_executor()),
        workers_(workers),
        readers_(readers),
        routes_(routes),
        body_limit_(body_limit),
        max_connections_(max_connections),
        slots_(std::move(slots)),
        websockets_(std::move(websockets)) {}
  void run() { do_accept(); }
  void close() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->acceptor_.close(ec);
      self->retry_.cancel();
    });
  }

 private:
  void do_accept() {
    acceptor_.async_accept(net::make_strand(ioc_),
                           beast::bind_front_handler(&listener::on_accept, shared_from_this()));
  }

  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // EMFILE, ENFILE, ENOBUFS...: the connection stays in the backlog;
      // retrying at once would spin. Back off 10 ms, doubling to 1 s.
      backoff_ = std::min(
          backoff_ == std::chrono::milliseconds(0) ? std::chrono::milliseconds(10) : backoff_ * 2,
          std::chrono::milliseconds(1000));
      if (!warned_) log::warn("accept failed: " + ec.message() + "; retrying with back-off");
      warned_ = true;
      retry_.expires_after(backoff_);
      retry_.async_wait([self = shared_from_this()](beast::error_code e) {
        if (!e && self->acceptor_.is_open()) self->do_accept();
      });
      return;
    }
    backoff_ = std::chrono::milliseconds(0);
    if (slots_->open.load() >= max_connections_) {
      if (!full_)
        log::warn("connection limit reached (" + std::to_string(max_connections_) +
                  " open); new connections are answered 503 until some close");
      full_ = true;
      rejection::answer(socket);
      if (slots_->rejecting.load() < kMaxRejectionsInFlight)
        std::make_shared<rejection>(std::move(socket), slots_)->linger();
      // else: the socket closes as it goes out of scope.
    } else {
      full_ = false;
      warned_ = false;
      slots_->open++;
      std::make_shared<http_session>(std::move(socket), workers_, readers_, routes_, body_limit_,
                                     slots_, websockets_)
          ->run();
    }
    do_accept();
  }

  net::io_context& ioc_;
  tcp::acceptor acceptor_;
  net::steady_timer retry_;
  std::chrono::milliseconds backoff_{0};
  bool warned_ = false, full_ = false;
  net::thread_pool& workers_;
  net::thread_pool& readers_;
  const Routes& routes_;
  size_t body_limit_;
  int max_connections_;
  std::shared_ptr<Slots> slots_;
  std::shared_ptr<gs::http::WebSocketSessions> websockets_;
};

}  // namespace

Result<ServerOptions> parse_listen(const std::string& listen) {
  ServerOptions o;
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size())
    return invalid("listen", "must be host:port, e.g. 127.0.0.1:8080");
  o.address = listen.substr(0, colon);
  if (o.address.front() == '[' && o.address.back() == ']')
    o.address = o.address.substr(1, o.address.size() - 2);
  try {
    int port = std::stoi(listen.substr(colon + 1));
    if (port < 0 || port > 65535) throw std::out_of_range("port");
    o.port = static_cast<unsigned short>(port);
  } catch (...) {
    return invalid("listen", "port must be a number from 0 to 65535");
  }
  beast::error_code ec;
  net::ip::make_address(o.address, ec);
  if (ec) return invalid("listen", "'" + o.address + "' is not an IP address");
  return o;
}

int default_max_connections(long fd_limit) {
  long n = fd_limit - kFdReserve;
  return static_cast<int>(std::clamp<long>(n, 16, kMaxDefaultConnections));
}

struct Server::Impl {
  ServerOptions opts;
  Routes routes;
  std::shared_ptr<Slots> slots = std::make_shared<Slots>();
  std::shared_ptr<gs::http::WebSocketSessions> websockets;
  net::io_context ioc;
  std::optional<tcp::acceptor> acceptor;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::unique_ptr<net::thread_pool> workers, readers;
  std::shared_ptr<listener> lst;
  std::vector<std::thread> threads;
  unsigned short bound_port = 0;
  bool running = false;
};

Server::Server(ServerOptions opts) : impl_(std::make_unique<Impl>()) {
  impl_->opts = std::move(opts);
}

Server::~Server() { stop(); }

Status Server::bind() {
  auto& I = *impl_;
  if (I.acceptor) return {};
  beast::error_code ec;
  tcp::endpoint ep{net::ip::make_address(I.opts.address, ec), I.opts.port};
  if (ec) return invalid("listen", "bad address " + I.opts.address);
  tcp::acceptor acceptor(net::make_strand(I.ioc));
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    return Error{ErrorCode::unavailable, "listen",
                 "cannot listen on " + I.opts.address + ":" + std::to_string(I.opts.port) + ": " +
                     ec.message()};
  I.bound_port = acceptor.local_endpoint().port();
  I.acceptor.emplace(std::move(acceptor));
  return {};
}

Status Server::start(Routes routes) {
  auto& I = *impl_;
  if (auto st = bind(); !st.ok()) return st;
  I.routes = std::move(routes);
  I.workers = std::make_unique<net::thread_pool>(I.opts.worker_threads);
  I.readers = std::make_unique<net::thread_pool>(I.opts.reader_threads);
  I.websockets = std::make_shared<gs::http::WebSocketSessions>(I.opts.telemetry);
  I.lst =
      std::make_shared<listener>(I.ioc, std::move(*I.acceptor), *I.workers, *I.readers, I.routes,
                                 I.opts.body_limit, I.opts.max_connections, I.slots, I.websockets);
  I.acceptor.reset();
  I.lst->run();
  I.work.emplace(I.ioc.get_executor());
  // An exception out of a completion handler unwinds run(): it is logged and
  // the thread runs the context again, so no exception ends the process.
  for (int i = 0; i < I.opts.io_threads; ++i)
    I.threads.emplace_back([&I] {
      while (true) {
        try {
          I.ioc.run();
          return;
        } catch (...) {
          log::error("http I/O thread: " + what_of(std::current_exception()));
        }
      }
    });
  I.running = true;
  return {};
}

void Server::stop() {
  auto& I = *impl_;
  if (!I.running) return;
  I.running = false;
  I.lst->close();
  I.workers->join();  // in-flight handlers finish
  I.readers->join();
  // The sessions' close frames go out on the I/O threads, which still run.
  I.websockets->close_all(std::chrono::seconds(1));
  I.work.reset();
  I.ioc.stop();
  for (auto& t : I.threads) t.join();
}

unsigned short Server::port() const { return impl_->bound_port; }

}  // namespace gs::api
