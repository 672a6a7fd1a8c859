// Roadmap generators (design.md §8): the built-in template (deterministic,
// valid, says it is a template), reading a model's answer, the options'
// checks, and the OpenAI-compatible generator against tools/llm-standin,
// which this test starts as a subprocess (it stands in for an LLM endpoint
// that cannot run in CI): a valid answer, a cycle, prose, HTTP 500, a
// timeout, a wrong key, the calls it received.
#include <doctest/doctest.h>

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "base/text.h"
#include "modules/roadmap/generator.h"

extern char** environ;

using nlohmann::json;
using namespace gs::roadmap;
using namespace std::chrono_literals;

namespace {

// tools/llm-standin on a free port, killed when this goes out of scope.
class StandIn {
 public:
  explicit StandIn(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"python3", GOALSTREAM_SOURCE_DIR "/tools/llm-standin",
                                     "--port", "0"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    int rc = posix_spawnp(&pid_, "python3", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    out_ = fds[0];
    REQUIRE(rc == 0);
    started_ = true;
    // The first line: "listening on 127.0.0.1:<port>".
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char buf[256];
      ssize_t n = read(out_, buf, sizeof buf);
      if (n <= 0) break;
      line.append(buf, static_cast<size_t>(n));
    }
    if (!line.starts_with("listening on 127.0.0.1:")) stop();  // the destructor will not run
    INFO("llm-standin said: " << line);
    REQUIRE(line.starts_with("listening on 127.0.0.1:"));
    port_ = std::stoi(line.substr(line.rfind(':') + 1));
  }
  ~StandIn() { stop(); }
  StandIn(const StandIn&) = delete;
  StandIn& operator=(const StandIn&) = delete;

  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }

  // GET /calls: how many chat completions it was asked for.
  int calls() const {
    namespace beast = boost::beast;
    namespace http = beast::http;
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.connect(resolver.resolve("127.0.0.1", std::to_string(port_)));
    http::request<http::empty_body> req{http::verb::get, "/calls", 11};
    req.set(http::field::host, "127.0.0.1");
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(stream, buf, res);
    json j = json::parse(res.body(), nullptr, false);
    REQUIRE(j.is_object());
    return j.value("chat_completions", -1);
  }

 private:
  void stop() {
    if (!started_) return;
    started_ = false;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    close(out_);
  }

  bool started_ = false;
  pid_t pid_ = 0;
  int out_ = -1;
  int port_ = 0;
};

LlmOptions options(const StandIn& s, std::string key = "") {
  LlmOptions o;
  o.base_url = s.base_url();
  o.model = "standin-model";
  o.api_key = std::move(key);
  o.timeout = 10s;
  return o;
}

std::unique_ptr<Generator> openai(LlmOptions o) {
  auto g = openai_generator(std::move(o));
  REQUIRE(g.ok());
  return std::move(g).value();
}

GenerationRequest request(std::string title) {
  GenerationRequest r;
  r.goal_id = "goal_0123456789abcdef";
  r.title = std::move(title);
  return r;
}

struct Run {
  gs::Result<Roadmap> result;
  std::vector<std::string> statuses;
};

