// edge.toml may lower a limit, never raise it: every numeric setting's ceiling
// is the limit in base/limits.h, refused beyond with a message that names it.
#include "edge/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "base/limits.h"

namespace dg::edge {
namespace {

struct Ceiling {
  std::string_view key;
  uint64_t max;
};

// Every numeric setting of edge.toml with the ceiling docs/config.md
// states for it, in the key's unit.
constexpr Ceiling kCeilings[] = {
    {"sync_interval_s", 86'400},
    {"clock_skew_s", 900},
    {"io_threads", limits::io_threads_max},
    {"handler_threads", limits::handler_threads_max},
    {"outbox_depth_max", limits::outbox_depth_events_max},
    {"token_cache_entries_max", limits::token_cache_entries_max},
    {"blob_memory_max_mb", limits::blob_memory_mb_max},
};

class EdgeConfigTest : public ::testing::Test {
 protected:
  Status load(const std::string& text, EdgeConfig& config) {
    std::ofstream(path_) << text;
    return load_edge_config_file(path_, config);
  }
  void TearDown() override { std::filesystem::remove(path_); }
  std::filesystem::path path_ = std::filesystem::temp_directory_path() /
                                ("dg-edge-config-" + std::to_string(::getpid()) + ".toml");
};

// Each setting takes its ceiling, and one more is refused, naming the setting
// and the ceiling.
TEST_F(EdgeConfigTest, EachSettingAcceptsItsCeilingAndRefusesOneMore) {
  for (const auto& [key, max] : kCeilings) {
    EdgeConfig at;
    EXPECT_TRUE(load(std::string(key) + " = " + std::to_string(max) + "\n", at).ok()) << key;
    EdgeConfig over;
    Status refused = load(std::string(key) + " = " + std::to_string(max + 1) + "\n", over);
    EXPECT_EQ(refused.code(), Code::invalid_argument) << key;
    EXPECT_NE(refused.message().find(std::string(key) + " must be a whole number from 0 to " +
                                     std::to_string(max)),
              std::string::npos)
        << refused.message();
  }
}

// A flag (--sync-interval-s) does not pass through the file's check; the
// whole configuration is checked again, so no layer can raise the limit.
TEST_F(EdgeConfigTest, CheckRefusesASyncIntervalAboveTheLimitFromAnyLayer) {
  EdgeConfig config;
  EXPECT_TRUE(check_edge_config(config).ok());
  config.sync_interval = limits::sync_interval_max + std::chrono::seconds(1);
  Status refused = check_edge_config(config);
  EXPECT_EQ(refused.code(), Code::invalid_argument);
  EXPECT_NE(refused.message().find("sync_interval_s must be at most"), std::string::npos);
}

}  // namespace
}  // namespace dg::edge
