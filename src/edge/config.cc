#include "edge/config.h"

#include <algorithm>
#include <cstdlib>
#include <toml++/toml.h>

namespace dg::edge {
namespace {

template <typename T>
Status read_uint(const toml::table& table, std::string_view key, T& out, uint64_t max) {
  const auto* node = table.get(key);
  if (!node) return Status();
  auto value = node->value<int64_t>();
  if (!value || *value < 0 || static_cast<uint64_t>(*value) > max) {
    return Status(Code::invalid_argument, "edge config: " + std::string(key) + " must be 0 to " + std::to_string(max));
  }
  out = static_cast<T>(*value);
  return Status();
}

}  // namespace

Status load_edge_config_file(const std::filesystem::path& path, EdgeConfig& c) {
  toml::table table;
  try {
    table = toml::parse_file(path.string());
  } catch (const toml::parse_error& e) {
    return Status(Code::invalid_argument, path.string() + ":" + std::to_string(e.source().begin.line) + ": " +
                                              std::string(e.description()));
  }
  static constexpr std::string_view kKnown[] = {"data_dir", "listen", "issuer", "sync_interval_s", "clock_skew_s",
                                                "io_threads", "handler_threads", "outbox_depth_max",
                                                "token_cache_entries_max"};
  for (const auto& [key, value] : table) {
    if (std::find(std::begin(kKnown), std::end(kKnown), std::string_view(key.str())) == std::end(kKnown)) {
      return Status(Code::invalid_argument, path.string() + ": unknown setting \"" + std::string(key.str()) + "\"");
    }
  }
  if (auto v = table["data_dir"].value<std::string>()) c.data_dir = *v;
  if (auto v = table["listen"].value<std::string>()) c.listen = *v;
  if (auto v = table["issuer"].value<std::string>()) c.issuer = *v;
  DG_RETURN_IF_ERROR(read_uint(table, "sync_interval_s", c.sync_interval_s, 86'400));
  DG_RETURN_IF_ERROR(read_uint(table, "clock_skew_s", c.clock_skew_s, 900));
  DG_RETURN_IF_ERROR(read_uint(table, "io_threads", c.io_threads, 256));
  DG_RETURN_IF_ERROR(read_uint(table, "handler_threads", c.handler_threads, 4096));
  DG_RETURN_IF_ERROR(read_uint(table, "outbox_depth_max", c.outbox_depth_max, 10'000'000));
  DG_RETURN_IF_ERROR(read_uint(table, "token_cache_entries_max", c.token_cache_entries_max, 10'000'000));
  return Status();
}

void apply_edge_environment(EdgeConfig& c) {
  auto env = [](const char* name) -> const char* {
    const char* v = std::getenv(name);
    return v && *v ? v : nullptr;
  };
  if (auto v = env("DROPGATE_EDGE_DATA")) c.data_dir = v;
  if (auto v = env("DROPGATE_EDGE_LISTEN")) c.listen = v;
  if (auto v = env("DROPGATE_ISSUER")) c.issuer = v;
}

}  // namespace dg::edge