Run run(Generator& g, const GenerationRequest& req) {
  std::vector<std::string> statuses;
  auto r = g.generate(req, [&](std::string s) { statuses.push_back(std::move(s)); });
  return Run{std::move(r), std::move(statuses)};
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("template: the same request always gives the same bytes") {
  auto req = request("Learn Machine Learning");
  req.description = "Master ML fundamentals and build 3 projects";
  req.target_date = "2026-12-31T00:00:00Z";
  auto a = run(*template_generator(), req);
  auto b = run(*template_generator(), req);
  REQUIRE(a.result.ok());
  REQUIRE(b.result.ok());
  CHECK(to_json(*a.result).dump() == to_json(*b.result).dump());
  CHECK(a.statuses == b.statuses);
  auto other = run(*template_generator(), request("Run a marathon"));
  REQUIRE(other.result.ok());
  CHECK(to_json(*other.result).dump() != to_json(*a.result).dump());
}

TEST_CASE("template: a laid-out DAG with branches that says it is a template, not an AI") {
  auto g = template_generator();
  CHECK(g->name() == "template");
  auto req = request("Learn Machine Learning");
  req.target_date = "2026-12-31";
  auto out = run(*g, req);
  REQUIRE(out.result.ok());
  const Roadmap& r = *out.result;
  CHECK_FALSE(validate(r).has_value());
  CHECK(r.nodes.size() >= 6);
  CHECK(r.nodes.size() <= 9);
  std::set<std::pair<int64_t, int64_t>> positions;
  for (size_t i = 0; i < r.nodes.size(); ++i) {
    const Node& n = r.nodes[i];
    CHECK(n.id == "node_" + std::to_string(i + 1));
    REQUIRE(n.details.has_value());
    CHECK(n.details->starts_with(kTemplateNotice));
    CHECK(n.estimated_time.has_value());
    CHECK_FALSE(n.completed);
    positions.insert({n.position.x, n.position.y});
  }
  CHECK(positions.size() == r.nodes.size());
  CHECK(r.nodes.front().label == "Define the goal: Learn Machine Learning");
  CHECK(r.nodes.back().label == "Reach the goal: Learn Machine Learning");
  CHECK(contains(*r.nodes.back().details, "by 2026-12-31"));
  // Not only a chain: some node has two successors, some two predecessors.
  std::map<std::string, int> out_degree, in_degree;
  for (size_t i = 0; i < r.edges.size(); ++i) {
    CHECK(r.edges[i].id == "edge_" + std::to_string(i + 1));
    ++out_degree[r.edges[i].source];
    ++in_degree[r.edges[i].target];
  }
  auto max_of = [](const std::map<std::string, int>& m) {
    int best = 0;
    for (const auto& [k, v] : m) best = std::max(best, v);
    return best;
  };
  CHECK(max_of(out_degree) >= 2);
  CHECK(max_of(in_degree) >= 2);
  CHECK(next_nodes(r) == std::vector<std::string>{"node_1"});
  REQUIRE(out.statuses.size() >= 3);
  CHECK(out.statuses[0] == "Using goalstream's built-in template generator (not an AI)");
}

TEST_CASE("template: long and multi-byte titles are clipped on code points, never bytes") {
  std::string long_title;
  for (int i = 0; i < 200; ++i) long_title += "\xC3\xA9";  // é, 2 bytes
  std::string emoji;
  for (int i = 0; i < 200; ++i) emoji += "\xF0\x9F\x8E\xAF";  // 🎯, 4 bytes
  for (const auto& title : {long_title, emoji, std::string("   "), std::string("a\tb\nc")}) {
    CAPTURE(title);
    auto out = run(*template_generator(), request(title));
    REQUIRE(out.result.ok());
    for (const Node& n : out.result->nodes) {
      CHECK(gs::text::valid_utf8(n.label));
      CHECK(gs::text::code_points(n.label) <= kMaxLabelChars);
    }
  }
  auto blank = run(*template_generator(), request("   "));
  REQUIRE(blank.result.ok());
  CHECK(blank.result->nodes.front().label == "Define the goal: your goal");
  auto clipped = run(*template_generator(), request(long_title));
  CHECK(gs::text::code_points(clipped.result->nodes.front().label) == kMaxLabelChars);
  CHECK(clipped.result->nodes.front().label.ends_with("\xC3\xA9\u2026"));

  // The longest inputs the API accepts still fit every text limit.
  auto longest = request(emoji);
  longest.description = std::string(2000, 'd');
  longest.target_date = std::string(64, '9');
  auto full = run(*template_generator(), longest);
  REQUIRE_MESSAGE(full.result.ok(), full.result.error().message);
  CHECK(gs::text::code_points(*full.result->nodes.front().details) <= kMaxDetailsChars);
  // A C1 control (U+0085) becomes a space.
  auto c1 = run(*template_generator(), request("Run\xC2\x85"
                                               "fast"));
  REQUIRE(c1.result.ok());
  CHECK(c1.result->nodes.front().label == "Define the goal: Run fast");

  auto bad = run(*template_generator(), request("\xC3"));
  REQUIRE_FALSE(bad.result.ok());
  CHECK(bad.result.error().field == "title");
}

TEST_CASE("roadmap_from_answer: fences and prose are tolerated; the error says why") {
  const std::string nodes = R"({"nodes":[{"id":"a","label":"A"},{"id":"b","label":"B"}],)"
                            R"("edges":[{"source":"a","target":"b"}]})";
  for (const std::string& answer :
       {nodes, "```json\n" + nodes + "\n```",
        "Sure! Here it is {as asked}:\n```json\n" + nodes + "\n```\nAnything else?",
        R"({"roadmap":)" + nodes + "}"}) {
    CAPTURE(answer);
    auto r = roadmap_from_answer(answer);
    REQUIRE(r.ok());
    CHECK(r->nodes.size() == 2);
    CHECK(r->edges[0].id == "edge_1");
  }
  struct Case {
    std::string answer, field, message;
  };
  for (
      const auto& c : std::vector<Case>{
          {"", "", "the model's answer is not a roadmap: it is empty"},
          {"I cannot help", "",
           R"(the model's answer is not a roadmap: it holds no JSON object (it begins "I cannot help"))"},
          {R"(```json {"nodes":[{"id":"a")", "",
           "the model's answer is not a roadmap: its JSON object is cut off after 27 bytes"},
          {R"({"nodes": [,]})", "",
           "the model's answer is not a roadmap: its JSON object does not parse"},
          {R"({"steps": []})", "roadmap.steps",
           "the model's answer is not a roadmap: roadmap.steps: unknown field; expected one of "
           "nodes, edges"},
          {R"({"nodes": []})", "roadmap.nodes",
           "the model's answer is not a roadmap: roadmap.nodes: must hold at least one node"},
          {R"({"nodes":[{"id":"a","label":"A","colour":"red"}]})", "roadmap.nodes[0].colour",
           "the model's answer is not a roadmap: roadmap.nodes[0].colour: unknown field; expected "
           "one of id, label, completed, skipped, details, estimated_time, resources, position"},
      }) {
    CAPTURE(c.answer);
    auto r = roadmap_from_answer(c.answer);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == gs::ErrorCode::invalid);
    CHECK(r.error().field == c.field);
    CHECK(r.error().message == c.message);
  }
}

