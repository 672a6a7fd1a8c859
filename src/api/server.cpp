#include "api/server.h"

#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>

#include "base/log.h"

namespace gs::api {
namespace {

namespace beast = boost::beast;
namespace net = boost::asio;
using tcp = net::ip::tcp;

Response plain_error(const Request& req, http::status status, const std::string& code,
                     const std::string& message) {
  Response res{status, req.version()};
  res.set(http::field::content_type, "application/json");
  res.body() = std::string("{\"error\":\"") + code + "\",\"message\":\"" + message + "\"}";
  res.prepare_payload();
  return res;
}

class http_session : public std::enable_shared_from_this<http_session> {
 public:
  http_session(tcp::socket&& socket, net::thread_pool& workers, const Handler& handler, size_t body_limit)
      : stream_(std::move(socket)), workers_(workers), handler_(handler), body_limit_(body_limit) {}

  void run() {
    net::dispatch(stream_.get_executor(), beast::bind_front_handler(&http_session::do_read, shared_from_this()));
  }

 private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(body_limit_);
    parser_->header_limit(16 * 1024);
    stream_.expires_after(std::chrono::seconds(60));
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&http_session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, size_t) {
    if (ec == http::error::end_of_stream) return do_close();
    if (ec == http::error::body_limit) {
      Request req;
      req.version(11);
      return send(plain_error(req, http::status::payload_too_large, "payload_too_large",
                              "request body exceeds the limit"), true);
    }
    if (ec) {
      if (ec != beast::error::timeout && ec != net::error::operation_aborted &&
          ec != net::error::connection_reset && ec != net::error::eof) {
        // A malformed request gets a 400 when the connection is still usable.
        if (ec.category() == http::make_error_code(http::error::bad_method).category()) {
          Request req;
          req.version(11);
          return send(plain_error(req, http::status::bad_request, "bad_request", "malformed HTTP request"), true);
        }
      }
      return do_close();
    }
    auto req = std::make_shared<Request>(parser_->release());
    stream_.expires_never();
    // Handlers may block (writes wait for Kafka and the processor).
    net::post(workers_, [self = shared_from_this(), req] {
      Response res;
      try {
        res = self->handler_(*req);
      } catch (const std::exception& e) {
        log::error(std::string("handler threw: ") + e.what());
        res = plain_error(*req, http::status::internal_server_error, "internal", "internal error");
      }
      bool close = !req->keep_alive();
      net::post(self->stream_.get_executor(), [self, res = std::move(res), close]() mutable {
        self->send(std::move(res), close);
      });
    });
  }

  void send(Response res, bool close) {
    res.keep_alive(!close);
    res_ = std::make_shared<Response>(std::move(res));
    stream_.expires_after(std::chrono::seconds(30));
    http::async_write(stream_, *res_,
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
  std::shared_ptr<Response> res_;
  net::thread_pool& workers_;
  const Handler& handler_;
  size_t body_limit_;
};

class listener : public std::enable_shared_from_this<listener> {
 public:
  listener(net::io_context& ioc, tcp::acceptor&& acceptor, net::thread_pool& workers, const Handler& h,
           size_t body_limit)
      : ioc_(ioc), acceptor_(std::move(acceptor)), workers_(workers), handler_(h), body_limit_(body_limit) {}
  void run() { do_accept(); }
  void close() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->acceptor_.close(ec);
    });
  }

 private:
  void do_accept() {
    acceptor_.async_accept(net::make_strand(ioc_),
                           beast::bind_front_handler(&listener::on_accept, shared_from_this()));
  }
  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) std::make_shared<http_session>(std::move(socket), workers_, handler_, body_limit_)->run();
    do_accept();
  }
  net::io_context& ioc_;
  tcp::acceptor acceptor_;
  net::thread_pool& workers_;
  const Handler& handler_;
  size_t body_limit_;
};

}  // namespace

Result<ServerOptions> parse_listen(const std::string& listen) {
  ServerOptions o;
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size())
    return invalid("listen", "must be host:port, e.g. 127.0.0.1:8080");
  o.address = listen.substr(0, colon);
  if (o.address.front() == '[' && o.address.back() == ']') o.address = o.address.substr(1, o.address.size() - 2);
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

struct Server::Impl {
  ServerOptions opts;
  Handler handler;
  net::io_context ioc;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::unique_ptr<net::thread_pool> workers;
  std::shared_ptr<listener> lst;
  std::vector<std::thread> threads;
  unsigned short bound_port = 0;
  bool running = false;
};

Server::Server(ServerOptions opts, Handler handler) : impl_(std::make_unique<Impl>()) {
  impl_->opts = std::move(opts);
  impl_->handler = std::move(handler);
}

Server::~Server() { stop(); }

Status Server::start() {
  auto& I = *impl_;
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
                 "cannot listen on " + I.opts.address + ":" + std::to_string(I.opts.port) + ": " + ec.message()};
  I.bound_port = acceptor.local_endpoint().port();
  I.workers = std::make_unique<net::thread_pool>(I.opts.worker_threads);
  I.lst = std::make_shared<listener>(I.ioc, std::move(acceptor), *I.workers, I.handler, I.opts.body_limit);
  I.lst->run();
  I.work.emplace(I.ioc.get_executor());
  for (int i = 0; i < I.opts.io_threads; ++i) I.threads.emplace_back([&I] { I.ioc.run(); });
  I.running = true;
  return {};
}

void Server::stop() {
  auto& I = *impl_;
  if (!I.running) return;
  I.running = false;
  I.lst->close();
  I.workers->join();  // in-flight handlers finish
  I.work.reset();
  I.ioc.stop();
  for (auto& t : I.threads) t.join();
}

unsigned short Server::port() const { return impl_->bound_port; }

}  // namespace gs::api
