// Edge configuration: a data folder, where to listen, and how often to sync.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

#include "base/limits.h"
#include "base/status.h"

namespace dg::edge {

struct EdgeConfig {
  std::filesystem::path data_dir = "dropgate-edge";
  std::string listen = "0.0.0.0:8090";
  // Durations: the file's keys name their unit (sync_interval_s).
  std::chrono::seconds sync_interval{10};
  std::chrono::seconds sync_timeout{5};  // at most limits::edge_sync_timeout_max
  std::chrono::seconds clock_skew = limits::clock_skew_default;
  uint32_t io_threads = 0;
  uint32_t handler_threads = 8;
  uint32_t outbox_depth_max = 100'000;
  uint32_t token_cache_entries_max = 50'000;
  uint32_t token_cache_mb_max = 32;  // at most limits::token_cache_mb_max
  uint32_t blob_memory_max_mb = 64;  // small blobs held in memory, at most this much (0: none)
  std::string issuer = "dropgate";   // tokens must carry the origin's issuer name
  std::string log_level = "info";    // debug, info, warn or error
  // Lets /metrics be scraped from off this host with "Authorization: Bearer
  // <metrics_token>"; empty: loopback only (http/scrape.h).
  std::string metrics_token;

  std::filesystem::path keys_dir() const { return data_dir / "keys"; }
  std::filesystem::path state_dir() const { return data_dir / "state"; }
  std::filesystem::path drops_dir() const { return data_dir / "drops"; }
  std::filesystem::path blobs_dir() const { return data_dir / "blobs"; }
  std::filesystem::path partial_dir() const { return data_dir / "blobs" / "partial"; }
  std::filesystem::path enrollment_file() const { return data_dir / "enrollment.json"; }
  std::filesystem::path grant_file() const { return data_dir / "grant.token"; }
  std::filesystem::path outbox_file() const { return data_dir / "outbox.db"; }
  std::filesystem::path sales_file() const { return data_dir / "sales.db"; }
};

// Reads a TOML file over `config`; unknown keys are an error.
Status load_edge_config_file(const std::filesystem::path& path, EdgeConfig& config);
// DROPGATE_EDGE_DATA, DROPGATE_EDGE_LISTEN, DROPGATE_ISSUER, DROPGATE_LOG_LEVEL.
void apply_edge_environment(EdgeConfig& config);
// Checks what no single setting can: names that must be known, and every
// number against its ceiling whichever layer set it (--sync-interval-s).
Status check_edge_config(const EdgeConfig& config);

}  // namespace dg::edge