TEST_CASE("check_llm_options: each refusal names the option") {
  LlmOptions good;
  good.base_url = "http://127.0.0.1:8000/v1/";
  good.model = "Qwen/Qwen2.5-7B-Instruct";
  auto ok = check_llm_options(good);
  REQUIRE(ok.ok());
  CHECK(ok->base_url == "http://127.0.0.1:8000/v1");
  for (const char* url : {"https://api.openai.com/v1", "http://[::1]:8080", "http://localhost"}) {
    auto o = good;
    o.base_url = url;
    CHECK_MESSAGE(check_llm_options(o).ok(), url);
  }
  for (const char* url :
       {"", "ftp://host/v1", "http://", "http://:80/v1", "http://host:0/v1", "http://host:65536",
        "http://host:x/v1", "http://user:secret@host/v1", "http://host/v1?x=1", "http://ho st/v1",
        "http://[::1/v1", "http://host:"}) {
    auto o = good;
    o.base_url = url;
    auto r = check_llm_options(o);
    CAPTURE(url);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().field == "base_url");
    CHECK_FALSE(contains(r.error().message, "secret"));
  }
  auto o = good;
  o.model = "";
  CHECK(check_llm_options(o).error().field == "model");
  o = good;
  o.api_key = "sk-with\r\ninjection";
  CHECK(check_llm_options(o).error().field == "api_key");
  o = good;
  o.timeout = 0ms;
  CHECK(check_llm_options(o).error().field == "timeout");
  o = good;
  o.max_answer_bytes = 0;
  CHECK(check_llm_options(o).error().field == "max_answer_bytes");
  o = good;
  o.base_url = "gopher://x";
  CHECK(openai_generator(o).error().field == "base_url");
}

