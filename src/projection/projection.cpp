#include "projection/projection.h"

#include <algorithm>
#include <cmath>

#include "base/keys.h"

namespace gs::projection {

bool Counter::counts(const model::Event& e) const {
  if (rule.since_ms && e.timestamp_ms < *rule.since_ms) return false;
  match::EventView view{e.type, e.url, e.properties};
  return matcher.matches(view);
}

bool valid_series(std::string_view series) {
  return series.empty() || series == "unique" || (series.starts_with("sum:") && series.size() > 4);
}

std::string counter_id(std::string_view rule_id, std::string_view series) {
  std::string t(rule_id);
  if (!series.empty()) t.append(1, '\x1f').append(series);
  return t;
}

std::pair<std::string_view, std::string_view> split_counter_id(std::string_view counter) {
  auto sep = counter.find('\x1f');
  if (sep == std::string_view::npos) return {counter, {}};
  return {counter.substr(0, sep), counter.substr(sep + 1)};
}

Result<std::shared_ptr<const Counter>> compile(CounterRule rule, const std::string& series) {
  if (!valid_series(series)) return invalid("series", "unknown series " + series);
  auto m = match::Matcher::compile(rule.event_type, rule.url_pattern, rule.conditions);
  if (!m.ok()) return m.error();
  Counter g{std::move(rule), std::move(m).value(), series, "", std::nullopt, series == "unique"};
  g.id = counter_id(g.rule.id, series);
  if (series.starts_with("sum:")) {
    auto path = match::PropertyPath::parse(series.substr(4));
    if (!path.ok()) return path.error();
    g.sum_path = std::move(path).value();
  }
  return std::make_shared<const Counter>(std::move(g));
}

std::string CounterIndex::key(std::string_view a, std::string_view b) { return keys::join(a, b); }

void CounterIndex::unlist(const CounterFamily* family, const Counter& base) {
  auto type_key = key(base.rule.tenant_id, base.rule.event_type);
  auto& list = by_type_[type_key];
  std::erase(list, family);
  if (list.empty()) by_type_.erase(type_key);
}

void CounterIndex::put(std::shared_ptr<const Counter> counter) {
  remove(counter->rule.tenant_id, counter->id);
  by_id_[key(counter->rule.tenant_id, counter->id)] = counter;
  auto& family = families_[key(counter->rule.tenant_id, counter->rule.id)];
  if (!counter->series.empty()) {
    family.series.push_back(std::move(counter));
    return;
  }
  by_type_[key(counter->rule.tenant_id, counter->rule.event_type)].push_back(&family);
  family.base = std::move(counter);
}

void CounterIndex::remove(std::string_view tenant, std::string_view id) {
  auto it = by_id_.find(key(tenant, id));
  if (it == by_id_.end()) return;
  const Counter* counter = it->second.get();
  auto fit = families_.find(key(tenant, counter->rule.id));
  if (fit != families_.end()) {
    CounterFamily& family = fit->second;
    if (counter->series.empty()) {
      unlist(&family, *counter);
      family.base.reset();
    } else {
      std::erase_if(family.series, [&](const auto& s) { return s.get() == counter; });
    }
    if (!family.base && family.series.empty()) families_.erase(fit);
  }
  by_id_.erase(it);
}

const Counter* CounterIndex::find(std::string_view tenant, std::string_view id) const {
  auto it = by_id_.find(key(tenant, id));
  return it == by_id_.end() ? nullptr : it->second.get();
}

const std::vector<const CounterFamily*>& CounterIndex::candidates(std::string_view tenant,
                                                                  std::string_view type) const {
  static const std::vector<const CounterFamily*> none;
  // One buffer per thread: this runs once per event on the hot path.
  thread_local std::string scratch;
  scratch.clear();
  keys::append_join(scratch, tenant, type);
  auto it = by_type_.find(scratch);
  return it == by_type_.end() ? none : it->second;
}

int64_t to_micros(double value) {
  if (std::isnan(value)) return 0;
  if (value > kMaxEventValue) value = kMaxEventValue;
  if (value < -kMaxEventValue) value = -kMaxEventValue;
  return std::llround(value * 1e6);
}

int64_t bucket_of(int64_t ts_ms) { return ts_ms / kBucketMs; }  // ts_ms >= 0 (validated)

void Aggregator::add_cell(std::string_view key, const Cell& delta) {
  auto it = cells_.find(std::string(key));
  if (it == cells_.end()) it = cells_.emplace(std::string(key), Cell{}).first;
  it->second.count += delta.count;
  it->second.sum_micros += delta.sum_micros;
  it->second.max_ts_ms = std::max(it->second.max_ts_ms, delta.max_ts_ms);
  it->second.tally |= delta.tally;
}

void Aggregator::add_tally(std::string_view cell_prefix, std::string_view outcome,
                           std::string_view breakdown, int64_t timestamp_ms, bool exact_time) {
  scratch_.assign(cell_prefix);
  scratch_.append(outcome).push_back('\x1f');
  scratch_.append(breakdown).push_back('\0');
  keys::append_be64(scratch_, exact_time ? timestamp_ms : bucket_of(timestamp_ms));
  auto it = cells_.find(scratch_);
  if (it == cells_.end()) it = cells_.emplace(scratch_, Cell{}).first;
  it->second.count += 1;
  it->second.max_ts_ms = std::max(it->second.max_ts_ms, timestamp_ms);
  it->second.tally = true;
}

void Aggregator::add(const Counter& counter, int64_t timestamp_ms, double value,
                     std::string_view subject) {
  scratch_.clear();
  keys::append_join(scratch_, counter.rule.tenant_id, counter.id);
  scratch_.push_back('\0');
  keys::append_be64(scratch_, bucket_of(timestamp_ms));
  auto it = cells_.find(scratch_);
  if (it == cells_.end()) it = cells_.emplace(scratch_, Cell{}).first;
  it->second.count += 1;
  it->second.sum_micros += to_micros(value);
  it->second.max_ts_ms = std::max(it->second.max_ts_ms, timestamp_ms);
  if (counter.unique && !subject.empty()) {
    scratch_.append(subject);
    presence_.insert(scratch_);
  }
}

}  // namespace gs::projection
