// The HTTP server and request input, at the level a client sees them (issue
// 7 items 6, 9-14, 16-18): a table of malformed requests, each answered with
// a 4xx naming the field (never 500), numbers printed as the docs say, HEAD
// wherever GET is, health checks that never queue behind API work, unknown
// keys that cost little whatever the broker does, a connection cap at a 1024
// open-files limit, and serve binding its address before anything else.
#include <doctest/doctest.h>

#include <sys/resource.h>

#include <filesystem>
#include <future>
#include <regex>
#include <set>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "harness.h"
#include "model/command.h"

using it::json;

namespace {

struct Deployment : it::Deployment {
  Deployment() : it::Deployment("api", "acme") {}
  it::HttpResponse call(const std::string& method, const std::string& target,
                        const std::string& body = "") {
    return it::http_within(20000, serve.port(), method, target, body, {{"x-api-key", key}});
  }
};

// A conversion goal body nested `depth` levels deep:
// {"name":...,"conditions":{"p":{"eq":{"a":{"a":...1}}}}}.
std::string goal_of_depth(int depth) {
  std::string inner = "1";
  for (int i = 0; i < depth - 3; ++i) inner = R"({"a":)" + inner + "}";
  return R"({"name":"deep","eventType":"form_submit","conditions":{"p":{"eq":)" + inner + "}}}";
}

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

struct Case {
  std::string what, method, target, body;
  int status;
  std::string error, field, message;  // "" = not checked; message: a part of it
};

}  // namespace

