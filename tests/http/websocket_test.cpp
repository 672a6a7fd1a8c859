// The WebSocket session's side of a client's messages: a handler set in the
// join gets each text message in order and its replies arrive; binary and
// oversize messages close the connection with a code and a reason; a
// session without a handler reads and ignores what it is sent;
// close_when_drained() sends the frames queued before it, then closes. A
// real server on 127.0.0.1 and a real Beast client, no Kafka.
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "http/server.h"
#include "http/websocket_session.h"

namespace {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace websocket = beast::websocket;
using gs::http::WebSocketSession;

// A server whose upgrade requests all join `join`.
class WsServer {
 public:
  explicit WsServer(WebSocketSession::Join join) {
    auto opts = gs::api::parse_listen("127.0.0.1:0");
    REQUIRE(opts.ok());
    opts->io_threads = 2;
    opts->worker_threads = 1;
    server_ = std::make_unique<gs::api::Server>(*opts);
    gs::api::Routes routes;
    routes.now = [](const gs::api::Request&) { return std::nullopt; };
    routes.work = [](const gs::api::Request& req) {
      return gs::api::Response{boost::beast::http::status::not_found, req.version()};
    };
    routes.upgrade = [join](const gs::api::Request&) { return gs::api::Upgrade{join, {}}; };
    REQUIRE(server_->start(routes).ok());
  }
  ~WsServer() { server_->stop(); }
  unsigned short port() const { return server_->port(); }

 private:
  std::unique_ptr<gs::api::Server> server_;
};

// A client of one connection. It reads only inside read() and ping(); a
// read started there and not finished stays pending for the next call.
class Client {
 public:
  explicit Client(unsigned short port) {
    beast::get_lowest_layer(ws_).connect({net::ip::make_address("127.0.0.1"), port});
    ws_.handshake("127.0.0.1:" + std::to_string(port), "/ws");
    ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
      if (kind == websocket::frame_type::pong) ++pongs_;
    });
  }
  ~Client() {
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().close(ec);
  }

  void text(const std::string& s) {
    ws_.text(true);
    ws_.write(net::buffer(s));
  }
  void binary(const std::string& s) {
    ws_.binary(true);
    ws_.write(net::buffer(s));
  }
  // One text message sent as a frame per part.
  void fragmented(const std::vector<std::string>& parts) {
    ws_.text(true);
    for (size_t i = 0; i < parts.size(); ++i)
      ws_.write_some(i + 1 == parts.size(), net::buffer(parts[i]));
  }

  // The next message; nullopt when the connection closed (then code and
  // reason are set). Fails the test when neither comes within `timeout_ms`.
  std::optional<std::string> read(int timeout_ms = 5000) {
    REQUIRE_MESSAGE(run_until([this] { return done_; }, timeout_ms),
                    "no message and no close within ", timeout_ms, " ms");
    done_ = false;
    if (ec_) {
      code = ws_.reason().code;
      reason.assign(ws_.reason().reason.data(), ws_.reason().reason.size());
      return std::nullopt;
    }
    auto message = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    return message;
  }

  // Sends a ping and waits for its pong, or for a message or the close: the
  // server has read what the client sent before the ping.
  void ping(int timeout_ms = 5000) {
    int pongs = pongs_;
    ws_.ping({});
    REQUIRE_MESSAGE(run_until([&] { return pongs_ > pongs || done_; }, timeout_ms),
                    "no pong within ", timeout_ms, " ms");
  }

  uint16_t code = 0;
  std::string reason;

 private:
  template <class F>
  bool run_until(F until, int timeout_ms) {
    if (!reading_ && !done_) {
      reading_ = true;
      ws_.async_read(buffer_, [this](beast::error_code ec, size_t) {
        reading_ = false;
        done_ = true;
        ec_ = ec;
      });
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!until()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      ioc_.restart();
      ioc_.run_one_until(deadline);
    }
    return true;
  }

  net::io_context ioc_;
  websocket::stream<beast::tcp_stream> ws_{ioc_};
  beast::flat_buffer buffer_;
  bool reading_ = false, done_ = false;  // a read is pending; one finished, not yet taken
  beast::error_code ec_;                 // of the read that finished
  int pongs_ = 0;
};

// What a handler was handed, from the server's I/O threads.
struct Received {
  std::mutex mu;
  std::vector<std::string> messages;  // guarded by mu
  std::vector<std::string> all() {
    std::lock_guard lock(mu);
    return messages;
  }
};

// Joins with a handler that records each message and answers "echo <text>".
WebSocketSession::Join echo(std::shared_ptr<Received> received) {
  return [received](const std::shared_ptr<WebSocketSession>& s) {
    s->on_message([received](const std::shared_ptr<WebSocketSession>& s, std::string text) {
      {
        std::lock_guard lock(received->mu);
        received->messages.push_back(text);
      }
      s->send(std::make_shared<const std::string>("echo " + text));
    });
  };
}

}  // namespace

TEST_CASE("websocket: a handler gets each text message, in order, and its replies arrive") {
  auto received = std::make_shared<Received>();
  WsServer server(echo(received));
  Client c(server.port());
  std::string largest(WebSocketSession::kMaxMessage, 'x');
  c.text("one");
  c.text("two");
  c.text("");
  c.fragmented({"frag", "men", "ted"});
  c.text(largest);
  c.text("three");
  CHECK(c.read() == "echo one");
  CHECK(c.read() == "echo two");
  CHECK(c.read() == "echo ");
  CHECK(c.read() == "echo fragmented");
  CHECK(c.read() == "echo " + largest);
  CHECK(c.read() == "echo three");
  CHECK(received->all() ==
        std::vector<std::string>{"one", "two", "", "fragmented", largest, "three"});
}

