// Status and Result<T>: how dropgate reports expected failures.
//
// Expected failures (bad input, missing things, refusals) are values; our own
// broken invariants are DG_ASSERT failures (see assert.h). A Status is turned
// into an RFC 9457 problem or a CLI message in exactly one place per surface.
#pragma once

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

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok_status() { return Status(); }

  bool ok() const { return code_ == Code::ok; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "<code>: <message>", for logs and the CLI.
  std::string to_string() const;

  // Prefixes the message with context, keeping the code: "reading x: <message>".
  Status with_context(std::string_view context) const;

 private:
  Code code_ = Code::ok;
  std::string message_;
};

template <typename T>
using Result = std::expected<T, Status>;

// `return dg::error(Code::not_found, "no such drop");` in a function returning Result<T>.
inline std::unexpected<Status> error(Code code, std::string message) {
  return std::unexpected<Status>(Status(code, std::move(message)));
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