TEST_CASE("malformed requests get a 4xx naming the field, never 500; what is accepted is applied") {
  Deployment d;
  std::string cg =
      d.call("POST", "/api/conversion-goals", R"({"name":"Signups","eventType":"form_submit"})")
          .json_body()["id"];
  REQUIRE(!cg.empty());
  REQUIRE(d.call("POST", "/api/metrics",
                 R"({"name":"signups","aggregation":"count","conversionGoal":")" + cg + R"("})")
              .status == 201);
  const std::string not_utf8 = "is not valid UTF-8 once percent-decoded";
  const std::string euro = "\xE2\x82\xAC";
  std::vector<Case> cases = {
      // 11. Invalid UTF-8 in a path or a query id (was 500, json type_error.316).
      {"path %FF", "GET", "/api/conversion-goals/%FF", "", 400, "bad_request", "path", not_utf8},
      {"overlong", "GET", "/api/conversion-goals/%C0%AF", "", 400, "bad_request", "path", not_utf8},
      {"surrogate", "GET", "/api/conversion-goals/%ED%A0%80", "", 400, "bad_request", "path",
       not_utf8},
      {"truncated", "GET", "/api/conversion-goals/cg_%E2%82", "", 400, "bad_request", "path",
       not_utf8},
      {"delete path", "DELETE", "/api/conversion-goals/%FF", "", 400, "bad_request", "path",
       not_utf8},
      {"delete ?id", "DELETE", "/api/conversion-goals?id=%FF", "", 400, "bad_request", "id",
       not_utf8},
      {"goal above U+10FFFF", "GET", "/api/goals/%F4%90%80%80", "", 400, "bad_request", "path",
       not_utf8},
      {"delete goal ?id", "DELETE", "/api/goals?id=%FE", "", 400, "bad_request", "id", not_utf8},
      {"metric path", "GET", "/api/metrics/%FF", "", 400, "bad_request", "path", not_utf8},
      {"delete metric ?name", "DELETE", "/api/metrics?name=%C3", "", 400, "bad_request", "name",
       not_utf8},
      {"valid UTF-8, no such goal", "GET", "/api/conversion-goals/%E2%82%AC", "", 404, "not_found",
       "", "conversion goal " + euro + " not found"},
      // 12. Date-times within what the processor and the formatter handle.
      {"since in year 10000 once in UTC", "POST", "/api/conversion-goals",
       R"({"name":"x","eventType":"form_submit","since":"9999-12-31T23:00:00-05:00"})", 422,
       "validation_error", "since", "9999-12-31T23:59:59.999Z once in UTC"},
      {"since at the last millisecond", "POST", "/api/conversion-goals",
       R"({"name":"late","eventType":"form_submit","since":"9999-12-31T23:59:59.999Z"})", 201, "",
       "", ""},
      {"since before 1970 once in UTC", "POST", "/api/conversion-goals",
       R"({"name":"x","eventType":"form_submit","since":"1970-01-01T00:30:00+01:00"})", 422,
       "validation_error", "since", ""},
      {"deadline 9999-12-31, start 1970-01-01", "POST", "/api/goals",
       R"({"metric":"signups","target":5,"start":"1970-01-01","deadline":"9999-12-31"})", 201, "",
       "", ""},
      {"deadline in year 10000", "POST", "/api/goals",
       R"({"metric":"signups","target":5,"deadline":"10000-01-01"})", 422, "validation_error",
       "deadline", ""},
      // 13. Nesting: exactly what the commands topic takes once wrapped.
      {"nested 64 deep", "POST", "/api/conversion-goals", goal_of_depth(64), 201, "", "", ""},
      {"nested 65 deep", "POST", "/api/conversion-goals", goal_of_depth(65), 400, "invalid_json",
       "conditions.p.eq" + repeat(".a", 61), "request body nests deeper than 64 levels"},
      // 14. Numbers outside a double's range.
      {"1e400", "POST", "/api/goals",
       R"({"metric":"signups","target":1e400,"deadline":"2025-03-31"})", 400, "invalid_json",
       "target", "target: number is out of range"},
      {"-1e400 in a list", "POST", "/api/conversion-goals",
       R"({"name":"x","eventType":"form_submit","conditions":{"n":{"in":[1,-1e400]}}})", 400,
       "invalid_json", "conditions.n.in[1]", "number is out of range"},
      {"not JSON", "POST", "/api/goals", R"({"metric":"signups",})", 400, "invalid_json", "",
       "line 1, column 21"},
      // 16. Targets representable at 6 decimals.
      {"target 1e-7", "POST", "/api/goals",
       R"({"metric":"signups","target":1e-7,"deadline":"2025-03-31"})", 422, "validation_error",
       "target", "at least 0.000001"},
      {"target 5e-324", "POST", "/api/goals",
       R"({"metric":"signups","target":5e-324,"deadline":"2025-03-31"})", 422, "validation_error",
       "target", "at least 0.000001"},
      {"PATCH target 1e-7", "PATCH", "/api/goals",
       R"({"id":"goal_0000000000000000","target":1e-7})", 422, "validation_error", "target", ""},
      // 17. Names and descriptions: one rule.
      {"blank name", "POST", "/api/conversion-goals", R"({"name":"   ","eventType":"form_submit"})",
       422, "validation_error", "name", "name: must not be blank"},
      {"control character", "POST", "/api/conversion-goals",
       R"({"name":"a\u0007b","eventType":"form_submit"})", 422, "validation_error", "name",
       "control characters"},
      {"duplicate member", "POST", "/api/conversion-goals",
       R"({"name":"a","name":"b","eventType":"form_submit"})", 400, "invalid_json", "name",
       "name: appears more than once"},
      {"duplicate nested member", "POST", "/api/conversion-goals",
       R"({"name":"a","eventType":"form_submit","conditions":{"plan":"pro","plan":"team"}})", 400,
       "invalid_json", "conditions.plan", "conditions.plan: appears more than once"},
      {"200 characters of 3 bytes", "POST", "/api/conversion-goals",
       R"({"name":")" + repeat(euro, 200) + R"(","eventType":"form_submit"})", 201, "", "", ""},
      {"201 characters", "POST", "/api/conversion-goals",
       R"({"name":")" + repeat(euro, 201) + R"(","eventType":"form_submit"})", 422,
       "validation_error", "name", "1 to 200 characters"},
      {"description of 1000 characters (3000 bytes)", "POST", "/api/goals",
       R"({"metric":"signups","target":5,"deadline":"2025-03-31","description":")" +
           repeat(euro, 1000) + R"("})",
       201, "", "", ""},
      {"blank description", "POST", "/api/goals",
       R"({"metric":"signups","target":5,"deadline":"2025-03-31","description":" \u3000 "})", 422,
       "validation_error", "description", "blank"},
      {"unit with a newline", "POST", "/api/goals",
       R"({"metric":"signups","target":5,"deadline":"2025-03-31","unit":"a\nb"})", 422,
       "validation_error", "unit", "control"},
      {"empty metric description", "POST", "/api/metrics",
       R"({"name":"m2","aggregation":"count","conversionGoal":")" + cg + R"(","description":""})",
       422, "validation_error", "description", ""},
      // 18. HEAD wherever GET is; 405s list HEAD.
      {"HEAD a metric", "HEAD", "/api/metrics/signups", "", 200, "", "", ""},
      {"HEAD a missing goal", "HEAD", "/api/conversion-goals/cg_0000000000000000", "", 404, "", "",
       ""},
      {"HEAD /healthz", "HEAD", "/healthz", "", 200, "", "", ""},
      {"PUT /api/goals", "PUT", "/api/goals", "", 405, "method_not_allowed", "",
       "GET, HEAD, POST, PATCH, DELETE"},
  };
  for (auto& c : cases) {
    CAPTURE(c.what);
    auto r = d.call(c.method, c.target, c.body);
    CHECK_MESSAGE(r.status == c.status, r.body);
    if (c.method == "HEAD") {
      CHECK(r.body.empty());
      auto get = d.call("GET", c.target);
      CHECK(get.status == r.status);
      CHECK(r.headers["Content-Length"] == std::to_string(get.body.size()));
      continue;
    }
    auto j = r.json_body();
    if (!c.error.empty()) CHECK(j["error"] == c.error);
    if (!c.field.empty()) CHECK_MESSAGE(j["field"] == c.field, r.body);
    if (!c.message.empty())
      CHECK_MESSAGE(j["message"].get<std::string>().find(c.message) != std::string::npos, r.body);
    if (c.status == 201) {
      // Read back: the processor applied what the API accepted.
      auto location = r.headers["Location"];
      CHECK(!location.empty());
      if (!location.empty()) CHECK(d.call("GET", location).status == 200);
    }
    if (c.status == 405) CHECK(r.headers["Allow"] == "GET, HEAD, POST, PATCH, DELETE");
  }

  // 16. Numbers as the docs say: whole ones as integers, others with at most
  // 6 decimals, never in exponent form.
  auto big =
      d.call("POST", "/api/goals", R"({"metric":"signups","target":1e15,"deadline":"2025-03-31"})");
  REQUIRE(big.status == 201);
  CHECK(big.body.find(R"("target":1000000000000000,)") != std::string::npos);
  auto frac = d.call("POST", "/api/goals",
                     R"({"metric":"signups","target":2.571048,"deadline":"2025-03-31"})");
  REQUIRE(frac.status == 201);
  CHECK_MESSAGE(frac.body.find(R"("target":2.571048,)") != std::string::npos,
                frac.body);  // was 2.5710479999999998
  auto rounded = d.call("POST", "/api/goals",
                        R"({"metric":"signups","target":0.0000014,"deadline":"2025-03-31"})");
  REQUIRE(rounded.status == 201);
  CHECK_MESSAGE(rounded.body.find(R"("target":0.000001,)") != std::string::npos, rounded.body);
  auto list = d.call("GET", "/api/goals");
  REQUIRE(list.status == 200);
  // The numbers of the text, strings left out.
  std::string text;
  for (size_t i = 0; i < list.body.size(); ++i) {
    if (list.body[i] != '"') {
      text += list.body[i];
      continue;
    }
    for (++i; i < list.body.size() && list.body[i] != '"'; ++i)
      if (list.body[i] == '\\') ++i;
    text += "\"\"";
  }
  std::regex number(R"re((?:^|[:,\[])(-?[0-9][0-9.eE+\-]*))re");
  int numbers = 0;
  for (std::sregex_iterator m(text.begin(), text.end(), number), end; m != end; ++m) {
    std::string n = (*m)[1];
    ++numbers;
    CHECK_MESSAGE(std::regex_match(n, std::regex(R"(-?(0|[1-9][0-9]*)(\.[0-9]{1,6})?)")), n);
  }
  CHECK(numbers > 10);

  // Nothing the API accepted was refused by the processor ("goal vanished
  // after write" and a deadlettered command, item 12 and 13).
  CHECK(d.serve.metric("goalstream_commands_rejected_total") == 0);
  CHECK(d.serve.metric("goalstream_http_requests_total") > 0);
  CHECK(d.serve.terminate() == 0);
  CHECK(d.serve.log().find("handler threw") == std::string::npos);
}

