#include "http/client.h"

#include <curl/curl.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>

namespace dg::http {
namespace {

size_t collect(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

struct UploadState {
  std::FILE* file;
  const std::function<void(uint64_t, uint64_t)>* progress;
  uint64_t total;
};

int on_progress(void* state, curl_off_t, curl_off_t, curl_off_t, curl_off_t sent) {
  auto* s = static_cast<UploadState*>(state);
  if (*s->progress) (*s->progress)(static_cast<uint64_t>(sent), s->total);
  return 0;
}

}  // namespace

ApiClient::ApiClient(std::string origin, std::string api_key, ClientDeadlines deadlines)
    : origin_(std::move(origin)),
      api_key_(std::move(api_key)),
      deadlines_(deadlines),
      curl_(curl_easy_init()) {
  while (origin_.ends_with('/')) origin_.pop_back();
}

ApiClient::~ApiClient() {
  curl_easy_cleanup(static_cast<CURL*>(curl_));
}

Result<ApiResponse> ApiClient::call(std::string_view method, std::string_view path,
                                    std::string_view json_body, std::string_view idempotency_key) {
  std::vector<std::string> headers;
  if (!idempotency_key.empty())
    headers.push_back("Idempotency-Key: " + std::string(idempotency_key));
  return call_with(method, path, json_body, headers, "");
}

Result<ApiResponse> ApiClient::call_with(std::string_view method, std::string_view path,
                                         std::string_view json_body,
                                         const std::vector<std::string>& extra_headers,
                                         std::string_view bearer) {
  CURL* curl = static_cast<CURL*>(curl_);
  if (!curl) return error(Code::unavailable, "cannot start the HTTP client");
  curl_easy_reset(curl);
  std::string url = origin_ + std::string(path);
  std::string method_text(method);
  std::string body(json_body);
  ApiResponse response;
  curl_slist* headers = nullptr;
  std::string token = bearer.empty() ? api_key_ : std::string(bearer);
  if (!token.empty())
    headers = curl_slist_append(headers, ("Authorization: Bearer " + token).c_str());
  for (const auto& h : extra_headers) headers = curl_slist_append(headers, h.c_str());
  headers = curl_slist_append(headers, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method_text.c_str());
  if (method != "GET" && method != "HEAD") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(deadlines_.connect.count()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(std::chrono::milliseconds(limits::client_call_max).count()));
  if (deadlines_.read_idle.count() > 0) {
    // Under 1 byte/s for read_idle_s: the server is gone or frozen.
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(deadlines_.read_idle.count()));
  }
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    return error(Code::unavailable, "cannot reach " + origin_ + ": " + curl_easy_strerror(rc));
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  char* type = nullptr;
  curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type);
  if (type) response.content_type = type;
  return response;
}

namespace {

struct DownloadState {
  std::FILE* file;
  uint64_t offset;
  long status = 0;
  bool restarted = false;
  void* curl;
  const std::function<void(uint64_t, uint64_t)>* progress;
};

// Writes the body to the file; when the server ignored the Range (200), the
// partial file is truncated first and the download starts over.
size_t write_file(char* data, size_t size, size_t count, void* user) {
  auto* state = static_cast<DownloadState*>(user);
  if (state->status == 0) {
    curl_easy_getinfo(static_cast<CURL*>(state->curl), CURLINFO_RESPONSE_CODE, &state->status);
    if (state->status == 200 && state->offset > 0) {
      if (std::fflush(state->file) != 0 || ::ftruncate(fileno(state->file), 0) != 0) return 0;
      std::fseek(state->file, 0, SEEK_SET);
      state->offset = 0;
      state->restarted = true;
    }
  }
  if (state->status != 200 && state->status != 206) return size * count;  // error body: dropped
  return std::fwrite(data, size, count, state->file) * size;
}

int on_download_progress(void* user, curl_off_t total, curl_off_t done, curl_off_t, curl_off_t) {
  auto* state = static_cast<DownloadState*>(user);
  if (*state->progress) {
    (*state->progress)(state->offset + static_cast<uint64_t>(done),
                       state->offset + static_cast<uint64_t>(total));
  }
  return 0;
}

}  // namespace

