// The OpenAI-compatible generator: one streamed chat completion per
// generate(), over Beast (http://) or Beast + OpenSSL (https://), on an
// io_context of its own that the calling thread runs step by step. The
// deadline covers the whole call; the key goes into the Authorization
// header and nowhere else (no status, log line or Error holds it).
#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <optional>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <nlohmann/json.hpp>

#include "base/text.h"
#include "modules/roadmap/generator.h"

namespace gs::roadmap {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using error_code = boost::system::error_code;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr size_t kMaxModelChars = 200;
constexpr size_t kMaxAnswerLimit = 16 * 1024 * 1024;
constexpr size_t kMaxErrorBody = 64 * 1024;
// Progress while receiving: every this many more characters, or after this
// long with some more.
constexpr size_t kProgressChars = 500;
constexpr auto kProgressEvery = std::chrono::seconds(1);

// base_url taken apart.
struct Endpoint {
  bool tls = false;
  std::string host;  // without the brackets of an IPv6 literal
  std::string port;
  std::string host_header;  // host[:port] as written
  std::string path;         // "" or "/v1" (no trailing '/')
};

Result<Endpoint> parse_base_url(const std::string& url) {
  auto bad = [](const std::string& why) {
    return invalid("base_url",
                   "must be an http:// or https:// URL such as "
                   "http://127.0.0.1:8000/v1: " +
                       why);
  };
  Endpoint e;
  std::string_view rest = url;
  if (rest.starts_with("https://")) {
    e.tls = true;
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else {
    return bad("the scheme is neither http:// nor https://");
  }
  for (char c : rest)
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7F)
      return bad("it holds a space, a control or a non-ASCII character");
  if (rest.find_first_of("?#") != std::string_view::npos)
    return bad("a query or fragment is not allowed");
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos)
    return bad("user info is not allowed (the key is the api_key option)");
  e.host_header = std::string(authority);
  std::string_view port;
  if (authority.starts_with("[")) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("the IPv6 host has no closing ]");
    e.host = std::string(authority.substr(1, close - 1));
    error_code ec;
    net::ip::make_address_v6(e.host, ec);
    if (ec) return bad("the IPv6 host does not parse");
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return bad("only a port may follow the host");
      port = after.substr(1);
    }
  } else {
    size_t colon = authority.find(':');
    e.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    for (char c : e.host)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_'))
        return bad("the host holds a character other than letters, digits, '.', '-' and '_'");
  }
  if (e.host.empty()) return bad("the host is missing");
  if (port.empty()) {
    if (authority.ends_with(":")) return bad("the port is empty");
    e.port = e.tls ? "443" : "80";
  } else {
    if (port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return bad("the port is not a number from 1 to 65535");
    int p = std::stoi(std::string(port));
    if (p < 1 || p > 65535) return bad("the port is not a number from 1 to 65535");
    e.port = std::string(port);
  }
  while (path.ends_with("/")) path.remove_suffix(1);
  e.path = std::string(path);
  return e;
}

// The first `max` bytes of `s` as one printable line (for quoting an
// endpoint's answer in an Error).
std::string snippet(std::string_view s, size_t max = 200) {
  std::string out;
  for (char c : s.substr(0, max)) {
    auto u = static_cast<unsigned char>(c);
    out += u < 0x20 || u == 0x7F ? ' ' : c;
  }
  // Never end inside a UTF-8 sequence.
  while (!out.empty() && !text::valid_utf8(out)) out.pop_back();
  if (s.size() > max) out += "...";
  return out;
}

// Runs the one pending operation started on `ioc` to its end.
void run(net::io_context& ioc) {
  ioc.restart();
  ioc.run();
}

