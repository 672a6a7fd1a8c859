#include "projection/tally.h"

#include <algorithm>

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

TallyNotice unknown_entry_notice(const TallyRule& rule, std::string_view name) {
  return {std::string(rule.name),
          "no " + std::string(rule.entry_what) + " " + std::string(name) + " of this tenant"};
}

TallyNotice undeclared_breakdown_notice(const TallyRule& rule, std::string_view name,
                                        std::string_view breakdown) {
  return {std::string(rule.breakdown), std::string(rule.entry_what) + " " + std::string(name) +
                                           " has no " + std::string(rule.breakdown_what) + " " +
                                           std::string(breakdown)};
}

bool TallyIndex::Entry::declares(std::string_view breakdown) const {
  return !declared || std::binary_search(breakdowns.begin(), breakdowns.end(), breakdown);
}

void TallyIndex::add(std::string_view tenant, std::string_view name) {
  auto key = keys::join(tenant, name);
  Entry e;
  e.cell_prefix = key + '\x1f';
  entries_.try_emplace(key, std::move(e));
}

void TallyIndex::remove(std::string_view tenant, std::string_view name) {
  entries_.erase(keys::join(tenant, name));
}

void TallyIndex::declare(std::string_view tenant, std::string_view name,
                         std::vector<std::string> values) {
  auto it = entries_.find(keys::join(tenant, name));
  if (it == entries_.end()) return;
  std::sort(values.begin(), values.end());
  it->second.declared = true;
  it->second.breakdowns = std::move(values);
}

const TallyIndex::Entry* TallyIndex::find(std::string_view tenant, std::string_view name,
                                          std::string& scratch) const {
  scratch.clear();
  keys::append_join(scratch, tenant, name);
  auto it = entries_.find(scratch);
  return it == entries_.end() ? nullptr : &it->second;
}

namespace {

// The outcome `item` (an element or an object) reports under `rule`, if it
// reports one.
template <class Item>
std::optional<uint8_t> outcome_of(const TallyRule& rule, Item item) {
  if (rule.outcome.empty() && rule.flag.empty()) return 0;
  std::string_view said;
  bool flag;
  if (!rule.outcome.empty() && item[rule.outcome].get_string().get(said) == simdjson::SUCCESS) {
    for (size_t i = 0; i < rule.outcomes.size(); ++i)
      if (rule.outcomes[i] == said) return static_cast<uint8_t>(i);
    return std::nullopt;
  }
  if (!rule.flag.empty() && item[rule.flag].get_bool().get(flag) == simdjson::SUCCESS)
    return flag ? 0 : 1;
  return std::nullopt;
}

template <class Item>
void collect_item(const TallyRule& rule, const TallyIndex& index, const model::Event& e, Item item,
                  std::string& scratch, std::vector<TallyItem>& out) {
  std::string_view name;
  if (item[rule.name].get_string().get(name) != simdjson::SUCCESS) return;
  const TallyIndex::Entry* entry = index.find(e.tenant_id, name, scratch);
  if (!entry && !rule.notice) return;
  if (auto outcome = outcome_of(rule, item)) out.push_back({entry, *outcome, name});
}

}  // namespace

std::string_view collect_tallies(const TallyRule& rule, const TallyIndex& index,
                                 const model::Event& e, std::string& scratch,
                                 std::vector<TallyItem>& out) {
  if ((index.empty() && !rule.notice) || e.type != rule.event_type) return {};
  if (rule.list.empty()) {
    collect_item(rule, index, e, e.root, scratch, out);
  } else {
    simdjson::dom::array list;
    if (e.root[rule.list].get_array().get(list) != simdjson::SUCCESS) return {};
    for (simdjson::dom::element item : list) collect_item(rule, index, e, item, scratch, out);
  }
  std::string_view breakdown;
  if (!rule.breakdown.empty() &&
      e.root[rule.breakdown].get_string().get(breakdown) != simdjson::SUCCESS)
    breakdown = {};
  return breakdown;
}

}  // namespace gs::projection
