#include "edge/config.h"

#include "base/limits.h"
#include "base/log.h"
#include "base/settings_file.h"
#include "edge/config_table.h"

namespace dg::edge {

namespace {

using S = Setting<EdgeConfig>;
using C = EdgeConfig;

constexpr S kSettings[] = {
    {"data_dir", &C::data_dir},
    {"listen", &C::listen},
    {"issuer", &C::issuer},
    {"sync_interval_s", &C::sync_interval, limits::sync_interval_max},
    {"clock_skew_s", &C::clock_skew, limits::clock_skew_max},
    {"sync_timeout_s", &C::sync_timeout, limits::edge_sync_timeout_max},
    {"io_threads", &C::io_threads, limits::io_threads_max},
    {"handler_threads", &C::handler_threads, limits::handler_threads_max},
    // Stored, an event takes ~20-30 bytes (docs/formats/sync.md); while the
    // disk refuses writes, the waiting ones are held in memory.
    {"outbox_depth_max", &C::outbox_depth_max, limits::outbox_depth_events_max},
    {"token_cache_entries_max", &C::token_cache_entries_max, limits::token_cache_entries_max},
    {"token_cache_mb_max", &C::token_cache_mb_max, limits::token_cache_mb_max},
    {"blob_memory_max_mb", &C::blob_memory_max_mb, limits::blob_memory_mb_max},
    {"log_level", &C::log_level},
    {"metrics_token", &C::metrics_token},
};

}  // namespace

std::span<const Setting<EdgeConfig>> edge_settings() {
  return kSettings;
}

Status load_edge_config_file(const std::filesystem::path& path, EdgeConfig& c) {
  return load_settings<EdgeConfig>(path, kSettings, c);
}

void apply_edge_environment(EdgeConfig& c) {
  if (auto v = env_value("DROPGATE_EDGE_DATA")) c.data_dir = v;
  if (auto v = env_value("DROPGATE_EDGE_LISTEN")) c.listen = v;
  if (auto v = env_value("DROPGATE_ISSUER")) c.issuer = v;
  if (auto v = env_value("DROPGATE_LOG_LEVEL")) c.log_level = v;
}

Status check_edge_config(const EdgeConfig& c) {
  if (c.sync_timeout.count() == 0)
    return Status(Code::invalid_argument, "sync_timeout_s must be 1 or more");
  // The --sync-interval-s flag skips the file's ceiling; the limit holds for every layer.
  DG_RETURN_IF_ERROR(check_settings<EdgeConfig>(kSettings, c));
  if (!log::parse_level(c.log_level)) {
    return Status(Code::invalid_argument,
                  "log_level must be debug, info, warn or error, not \"" + c.log_level + "\"");
  }
  return Status();
}

}  // namespace dg::edge
