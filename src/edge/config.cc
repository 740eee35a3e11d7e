#include "edge/config.h"

#include "base/limits.h"
#include "base/log.h"
#include "base/settings_file.h"
#include "base/time.h"

namespace dg::edge {

Status load_edge_config_file(const std::filesystem::path& path, EdgeConfig& c) {
  static constexpr std::string_view kKnown[] = {"data_dir",
                                                "listen",
                                                "issuer",
                                                "sync_interval_s",
                                                "clock_skew_s",
                                                "io_threads",
                                                "handler_threads",
                                                "outbox_depth_max",
                                                "token_cache_mb_max",
                                                "sync_timeout_s",
                                                "token_cache_entries_max",
                                                "blob_memory_max_mb",
                                                "log_level",
                                                "metrics_token"};
  auto file = SettingsFile::load(path, kKnown);
  if (!file) return file.error();
  DG_RETURN_IF_ERROR(file->read("data_dir", c.data_dir));
  DG_RETURN_IF_ERROR(file->read("listen", c.listen));
  DG_RETURN_IF_ERROR(file->read("issuer", c.issuer));
  DG_RETURN_IF_ERROR(
      file->read("sync_interval_s", c.sync_interval, to_s(limits::sync_interval_max)));
  DG_RETURN_IF_ERROR(file->read("clock_skew_s", c.clock_skew, to_s(limits::clock_skew_max)));
  DG_RETURN_IF_ERROR(
      file->read("sync_timeout_s", c.sync_timeout, to_s(limits::edge_sync_timeout_max)));
  DG_RETURN_IF_ERROR(file->read("io_threads", c.io_threads, limits::io_threads_max));
  DG_RETURN_IF_ERROR(file->read("handler_threads", c.handler_threads, limits::handler_threads_max));
  // Stored, an event takes ~20-30 bytes (docs/formats/sync.md); while the
  // disk refuses writes, the waiting ones are held in memory.
  DG_RETURN_IF_ERROR(
      file->read("outbox_depth_max", c.outbox_depth_max, limits::outbox_depth_events_max));
  DG_RETURN_IF_ERROR(file->read("token_cache_entries_max", c.token_cache_entries_max,
                                limits::token_cache_entries_max));
  DG_RETURN_IF_ERROR(
      file->read("token_cache_mb_max", c.token_cache_mb_max, limits::token_cache_mb_max));
  DG_RETURN_IF_ERROR(
      file->read("blob_memory_max_mb", c.blob_memory_max_mb, limits::blob_memory_mb_max));
  DG_RETURN_IF_ERROR(file->read("log_level", c.log_level));
  DG_RETURN_IF_ERROR(file->read("metrics_token", c.metrics_token));
  return Status();
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
  if (c.sync_interval > limits::sync_interval_max) {
    return Status(Code::invalid_argument, "sync_interval_s must be at most " +
                                              std::to_string(to_s(limits::sync_interval_max)));
  }
  if (!log::parse_level(c.log_level)) {
    return Status(Code::invalid_argument,
                  "log_level must be debug, info, warn or error, not \"" + c.log_level + "\"");
  }
  return Status();
}

}  // namespace dg::edge
