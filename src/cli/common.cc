#include <sys/stat.h>

#include <array>
#include <boost/json.hpp>
#include <cstdio>
#include <iostream>

#include "base/file.h"
#include "base/limits.h"
#include "cli/commands.h"

namespace dg::cli {

int report(const Status& status) {
  if (status.ok()) return exit_ok;
  std::fprintf(stderr, "dropgate: %s\n", status.message().c_str());
  return exit_failed;
}

Status print_answer(const Result<http::ApiResponse>& response, bool json,
                    const Summarize& summarize) {
  if (!response) return response.error();
  if (response->status / 100 != 2) {
    return Status(Code::unavailable, http::ApiClient::describe_failure(*response));
  }
  if (json) {
    std::cout << response->body << "\n";
    return Status();
  }
  boost::system::error_code ec;
  boost::json::value answer = boost::json::parse(response->body, ec);
  if (ec || !answer.is_object()) {
    return Status(Code::unavailable, "the origin answered HTTP " +
                                         std::to_string(response->status) +
                                         " with a body that is not a JSON object");
  }
  summarize(answer.get_object(), std::cout);
  return Status();
}

std::string json_text(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : "?";
}

int64_t json_int(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  if (!v) return 0;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  return 0;
}

std::string format_size(uint64_t bytes) {
  if (bytes < 1000) return std::to_string(bytes) + " B";
  constexpr std::array<const char*, 5> kUnits{"kB", "MB", "GB", "TB", "PB"};
  double value = static_cast<double>(bytes) / 1000.0;
  size_t unit = 0;
  while (value >= 999.95 && unit + 1 < kUnits.size()) {
    value /= 1000.0;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", value, kUnits[unit]);
  return text;
}

Result<crypto::SecretKey> load_secret_key(const std::filesystem::path& dir) {
  auto path = dir / secret_key_file;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return error(Code::not_found, "no secret key at " + path.string() +
                                      " (create one with: dropgate keys new --dir " + dir.string() +
                                      ")");
  }
  if ((st.st_mode & 077) != 0) {
    return error(Code::forbidden,
                 path.string() + " can be read by other users; run: chmod 600 " + path.string());
  }
  auto text = read_file(path, limits::key_file_bytes_max);
  if (!text) return error(text.error());
  while (!text->empty() && (text->back() == '\n' || text->back() == '\r')) text->pop_back();
  auto key = crypto::SecretKey::from_paserk(*text);
  if (!key) return error(key.error().with_context(path.string()));
  return key;
}

Result<crypto::Keyring> load_keyring(const std::filesystem::path& path) {
  return crypto::Keyring::load(path);
}

}  // namespace dg::cli
