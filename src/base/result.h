// Result and error types for expected failures (bad input, not found, conflict,
// timeout). Exceptions are reserved for start-up failures and bugs.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace gs {

enum class ErrorCode {
  invalid,       // bad input: 400/422, deadletter
  not_found,     // 404
  unauthorized,  // 401
  forbidden,     // 403
  conflict,      // 409
  unavailable,   // 503: a dependency (Kafka, the processor) did not answer in time
  internal,      // 500: a bug or an I/O failure
};

// One error: a machine-readable code, the field it concerns (dotted path such
// as "conditions.plan.regex"; empty when not about one field) and a sentence
// for humans.
struct Error {
  ErrorCode code = ErrorCode::invalid;
  std::string field;
  std::string message;
};

inline Error invalid(std::string field, std::string message) {
  return Error{ErrorCode::invalid, std::move(field), std::move(message)};
}

// Either a value or an Error. Cheap to move; not thread-safe to share mutably.
template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return std::get<0>(v_); }
  const T& operator*() const& { return std::get<0>(v_); }
  const Error& error() const { return std::get<1>(v_); }
  // The value, or `fallback` when this holds an Error.
  T value_or(T fallback) const& { return ok() ? std::get<0>(v_) : std::move(fallback); }

 private:
  std::variant<T, Error> v_;
};

// Result for operations with nothing to return.
class Status {
 public:
  Status() = default;
  Status(Error e) : e_(std::move(e)) {}
  bool ok() const { return !e_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *e_; }

 private:
  std::optional<Error> e_;
};

}  // namespace gs