TEST_CASE("websocket: a handler set by a join that takes its time still gets the first message") {
  auto received = std::make_shared<Received>();
  auto join = echo(received);
  WsServer server([join](const std::shared_ptr<WebSocketSession>& s) {
    // The client's message is on the socket before the handler is set.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    join(s);
  });
  Client c(server.port());
  c.text("first");
  CHECK(c.read() == "echo first");
}

TEST_CASE("websocket: a binary message to a handler is answered with close 1003") {
  auto received = std::make_shared<Received>();
  WsServer server(echo(received));
  Client c(server.port());
  c.text("before");
  CHECK(c.read() == "echo before");
  c.binary(std::string("\x01\x02\x03", 3));
  c.text("after");  // sent before the close arrives; dropped
  CHECK(c.read() == std::nullopt);
  CHECK(c.code == 1003);
  CHECK(c.reason == "binary messages are not supported: send text (JSON)");
  CHECK(received->all() == std::vector<std::string>{"before"});
}

TEST_CASE("websocket: a message over the limit to a handler is answered with close 1009") {
  auto received = std::make_shared<Received>();
  WsServer server(echo(received));
  SUBCASE("in one frame") {
    Client c(server.port());
    c.text("small");
    CHECK(c.read() == "echo small");
    c.text(std::string(WebSocketSession::kMaxMessage + 1, 'x'));
    CHECK(c.read() == std::nullopt);
    CHECK(c.code == 1009);
    CHECK(c.reason == "a message is at most 4096 bytes");
    CHECK(received->all() == std::vector<std::string>{"small"});
  }
  SUBCASE("in frames each within the limit") {
    Client c(server.port());
    c.fragmented({std::string(3000, 'x'), std::string(3000, 'y')});
    CHECK(c.read() == std::nullopt);
    CHECK(c.code == 1009);
    CHECK(c.reason == "a message is at most 4096 bytes");
    CHECK(received->all().empty());
  }
  SUBCASE("far over it") {
    Client c(server.port());
    c.text(std::string(1 << 20, 'x'));
    CHECK(c.read() == std::nullopt);
    CHECK(c.code == 1009);
    CHECK(c.reason == "a message is at most 4096 bytes");
    CHECK(received->all().empty());
  }
}

TEST_CASE("websocket: a handler that throws closes its session with 1011") {
  WsServer server([](const std::shared_ptr<WebSocketSession>& s) {
    s->on_message([](const std::shared_ptr<WebSocketSession>&, std::string text) {
      throw std::runtime_error("cannot take " + text);
    });
  });
  Client c(server.port());
  c.text("this");
  CHECK(c.read() == std::nullopt);
  CHECK(c.code == 1011);
  CHECK(c.reason == "internal error");
}

TEST_CASE("websocket: without a handler, messages are read and ignored") {
  std::mutex mu;
  std::weak_ptr<WebSocketSession> session;  // guarded by mu
  WsServer server([&](const std::shared_ptr<WebSocketSession>& s) {
    std::lock_guard lock(mu);
    session = s;
  });
  Client c(server.port());
  c.text("hello");
  c.binary("\x01");
  c.text(std::string(WebSocketSession::kMaxMessage, 'x'));
  c.ping();  // the session has read the messages
  // Still open: a frame sent now arrives. (The join may run just after the
  // client's handshake returned.)
  auto joined = [&] {
    for (int i = 0; i < 500; ++i) {
      {
        std::lock_guard lock(mu);
        if (auto s = session.lock()) return s;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return std::shared_ptr<WebSocketSession>();
  }();
  REQUIRE(joined);
  joined->send(std::make_shared<const std::string>("still open"));
  joined.reset();
  CHECK(c.read() == "still open");
  // Over the limit: Beast's own close, 1009 without a reason, as before
  // handlers existed.
  c.text(std::string(WebSocketSession::kMaxMessage + 1, 'x'));
  CHECK(c.read() == std::nullopt);
  CHECK(c.code == 1009);
  CHECK(c.reason == "");
}

TEST_CASE("websocket: close_when_drained sends every frame queued before it, then the close") {
  SUBCASE("from the join") {
    WsServer server([](const std::shared_ptr<WebSocketSession>& s) {
      for (int i = 0; i < 200; ++i)
        s->send(std::make_shared<const std::string>("frame " + std::to_string(i)));
      s->close_when_drained(websocket::close_code::normal, "done");
      s->send(std::make_shared<const std::string>("too late"));
    });
    Client c(server.port());
    for (int i = 0; i < 200; ++i) REQUIRE(c.read() == "frame " + std::to_string(i));
    CHECK(c.read() == std::nullopt);
    CHECK(c.code == 1000);
    CHECK(c.reason == "done");
  }
  SUBCASE("from a handler, as the answer to a message") {
    WsServer server([](const std::shared_ptr<WebSocketSession>& s) {
      s->on_message([](const std::shared_ptr<WebSocketSession>& s, std::string text) {
        if (text != "bye") return s->send(std::make_shared<const std::string>("echo " + text));
        s->send(std::make_shared<const std::string>("last"));
        s->close_when_drained(websocket::close_code::normal, "bye");
      });
    });
    Client c(server.port());
    c.text("hi");
    c.text("bye");
    c.text("ignored");
    CHECK(c.read() == "echo hi");
    CHECK(c.read() == "last");
    CHECK(c.read() == std::nullopt);
    CHECK(c.code == 1000);
    CHECK(c.reason == "bye");
  }
}
