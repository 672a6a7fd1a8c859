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
  int workers = 8;
  int max_connections = 0;
};

// serve.cpp: the processor, the changes publisher and the HTTP API until
// SIGTERM/SIGINT or a fatal error.
int run_serve(const Common& c, const ServeOptions& o);
// keys.cpp: issues an API key through the commands topic; prints it once.
int run_keys_create(const Common& c, const std::string& tenant, const std::string& scopes_csv);
// rebuild.cpp: replays both input topics into an empty store; prints the digest.
int run_rebuild(const Common& c, const std::string& data_dir);
// digest.cpp: prints the digest of a store, opened read-only.
int run_digest(const std::string& data_dir);

}  // namespace gs::app
