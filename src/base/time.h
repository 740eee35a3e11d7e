// Timestamps on the wire are RFC 3339 / ISO 8601 strings in UTC, as PASETO's
// registered fields require; in memory they are Unix milliseconds.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace dg {

// A duration as the Unix milliseconds dropgate computes times with. The one
// place a std::chrono duration (seconds, minutes, days: any whole number of
// milliseconds) becomes a count, so no call site multiplies by 1000.
constexpr int64_t to_ms(std::chrono::milliseconds duration) {
  return duration.count();
}
// The same in seconds, for wire fields and APIs that count seconds (`ttl_s`);
// a finer duration does not convert, so nothing is rounded away unseen.
constexpr int64_t to_s(std::chrono::seconds duration) {
  return duration.count();
}

// "2026-11-21T06:00:00Z" (whole seconds; the milliseconds are dropped).
std::string format_rfc3339(int64_t unix_ms);
// The same, formatted at most once a second per thread: for hot paths that
// stamp every event or log line. Valid until the thread's next call.
std::string_view format_rfc3339_cached(int64_t unix_ms);

// Accepts "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)"; returns Unix ms.
Result<int64_t> parse_rfc3339(std::string_view text_untrusted);

}  // namespace dg