TEST_CASE("system_prompt: the exact shape and graph.h's limits") {
  std::string p = system_prompt();
  CHECK(contains(p, R"({"nodes":[{"id":"node_1","label":"...","details":"...",)"
                    R"("estimated_time":"...","resources":["..."]}],)"
                    R"("edges":[{"source":"node_1","target":"node_2"}]})"));
  CHECK(contains(p, "at most " + std::to_string(kMaxNodes)));
  CHECK(contains(p, "at most " + std::to_string(kMaxEdges)));
  CHECK(contains(p, "at most " + std::to_string(kMaxLabelChars) + " characters"));
}

TEST_CASE("openai: a streamed answer becomes a laid-out roadmap, with statuses on the way") {
  StandIn s;
  auto g = openai(options(s));
  CHECK(g->name() == "openai:standin-model");
  auto req = request("Learn Machine Learning");
  req.description = "Master ML fundamentals";
  auto out = run(*g, req);
  REQUIRE_MESSAGE(out.result.ok(), out.result.error().message);
  const Roadmap& r = *out.result;
  REQUIRE(r.nodes.size() == 5);
  REQUIRE(r.edges.size() == 5);
  CHECK(r.nodes[0].id == "node_1");
  CHECK(r.nodes[0].label == "Set up the basics");
  CHECK(r.nodes[0].resources == std::vector<std::string>{"https://example.com/start"});
  CHECK(r.edges[4].id == "edge_5");
  // Layered: node_1 on top, node_2 and node_3 side by side below it.
  CHECK(r.nodes[0].position.y == kTop);
  CHECK(r.nodes[1].position.y == kTop + kRow);
  CHECK(r.nodes[2].position.y == kTop + kRow);
  CHECK(r.nodes[1].position.x != r.nodes[2].position.x);
  CHECK(r.nodes[4].position.y == kTop + 3 * kRow);
  REQUIRE(out.statuses.size() >= 3);
  CHECK(out.statuses.front() == "Asking standin-model at " + s.base_url() + " for a roadmap");
  CHECK(out.statuses[1] == "Receiving the roadmap from standin-model");
  CHECK(out.statuses.back().starts_with("Received the roadmap from standin-model: "));
  CHECK(out.statuses.back().ends_with(" characters; checking it"));
  CHECK(s.calls() == 1);

  // A server that ignores "stream": true and answers one completion.
  auto plain = run(*g, request("Learn ML [nostream]"));
  REQUIRE_MESSAGE(plain.result.ok(), plain.result.error().message);
  CHECK(to_json(*plain.result).dump() == to_json(r).dump());
  // CRLF, comments, "data:" without a space, multi-line data.
  auto framed = run(*g, request("Learn ML [framing]"));
  REQUIRE_MESSAGE(framed.result.ok(), framed.result.error().message);
  CHECK(to_json(*framed.result).dump() == to_json(r).dump());
  // A body to the end of the connection; the last event unterminated.
  auto eof = run(*g, request("Learn ML [eof]"));
  REQUIRE_MESSAGE(eof.result.ok(), eof.result.error().message);
  CHECK(to_json(*eof.result).dump() == to_json(r).dump());
  CHECK(s.calls() == 4);
}

