// bench_static_server: the baseline of the read benchmark (tools/bench/reads,
// docs/benchmarks.md). A bare Boost.Beast HTTP/1.1 server that answers every
// GET (and HEAD) with 200 and the same bytes, read once from --body FILE at
// start, with the given Content-Type: what serving a response of that size
// costs on this machine with Beast and Asio alone, without routing,
// authentication, the store or the JSON.
//
// Shaped like goalstream's own server (src/http/server.cpp): one io_context
// run by --threads I/O threads, a strand per connection, keep-alive, one
// request read at a time (header limit 16 KiB, body limit 1 MiB), the same
// `Server: goalstream` header. It answers on the I/O thread itself (no worker
// pool): it has nothing to wait for. Any other method is answered 405.
//
// Prints one line to stdout once it listens, then runs until SIGINT/SIGTERM:
//   LISTENING port=P threads=N bytes=B
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/asio.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct Options {
  std::string address = "127.0.0.1";
  unsigned short port = 0;
  int threads = 2;
  std::string body_file;
  std::string content_type = "application/json";
};

Options parse_args(int argc, char** argv) {
  Options o;
  CLI::App app{
      "bench_static_server: a bare Boost.Beast HTTP/1.1 server (keep-alive, --threads I/O "
      "threads\n"
      "on one io_context, a strand per connection) that answers any GET or HEAD with 200, the\n"
      "bytes of --body FILE and --content-type; any other method with 405. The baseline of\n"
      "tools/bench/reads. Prints 'LISTENING port=.. threads=.. bytes=..' on stdout once it\n"
      "listens (--port 0: a free port) and runs until SIGINT or SIGTERM."};
  app.add_option("--body", o.body_file, "File whose bytes are the response body")->required();
  app.add_option("--content-type", o.content_type, "Content-Type of the response")
      ->capture_default_str();
  app.add_option("--port", o.port, "TCP port (0: any free one)")->capture_default_str();
  app.add_option("--address", o.address, "Address to listen on")->capture_default_str();
  app.add_option("--threads", o.threads, "I/O threads running the io_context")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  }
  return o;
}

// What every session answers with; shared, never copied per response.
struct Payload {
  std::string body;
  std::string content_type;
};

class session : public std::enable_shared_from_this<session> {
 public:
  session(tcp::socket&& socket, std::shared_ptr<const Payload> payload)
      : stream_(std::move(socket)), payload_(std::move(payload)) {}

  void run() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&session::do_read, shared_from_this()));
  }

 private:
  using Response = http::response<http::span_body<const char>>;

  void do_read() {
    parser_.emplace();
    parser_->body_limit(1 << 20);
    parser_->header_limit(16 * 1024);
    stream_.expires_after(std::chrono::seconds(60));
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, size_t) {
    if (ec) return do_close();  // end_of_stream, timeout, reset, malformed: close
    const auto& req = parser_->get();
    stream_.expires_never();
    bool get = req.method() == http::verb::get, head = req.method() == http::verb::head;
    res_.emplace(get || head ? http::status::ok : http::status::method_not_allowed, req.version());
    res_->set(http::field::server, "goalstream");
    if (get || head) {
      res_->set(http::field::content_type, payload_->content_type);
      res_->body() =
          http::span_body<const char>::value_type(payload_->body.data(), payload_->body.size());
      res_->prepare_payload();
      if (head) res_->body() = {};  // no body; Content-Length stays that of the GET body
    } else {
      res_->set(http::field::allow, "GET, HEAD");
      res_->content_length(0);
    }
    bool close = !req.keep_alive();
    res_->keep_alive(!close);
    stream_.expires_after(std::chrono::seconds(30));
    http::async_write(stream_, *res_,
                      beast::bind_front_handler(&session::on_write, shared_from_this(), close));
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
  std::optional<Response> res_;
  std::shared_ptr<const Payload> payload_;
};

class listener : public std::enable_shared_from_this<listener> {
 public:
  listener(net::io_context& ioc, tcp::acceptor&& acceptor, std::shared_ptr<const Payload> payload)
      : ioc_(ioc), acceptor_(std::move(acceptor)), payload_(std::move(payload)) {}
  void run() { do_accept(); }

 private:
  void do_accept() {
    acceptor_.async_accept(net::make_strand(ioc_),
                           beast::bind_front_handler(&listener::on_accept, shared_from_this()));
  }
  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) std::make_shared<session>(std::move(socket), payload_)->run();
    do_accept();
  }

  net::io_context& ioc_;
  tcp::acceptor acceptor_;
  std::shared_ptr<const Payload> payload_;
};

}  // namespace

int main(int argc, char** argv) {
  Options o = parse_args(argc, argv);
  auto payload = std::make_shared<Payload>();
  {
    std::ifstream in(o.body_file, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "bench_static_server: cannot read %s\n", o.body_file.c_str());
      return 1;
    }
    payload->body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  payload->content_type = o.content_type;

  net::io_context ioc;  // as goalstream's (default concurrency hint)
  beast::error_code ec;
  auto address = net::ip::make_address(o.address, ec);
  if (ec) {
    std::fprintf(stderr, "bench_static_server: '%s' is not an IP address\n", o.address.c_str());
    return 1;
  }
  tcp::endpoint ep{address, o.port};
  tcp::acceptor acceptor(net::make_strand(ioc));
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    std::fprintf(stderr, "bench_static_server: cannot listen on %s:%u: %s\n", o.address.c_str(),
                 static_cast<unsigned>(o.port), ec.message().c_str());
    return 1;
  }
  unsigned short port = acceptor.local_endpoint().port();
  std::make_shared<listener>(ioc, std::move(acceptor), payload)->run();

  net::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&ioc](beast::error_code, int) { ioc.stop(); });

  std::printf("LISTENING port=%u threads=%d bytes=%zu\n", static_cast<unsigned>(port), o.threads,
              payload->body.size());
  std::fflush(stdout);

  std::vector<std::thread> threads;
  for (int i = 1; i < o.threads; ++i) threads.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  for (auto& t : threads) t.join();
  return 0;
}
