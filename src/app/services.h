// The services `serve` runs, in the order they were added, so that every way
// out (a start error, a fatal failure a running service reports,
// SIGTERM/SIGINT) stops them the same way: in reverse order, once.
//
// Not thread-safe: owned by the thread that starts the services (main).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace gs::app {

class Services {
 public:
  Services() = default;
  Services(const Services&) = delete;
  Services& operator=(const Services&) = delete;
  // Stops whatever was not stopped yet; the objects the stop functions refer
  // to must outlive this.
  ~Services();

  // Adds a service, to be stopped before every service added earlier.
  // `failure`, if given, reports a fatal error the service met while
  // running (polled by failure()).
  void add(std::string name, std::function<void()> stop,
           std::function<std::optional<Error>()> failure = {});

  // The first fatal error a service reports, in the order they were added.
  std::optional<Error> failure() const;

  // Stops every service, last added first; later calls do nothing.
  void stop();

 private:
  struct Service {
    std::string name;  // for a reader and a debugger: "processor", "http server"
    std::function<void()> stop;
    std::function<std::optional<Error>()> failure;
  };
  std::vector<Service> services_;
  bool stopped_ = false;
};

}  // namespace gs::app
