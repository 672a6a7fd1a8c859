// A WebSocket session, in the shape of Beast chat-multi's websocket_session:
// the HTTP session hands over its socket and the upgrade request it read;
// this session answers the handshake, then joins what it follows (a Hub) and
// writes the frames it is sent, text, one write in flight, the rest queued,
// on the socket's strand. The session reads all the time (the reads also
// answer pings and take the close handshake); what the client sends is
// ignored unless the join set a message handler (on_message()):
// - with a handler, each complete text message is handed to it, on the
//   strand, in the order the client sent them. A binary message is answered
//   with a close 1003 (unsupported data) "binary messages are not
//   supported: send text (JSON)", a message over kMaxMessage with a close
//   1009 (message too big) "a message is at most 4096 bytes"; what arrives
//   after a close was requested is dropped;
// - without one, messages are read and dropped; a message over kMaxMessage
//   gets Beast's close 1009 without a reason.
//
// Limits and timeouts:
// - frames wait in a queue; a client too slow to take them (more than
//   kMaxQueue frames *and* more than kMaxQueueBytes waiting) is sent a close
//   with code 1008 (policy violation) "too slow", counted in
//   goalstream_ws_sessions_dropped_total, and its connection is cut if the
//   close does not go out within kCloseGrace. Both bounds must be passed so
//   that neither a burst of many small frames (a command moves every goal of
//   a tenant with hundreds of goals) nor a few large ones (conversion goals
//   with long daily series) drop a client that reads. A frame is never
//   dropped from a session that stays open: a client sees every frame or is
//   told to reconnect (and read the current state with GET);
// - the handshake must finish within 30 s; the server pings a connection
//   idle for 30 s and closes it when nothing arrived for 60 s;
// - a client message is at most kMaxMessage (4 KiB); at most that much of
//   one (plus a byte) is held in memory;
// - once a close is requested (by close(), close_when_drained() or the
//   session itself), the connection is cut if the close (after the frames
//   it waits for) has not gone out within kCloseGrace.
//
// Threads: send(), close() and close_when_drained() are thread-safe; they
// post to the strand, so calls made from one thread take effect in that
// order (send() then close_when_drained(): the frame, then the close). The
// Join callback and the message handler run on the strand and must not
// block.
//
// WebSocketSessions tracks a server's sessions, so that stopping the server
// closes them (1001 going away) before its I/O threads stop.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "base/telemetry.h"
#include "http/hub.h"

namespace gs::http {

class WebSocketSession;

// The live sessions of one server. Thread-safe.
class WebSocketSessions {
 public:
  // `telemetry` (may be null) gets the sessions gauge and the frame counters
  // until close_all() returns.
  explicit WebSocketSessions(Telemetry* telemetry) : telemetry_(telemetry) {}
  // Sends every session a close (1001 going away, "server stopping") and
  // refuses sessions from now on; waits up to `grace` for them to end, then
  // cuts the connections left and waits up to `grace` again. Call while the
  // I/O threads still run.
  void close_all(std::chrono::milliseconds grace);
  // Sessions started and not yet ended.
  size_t open() const;

 private:
  friend class WebSocketSession;
  bool add(const std::shared_ptr<WebSocketSession>& s);  // false once closing
  void ended();
  void count(std::atomic<uint64_t> Telemetry::*counter);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::weak_ptr<WebSocketSession>> sessions_;  // guarded by mu_
  size_t open_ = 0;                                        // guarded by mu_
  bool closing_ = false;                                   // guarded by mu_
  Telemetry* telemetry_;                                   // guarded by mu_
};

class WebSocketSession : public Subscriber, public std::enable_shared_from_this<WebSocketSession> {
 public:
  static constexpr size_t kMaxQueue = 256;
  static constexpr size_t kMaxQueueBytes = 1 << 20;
  static constexpr std::chrono::seconds kCloseGrace{5};
  static constexpr size_t kMaxMessage = 4096;  // bytes of a client message
  // Joins the session, once the handshake is done, to what it follows. Runs
  // on the strand, where the reads complete too, and before the first read
  // starts: a handler it sets with on_message() sees every message.
  using Join = std::function<void(const std::shared_ptr<WebSocketSession>&)>;
  // Takes one complete text message of the client (at most kMaxMessage
  // bytes, valid UTF-8: Beast closes with 1007 otherwise). Runs on the
  // strand, one message at a time, in order, and not once a close was
  // requested. It must not block: post long work elsewhere and answer from
  // there with send(), close() or close_when_drained(). It gets the session
  // as its argument; what it holds is released when the connection ends. An
  // exception out of it is logged and closes the session with 1011
  // (internal error) "internal error".
  using OnMessage = std::function<void(const std::shared_ptr<WebSocketSession>&, std::string text)>;

  // `hold` is released when the session ends (the server's connection slot).
  WebSocketSession(boost::asio::ip::tcp::socket&& socket,
                   std::shared_ptr<WebSocketSessions> sessions, std::shared_ptr<void> hold);
  ~WebSocketSession() override;

  // Answers the upgrade request `req` (already read from the socket), then
  // calls `join`. Call on the socket's strand.
  void run(const boost::beast::http::request<boost::beast::http::string_body>& req, Join join);
  // Queues a text frame. Thread-safe.
  void send(std::shared_ptr<const std::string> frame) override;
  // Sets the handler of the client's messages (see OnMessage). Call only
  // inside the Join callback, on the strand; without it the client's
  // messages are ignored.
  void on_message(OnMessage f);
  // Closes with `code` and `reason` after the frame being written; frames
  // queued behind it are not sent. Thread-safe.
  void close(boost::beast::websocket::close_code code, std::string reason);
  // Closes with `code` and `reason` once every frame queued before it is
  // sent (a graceful end: the last frame, then e.g. 1000 normal). Frames
  // sent after it are dropped. Thread-safe. Of several closes, the first
  // requested wins.
  void close_when_drained(boost::beast::websocket::close_code code, std::string reason);

 private:
  void on_accept(boost::beast::error_code ec);
  void do_read();
  void on_read(boost::beast::error_code ec, size_t);
  void on_send(std::shared_ptr<const std::string> frame);
  void do_write();
  void on_write(boost::beast::error_code ec, size_t);
  void request_close(boost::beast::websocket::close_reason reason, bool drain = false);
  void start_close();
  void cut();

  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  boost::beast::flat_buffer buffer_;
  std::shared_ptr<WebSocketSessions> sessions_;
  std::shared_ptr<void> hold_;
  boost::asio::steady_timer deadline_;  // cuts a connection whose close does not go out
  Join join_;
  bool registered_ = false;  // counted in sessions_
  // On the strand only:
  OnMessage on_message_;  // set in join_; released when the reads end
  std::deque<std::shared_ptr<const std::string>> queue_;        // front() is being written
  size_t queued_bytes_ = 0;                                     // of the frames in queue_
  bool open_ = false;                                           // handshake done
  bool closing_ = false;                                        // close requested
  std::optional<boost::beast::websocket::close_reason> close_;  // not yet started
  friend class WebSocketSessions;
};

}  // namespace gs::http