TEST_CASE("openai: answers that are not roadmaps are errors a user can read") {
  StandIn s;
  auto g = openai(options(s));

  auto cycle = run(*g, request("Learn ML [cycle]"));
  REQUIRE_FALSE(cycle.result.ok());
  CHECK(cycle.result.error().code == gs::ErrorCode::invalid);
  CHECK(cycle.result.error().field == "roadmap.edges[2]");
  CHECK(cycle.result.error().message ==
        "the model's answer is not a roadmap: roadmap.edges[2]: edge edge_3 (node_3 -> node_1) "
        "closes a cycle: node_1 -> node_2 -> node_3 -> node_1");

  auto prose = run(*g, request("Learn ML [malformed]"));
  REQUIRE_FALSE(prose.result.ok());
  CHECK(prose.result.error().code == gs::ErrorCode::invalid);
  CHECK(prose.result.error().message.starts_with(
      "the model's answer is not a roadmap: it holds no JSON object (it begins \"I would love"));

  auto failed = run(*g, request("Learn ML [error]"));
  REQUIRE_FALSE(failed.result.ok());
  CHECK(failed.result.error().code == gs::ErrorCode::unavailable);
  CHECK(failed.result.error().message == "the model endpoint " + s.base_url() +
                                             " answered HTTP 500: the stand-in model failed on "
                                             "purpose");

  auto small = options(s);
  small.max_answer_bytes = 100;
  auto limited = run(*openai(small), request("Learn ML"));
  REQUIRE_FALSE(limited.result.ok());
  CHECK(limited.result.error().message ==
        "the model's answer is longer than 100 bytes (max_answer_bytes)");
  CHECK(s.calls() == 4);
}

TEST_CASE("openai: the whole call times out in bounded time") {
  StandIn s;
  auto o = options(s);
  o.timeout = 1500ms;
  auto start = std::chrono::steady_clock::now();
  auto out = run(*openai(o), request("Learn ML [slow]"));
  auto took = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(out.result.ok());
  CHECK(out.result.error().code == gs::ErrorCode::unavailable);
  CHECK(out.result.error().message == "the model endpoint " + s.base_url() +
                                          " did not finish within 1500 ms (timed out while "
                                          "reading the answer)");
  CHECK(took >= 1400ms);
  CHECK(took < 4s);
  // The stand-in streamed a little before the deadline: statuses said so.
  CHECK(out.statuses.size() >= 2);
}

TEST_CASE("openai: the key is sent, checked, and never shown") {
  const std::string key = "sk-test-0123456789";
  StandIn s({"--api-key", key});
  auto good = run(*openai(options(s, key)), request("Learn ML"));
  REQUIRE_MESSAGE(good.result.ok(), good.result.error().message);

  const std::string wrong = "sk-wrong-9876543210";
  auto bad = run(*openai(options(s, wrong)), request("Learn ML"));
  REQUIRE_FALSE(bad.result.ok());
  CHECK(bad.result.error().code == gs::ErrorCode::unavailable);
  CHECK(bad.result.error().message ==
        "the model endpoint " + s.base_url() + " answered HTTP 401: Incorrect API key provided");
  auto none = run(*openai(options(s)), request("Learn ML"));
  REQUIRE_FALSE(none.result.ok());
  CHECK(contains(none.result.error().message, "HTTP 401"));
  CHECK(s.calls() == 3);
  for (const auto* o : {&good, &bad, &none}) {
    for (const auto& status : o->statuses) {
      CHECK_FALSE(contains(status, key));
      CHECK_FALSE(contains(status, wrong));
    }
  }
  CHECK_FALSE(contains(bad.result.error().message, wrong));
}

TEST_CASE("openai: an endpoint that is not there is an error naming the URL") {
  int port = 0;
  {
    StandIn s;  // a port that was free a moment ago and is closed now
    port = std::stoi(s.base_url().substr(s.base_url().rfind(':') + 1));
  }
  LlmOptions o;
  o.base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  o.model = "m";
  o.api_key = "sk-secret-key";
  o.timeout = 5s;
  auto out = run(*openai(o), request("Learn ML"));
  REQUIRE_FALSE(out.result.ok());
  CHECK(out.result.error().code == gs::ErrorCode::unavailable);
  CHECK(out.result.error().message ==
        "could not connect to the model endpoint " + o.base_url + ": Connection refused");
  CHECK_FALSE(contains(out.result.error().message, "sk-secret-key"));
}
