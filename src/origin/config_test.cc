// dropgate.toml may lower a limit, never raise it: every numeric setting's
// ceiling is the limit in base/limits.h, and a file asking for more is
// refused with a message that names the setting and the ceiling.
#include "origin/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "base/limits.h"

namespace dg::origin {
namespace {

struct Ceiling {
  std::string_view key;
  uint64_t max;
};

// Every numeric setting of dropgate.toml with the ceiling docs/config.md
// states for it, in the key's unit.
constexpr Ceiling kCeilings[] = {
    {"db_connections", limits::db_connections_max},
    {"handler_threads", limits::handler_threads_max},
    {"io_threads", limits::io_threads_max},
    {"hold_ttl_s", 86'400},
    {"download_token_ttl_s", 900},
    {"clock_skew_s", 900},
    {"lease_serials_max", limits::lease_serials_max},
    {"manifest_ttl_days", 3650},
    {"claim_batch_max", limits::claim_batch_claims_max},
    {"upload_bytes_max", limits::upload_bytes_max},
    {"edge_enrolment_ttl_s", 86'400},
};

class OriginConfigTest : public ::testing::Test {
 protected:
  Status load(const std::string& text, OriginConfig& config) {
    std::ofstream(path_) << text;
    return load_config_file(path_, config);
  }
  void TearDown() override { std::filesystem::remove(path_); }
  std::filesystem::path path_ = std::filesystem::temp_directory_path() /
                                ("dg-origin-config-" + std::to_string(::getpid()) + ".toml");
};

// The defaults are a valid configuration, within every ceiling.
TEST_F(OriginConfigTest, DefaultsAreWithinEveryCeiling) {
  OriginConfig config;
  EXPECT_TRUE(finish_config(config).ok());
  EXPECT_LE(config.claim_batch_max, limits::claim_batch_claims_max);
  EXPECT_LE(config.lease_serials_max, limits::lease_serials_max);
  EXPECT_LE(config.upload_bytes_max, limits::upload_bytes_max);
  EXPECT_LE(config.db_connections, limits::db_connections_max);
}

// Each setting takes its ceiling, and one more is refused, naming the setting
// and the ceiling; the value read before stays in place.
TEST_F(OriginConfigTest, EachSettingAcceptsItsCeilingAndRefusesOneMore) {
  for (const auto& [key, max] : kCeilings) {
    OriginConfig at;
    EXPECT_TRUE(load(std::string(key) + " = " + std::to_string(max) + "\n", at).ok()) << key;
    OriginConfig over;
    OriginConfig defaults;
    Status refused = load(std::string(key) + " = " + std::to_string(max + 1) + "\n", over);
    EXPECT_EQ(refused.code(), Code::invalid_argument) << key;
    EXPECT_NE(refused.message().find(std::string(key) + " must be a whole number from 0 to " +
                                     std::to_string(max)),
              std::string::npos)
        << refused.message();
    EXPECT_EQ(over.upload_bytes_max, defaults.upload_bytes_max);
    EXPECT_EQ(over.claim_batch_max, defaults.claim_batch_max);
  }
}

// The two that were wrong: a claim batch the store refuses (over 1,000), and
// an upload limit above the one the server enforces.
TEST_F(OriginConfigTest, RefusesAClaimBatchTheStoreWouldRefuse) {
  OriginConfig config;
  Status refused = load("claim_batch_max = 10000\n", config);
  EXPECT_EQ(refused.code(), Code::invalid_argument);
  EXPECT_NE(refused.message().find("claim_batch_max"), std::string::npos);
  EXPECT_TRUE(load("claim_batch_max = 1000\nupload_bytes_max = 1024\n", config).ok());
  EXPECT_EQ(config.claim_batch_max, 1000u);
  EXPECT_EQ(config.upload_bytes_max, 1024u);
  EXPECT_EQ(load("upload_bytes_max = 68719476736\n", config).code(), Code::invalid_argument);
}

}  // namespace
}  // namespace dg::origin
