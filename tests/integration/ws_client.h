// A real WebSocket client (Boost.Beast) for the integration tests: one
// connection, bounded reads, frames parsed as JSON.
#pragma once

#include <doctest/doctest.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "harness.h"

namespace it {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace websocket = beast::websocket;

// A WebSocket client of one connection. Reads are bounded: next() waits at
// most its timeout for a frame. It reads only in next(): between calls it is
// a client that does not read.
class WsClient {
 public:
  // With `small_buffers`, the socket takes little before it stops taking
  // more: a small receive buffer, and a small segment size announced to the
  // server, whose kernel sizes its send buffer by it (about 20 segments;
  // with loopback's 64 KiB segments that is megabytes). A client that does
  // not read then leaves the frames queued in the server's session after
  // some 100 KB rather than some 3 MB.
  WsClient(int port, const std::string& target, std::map<std::string, std::string> headers = {},
           bool small_buffers = false) {
    if (small_buffers) {
      auto& socket = beast::get_lowest_layer(ws_).socket();
      socket.open(net::ip::tcp::v4());
      socket.set_option(net::socket_base::receive_buffer_size(4096));
      int mss = 1024;
      REQUIRE(::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss) == 0);
    }
    beast::get_lowest_layer(ws_).connect(
        net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)));
    ws_.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
      for (auto& [name, value] : headers) req.set(name, value);
    }));
    websocket::response_type res;
    beast::error_code ec;
    ws_.handshake(res, "127.0.0.1:" + std::to_string(port), target, ec);
    status = res.result_int();
    body = res.body();
    open = !ec;
  }
  ~WsClient() {
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().close(ec);
  }

  // Sends one text frame.
  void send(const std::string& text) {
    beast::error_code ec;
    ws_.text(true);
    ws_.write(net::buffer(text), ec);
    REQUIRE_MESSAGE(!ec, ec.message());
  }

  // The next frame, or nullopt when none came within `timeout_ms` or the
  // connection closed (then closed is set, and close_code).
  std::optional<json> next(int timeout_ms) {
    if (closed) return std::nullopt;
    if (!reading_) {
      reading_ = true;
      done_ = false;
      ws_.async_read(buffer_, [this](beast::error_code ec, size_t) {
        reading_ = false;
        done_ = true;
        ec_ = ec;
      });
    }
    ioc_.restart();
    ioc_.run_for(std::chrono::milliseconds(timeout_ms));
    if (!done_) return std::nullopt;
    if (ec_) {
      closed = true;
      close_code = ws_.reason().code;
      close_reason.assign(ws_.reason().reason.data(), ws_.reason().reason.size());
      return std::nullopt;
    }
    auto text = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    auto j = json::parse(text, nullptr, false);
    REQUIRE_MESSAGE(!j.is_discarded(), text);
    frames.push_back(j);
    sizes.push_back(text.size());
    return j;
  }

  // Reads frames until one satisfies `pred` (returned) or `timeout_ms` passed.
  template <class F>
  std::optional<json> wait_for(F pred, int timeout_ms = 30000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      auto f = next(static_cast<int>(std::max<int64_t>(1, left.count())));
      if (f && pred(*f)) return f;
      if (closed) break;
    }
    return std::nullopt;
  }

  // A progress frame for `path` with data[member] == value, among the
  // frames read so far or the next ones: progress and status_changed frames
  // come from two threads, in no fixed order (docs/api.md#live-changes), so
  // a frame may have been read while waiting for another.
  std::optional<json> progress(const std::string& path, const std::string& member,
                               const json& value, int timeout_ms = 30000) {
    auto match = [&](const json& f) {
      return f["type"] == "progress" && f["path"] == path && f["data"][member] == value;
    };
    for (const auto& f : frames)
      if (match(f)) return f;
    return wait_for(match, timeout_ms);
  }

  bool open = false;
  int status = 0;  // of the handshake's HTTP answer
  std::string body;
  bool closed = false;
  uint16_t close_code = 0;
  std::string close_reason;
  std::vector<json> frames;   // every frame read
  std::vector<size_t> sizes;  // their sizes in bytes, as sent

 private:
  net::io_context ioc_;
  websocket::stream<beast::tcp_stream> ws_{ioc_};
  beast::flat_buffer buffer_;
  bool reading_ = false, done_ = false;
  beast::error_code ec_;
};

}  // namespace it
