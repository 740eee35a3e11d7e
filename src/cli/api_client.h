// A small blocking HTTP client (libcurl) for the operator commands that call
// an origin's API.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"

namespace dg::cli {

struct ApiResponse {
  long status = 0;
  std::string body;
  std::string content_type;
};

class ApiClient {
 public:
  // `origin` like "http://127.0.0.1:8080"; `api_key` may be empty for public calls.
  ApiClient(std::string origin, std::string api_key);
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  // `path` starts with "/". Transport failures are unavailable; HTTP errors
  // come back as responses (see describe_failure).
  Result<ApiResponse> call(std::string_view method, std::string_view path, std::string_view json_body = {},
                           std::string_view idempotency_key = {});
  // PUTs a file as the body, streaming it, with progress in bytes.
  Result<ApiResponse> upload(std::string_view path, const std::filesystem::path& file,
                             std::string_view content_type,
                             const std::function<void(uint64_t sent, uint64_t total)>& progress);

  // "HTTP 409 sold-out: all 500 serials are taken" from a problem+json response.
  static std::string describe_failure(const ApiResponse& response);

 private:
  std::string origin_;
  std::string api_key_;
  void* curl_;
};

// Percent-encodes each segment of a relative path, keeping the slashes.
std::string encode_path(std::string_view path);

}  // namespace dg::cli
