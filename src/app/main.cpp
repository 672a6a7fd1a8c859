// The `goalstream` command line: serve, keys create, rebuild, digest, topics.
// This file is the CLI11 tree and its error messages only; each command is in
// a file of its own (commands.h). Every option also reads an environment
// variable (shown in --help).
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "common.h"
#include "fail.h"
#include "version.h"

namespace {

using gs::app::fail;

// The deepest subcommand the command line named ("goalstream keys create" ->
// keys create), for error messages.
const CLI::App* deepest(const CLI::App* app) {
  for (const CLI::App* sub : app->get_subcommands())
    if (sub->parsed()) return deepest(sub);
  return app;
}

std::string command_path(const CLI::App* app) {
  std::string path;
  for (const CLI::App* a = app; a; a = a->get_parent())
    path = (a->get_parent() ? a->get_name() : std::string("goalstream")) +
           (path.empty() ? "" : " " + path);
  return path;
}

std::string subcommand_names(const CLI::App* app) {
  std::string names;
  for (const CLI::App* sub : app->get_subcommands({}))
    names += (names.empty() ? "" : ", ") + sub->get_name();
  return names;
}

// CLI11's parse errors, said the way every other error of goalstream is:
// `goalstream: <field>: <message>`, exit 1.
int cli_error(const CLI::App& app, const CLI::ParseError& e) {
  const CLI::App* at = deepest(&app);
  std::string cmd = command_path(at), what = e.what();
  std::string help = " (see " + cmd + " --help)";
  auto after = [&](std::string_view marker) {
    return what.substr(what.find(marker) + marker.size());
  };
  if (dynamic_cast<const CLI::ExtrasError*>(&e)) {
    std::string arg = after(": ");
    arg = arg.substr(0, arg.find(' '));
    if (arg.starts_with("-")) return fail(arg + ": unknown option for " + cmd + help);
    if (!subcommand_names(at).empty())
      return fail(arg + ": unknown command; " + cmd + " has: " + subcommand_names(at) + help);
    return fail(arg + ": unexpected argument" + help);
  }
  if (dynamic_cast<const CLI::RequiredError*>(&e)) {
    if (what.starts_with("A subcommand")) {
      auto rest = at->remaining();
      if (!rest.empty() && !rest.front().starts_with("-"))
        return fail(rest.front() + ": unknown command; " + cmd + " has: " + subcommand_names(at) +
                    help);
      return fail("command: " + cmd + " needs one of: " + subcommand_names(at) + help);
    }
    if (auto is = what.find(" is required"); is != std::string::npos)
      return fail(what.substr(0, is) + ": is required" + help);
  }
  if (dynamic_cast<const CLI::ConversionError*>(&e)) {
    if (what.find(" is not an allowed value for ") != std::string::npos)
      return fail(after(" for ") + ": " + what.substr(0, what.find(" is not")) + " is not allowed" +
                  help);
    if (what.starts_with("Could not convert: ")) {
      auto rest = after("Could not convert: ");
      auto eq = rest.find(" = ");
      return fail(rest.substr(0, eq) + ": '" + rest.substr(eq + 3) + "' is not a valid value" +
                  help);
    }
  }
  if (dynamic_cast<const CLI::ArgumentMismatch*>(&e)) {
    if (what.starts_with("Expected "))
      return fail(after(" arguments to ").substr(0, after(" arguments to ").find(',')) +
                  ": needs a value" + help);
    if (what.ends_with(" missing"))
      return fail(what.substr(0, what.find(':')) + ": needs a value" + help);
  }
  // ValidationError and the rest already read "<option>: <message>".
  return fail(what + help);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace gs::app;
  CLI::App app{
      "goalstream: an event-sourced streaming processor for goal tracking.\n"
      "Consumes activity events from Kafka, matches them against conversion goals,\n"
      "keeps progress in RocksDB and serves it over HTTP."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("goalstream ") + kGoalstreamVersion);
  // One Common per command: CLI11 applies the environment variables of every
  // command's options, also of commands not given, after the command line;
  // bound to one shared variable, GOALSTREAM_BROKERS then overrode the
  // --brokers given to serve.
  Common serve_c, keys_c, rebuild_c, digest_c, topics_c;

  auto* serve = app.add_subcommand(
      "serve", "Run the processor and the HTTP API in one process (SIGTERM drains and exits)");
  ServeOptions so;
  add_common(serve, serve_c);
  add_topics_file(serve, serve_c);
  serve->add_option("--data-dir", so.data_dir, "RocksDB directory of the projections")
      ->envname("GOALSTREAM_DATA_DIR")
      ->capture_default_str();
  serve->add_option("--listen", so.listen, "HTTP address host:port")
      ->envname("GOALSTREAM_LISTEN")
      ->capture_default_str();
  add_thresholds(serve, serve_c);
  add_dedup_horizon(serve, serve_c);
  serve
      ->add_option("--http-workers", so.workers,
                   "Threads that run writes (POST, PATCH, PUT, DELETE; each waits until its "
                   "command is applied) and WebSocket upgrades")
      ->envname("GOALSTREAM_HTTP_WORKERS")
      ->capture_default_str();
  serve
      ->add_option("--http-readers", so.readers,
                   "Threads that run reads (GET, HEAD), apart from the writes, so that a read "
                   "never waits behind a write")
      ->envname("GOALSTREAM_HTTP_READERS")
      ->capture_default_str();
  serve
      ->add_option("--max-connections", so.max_connections,
                   "Open HTTP connections at most; beyond, new ones are answered 503 and closed "
                   "(0: the open files limit minus 640, at most 10000)")
      ->envname("GOALSTREAM_MAX_CONNECTIONS")
      ->capture_default_str();
  serve
      ->add_option("--partitions", so.partitions,
                   "Events partitions this instance owns: ingests, deadletters and produces "
                   "their records to the deltas topic (\"0,2,4\", \"0-2\"; default: all). "
                   "The other partitions are folded from the deltas topic, as the instances "
                   "that own them produce it")
      ->envname("GOALSTREAM_PARTITIONS");
  serve
      ->add_option("--group", so.group,
                   "Share the events partitions with the other serve instances of this Kafka "
                   "consumer group (cooperative rebalancing: instances join and leave, and the "
                   "others take over a failed one's partitions); instead of --partitions")
      ->envname("GOALSTREAM_GROUP");
  serve
      ->add_option("--instance-id", so.instance_id,
                   "This instance's name among the serve instances of one topic prefix "
                   "(letters, digits, . _ -): its transactional.id is <prefix>ingest.<id>; "
                   "keep it across restarts, and give every instance its own")
      ->envname("GOALSTREAM_INSTANCE_ID")
      ->capture_default_str();
  serve
      ->add_option("--roadmap-generator", so.roadmap_generator,
                   "What writes roadmaps on WS /api/v1/ws/roadmap: template (built in, "
                   "deterministic, says it is not an AI) or openai (an OpenAI-compatible chat "
                   "endpoint: --llm-base-url, --llm-model)")
      ->check(CLI::IsMember({"template", "openai"}))
      ->envname("GOALSTREAM_ROADMAP_GENERATOR")
      ->capture_default_str();
  serve
      ->add_option("--llm-base-url", so.llm_base_url,
                   "With --roadmap-generator openai: the endpoint's base URL, e.g. "
                   "http://127.0.0.1:8000/v1 (POST <url>/chat/completions)")
      ->envname("GOALSTREAM_LLM_BASE_URL");
  serve->add_option("--llm-model", so.llm_model, "With --roadmap-generator openai: the model name")
      ->envname("GOALSTREAM_LLM_MODEL");
  serve
      ->add_option("--llm-api-key-env", so.llm_api_key_env,
                   "Environment variable holding the endpoint's API key (sent as a Bearer "
                   "token; unset or empty: none sent). The key itself is never an option")
      ->envname("GOALSTREAM_LLM_API_KEY_ENV")
      ->capture_default_str();
  serve
      ->add_option("--llm-timeout", so.llm_timeout_s,
                   "Seconds one generation may take, connect to last byte")
      ->envname("GOALSTREAM_LLM_TIMEOUT")
      ->capture_default_str();

  auto* keys = app.add_subcommand("keys", "Manage API keys");
  keys->require_subcommand(1);
  auto* keys_create = keys->add_subcommand(
      "create",
      "Issue an API key (printed once, last line of stdout); stored hashed via the commands topic");
  std::string tenant, scopes = "goals:read,goals:write";
  add_common(keys_create, keys_c);
  add_topics_file(keys_create, keys_c);
  keys_create->add_option("--tenant", tenant, "Tenant (project) the key belongs to")
      ->envname("GOALSTREAM_TENANT")
      ->required();
  keys_create->add_option("--scopes", scopes, "Comma-separated scopes: goals:read, goals:write")
      ->envname("GOALSTREAM_SCOPES")
      ->capture_default_str();

  auto* rebuild = app.add_subcommand("rebuild",
                                     "Replay the input topics from the beginning into an empty "
                                     "store; prints the digest when caught up");
  std::string rebuild_dir, rebuild_from = "events";
  add_common(rebuild, rebuild_c);
  add_thresholds(rebuild, rebuild_c);
  add_dedup_horizon(rebuild, rebuild_c);
  rebuild->add_option("--data-dir", rebuild_dir, "New, empty RocksDB directory")
      ->envname("GOALSTREAM_REBUILD_DIR")
      ->required();
  rebuild
      ->add_option("--from", rebuild_from,
                   "events: ingest the events topic again (parse, dedup, match); deltas: fold "
                   "the deltas topic serve produced (what ingest made of the events), then "
                   "ingest only the events after it. Both give the live digest")
      ->check(CLI::Validator(
          [](std::string& v) {
            return v == "events" || v == "deltas" ? std::string()
                                                  : "'" + v + "' is not one of events, deltas";
          },
          "events|deltas"))
      ->capture_default_str();

  auto* digest = app.add_subcommand(
      "digest",
      "Print one SHA-256 digest of all projection state (independent of RocksDB's file layout)");
  std::string digest_dir = "./data";
  digest
      ->add_option("--data-dir", digest_dir,
                   "RocksDB directory (opened read-only; serve may keep running)")
      ->envname("GOALSTREAM_DATA_DIR")
      ->capture_default_str();
  add_common(digest, digest_c);  // accepted like the other commands' (docs/operations.md), not used

  auto* topics =
      app.add_subcommand("topics", "Manage the Kafka topics declared in topics/topics.json");
  topics->require_subcommand(1);
  auto* topics_ensure = topics->add_subcommand(
      "ensure",
      "Create missing topics; report (and exit 1 on) topics whose partitions or configs differ");
  add_common(topics_ensure, topics_c);
  add_topics_file(topics_ensure, topics_c);

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --help-all, --version: printed, exit 0
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return cli_error(app, e);
  }

  if (*serve) return run_serve(serve_c, so);
  if (*keys_create) return run_keys_create(keys_c, tenant, scopes);
  if (*rebuild) return run_rebuild(rebuild_c, rebuild_dir, rebuild_from == "deltas");
  if (*digest) return run_digest(digest_dir);
  if (*topics_ensure) return ensure_topics(topics_c, true, false) ? 0 : 1;
  return 1;
}
