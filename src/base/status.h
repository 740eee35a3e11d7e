// Status and Result<T>: how dropgate reports expected failures.
//
// Expected failures (bad input, missing things, refusals) are values; our own
// broken invariants are DG_ASSERT failures (see assert.h). A Status is turned
// into an RFC 9457 problem or a CLI message in exactly one place per surface.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace dg {

// Frozen: codes are mapped to HTTP statuses and CLI exit codes.
enum class Code {
  ok = 0,
  not_found,
  invalid_argument,
  unauthorized,
  forbidden,
  conflict,
  limit_exceeded,
  corruption,
  unavailable,
  io_error,
  // Input larger than its limit (a body, a field, a list): HTTP 413. Not
  // limit_exceeded, which is a quota or rate (HTTP 429) and says "try later".
  too_large,
};

std::string_view code_name(Code code);

// A problem type: why a request was refused, as clients branch on it
// ("sold-out" in https://dropgate.dev/problems/sold-out), with the HTTP status
// and title it is always sent with. Every type is defined once, in
// base/problem_types.h, and documented in docs/api/problems.md; a Status that
// names one keeps a pointer to that definition, so a type cannot be misspelt.
struct ProblemType {
  std::string_view name;   // "sold-out"
  Code code;               // what the failure is to code that is not HTTP (the CLI, retries)
  unsigned http_status;    // 409
  std::string_view title;  // "Sold out"
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  // A refusal with a problem type: its code is the type's. `message` is the
  // detail for people.
  Status(const ProblemType& type, std::string message)
      : code_(type.code), message_(std::move(message)), type_(&type) {}

  static Status ok_status() { return Status(); }

  bool ok() const { return code_ == Code::ok; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "<code>: <message>", for logs and the CLI.
  std::string to_string() const;

  // Prefixes the message with context, keeping the code, problem type and
  // retry hint: "reading x: <message>".
  Status with_context(std::string_view context) const;

  // The problem type this failure was given, or null: then the HTTP surface
  // uses the generic type of its code.
  const ProblemType* type() const { return type_; }
  // Seconds after which a retry may succeed (HTTP Retry-After); 0: no hint.
  uint32_t retry_after_s() const { return retry_after_s_; }
  Status with_retry_after(uint32_t seconds) && {
    retry_after_s_ = seconds;
    return std::move(*this);
  }

 private:
  Code code_ = Code::ok;
  std::string message_;
  const ProblemType* type_ = nullptr;
  uint32_t retry_after_s_ = 0;
};

// A value or the Status saying why there is none. [[nodiscard]]: a Result
// dropped unread is a failure ignored (g++ 12's std::expected is not marked
// so itself). Where a failure may really be ignored, say why at the call:
// `std::ignore = f(); // why`.
template <typename T>
class [[nodiscard]] Result : public std::expected<T, Status> {
 public:
  using std::expected<T, Status>::expected;
  Result(std::expected<T, Status> other) : std::expected<T, Status>(std::move(other)) {}
};

// `return dg::error(Code::not_found, "no such drop");` in a function returning Result<T>.
inline std::unexpected<Status> error(Code code, std::string message) {
  return std::unexpected<Status>(Status(code, std::move(message)));
}
inline std::unexpected<Status> error(const ProblemType& type, std::string message) {
  return std::unexpected<Status>(Status(type, std::move(message)));
}
inline std::unexpected<Status> error(Status status) {
  return std::unexpected<Status>(std::move(status));
}

}  // namespace dg

// Propagates a failed Status or Result from an expression returning Status.
#define DG_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::dg::Status dg_status_ = (expr);        \
    if (!dg_status_.ok()) return dg_status_; \
  } while (0)

// The same, from a function returning Result<T>.
#define DG_RETURN_IF_ERROR_RESULT(expr)                   \
  do {                                                    \
    ::dg::Status dg_status_ = (expr);                     \
    if (!dg_status_.ok()) return ::dg::error(dg_status_); \
  } while (0)
