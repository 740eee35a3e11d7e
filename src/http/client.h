// A small blocking HTTP client (libcurl): the operator commands and edges use
// it to call an origin. One client per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "base/limits.h"
#include "base/status.h"

namespace dg::http {

struct ApiResponse {
  long status = 0;
  std::string body;
  std::string content_type;
};

// How long a call may wait. A frozen server (accepting, never answering)
// holds a call until `read_idle` passes with no byte received.
struct ClientDeadlines {
  std::chrono::milliseconds connect = limits::client_connect_timeout;
  // Zero: an API call waits up to limits::client_call_max in all, a transfer
  // limits::client_stall_max without a byte.
  std::chrono::seconds read_idle{0};
};

class ApiClient {
 public:
  // `origin` like "http://127.0.0.1:8080"; `api_key` may be empty for public calls.
  ApiClient(std::string origin, std::string api_key, ClientDeadlines deadlines = {});
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  // `path` starts with "/". Transport failures are unavailable; HTTP errors
  // come back as responses (see describe_failure).
  Result<ApiResponse> call(std::string_view method, std::string_view path,
                           std::string_view json_body = {}, std::string_view idempotency_key = {});
  // GETs `path` into `file`, resuming from the bytes already in it with a Range
  // request (a 200 instead of 206 restarts the file). Returns the response
  // (its body is empty: the bytes went to the file). `bearer` overrides the API key.
  Result<ApiResponse> download(std::string_view path, const std::filesystem::path& file,
                               std::string_view bearer,
                               const std::function<void(uint64_t done, uint64_t total)>& progress);
  // A request with extra headers ("Name: value") and an optional bearer override.
  Result<ApiResponse> call_with(std::string_view method, std::string_view path,
                                std::string_view json_body, const std::vector<std::string>& headers,
                                std::string_view bearer);

  // PUTs a file as the body, streaming it, with progress in bytes.
  Result<ApiResponse> upload(std::string_view path, const std::filesystem::path& file,
                             std::string_view content_type,
                             const std::function<void(uint64_t sent, uint64_t total)>& progress);

  // "HTTP 409 sold-out: all 500 serials are taken" from a problem+json response.
  static std::string describe_failure(const ApiResponse& response);

 private:
  std::string origin_;
  std::string api_key_;
  ClientDeadlines deadlines_;
  void* curl_;
};

// Percent-encodes each segment of a relative path, keeping the slashes.
std::string encode_path(std::string_view path);

}  // namespace dg::http
