#include "http/websocket_session.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include "base/log.h"

namespace gs::http {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace websocket = beast::websocket;

// ---- WebSocketSessions ------------------------------------------------------

bool WebSocketSessions::add(const std::shared_ptr<WebSocketSession>& s) {
  std::lock_guard lock(mu_);
  if (closing_) return false;
  std::erase_if(sessions_, [](const auto& w) { return w.expired(); });
  sessions_.push_back(s);
  ++open_;
  if (telemetry_) telemetry_->ws_sessions++;
  return true;
}

void WebSocketSessions::ended() {
  {
    std::lock_guard lock(mu_);
    --open_;
    if (telemetry_) telemetry_->ws_sessions--;
  }
  cv_.notify_all();
}

void WebSocketSessions::count(std::atomic<uint64_t> Telemetry::*counter) {
  std::lock_guard lock(mu_);
  if (telemetry_) (telemetry_->*counter)++;
}

size_t WebSocketSessions::open() const {
  std::lock_guard lock(mu_);
  return open_;
}

void WebSocketSessions::close_all(std::chrono::milliseconds grace) {
  auto each = [this](auto f) {
    std::vector<std::shared_ptr<WebSocketSession>> live;
    {
      std::lock_guard lock(mu_);
      closing_ = true;
      for (auto& w : sessions_)
        if (auto s = w.lock()) live.push_back(std::move(s));
    }
    for (auto& s : live) f(*s);
  };
  auto wait = [this, grace] {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, grace, [this] { return open_ == 0; });
  };
  each([](WebSocketSession& s) { s.close(websocket::close_code::going_away, "server stopping"); });
  if (!wait()) {
    each([](WebSocketSession& s) {
      net::post(s.ws_.get_executor(), [self = s.shared_from_this()] { self->cut(); });
    });
    if (!wait()) log::warn("websocket: " + std::to_string(open()) + " session(s) did not end");
  }
  std::lock_guard lock(mu_);
  telemetry_ = nullptr;  // the telemetry may go before the sessions left, if any
}

// ---- WebSocketSession -------------------------------------------------------

WebSocketSession::WebSocketSession(net::ip::tcp::socket&& socket,
                                   std::shared_ptr<WebSocketSessions> sessions,
                                   std::shared_ptr<void> hold)
    : ws_(std::move(socket)),
      sessions_(std::move(sessions)),
      hold_(std::move(hold)),
      deadline_(ws_.get_executor()) {}

WebSocketSession::~WebSocketSession() {
  if (registered_) sessions_->ended();
}

void WebSocketSession::run(const beast::http::request<beast::http::string_body>& req, Join join) {
  if (!sessions_->add(shared_from_this())) return;  // the server is stopping
  registered_ = true;
  join_ = std::move(join);
  beast::get_lowest_layer(ws_).expires_never();  // the websocket's own timeouts apply
  websocket::stream_base::timeout timeouts;
  timeouts.handshake_timeout = std::chrono::seconds(30);
  timeouts.idle_timeout = std::chrono::seconds(60);
  timeouts.keep_alive_pings = true;
  ws_.set_option(timeouts);
  ws_.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(beast::http::field::server, "goalstream"); }));
  ws_.read_message_max(kMaxMessage);
  ws_.text(true);
  ws_.async_accept(req,
                   beast::bind_front_handler(&WebSocketSession::on_accept, shared_from_this()));
}

void WebSocketSession::on_accept(beast::error_code ec) {
  if (ec) return;  // the connection ends with the session
  open_ = true;
  if (closing_) return start_close();
  // The first read starts after join_ returns: a handler it set sees every message.
  join_(shared_from_this());
  join_ = nullptr;
  // With a handler the session checks the size itself, to close with a
  // reason; Beast's check would close with 1009 and none. A message is read
  // in pieces, so no more than kMaxMessage + 1 bytes of it are held.
  if (on_message_) ws_.read_message_max(0);
  do_read();
}

void WebSocketSession::on_message(OnMessage f) { on_message_ = std::move(f); }

void WebSocketSession::do_read() {
  ws_.async_read_some(buffer_, kMaxMessage + 1 - buffer_.size(),
                      beast::bind_front_handler(&WebSocketSession::on_read, shared_from_this()));
}

