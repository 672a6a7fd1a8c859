// How an API write reaches the store: its command is produced to the
// commands topic, then awaited until the processor applied it (read your
// writes). Routes depend on this interface, not on the processor or the
// producer. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "kernel/kafka.h"

namespace gs::kernel {

class Processor;

class CommandBus {
 public:
  virtual ~CommandBus() = default;
  // Produces a serialized command of `tenant` (the message key) and waits for
  // Kafka's delivery report: the offset it got, or why not (and whether it
  // may be in the log all the same).
  virtual Delivery submit(const std::string& tenant, std::string_view payload) = 0;
  // Waits until the command at `offset` is applied and durable; false on
  // timeout or stop.
  virtual bool wait_applied(int64_t offset, std::chrono::milliseconds timeout) = 0;
  // Waits until every command on the topic when called is applied; false on
  // timeout or stop.
  virtual bool wait_caught_up(std::chrono::milliseconds timeout) = 0;
};

// The bus of one process: its producer, the commands topic, its processor.
class KafkaCommandBus final : public CommandBus {
 public:
  KafkaCommandBus(Producer& producer, std::string topic, Processor& processor)
      : producer_(producer), topic_(std::move(topic)), processor_(processor) {}
  Delivery submit(const std::string& tenant, std::string_view payload) override;
  bool wait_applied(int64_t offset, std::chrono::milliseconds timeout) override;
  bool wait_caught_up(std::chrono::milliseconds timeout) override;

 private:
  Producer& producer_;
  const std::string topic_;
  Processor& processor_;
};

}  // namespace gs::kernel
