#include "origin/config.h"

#include "http/http.h"

#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <toml++/toml.h>

#include <algorithm>

namespace dg::origin {
namespace {

template <typename T>
Status read_uint(const toml::table& table, std::string_view key, T& out, uint64_t max) {
  const auto* node = table.get(key);
  if (!node) return Status();
  auto value = node->value<int64_t>();
  if (!value || *value < 0 || static_cast<uint64_t>(*value) > max) {
    return Status(Code::invalid_argument, "config: " + std::string(key) +
                                              " must be a whole number from 0 to " +
                                              std::to_string(max));
  }
  out = static_cast<T>(*value);
  return Status();
}

Status read_string(const toml::table& table, std::string_view key, std::string& out) {
  const auto* node = table.get(key);
  if (!node) return Status();
  auto value = node->value<std::string>();
  if (!value) return Status(Code::invalid_argument, "config: " + std::string(key) + " must be a string");
  out = *value;
  return Status();
}

}  // namespace

Status load_config_file(const std::filesystem::path& path, OriginConfig& c) {
  toml::table table;
  try {
    table = toml::parse_file(path.string());
  } catch (const toml::parse_error& e) {
    return Status(Code::invalid_argument,
                  path.string() + ":" + std::to_string(e.source().begin.line) + ": " +
                      std::string(e.description()));
  }
  static constexpr std::string_view kKnown[] = {
      "data_dir", "database", "listen", "public_url", "issuer", "instance", "db_connections",
      "handler_threads", "io_threads", "hold_ttl_s", "download_token_ttl_s", "clock_skew_s",
      "lease_serials_max", "manifest_ttl_days", "claim_batch_max", "upload_bytes_max", "log_level"};
  for (const auto& [key, value] : table) {
    if (std::find(std::begin(kKnown), std::end(kKnown), std::string_view(key.str())) == std::end(kKnown)) {
      return Status(Code::invalid_argument, path.string() + ": unknown setting \"" +
                                                std::string(key.str()) + "\"");
    }
  }
  std::string data_dir = c.data_dir.string();
  DG_RETURN_IF_ERROR(read_string(table, "data_dir", data_dir));
  c.data_dir = data_dir;
  DG_RETURN_IF_ERROR(read_string(table, "database", c.database));
  DG_RETURN_IF_ERROR(read_string(table, "listen", c.listen));
  DG_RETURN_IF_ERROR(read_string(table, "public_url", c.public_url));
  DG_RETURN_IF_ERROR(read_string(table, "issuer", c.issuer));
  DG_RETURN_IF_ERROR(read_string(table, "instance", c.instance));
  DG_RETURN_IF_ERROR(read_string(table, "log_level", c.log_level));
  DG_RETURN_IF_ERROR(read_uint(table, "db_connections", c.db_connections, 1024));
  DG_RETURN_IF_ERROR(read_uint(table, "handler_threads", c.handler_threads, 4096));
  DG_RETURN_IF_ERROR(read_uint(table, "io_threads", c.io_threads, 256));
  DG_RETURN_IF_ERROR(read_uint(table, "hold_ttl_s", c.hold_ttl_s, 86'400));
  DG_RETURN_IF_ERROR(read_uint(table, "download_token_ttl_s", c.download_token_ttl_s, 900));
  DG_RETURN_IF_ERROR(read_uint(table, "clock_skew_s", c.clock_skew_s, 900));
  DG_RETURN_IF_ERROR(read_uint(table, "lease_serials_max", c.lease_serials_max, 1000));
  DG_RETURN_IF_ERROR(read_uint(table, "manifest_ttl_days", c.manifest_ttl_days, 3650));
  DG_RETURN_IF_ERROR(read_uint(table, "claim_batch_max", c.claim_batch_max, 10'000));
  DG_RETURN_IF_ERROR(read_uint(table, "upload_bytes_max", c.upload_bytes_max, 64ull << 30));
  return Status();
}

Status apply_environment(OriginConfig& c) {
  auto env = [](const char* name) -> const char* {
    const char* v = std::getenv(name);
    return v && *v ? v : nullptr;
  };
  if (auto v = env("DROPGATE_DATA")) c.data_dir = v;
  if (auto v = env("DROPGATE_DATABASE")) c.database = v;
  if (auto v = env("DROPGATE_LISTEN")) c.listen = v;
  if (auto v = env("DROPGATE_PUBLIC_URL")) c.public_url = v;
  if (auto v = env("DROPGATE_ISSUER")) c.issuer = v;
  if (auto v = env("DROPGATE_INSTANCE")) c.instance = v;
  if (auto v = env("DROPGATE_LOG_LEVEL")) c.log_level = v;
  return Status();
}

Result<std::pair<std::string, uint16_t>> parse_listen(std::string_view listen) {
  return http::parse_listen(listen);
}

Status finish_config(OriginConfig& c) {
  auto listen = parse_listen(c.listen);
  if (!listen) return listen.error();
  if (c.public_url.empty()) c.public_url = "http://" + c.listen;
  while (c.public_url.ends_with('/')) c.public_url.pop_back();
  if (c.instance.empty()) {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    c.instance = std::string(host) + ":" + std::to_string(listen->second);
  }
  if (c.download_token_ttl_s == 0 || c.hold_ttl_s == 0 || c.db_connections == 0 ||
      c.handler_threads == 0 || c.lease_serials_max == 0 || c.claim_batch_max == 0) {
    return Status(Code::invalid_argument,
                  "config: lifetimes, pool sizes and batch sizes must be above zero");
  }
  if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" &&
      c.log_level != "error") {
    return Status(Code::invalid_argument, "log_level must be debug, info, warn or error");
  }
  return Status();
}

}  // namespace dg::origin
