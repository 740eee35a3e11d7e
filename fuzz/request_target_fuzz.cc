// http::parse_target, which turns every request's target into the path,
// segments and query that routing and handlers see. Checks what http.h
// promises of a parsed target: the path is the segments joined, no segment
// holds NUL or is "." or "..", not even between the slashes a decoded %2F
// left in it, and a refused target changes nothing.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/assert.h"
#include "base/limits.h"
#include "http/http.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view target(reinterpret_cast<const char*>(data), size);
  dg::http::Request request;
  request.path = "/untouched";
  request.segments = {"untouched"};
  dg::Status status = dg::http::parse_target(target, request);
  if (!status.ok()) {
    DG_ASSERT(status.code() == dg::Code::invalid_argument ||
              status.code() == dg::Code::limit_exceeded);
    DG_ASSERT(request.path == "/untouched");
    DG_ASSERT(request.segments.size() == 1 && request.segments[0] == "untouched");
    DG_ASSERT(request.query.empty());
    return 0;
  }
  DG_ASSERT(size <= dg::limits::request_target_bytes_max);
  DG_ASSERT(target.starts_with('/'));
  DG_ASSERT(request.query.size() <= dg::limits::query_params_max);
  std::string joined;
  for (const std::string& segment : request.segments) {
    DG_ASSERT(segment.find('\0') == std::string::npos);
    size_t start = 0;
    while (true) {
      size_t slash = segment.find('/', start);
      std::string_view piece = std::string_view(segment).substr(
          start, slash == std::string::npos ? std::string::npos : slash - start);
      DG_ASSERT(piece != "." && piece != "..");
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
    joined += '/';
    joined += segment;
  }
  DG_ASSERT(!request.segments.empty());
  DG_ASSERT(joined == request.path);
  return 0;
}
