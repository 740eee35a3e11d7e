#include "base/status.h"

#include "base/problem_types.h"

namespace dg {

std::string_view code_name(Code code) {
  switch (code) {
    case Code::ok:
      return "ok";
    case Code::not_found:
      return "not_found";
    case Code::invalid_argument:
      return "invalid_argument";
    case Code::unauthorized:
      return "unauthorized";
    case Code::forbidden:
      return "forbidden";
    case Code::conflict:
      return "conflict";
    case Code::limit_exceeded:
      return "limit_exceeded";
    case Code::corruption:
      return "corruption";
    case Code::unavailable:
      return "unavailable";
    case Code::io_error:
      return "io_error";
    case Code::too_large:
      return "too_large";
  }
  return "unknown";
}

std::string Status::to_string() const {
  if (ok()) return "ok";
  return std::string(code_name(code_)) + ": " + message_;
}

Status Status::with_context(std::string_view context) const {
  if (ok()) return *this;
  Status out = *this;
  out.message_ = std::string(context) + ": " + message_;
  return out;
}

namespace problem {

const ProblemType& generic_for(Code code) {
  switch (code) {
    case Code::not_found:
      return not_found;
    case Code::invalid_argument:
      return invalid_request;
    case Code::unauthorized:
      return unauthorized;
    case Code::forbidden:
      return forbidden;
    case Code::conflict:
      return conflict;
    case Code::limit_exceeded:
      return limit_exceeded;
    case Code::too_large:
      return too_large;
    case Code::unavailable:
      return unavailable;
    case Code::ok:
    case Code::corruption:
    case Code::io_error:
      break;
  }
  return internal;
}

}  // namespace problem

}  // namespace dg
