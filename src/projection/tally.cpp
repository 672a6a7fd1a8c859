#include "projection/tally.h"

#include "base/keys.h"

namespace gs::projection {

std::string tally_counter(std::string_view name, std::string_view outcome,
                          std::string_view breakdown) {
  std::string c;
  c.reserve(name.size() + outcome.size() + breakdown.size() + 2);
  c.append(name).push_back('\x1f');
  c.append(outcome).push_back('\x1f');
  c.append(breakdown);
  return c;
}

std::optional<TallyCounter> split_tally_counter(std::string_view counter) {
  auto a = counter.find('\x1f');
  if (a == std::string_view::npos) return std::nullopt;
  auto b = counter.find('\x1f', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  return TallyCounter{counter.substr(0, a), counter.substr(a + 1, b - a - 1),
                      counter.substr(b + 1)};
}

std::string tally_prefix(std::string_view name) {
  std::string p(name);
  p.push_back('\x1f');
  return p;
}

void TallyIndex::add(std::string_view tenant, std::string_view name) {
  auto key = keys::join(tenant, name);
  entries_.try_emplace(key, Entry{key + '\x1f'});
}

void TallyIndex::remove(std::string_view tenant, std::string_view name) {
  entries_.erase(keys::join(tenant, name));
}

const TallyIndex::Entry* TallyIndex::find(std::string_view tenant, std::string_view name,
                                          std::string& scratch) const {
  scratch.clear();
  keys::append_join(scratch, tenant, name);
  auto it = entries_.find(scratch);
  return it == entries_.end() ? nullptr : &it->second;
}

std::string_view collect_tallies(const TallyRule& rule, const TallyIndex& index,
                                 const model::Event& e, std::string& scratch,
                                 std::vector<TallyItem>& out) {
  if (index.empty() || e.type != rule.event_type) return {};
  simdjson::dom::array list;
  if (e.root[rule.list].get_array().get(list) != simdjson::SUCCESS) return {};
  for (simdjson::dom::element item : list) {
    std::string_view name;
    if (item[rule.name].get_string().get(name) != simdjson::SUCCESS) continue;
    const TallyIndex::Entry* entry = index.find(e.tenant_id, name, scratch);
    if (!entry) continue;
    std::optional<uint8_t> outcome;
    std::string_view said;
    bool flag;
    if (!rule.outcome.empty() && item[rule.outcome].get_string().get(said) == simdjson::SUCCESS) {
      for (size_t i = 0; i < rule.outcomes.size(); ++i)
        if (rule.outcomes[i] == said) outcome = static_cast<uint8_t>(i);
    } else if (!rule.flag.empty() && item[rule.flag].get_bool().get(flag) == simdjson::SUCCESS) {
      outcome = flag ? 0 : 1;
    }
    if (outcome) out.push_back({entry, *outcome});
  }
  std::string_view breakdown;
  if (!rule.breakdown.empty() &&
      e.root[rule.breakdown].get_string().get(breakdown) != simdjson::SUCCESS)
    breakdown = {};
  return breakdown;
}

}  // namespace gs::projection
