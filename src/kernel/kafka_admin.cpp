// Topic admin: topics/topics.json, creating what is missing and comparing
// what exists with it.
#include "kernel/kafka.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

namespace gs::kernel {
namespace {

Error unavailable(std::string msg) { return Error{ErrorCode::unavailable, "", std::move(msg)}; }

}  // namespace

Result<std::vector<TopicSpec>> load_topic_specs(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error{ErrorCode::not_found, "topics-file", "cannot read " + path};
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.contains("topics") || !j["topics"].is_array())
    return Error{ErrorCode::invalid, "topics-file", path + ": expected {\"topics\": [...]}"};
  std::vector<TopicSpec> out;
  for (auto& t : j["topics"]) {
    TopicSpec s;
    if (!t.contains("name") || !t["name"].is_string() || !t.contains("partitions") ||
        !t["partitions"].is_number_integer())
      return Error{ErrorCode::invalid, "topics-file",
                   path + ": each topic needs name and partitions"};
    s.name = t["name"];
    s.partitions = t["partitions"];
    if (t.contains("configs"))
      for (auto& [k, v] : t["configs"].items()) s.configs[k] = v.get<std::string>();
    out.push_back(std::move(s));
  }
  return out;
}

namespace {

// Waits for the result event of one admin request (null on timeout).
KafkaEvent wait_admin(rd_kafka_queue_t* q, rd_kafka_event_type_t type, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    KafkaEvent ev(rd_kafka_queue_poll(q, 500));
    if (ev && rd_kafka_event_type(ev.get()) == type) return ev;
  }
  return nullptr;
}

}  // namespace

Status ensure_topics(const KafkaOptions& opts, const std::vector<TopicSpec>& specs,
                     int replication_factor, std::vector<std::string>& report) {
  auto client = make_client(RD_KAFKA_PRODUCER, opts, {});
  if (!client.ok()) return client.error();
  rd_kafka_t* rk = client->get();
  char errstr[512];
  bool differs = false;
  // Declared after `client`, so destroyed before it.
  KafkaQueue q(rd_kafka_queue_new(rk));

  // 1. Create what is missing (an existing topic answers TOPIC_ALREADY_EXISTS).
  std::map<std::string, std::string> created;
  {
    std::vector<NewTopic> news;
    std::vector<rd_kafka_NewTopic_t*> raw;  // the same, for the call
    for (auto& s : specs) {
      NewTopic nt(rd_kafka_NewTopic_new((opts.topic_prefix + s.name).c_str(), s.partitions,
                                        replication_factor, errstr, sizeof errstr));
      if (!nt) return Error{ErrorCode::invalid, s.name, errstr};
      for (auto& [k, v] : s.configs) rd_kafka_NewTopic_set_config(nt.get(), k.c_str(), v.c_str());
      raw.push_back(nt.get());
      news.push_back(std::move(nt));
    }
    rd_kafka_CreateTopics(rk, raw.data(), raw.size(), nullptr, q.get());
  }
  KafkaEvent ev = wait_admin(q.get(), RD_KAFKA_EVENT_CREATETOPICS_RESULT, 30000);
  if (!ev) return unavailable("timed out creating topics on " + opts.brokers);
  if (rd_kafka_event_error(ev.get()))
    return unavailable(std::string("creating topics failed: ") +
                       rd_kafka_event_error_string(ev.get()));
  size_t cnt = 0;
  const rd_kafka_topic_result_t** res =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev.get()), &cnt);
  for (size_t i = 0; i < cnt; ++i) {
    auto err = rd_kafka_topic_result_error(res[i]);
    std::string name = rd_kafka_topic_result_name(res[i]);
    if (!err)
      created[name] = "created";
    else if (err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      created[name] = std::string("error: ") + (rd_kafka_topic_result_error_string(res[i])
                                                    ? rd_kafka_topic_result_error_string(res[i])
                                                    : rd_kafka_err2str(err));
      differs = true;
    }
  }
  ev.reset();
  // Created is not yet visible: a client that asks the broker's metadata
  // right after (serve started next) may not find the topic. Wait until it
  // does, so that what `topics ensure` reports created can be used.
  auto visible_by = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (auto& [name, what] : created) {
    if (what != "created") continue;
    while (!partition_count(rk, name, 2000).ok() && std::chrono::steady_clock::now() < visible_by)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  // 2. Compare partitions and configs of each topic with its declaration.
  for (auto& s : specs) {
    std::string name = opts.topic_prefix + s.name;
    if (created.count(name)) {
      report.push_back(name + ": " + created[name]);
      continue;
    }
    std::vector<std::string> diffs;
    auto parts = partition_count(rk, name);
    if (!parts.ok())
      diffs.push_back(parts.error().message);
    else if (*parts != s.partitions)
      diffs.push_back("partitions " + std::to_string(*parts) + " (declared " +
                      std::to_string(s.partitions) + ")");
    {
      ConfigResource cr(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name.c_str()));
      rd_kafka_ConfigResource_t* raw = cr.get();
      rd_kafka_DescribeConfigs(rk, &raw, 1, nullptr, q.get());
    }
    KafkaEvent dev = wait_admin(q.get(), RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT, 30000);
    if (!dev) {
      diffs.push_back("timed out describing configs");
    } else {
      size_t rc = 0;
      const rd_kafka_ConfigResource_t** rs = rd_kafka_DescribeConfigs_result_resources(
          rd_kafka_event_DescribeConfigs_result(dev.get()), &rc);
      std::map<std::string, std::string> actual;
      for (size_t i = 0; i < rc; ++i) {
        size_t ec = 0;
        const rd_kafka_ConfigEntry_t** es = rd_kafka_ConfigResource_configs(rs[i], &ec);
        for (size_t k = 0; k < ec; ++k) {
          const char* v = rd_kafka_ConfigEntry_value(es[k]);
          actual[rd_kafka_ConfigEntry_name(es[k])] = v ? v : "";
        }
      }
      for (auto& [k, v] : s.configs)
        if (actual[k] != v) diffs.push_back(k + "=" + actual[k] + " (declared " + v + ")");
    }
    if (diffs.empty()) {
      report.push_back(name + ": ok");
    } else {
      differs = true;
      std::string line = name + ": DIFFERS:";
      for (auto& d : diffs) line += " " + d + ";";
      report.push_back(line);
    }
  }
  if (differs) return Error{ErrorCode::conflict, "", "some topics differ from topics/topics.json"};
  return {};
}

std::string default_topics_file() {
  if (const char* p = std::getenv("GOALSTREAM_TOPICS_FILE")) return p;
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  for (fs::path dir = exe.parent_path(); !dir.empty() && dir != dir.root_path();
       dir = dir.parent_path())
    if (fs::exists(dir / "topics" / "topics.json"))
      return (dir / "topics" / "topics.json").string();
  if (fs::exists("topics/topics.json")) return "topics/topics.json";
  return "/usr/local/share/goalstream/topics.json";
}

}  // namespace gs::kernel
