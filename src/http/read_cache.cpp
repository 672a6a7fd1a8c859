#include "http/read_cache.h"

namespace gs::api {

bool ReadCache::reusable(const Response& res) {
  return res.result() == boost::beast::http::status::ok &&
         res[boost::beast::http::field::cache_control] != "no-store";
}

std::shared_ptr<const Response> ReadCache::kept_locked(const std::string& key,
                                                       uint64_t version) const {
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.version != version) return nullptr;
  return it->second.res;
}

std::optional<Response> ReadCache::find(const std::string& key, uint64_t version) const {
  std::shared_ptr<const Response> res;
  {
    std::lock_guard lock(mu_);
    res = kept_locked(key, version);
  }
  if (!res) return std::nullopt;
  return *res;  // copied outside the lock
}

Response ReadCache::share(const std::string& key, uint64_t version,
                          const std::function<Response()>& compute, bool* reused) {
  std::shared_ptr<Flight> flight;
  if (reused) *reused = true;
  {
    std::unique_lock lock(mu_);
    if (auto kept = kept_locked(key, version)) {
      lock.unlock();
      return *kept;
    }
    auto& f = flights_[key];
    if (f && f->version == version) {
      // Another request computes this answer: wait for it.
      auto joined = f;
      landed_.wait(lock, [&] { return joined->done; });
      if (joined->res) {
        auto kept = joined->res;
        lock.unlock();
        return *kept;
      }
    } else if (!f) {
      f = flight = std::make_shared<Flight>();
      flight->version = version;
    }
    // Else another version is being computed: compute this one alone.
  }
  if (reused) *reused = false;
  // Lands the flight (waking its waiters), with what may be reused.
  auto land = [&](std::shared_ptr<const Response> kept) {
    {
      std::lock_guard lock(mu_);
      flight->res = kept;
      flight->done = true;
      auto it = flights_.find(key);
      if (it != flights_.end() && it->second == flight) flights_.erase(it);
      if (kept) put_locked(key, version, std::move(kept));
    }
    landed_.notify_all();
  };
  std::optional<Response> res;
  try {
    res = compute();
  } catch (...) {
    if (flight) land(nullptr);  // the waiters compute their own
    throw;
  }
  std::shared_ptr<const Response> kept;
  if (reusable(*res)) kept = std::make_shared<const Response>(*res);
  if (flight) {
    land(std::move(kept));
  } else if (kept) {
    std::lock_guard lock(mu_);
    put_locked(key, version, kept);
  }
  return std::move(*res);
}

void ReadCache::put_locked(const std::string& key, uint64_t version,
                           std::shared_ptr<const Response> res) {
  size_t bytes = key.size() + res->body().size() + 512;  // with headers and bookkeeping
  if (bytes > max_bytes_ / 4) return;                    // one answer never takes the cache
  auto [it, added] = entries_.try_emplace(key);
  if (added) {
    order_.push_back(key);
  } else {
    if (it->second.version > version) return;  // a newer answer is kept already
    bytes_ -= it->second.bytes;
  }
  it->second = Entry{version, std::move(res), bytes};
  bytes_ += bytes;
  while (bytes_ > max_bytes_ && !order_.empty()) {
    auto old = entries_.find(order_.front());
    if (old != entries_.end()) {
      bytes_ -= old->second.bytes;
      entries_.erase(old);
    }
    order_.pop_front();
  }
}

size_t ReadCache::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

}  // namespace gs::api