void WebSocketSession::on_read(beast::error_code ec, size_t) {
  if (ec) {
    deadline_.cancel();
    on_message_ = nullptr;  // what the handler holds goes with the connection
    return;                 // closed by the client, after our close, timed out, or cut
  }
  if (!on_message_ || closing_) {
    buffer_.consume(buffer_.size());
    return do_read();
  }
  if (!ws_.got_text()) {
    buffer_.consume(buffer_.size());
    request_close({websocket::close_code::unknown_data,
                   "binary messages are not supported: send text (JSON)"});
    return do_read();
  }
  if (buffer_.size() > kMaxMessage) {
    buffer_.consume(buffer_.size());
    request_close({websocket::close_code::too_big,
                   "a message is at most " + std::to_string(kMaxMessage) + " bytes"});
    return do_read();
  }
  if (!ws_.is_message_done()) return do_read();
  auto text = beast::buffers_to_string(buffer_.data());
  buffer_.consume(buffer_.size());
  try {
    on_message_(shared_from_this(), std::move(text));
  } catch (const std::exception& e) {
    log::error(std::string("websocket: the message handler threw: ") + e.what());
    request_close({websocket::close_code::internal_error, "internal error"});
  } catch (...) {
    log::error("websocket: the message handler threw an exception that is not a std::exception");
    request_close({websocket::close_code::internal_error, "internal error"});
  }
  do_read();
}

void WebSocketSession::send(std::shared_ptr<const std::string> frame) {
  net::post(ws_.get_executor(), beast::bind_front_handler(&WebSocketSession::on_send,
                                                          shared_from_this(), std::move(frame)));
}

void WebSocketSession::on_send(std::shared_ptr<const std::string> frame) {
  if (closing_) return;
  if (queue_.size() >= kMaxQueue && queued_bytes_ >= kMaxQueueBytes) {
    sessions_->count(&Telemetry::ws_sessions_dropped);
    log::warn("websocket: a client did not take " + std::to_string(queue_.size()) + " frames (" +
              std::to_string(queued_bytes_) + " bytes); closing its session (1008 too slow)");
    return request_close({websocket::close_code::policy_error, "too slow"});
  }
  queued_bytes_ += frame->size();
  queue_.push_back(std::move(frame));
  if (open_ && queue_.size() == 1) do_write();
}

void WebSocketSession::do_write() {
  ws_.async_write(net::buffer(*queue_.front()),
                  beast::bind_front_handler(&WebSocketSession::on_write, shared_from_this()));
}

void WebSocketSession::on_write(beast::error_code ec, size_t) {
  if (ec) return;
  sessions_->count(&Telemetry::ws_frames_sent);
  queued_bytes_ -= queue_.front()->size();
  queue_.pop_front();
  if (!queue_.empty()) return do_write();
  if (close_) start_close();
}

void WebSocketSession::close(websocket::close_code code, std::string reason) {
  net::post(ws_.get_executor(), [self = shared_from_this(), code, reason = std::move(reason)] {
    self->request_close({code, reason});
  });
}

void WebSocketSession::close_when_drained(websocket::close_code code, std::string reason) {
  net::post(ws_.get_executor(), [self = shared_from_this(), code, reason = std::move(reason)] {
    self->request_close({code, reason}, true);
  });
}

void WebSocketSession::request_close(websocket::close_reason reason, bool drain) {
  if (closing_) return;
  closing_ = true;
  close_ = std::move(reason);
  // Unless draining, the frame being written (if any) finishes and those
  // behind it are dropped; on_write starts the close once the queue is empty.
  if (!drain && queue_.size() > 1) {
    queue_.erase(queue_.begin() + 1, queue_.end());
    queued_bytes_ = queue_.front()->size();
  }
  deadline_.expires_after(kCloseGrace);
  deadline_.async_wait([weak = weak_from_this()](beast::error_code ec) {
    if (auto self = weak.lock(); self && !ec) self->cut();
  });
  if (open_ && queue_.empty()) start_close();
  // else: on_write (a frame is being written) or on_accept starts it.
}

void WebSocketSession::start_close() {
  auto reason = std::move(*close_);
  close_.reset();
  ws_.async_close(reason, [self = shared_from_this()](beast::error_code) {
    // The read in progress ends with the client's close (or the timeout).
  });
}

void WebSocketSession::cut() {
  beast::error_code ec;
  beast::get_lowest_layer(ws_).socket().close(ec);
}

}  // namespace gs::http
