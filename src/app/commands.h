// The `goalstream` commands, one file each; main.cpp parses the command line
// and calls one of them. Each returns the process's exit code; an error is
// printed with fail() (fail.h).
#pragma once

#include <string>

#include "common.h"

namespace gs::app {

struct ServeOptions {
  std::string data_dir = "./data";
  std::string listen = "127.0.0.1:8080";
  int workers = 8;  // writes and WebSocket upgrades
  int readers = 4;  // GET and HEAD
  int max_connections = 0;
  // Roadmap generation (WS /api/v1/ws/roadmap): "template" (built in) or
  // "openai" (an OpenAI-compatible chat endpoint, the llm_* options).
  std::string roadmap_generator = "template";
  std::string llm_base_url;
  std::string llm_model;
  std::string llm_api_key_env = "OPENAI_API_KEY";  // the variable holding the key
  double llm_timeout_s = 60;
  // Scale-out (docs/operations.md#several-instances): the events partitions
  // this instance owns ("" = all; "0,2,4", "0-2"), and its name among the
  // instances of one topic prefix (its transactional.id).
  std::string partitions;
  // Or: the Kafka consumer group whose members share the partitions.
  std::string group;
  std::string instance_id = "0";
};

// serve.cpp: the processor, the changes publisher and the HTTP API until
// SIGTERM/SIGINT or a fatal error.
int run_serve(const Common& c, const ServeOptions& o);
// keys.cpp: issues an API key through the commands topic; prints it once.
int run_keys_create(const Common& c, const std::string& tenant, const std::string& scopes_csv);
// rebuild.cpp: replays the input topics into an empty store (events and
// commands, or the deltas topic first with `from_deltas`); prints the digest.
int run_rebuild(const Common& c, const std::string& data_dir, bool from_deltas);
// digest.cpp: prints the digest of a store, opened read-only.
int run_digest(const std::string& data_dir);

}  // namespace gs::app
