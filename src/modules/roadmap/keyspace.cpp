#include "modules/roadmap/keyspace.h"

#include <algorithm>

#include "base/keys.h"
#include "kernel/cells.h"
#include "projection/tally.h"

namespace gs::roadmap {

namespace {

constexpr const char* kWhat = "roadmap goal";

void digest_when_used(const storage::Rows& rows, storage::DigestSink& sink) {
  storage::digest_when_used("roadmap", rows, sink);
}

const storage::ColumnFamilySpec kColumnFamilies[] = {
    {"roadmap", storage::Tuning::plain, nullptr, 80, digest_when_used},
};

Result<RoadmapGoal> read_row(const storage::Store& s, std::string_view key,
                             std::string_view value) {
  auto nul = key.find('\0');
  auto j = json::parse(value, nullptr, false);
  if (nul == std::string_view::npos || !j.is_object())
    return s.unreadable(kWhat, key, "not a tenant key and a JSON object");
  auto g = goal_from_stored(j, std::string(key.substr(0, nul)));
  if (!g.ok()) return s.unreadable(kWhat, key, g.error().field + ": " + g.error().message);
  return g;
}

}  // namespace

std::span<const storage::ColumnFamilySpec> column_families() { return kColumnFamilies; }

void put_goal(storage::Batch& b, const RoadmapGoal& g) {
  b.put(b.store().cf("roadmap"), keys::join(g.tenant_id, g.id), stored_json(g).dump());
}

namespace {
std::string announced_key(const std::string& tenant, const std::string& goal_id) {
  return "rst/" + keys::join(tenant, goal_id);
}
}  // namespace

void delete_goal(storage::Batch& b, const std::string& tenant, const std::string& id) {
  b.del(b.store().cf("roadmap"), keys::join(tenant, id));
  cells::delete_counters(b, tenant, projection::tally_prefix(id));
  b.del(b.store().cf("meta"), announced_key(tenant, id));
}

void put_announced(storage::Batch& b, const std::string& tenant, const std::string& goal_id,
                   const json& state) {
  b.put(b.store().cf("meta"), announced_key(tenant, goal_id), state.dump());
}

Result<std::optional<json>> announced(const storage::Store& s, const std::string& tenant,
                                      const std::string& goal_id) {
  auto key = announced_key(tenant, goal_id);
  auto v = s.get(s.cf("meta"), key);
  if (!v.ok()) return v.error();
  if (!*v) return std::optional<json>();
  auto j = json::parse(**v, nullptr, false);
  if (!j.is_object()) return s.unreadable("announced roadmap goal", key, "not a JSON object");
  return std::optional<json>(std::move(j));
}

void add_signal(storage::Batch& b, const std::string& tenant, const std::string& goal_id,
                const std::string& node_id, Signal s, int64_t at_ms) {
  std::string key = keys::join(tenant, projection::tally_counter(goal_id, to_string(s), node_id));
  key.push_back('\0');
  keys::append_be64(key, at_ms);
  cells::merge_cell(b, key, projection::Cell{1, 0, at_ms, true});  // a tally's: no roll-ups
}

Result<std::optional<RoadmapGoal>> stored_goal(const storage::Store& s, const std::string& tenant,
                                               const std::string& id) {
  auto key = keys::join(tenant, id);
  auto v = s.get(s.cf("roadmap"), key);
  if (!v.ok()) return v.error();
  if (!*v) return std::optional<RoadmapGoal>();
  auto g = read_row(s, key, **v);
  if (!g.ok()) return g.error();
  return std::optional<RoadmapGoal>(std::move(g).value());
}

Result<std::vector<RoadmapGoal>> all_goals(const storage::Store& s) {
  return storage::collect<RoadmapGoal>(
      s, s.cf("roadmap"), "",
      [&](std::string_view key, std::string_view value) { return read_row(s, key, value); });
}

Result<std::vector<TimedSignal>> goal_signals(const storage::Store& s, const std::string& tenant,
                                              const std::string& goal_id) {
  std::vector<TimedSignal> out;
  std::optional<Error> bad;
  auto st = cells::each_cell(
      s, tenant, projection::tally_prefix(goal_id), 0, std::numeric_limits<int64_t>::max(),
      [&](std::string_view counter, int64_t at_ms, const projection::Cell& cell) {
        auto parts = projection::split_tally_counter(counter);
        auto signal = parts ? parse_signal(parts->outcome) : std::nullopt;
        if (!signal) {
          if (!bad)
            bad = Error{ErrorCode::internal, "data-dir",
                        "roadmap goal " + goal_id + " has a cell of unknown counter " +
                            std::string(counter)};
          return;
        }
        out.push_back({at_ms, std::string(parts->breakdown), *signal, cell.count});
      });
  if (!st.ok()) return st.error();
  if (bad) return *bad;
  return out;
}

void compose(RoadmapGoal& g, const std::vector<TimedSignal>& signals) {
  if (!g.roadmap) return;
  GoalSignals by_node;
  for (const auto& s : signals) by_node[s.node_id].add(s.signal, s.at_ms);
  int64_t last = roadmap::compose(*g.roadmap, by_node, g.node_since);
  g.updated_at_ms = std::max(g.updated_at_ms, last);
}

namespace {
Result<RoadmapGoal> composed(const storage::Store& s, RoadmapGoal g) {
  if (!g.roadmap) return g;
  auto signals = goal_signals(s, g.tenant_id, g.id);
  if (!signals.ok()) return signals.error();
  compose(g, *signals);
  return g;
}
}  // namespace

Result<std::optional<RoadmapGoal>> goal(const storage::Store& s, const std::string& tenant,
                                        const std::string& id) {
  auto g = stored_goal(s, tenant, id);
  if (!g.ok() || !*g) return g;
  auto c = composed(s, std::move(**g));
  if (!c.ok()) return c.error();
  return std::optional<RoadmapGoal>(std::move(c).value());
}

Result<std::vector<RoadmapGoal>> all_composed_goals(const storage::Store& s) {
  auto all = all_goals(s);
  if (!all.ok()) return all.error();
  for (auto& g : *all) {
    auto c = composed(s, std::move(g));
    if (!c.ok()) return c.error();
    g = std::move(c).value();
  }
  return all;
}

Result<std::vector<RoadmapGoal>> tenant_goals(const storage::Store& s, const std::string& tenant) {
  auto all = storage::collect<RoadmapGoal>(
      s, s.cf("roadmap"), tenant + '\0',
      [&](std::string_view key, std::string_view value) { return read_row(s, key, value); });
  if (!all.ok()) return all.error();
  std::vector<RoadmapGoal> out;
  out.reserve(all->size());
  for (auto& g : *all) {
    auto c = composed(s, std::move(g));
    if (!c.ok()) return c.error();
    out.push_back(std::move(c).value());
  }
  std::sort(out.begin(), out.end(), [](const RoadmapGoal& a, const RoadmapGoal& b) {
    return a.created_at_ms != b.created_at_ms ? a.created_at_ms < b.created_at_ms : a.id < b.id;
  });
  return out;
}

}  // namespace gs::roadmap
