#include "services.h"

#include <utility>

namespace gs::app {

Services::~Services() { stop(); }

void Services::add(std::string name, std::function<void()> stop,
                   std::function<std::optional<Error>()> failure) {
  services_.push_back({std::move(name), std::move(stop), std::move(failure)});
}

std::optional<Error> Services::failure() const {
  for (auto& s : services_)
    if (s.failure)
      if (auto e = s.failure()) return e;
  return std::nullopt;
}

void Services::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto it = services_.rbegin(); it != services_.rend(); ++it) it->stop();
}

}  // namespace gs::app