TEST_CASE(
    "HEAD then GET on one keep-alive connection: no body after HEAD, so the GET's answer is read "
    "right") {
  Deployment d;
  namespace beast = boost::beast;
  namespace bhttp = beast::http;
  boost::asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(
      {boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(d.serve.port())});
  beast::flat_buffer buf;
  for (auto [method, target] :
       std::vector<std::pair<bhttp::verb, std::string>>{{bhttp::verb::head, "/healthz"},
                                                        {bhttp::verb::get, "/healthz"},
                                                        {bhttp::verb::head, "/api/goals"},
                                                        {bhttp::verb::get, "/api/goals"},
                                                        {bhttp::verb::head, "/readyz"},
                                                        {bhttp::verb::get, "/metrics"}}) {
    CAPTURE(target);
    bhttp::request<bhttp::empty_body> req{method, target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    req.set("x-api-key", d.key);
    req.keep_alive(true);
    bhttp::write(stream, req);
    bhttp::response_parser<bhttp::string_body> parser;
    parser.skip(method ==
                bhttp::verb::head);  // a HEAD response has no body, whatever its Content-Length
    beast::error_code ec;
    stream.expires_after(std::chrono::seconds(10));
    bhttp::read(stream, buf, parser, ec);
    REQUIRE_MESSAGE(!ec, ec.message());
    auto res = parser.release();
    CHECK(res.result_int() == 200);
    CHECK(res.keep_alive());
    if (method == bhttp::verb::head) {
      CHECK(res.body().empty());
      CHECK(std::stoul(std::string(res[bhttp::field::content_length])) > 0);
    } else if (target == "/healthz") {
      CHECK(res.body() == R"({"status":"ok"})");
    } else if (target == "/api/goals") {
      CHECK(res.body() == "[]");
    }
  }
  CHECK(buf.size() == 0);  // nothing left over: no body followed a HEAD answer
}

TEST_CASE("serve binds its listen address first: a taken port exits 1 before the data dir exists") {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor taken(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  int port = taken.local_endpoint().port();
  auto prefix = it::unique_prefix("bind");
  auto dir = it::temp_dir("bind") + "/data";
  auto r = it::run_cli({"serve", "--brokers", it::brokers(), "--topic-prefix", prefix, "--data-dir",
                        dir, "--listen", "127.0.0.1:" + std::to_string(port)});
  CHECK(r.exit_code == 1);
  CHECK_MESSAGE(
      r.err.find("goalstream: listen: cannot listen on 127.0.0.1:" + std::to_string(port) +
                 ": Address already in use\n") != std::string::npos,
      r.err);
  CHECK_FALSE(std::filesystem::exists(dir));
  CHECK(r.err.find("topic ") == std::string::npos);  // no topic was created or checked
}

TEST_CASE(
    "at a 1024 open-files limit, 1100 idle connections: new ones get 503, the processor goes on, "
    "SIGTERM exits 0") {
  // The test itself holds 1100 sockets.
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  REQUIRE(rl.rlim_max >= 1300);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);

  // A broker of its own, as the outage tests: the load stays off the
  // shared one. Its partitions are a moment old when serve starts (serve
  // waits for their leaders; it exited at start on "Not leader for
  // partition" once in CI).
  it::OwnBroker broker;
  broker.start();
  auto prefix = it::unique_prefix("fds");
  it::ensure_topics_on(broker.address(), prefix);
  it::ServeProcess serve({prefix, it::temp_dir("fds"), broker.address(), {}, 1024});
  serve.start();
  auto key = it::create_key_on(broker.address(), prefix, "acme");
  auto created =
      it::http_within(20000, serve.port(), "POST", "/api/conversion-goals",
                      R"({"name":"Signups","eventType":"form_submit"})", {{"x-api-key", key}});
  REQUIRE(created.status == 201);
  std::string id = created.json_body()["id"];

  boost::asio::io_context ioc;
  std::vector<boost::asio::ip::tcp::socket> idle;
  boost::asio::ip::tcp::endpoint ep{boost::asio::ip::make_address("127.0.0.1"),
                                    static_cast<unsigned short>(serve.port())};
  for (int i = 0; i < 1100; ++i) {
    idle.emplace_back(ioc);
    idle.back().connect(ep);
  }
  // A new request gets a clear answer at once, not a hang (was: the accept
  // loop spinning on EMFILE, the request never read).
  auto refused = it::http_within(10000, serve.port(), "GET", "/healthz");
  CHECK(refused.status == 503);
  CHECK(refused.json_body()["error"] == "unavailable");
  CHECK(refused.headers["Retry-After"] == "1");

  // Meanwhile the processor consumes and writes (RocksDB has its files).
  std::vector<std::pair<std::string, std::string>> events;
  for (int i = 0; i < 200; ++i)
    events.push_back(
        {"acme/u" + std::to_string(i),
         it::event("e" + std::to_string(i), "acme", "form_submit", "2025-03-01T12:00:00Z")});
  it::produce_on(broker.address(), prefix + "events", events);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  for (auto& s : idle) s.close();
  idle.clear();

  // Once the idle connections are gone, everything answers again.
  bool healthy = it::eventually([&] {
    try {
      return it::http_within(5000, serve.port(), "GET", "/healthz").status == 200;
    } catch (...) {
      return false;
    }
  });
  CHECK(healthy);
  bool counted = it::eventually([&] {
    auto r = it::http_within(5000, serve.port(), "GET", "/api/conversion-goals/" + id, "",
                             {{"x-api-key", key}});
    return r.status == 200 && r.json_body()["count"] == 200;
  });
  CHECK_MESSAGE(counted, serve.log());
  auto ready = it::http_within(5000, serve.port(), "GET", "/readyz");
  CHECK(ready.status == 200);
  CHECK(serve.log().find("open files limit 1024") != std::string::npos);
  CHECK(serve.log().find("connection limit reached (384 open)") != std::string::npos);
  CHECK(serve.terminate() == 0);
  CHECK(serve.log().find("stopped cleanly") != std::string::npos);
}

TEST_CASE(
    "a key issued a moment ago is accepted by its first request, even just after serve started") {
  // The first request may come before serve's consumer has fetched the
  // key's command, or anything at all: the end of the commands topic is
  // asked of the broker (was: only the consumer's cached end, unknown right
  // after start and stale until the next fetch response, so 401; seen in CI).
  // The commands are produced here, as `keys create` writes them, so that the
  // request follows the broker's acknowledgement by well under a millisecond.
  auto prefix = it::unique_prefix("fresh");
  it::ensure_topics(prefix);
  int n = 0;
  auto issue = [&] {
    std::string secret = "gs_fresh" + std::to_string(::getpid()) + "x" + std::to_string(n++);
    json data = {{"key_id", "key_f" + std::to_string(n)},
                 {"tenant_id", "acme"},
                 {"scopes", {"goals:read", "goals:write"}},
                 {"created_at", "2026-12-03T00:00:00Z"},
                 {"key_hash", gs::model::sha256_hex(secret)}};
    json cmd = {{"command_id", "cmd_fresh" + std::to_string(n)},
                {"type", "key.issued"},
                {"tenant_id", "acme"},
                {"issued_at", "2026-12-03T00:00:00Z"},
                {"data", data}};
    it::produce(prefix + "commands", {{"acme", cmd.dump()}});
    return secret;
  };
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    it::ServeProcess serve({prefix, it::temp_dir("fresh"), it::brokers(), {}, 0});
    serve.start();
    for (int i = 0; i < 10; ++i) {
      CAPTURE(i);
      auto key = issue();
      auto r = it::http_within(10000, serve.port(), "GET", "/api/conversion-goals", "",
                               {{"x-api-key", key}});
      CHECK_MESSAGE(r.status == 200, r.body);
    }
    CHECK(serve.terminate() == 0);
  }
}

