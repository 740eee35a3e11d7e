// edge.toml may lower a limit, never raise it: every numeric setting's ceiling
// is the limit in base/limits.h, refused beyond with a message that names it.
#include "edge/config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "base/limits.h"
#include "edge/config_table.h"
#include "support/temp_dir.h"

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
    {"sync_timeout_s", 10},
    {"io_threads", limits::io_threads_max},
    {"handler_threads", limits::handler_threads_max},
    {"outbox_depth_max", limits::outbox_depth_events_max},
    {"token_cache_entries_max", limits::token_cache_entries_max},
    {"token_cache_mb_max", 64},
    {"blob_memory_max_mb", limits::blob_memory_mb_max},
};

class EdgeConfigTest : public ::testing::Test {
 protected:
  Status load(const std::string& text, EdgeConfig& config) {
    std::ofstream(path_) << text;
    return load_edge_config_file(path_, config);
  }
  void SetUp() override { ASSERT_FALSE(temp_.path().empty()) << "no temporary folder"; }
  dg::testing::TempDir temp_;
  std::filesystem::path path_ = temp_.path() / "edge.toml";
};

// A flag (--sync-interval-s) does not pass through the file's check; the
// whole configuration is checked again, so no layer can raise the limit.
TEST_F(EdgeConfigTest, CheckRefusesASyncIntervalAboveTheLimitFromAnyLayer) {
  EdgeConfig config;
  EXPECT_TRUE(check_edge_config(config).ok());
  config.sync_interval = limits::sync_interval_max + std::chrono::seconds(1);
  Status refused = check_edge_config(config);
  EXPECT_EQ(refused.code(), Code::invalid_argument);
  EXPECT_NE(refused.message().find("sync_interval_s must be at most 86400"), std::string::npos)
      << refused.message();
}

// The table the reader works from names exactly the ceilings above, in the
// key's unit: a ceiling given in the wrong unit, or a numeric setting without
// one, shows here.
TEST_F(EdgeConfigTest, TheReadersTableHasEveryCeilingInTheKeysUnit) {
  size_t numeric = 0;
  for (const auto& setting : edge_settings()) {
    if (!setting.is_number()) continue;
    ++numeric;
    auto expected = std::find_if(std::begin(kCeilings), std::end(kCeilings),
                                 [&](const Ceiling& c) { return c.key == setting.key; });
    ASSERT_NE(expected, std::end(kCeilings)) << setting.key;
    EXPECT_EQ(setting.ceiling, expected->max) << setting.key;
  }
  EXPECT_EQ(numeric, std::size(kCeilings));
}

}  // namespace
}  // namespace dg::edge
