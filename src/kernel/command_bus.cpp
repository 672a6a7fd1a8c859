#include "kernel/command_bus.h"

#include "kernel/processor.h"

namespace gs::kernel {

Delivery KafkaCommandBus::submit(const std::string& tenant, std::string_view payload) {
  return producer_.produce_wait(topic_, tenant, payload);
}

bool KafkaCommandBus::wait_applied(int64_t offset, std::chrono::milliseconds timeout) {
  return processor_.wait_applied(offset, timeout);
}

bool KafkaCommandBus::wait_caught_up(std::chrono::milliseconds timeout) {
  return processor_.wait_commands_caught_up(timeout);
}

}  // namespace gs::kernel