TEST_CASE(
    "with the broker down, unknown keys are answered 401 at once and /healthz never waits behind "
    "them") {
  it::OwnBroker broker;
  broker.start();
  auto prefix = it::unique_prefix("keys");
  it::ensure_topics_on(broker.address(), prefix);
  auto key = it::create_key_on(broker.address(), prefix, "acme");
  it::ServeProcess serve({prefix, it::temp_dir("keys"), broker.address(), {}, 0});
  serve.start();
  CHECK(
      it::http_within(10000, serve.port(), "GET", "/api/goals", "", {{"x-api-key", key}}).status ==
      200);
  broker.stop();

  // 40 requests with unknown keys at once, then health and readiness. Each
  // must be answered within 5 s (was: each unknown key held a worker for the
  // broker query, up to 40 s, and /healthz queued behind them).
  std::vector<std::future<int>> unknown;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 40; ++i)
    unknown.push_back(std::async(std::launch::async, [&, i] {
      return it::http_within(5000, serve.port(), "GET", "/api/goals", "",
                             {{"x-api-key", "gs_unknown" + std::to_string(i)}})
          .status;
    }));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(it::http_within(5000, serve.port(), "GET", "/healthz").status == 200);
  auto ready = it::http_within(5000, serve.port(), "GET", "/readyz");
  CHECK((ready.status == 200 || ready.status == 503));
  CHECK(it::http_within(5000, serve.port(), "GET", "/metrics").status == 200);
  int answered = 0;
  for (auto& f : unknown) {
    int status = 0;
    try {
      status = f.get();
    } catch (const std::exception& e) {
      MESSAGE(e.what());
    }
    answered += status == 401;
  }
  CHECK(answered == 40);
  MESSAGE("40 unknown keys with the broker down answered in "
          << std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::steady_clock::now() - t0)
                 .count()
          << " ms (figure, not asserted)");
  // Reads with a known key do not need the broker either.
  CHECK(it::http_within(5000, serve.port(), "GET", "/api/goals", "", {{"x-api-key", key}}).status ==
        200);
  // (Stopping with the broker down is bounded by the lead's shutdown work,
  // not here: bring it back first.)
  broker.start();
  CHECK(serve.terminate() == 0);
}
