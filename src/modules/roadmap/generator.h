// Roadmap generators (design.md §8): what turns a goal's title into a
// roadmap. The built-in template generator (the default) is deterministic
// and says in the roadmap and its statuses that it is a template, not an AI;
// the OpenAI-compatible generator asks a chat endpoint the operator
// configures (POST {base_url}/chat/completions, streamed) and checks its
// answer with roadmap_from_json. Generation is an external call: its result
// enters state only through the roadmap.generated command (invariant 9), so
// nothing here touches Kafka or RocksDB, and no replay calls a generator.
//
// Threads: generate() blocks its caller (the WebSocket's worker), calls
// Progress on that thread, and keeps all its state on the stack, so one
// Generator may serve concurrent generate() calls.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "modules/roadmap/graph.h"

namespace gs::roadmap {

struct GenerationRequest {
  std::string goal_id;
  std::string title;
  std::optional<std::string> description;
  std::optional<std::string> target_date;
};

// Takes a status line for the user ("Receiving the roadmap from llama3:
// 1200 characters"), which never holds a key. Called on the generating
// thread; must not throw. May be empty.
using Progress = std::function<void(std::string status)>;

class Generator {
 public:
  virtual ~Generator() = default;
  // "template" or "openai:<model>": what made a roadmap, for logs.
  virtual std::string_view name() const = 0;
  // Blocking. A validated, laid-out roadmap (roadmap_from_json), or an
  // Error a user can read: code unavailable when the endpoint could not be
  // reached, timed out or answered another status than 200 (the message
  // names the URL and the status and the endpoint's error.message, never
  // the key); code invalid when its answer is not a roadmap ("the model's
  // answer is not a roadmap: roadmap.edges[2]: edge edge_3 (node_3 ->
  // node_1) closes a cycle: ...", field "roadmap.edges[2]").
  virtual Result<Roadmap> generate(const GenerationRequest& request, const Progress& progress) = 0;
};

// The built-in generator: 9 generic milestones derived from the title, in
// two parallel branches that join twice; each node's details begin with
// kTemplateNotice. The same request always gives the same roadmap. Errors
// only for a title that is not valid UTF-8 (field "title").
std::unique_ptr<Generator> template_generator();
inline constexpr std::string_view kTemplateNotice =
    "Template roadmap from goalstream's built-in generator, not written by an AI.";

// An OpenAI-compatible chat endpoint (OpenAI, vLLM, llama.cpp's server,
// Ollama's /v1, ...).
struct LlmOptions {
  std::string base_url;  // http(s)://host[:port][/path], e.g. http://127.0.0.1:8000/v1
  std::string model;
  std::string api_key;                       // sent as "Authorization: Bearer <key>" when not empty
  std::chrono::milliseconds timeout{60000};  // the whole call: connect to the last byte
  size_t max_answer_bytes = 256 * 1024;      // the answer's content, not the SSE framing
};

// `o` with base_url normalised (no trailing '/'), or an Error naming the
// option (field "base_url", "model", "api_key", "timeout",
// "max_answer_bytes"): base_url is http:// or https://, a host (name, IPv4
// or [IPv6]), an optional port 1-65535 and an optional path, without user
// info, query or fragment; model is 1 to 200 printable ASCII characters
// without spaces ("Qwen/Qwen2.5-7B-Instruct"); so is the key, or empty; timeout and
// max_answer_bytes are positive (max_answer_bytes at most 16 MiB).
Result<LlmOptions> check_llm_options(LlmOptions o);

// A generator behind the endpoint `o` names (checked by check_llm_options).
// https:// verifies the peer against the system's default CA paths and
// sends SNI.
Result<std::unique_ptr<Generator>> openai_generator(LlmOptions o);

// The system prompt sent to the endpoint: the exact JSON shape wanted and
// graph.h's limits.
std::string system_prompt();

// The roadmap inside a model's answer: the first JSON object in `content`
// that has "nodes" (or a "roadmap" member that has them), ```json fences
// and prose around it tolerated, read by roadmap_from_json(j, "roadmap").
// Errors (code invalid) begin "the model's answer is not a roadmap: ".
Result<Roadmap> roadmap_from_answer(std::string_view content);

}  // namespace gs::roadmap