size_t code_points_of(std::string_view s) {
  return static_cast<size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// One generate() call: its own state, owned by the calling thread.
class Call {
 public:
  Call(const LlmOptions& o, const Endpoint& e, const Progress& progress)
      : o_(o), e_(e), progress_(progress), deadline_(Clock::now() + o.timeout) {}

  Result<std::string> run_call(const GenerationRequest& req) {
    say("Asking " + o_.model + " at " + o_.base_url + " for a roadmap");
    // Resolving is not covered by tcp_stream's timeout: a timer cancels it.
    tcp::resolver resolver(ioc_);
    tcp::resolver::results_type addresses;
    error_code ec = net::error::would_block;
    bool resolve_timed_out = false;
    net::steady_timer timer(ioc_, deadline_);
    timer.async_wait([&](error_code e) {
      if (e) return;
      resolve_timed_out = true;
      resolver.cancel();
    });
    resolver.async_resolve(e_.host, e_.port, [&](error_code e, tcp::resolver::results_type r) {
      ec = e;
      addresses = std::move(r);
      timer.cancel();
    });
    run(ioc_);
    if (resolve_timed_out) return timed_out("resolving the host");
    if (ec)
      return unavailable("could not resolve the host of the model endpoint " + o_.base_url + ": " +
                         ec.message());

    std::string body = request_body(req);
    if (!e_.tls) {
      beast::tcp_stream stream(ioc_);
      return exchange(stream, addresses, body);
    }
    ssl::context ctx(ssl::context::tls_client);
    ctx.set_default_verify_paths(ec);
    if (ec) return unavailable("cannot load the system's CA certificates: " + ec.message());
    ctx.set_verify_mode(ssl::verify_peer);
    beast::ssl_stream<beast::tcp_stream> stream(ioc_, ctx);
    error_code not_ip;
    net::ip::make_address(e_.host, not_ip);
    // SNI carries names only, never an IP literal (RFC 6066).
    if (not_ip && !SSL_set_tlsext_host_name(stream.native_handle(), e_.host.c_str()))
      return unavailable("cannot set the TLS server name for " + o_.base_url);
    stream.set_verify_callback(ssl::host_name_verification(e_.host));
    return exchange(stream, addresses, body);
  }

 private:
  void say(std::string s) {
    if (progress_) progress_(std::move(s));
  }

  Error unavailable(std::string message) {
    return Error{ErrorCode::unavailable, "", std::move(message)};
  }

  Error timed_out(const char* phase) {
    return unavailable("the model endpoint " + o_.base_url + " did not finish within " +
                       std::to_string(o_.timeout.count()) + " ms (timed out while " + phase + ")");
  }

  Error failed(const char* phase, const error_code& ec) {
    if (ec == beast::error::timeout) return timed_out(phase);
    return unavailable("the model endpoint " + o_.base_url + " failed while " + phase + ": " +
                       ec.message());
  }

  std::string request_body(const GenerationRequest& req) const {
    std::string user = "Make a roadmap for this goal.\nTitle: " + req.title + "\n";
    if (req.description) user += "Description: " + *req.description + "\n";
    if (req.target_date) user += "Target date: " + *req.target_date + "\n";
    json j = {{"model", o_.model},
              {"stream", true},
              {"messages",
               {{{"role", "system"}, {"content", system_prompt()}},
                {{"role", "user"}, {"content", user}}}}};
    // Invalid UTF-8 in the request becomes U+FFFD rather than an exception.
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
  }

  // Connects, sends the request and reads the answer on `stream`
  // (tcp_stream, or ssl_stream over one).
  template <class Stream>
  Result<std::string> exchange(Stream& stream, const tcp::resolver::results_type& addresses,
                               const std::string& body) {
    auto& tcp_layer = beast::get_lowest_layer(stream);
    tcp_layer.expires_at(deadline_);
    error_code ec = net::error::would_block;
    tcp_layer.async_connect(addresses, [&](error_code e, const tcp::endpoint&) { ec = e; });
    run(ioc_);
    if (ec == beast::error::timeout) return timed_out("connecting");
    if (ec)
      return unavailable("could not connect to the model endpoint " + o_.base_url + ": " +
                         ec.message());
    if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
      ec = net::error::would_block;
      stream.async_handshake(ssl::stream_base::client, [&](error_code e) { ec = e; });
      run(ioc_);
      if (ec) return failed("doing the TLS handshake", ec);
    }

    http::request<http::string_body> request{http::verb::post, e_.path + "/chat/completions", 11};
    request.set(http::field::host, e_.host_header);
    request.set(http::field::user_agent, "goalstream");
    request.set(http::field::content_type, "application/json");
    request.set(http::field::accept, "text/event-stream, application/json");
    if (!o_.api_key.empty()) request.set(http::field::authorization, "Bearer " + o_.api_key);
    request.body() = body;
    request.prepare_payload();
    ec = net::error::would_block;
    http::async_write(stream, request, [&](error_code e, size_t) { ec = e; });
    run(ioc_);
    if (ec) return failed("sending the request", ec);

    beast::flat_buffer buffer;
    http::response_parser<http::buffer_body> parser;
    // SSE framing costs far more than the content it carries.
    const size_t body_limit = 16 * o_.max_answer_bytes + 1024 * 1024;
    parser.body_limit(body_limit);
    ec = net::error::would_block;
    http::async_read_header(stream, buffer, parser, [&](error_code e, size_t) { ec = e; });
    run(ioc_);
    if (ec) return failed("waiting for the answer", ec);
    const unsigned status = parser.get().result_int();
    const bool sse =
        std::string_view(parser.get()[http::field::content_type]).starts_with("text/event-stream");
    if (status == 200 && sse) say("Receiving the roadmap from " + o_.model);

    std::array<char, 16 * 1024> chunk;
    std::string raw;  // the body when it is not an event stream (an error, a plain completion)
    while (!parser.is_done() && !done_) {
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      ec = net::error::would_block;
      http::async_read_some(stream, buffer, parser, [&](error_code e, size_t) { ec = e; });
      run(ioc_);
      if (ec == http::error::need_buffer) ec = {};
      // A TLS peer that closes without close_notify: the end of a body that
      // runs to the end of the connection (neither chunked nor sized).
      bool ended = false;
      if (ec == ssl::error::stream_truncated &&
          (parser.is_done() || (!parser.chunked() && !parser.content_length()))) {
        ec = {};
        ended = true;
      }
      std::string_view got(chunk.data(), chunk.size() - parser.get().body().size);
      if (status == 200 && sse) {
        if (auto err = feed(got)) return *err;
      } else {
        size_t cap = kMaxErrorBody + 2 * o_.max_answer_bytes;
        if (raw.size() < cap) raw.append(got.substr(0, cap - raw.size()));
      }
      if (ec == http::error::body_limit)
        return unavailable("the model endpoint " + o_.base_url + " sent more than " +
                           std::to_string(body_limit) + " bytes");
      if (ec) {
        if (status != 200) break;  // the status says enough
        return failed("reading the answer", ec);
      }
      if (ended) break;
    }
    error_code ignored;
    tcp_layer.socket().shutdown(tcp::socket::shutdown_both, ignored);

    if (status != 200) return http_error(status, raw);
    if (!sse) return plain_completion(raw);
    // A stream that ended without a last line end or blank line.
    if (!done_ && !line_.empty()) {
      if (auto err = feed("\n")) return *err;
    }
    if (!done_ && pending_data_) {
      if (auto err = dispatch()) return *err;
    }
    say("Received the roadmap from " + o_.model + ": " + std::to_string(code_points_of(content_)) +
        " characters; checking it");
    return std::move(content_);
  }

  Error http_error(unsigned status, const std::string& raw) {
    std::string message =
        "the model endpoint " + o_.base_url + " answered HTTP " + std::to_string(status);
    json j = json::parse(raw, nullptr, false);
    if (j.is_object() && j.contains("error")) {
      const json& e = j["error"];
      if (e.is_object() && e.contains("message") && e["message"].is_string())
        return unavailable(message + ": " + snippet(e["message"].get<std::string>(), 500));
      if (e.is_string()) return unavailable(message + ": " + snippet(e.get<std::string>(), 500));
    }
    if (!raw.empty()) message += ": " + snippet(raw);
    return unavailable(message);
  }

  // A server that ignored "stream": true and answered one chat completion.
  Result<std::string> plain_completion(const std::string& raw) {
    json j = json::parse(raw, nullptr, false);
    const json* content = nullptr;
    if (j.is_object() && j.contains("choices") && j["choices"].is_array() &&
        !j["choices"].empty() && j["choices"][0].is_object()) {
      const json& choice = j["choices"][0];
      if (choice.contains("message") && choice["message"].is_object() &&
          choice["message"].contains("content") && choice["message"]["content"].is_string())
        content = &choice["message"]["content"];
    }
    if (!content)
      return unavailable(
          "the model endpoint " + o_.base_url +
          " answered neither an event stream nor a chat completion: " + snippet(raw));
    content_ = content->get<std::string>();
    if (content_.size() > o_.max_answer_bytes) return too_long();
    say("Received the roadmap from " + o_.model + ": " + std::to_string(code_points_of(content_)) +
        " characters; checking it");
    return std::move(content_);
  }

  Error too_long() {
    return Error{ErrorCode::invalid, "",
                 "the model's answer is longer than " + std::to_string(o_.max_answer_bytes) +
                     " bytes (max_answer_bytes)"};
  }

  // Server-Sent Events: lines; "data:" lines accumulate until a blank line
  // dispatches them; ':' lines are comments; other fields are ignored.
  std::optional<Error> feed(std::string_view bytes) {
    line_.append(bytes);
    size_t start = 0;
    for (size_t nl; (nl = line_.find('\n', start)) != std::string::npos; start = nl + 1) {
      std::string_view line(line_.data() + start, nl - start);
      if (line.ends_with('\r')) line.remove_suffix(1);
      if (line.empty()) {
        if (pending_data_) {
          if (auto err = dispatch()) return err;
          if (done_) return std::nullopt;
        }
        continue;
      }
      if (line.starts_with(':')) continue;
      size_t colon = line.find(':');
      std::string_view field = line.substr(0, colon);
      std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
      if (value.starts_with(' ')) value.remove_prefix(1);
      if (field != "data") continue;
      if (pending_data_) data_ += '\n';
      data_.append(value);
      pending_data_ = true;
    }
    line_.erase(0, start);
    return std::nullopt;
  }

  std::optional<Error> dispatch() {
    std::string data = std::move(data_);
    data_.clear();
    pending_data_ = false;
    if (data == "[DONE]") {
      done_ = true;
      return std::nullopt;
    }
    json j = json::parse(data, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return unavailable("the model endpoint " + o_.base_url +
                         " sent an event that is not a JSON object: " + snippet(data));
    if (j.contains("error")) {
      const json& e = j["error"];
      std::string why = e.is_object() && e.contains("message") && e["message"].is_string()
                            ? e["message"].get<std::string>()
                            : e.dump();
      return unavailable("the model endpoint " + o_.base_url +
                         " reported an error while answering: " + snippet(why, 500));
    }
    auto choices = j.find("choices");
    if (choices == j.end() || !choices->is_array() || choices->empty()) return std::nullopt;
    const json& choice = (*choices)[0];
    if (!choice.is_object()) return std::nullopt;
    auto delta = choice.find("delta");
    if (delta == choice.end() || !delta->is_object()) return std::nullopt;
    auto content = delta->find("content");
    if (content == delta->end() || !content->is_string()) return std::nullopt;
    content_ += content->get_ref<const std::string&>();
    if (content_.size() > o_.max_answer_bytes) return too_long();
    size_t chars = code_points_of(content_);
    auto now = Clock::now();
    if (chars >= reported_chars_ + kProgressChars ||
        (chars > reported_chars_ && now - reported_at_ >= kProgressEvery)) {
      reported_chars_ = chars;
      reported_at_ = now;
      say("Receiving the roadmap from " + o_.model + ": " + std::to_string(chars) + " characters");
    }
    return std::nullopt;
  }

  const LlmOptions& o_;
  const Endpoint& e_;
  const Progress& progress_;
  const Clock::time_point deadline_;
  net::io_context ioc_;
  std::string line_;  // bytes of the event stream after the last '\n'
  std::string data_;  // the data lines of the event being read
  bool pending_data_ = false;
  bool done_ = false;  // data: [DONE] seen
  std::string content_;
  size_t reported_chars_ = 0;
  Clock::time_point reported_at_ = Clock::now();
};

class OpenAiGenerator final : public Generator {
 public:
  OpenAiGenerator(LlmOptions o, Endpoint e)
      : o_(std::move(o)), e_(std::move(e)), name_("openai:" + o_.model) {}

  std::string_view name() const override { return name_; }

  Result<Roadmap> generate(const GenerationRequest& req, const Progress& progress) override {
    Call call(o_, e_, progress);
    auto content = call.run_call(req);
    if (!content) return content.error();
    return roadmap_from_answer(*content);
  }

 private:
  const LlmOptions o_;
  const Endpoint e_;
  const std::string name_;
};

}  // namespace