Result<ApiResponse> ApiClient::download(std::string_view path, const std::filesystem::path& file,
                                        std::string_view bearer,
                                        const std::function<void(uint64_t, uint64_t)>& progress) {
  CURL* curl = static_cast<CURL*>(curl_);
  std::FILE* f = std::fopen(file.c_str(), "ab");
  if (!f) return error(Code::io_error, "cannot write " + file.string());
  std::fseek(f, 0, SEEK_END);
  uint64_t offset = static_cast<uint64_t>(std::ftell(f));
  curl_easy_reset(curl);
  std::string url = origin_ + std::string(path);
  DownloadState state{f, offset, 0, false, curl, &progress};
  curl_slist* headers = nullptr;
  std::string token = bearer.empty() ? api_key_ : std::string(bearer);
  if (!token.empty())
    headers = curl_slist_append(headers, ("Authorization: Bearer " + token).c_str());
  std::string range = "Range: bytes=" + std::to_string(offset) + "-";
  if (offset > 0) headers = curl_slist_append(headers, range.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_file);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &state);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_download_progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &state);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(deadlines_.connect.count()));
  // No overall timeout (big files); a stalled transfer is cut after
  // client_stall_max (or read_idle) below 1 byte/s.
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  std::chrono::seconds stall =
      deadlines_.read_idle.count() > 0 ? deadlines_.read_idle : limits::client_stall_max;
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(stall.count()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  bool flushed = std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
  std::fclose(f);
  if (rc != CURLE_OK) {
    return error(Code::unavailable, "downloading " + url + ": " + curl_easy_strerror(rc));
  }
  if (!flushed) return error(Code::io_error, "cannot sync " + file.string());
  ApiResponse response;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

Result<ApiResponse> ApiClient::upload(std::string_view path, const std::filesystem::path& file,
                                      std::string_view content_type,
                                      const std::function<void(uint64_t, uint64_t)>& progress) {
  CURL* curl = static_cast<CURL*>(curl_);
  std::FILE* f = std::fopen(file.c_str(), "rb");
  if (!f) return error(Code::not_found, "cannot open " + file.string());
  std::error_code ec;
  uint64_t size = std::filesystem::file_size(file, ec);
  curl_easy_reset(curl);
  std::string url = origin_ + std::string(path);
  ApiResponse response;
  UploadState state{f, &progress, size};
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, ("Authorization: Bearer " + api_key_).c_str());
  headers = curl_slist_append(headers, ("Content-Type: " + std::string(content_type)).c_str());
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(curl, CURLOPT_READDATA, f);
  curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(size));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &state);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(deadlines_.connect.count()));
  CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  std::fclose(f);
  if (rc != CURLE_OK) {
    return error(Code::unavailable, "uploading " + file.string() + ": " + curl_easy_strerror(rc));
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

std::string ApiClient::describe_failure(const ApiResponse& response) {
  std::string out = "HTTP " + std::to_string(response.status);
  boost::system::error_code ec;
  auto value = boost::json::parse(response.body, ec);
  if (!ec && value.is_object()) {
    const auto& o = value.as_object();
    if (auto* type = o.if_contains("type"); type && type->is_string()) {
      std::string t(type->as_string());
      out += " " + t.substr(t.rfind('/') + 1);
    }
    if (auto* detail = o.if_contains("detail"); detail && detail->is_string()) {
      out += ": " + std::string(detail->as_string());
    }
  } else if (!response.body.empty()) {
    out += ": " + response.body.substr(0, 200);
  }
  return out;
}

std::string encode_path(std::string_view path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : path) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_' || c == '.' || c == '~' || c == '/';
    if (plain) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace dg::http