Result<LlmOptions> check_llm_options(LlmOptions o) {
  auto e = parse_base_url(o.base_url);
  if (!e) return e.error();
  while (o.base_url.ends_with("/")) o.base_url.pop_back();
  if (o.model.empty() || o.model.size() > kMaxModelChars ||
      !std::all_of(o.model.begin(), o.model.end(), [](char c) { return c > 0x20 && c < 0x7F; }))
    return invalid("model", "must be 1 to " + std::to_string(kMaxModelChars) +
                                " printable ASCII characters without spaces");
  if (!std::all_of(o.api_key.begin(), o.api_key.end(), [](char c) { return c > 0x20 && c < 0x7F; }))
    return invalid("api_key", "must be printable ASCII characters without spaces");
  if (o.timeout.count() <= 0) return invalid("timeout", "must be positive");
  if (o.max_answer_bytes == 0 || o.max_answer_bytes > kMaxAnswerLimit)
    return invalid("max_answer_bytes",
                   "must be from 1 to " + std::to_string(kMaxAnswerLimit) + " bytes");
  return o;
}

Result<std::unique_ptr<Generator>> openai_generator(LlmOptions o) {
  auto checked = check_llm_options(std::move(o));
  if (!checked) return checked.error();
  auto e = parse_base_url(checked->base_url);
  if (!e) return e.error();
  return std::unique_ptr<Generator>(
      std::make_unique<OpenAiGenerator>(std::move(*checked), std::move(*e)));
}

}  // namespace gs::roadmap
