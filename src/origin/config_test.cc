// dropgate.toml may lower a limit, never raise it: every numeric setting's
// ceiling is the limit in base/limits.h, and a file asking for more is
// refused with a message that names the setting and the ceiling.
#include "origin/config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "base/limits.h"
#include "base/time.h"
#include "origin/config_table.h"
#include "support/temp_dir.h"

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
    {"holds_per_account_per_min", limits::holds_per_account_per_min_max},
    {"holds_per_address_per_min", limits::holds_per_address_per_min_max},
    {"checkout_hold_ttl_s", 86'400},
    {"webhook_tolerance_s", 300},
    {"code_redeems_per_address_per_min", limits::code_redeems_per_address_per_min_max},
    {"code_redeems_per_drop_per_min", limits::code_redeems_per_drop_per_min_max},
};

class OriginConfigTest : public ::testing::Test {
 protected:
  Status load(const std::string& text, OriginConfig& config) {
    std::ofstream(path_) << text;
    return load_config_file(path_, config);
  }
  void SetUp() override { ASSERT_FALSE(temp_.path().empty()) << "no temporary folder"; }
  dg::testing::TempDir temp_;
  std::filesystem::path path_ = temp_.path() / "origin.toml";
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

// The table the reader works from names exactly the ceilings above, in the
// key's unit (seconds for _s, days for _days): a ceiling given in the wrong
// unit, or a numeric setting without one, shows here.
TEST_F(OriginConfigTest, TheReadersTableHasEveryCeilingInTheKeysUnit) {
  size_t numeric = 0;
  for (const auto& setting : origin_settings()) {
    if (!setting.is_number()) continue;
    ++numeric;
    auto expected = std::find_if(std::begin(kCeilings), std::end(kCeilings),
                                 [&](const Ceiling& c) { return c.key == setting.key; });
    ASSERT_NE(expected, std::end(kCeilings)) << setting.key;
    EXPECT_EQ(setting.ceiling, expected->max) << setting.key;
  }
  EXPECT_EQ(numeric, std::size(kCeilings));
}

// Durations are read in the key's unit and held as std::chrono types.
TEST_F(OriginConfigTest, DurationKeysAreReadInTheirUnit) {
  OriginConfig config;
  ASSERT_TRUE(load("hold_ttl_s = 90\nmanifest_ttl_days = 2\nclock_skew_s = 0\n", config).ok());
  EXPECT_EQ(to_ms(config.hold_ttl), 90'000);
  EXPECT_EQ(to_ms(config.manifest_ttl), 2 * 86'400'000);
  EXPECT_EQ(to_ms(config.clock_skew), 0);
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

// A checkout's hold must cover the provider's shortest session (30 minutes),
// and the webhook tolerance may only be lowered.
TEST_F(OriginConfigTest, RefusesACheckoutHoldShorterThanThirtyMinutes) {
  OriginConfig config;
  ASSERT_TRUE(load("checkout_hold_ttl_s = 1799\n", config).ok());
  Status refused = finish_config(config);
  EXPECT_EQ(refused.code(), Code::invalid_argument);
  EXPECT_NE(refused.message().find("checkout_hold_ttl_s"), std::string::npos);
  config.checkout_hold_ttl = std::chrono::seconds(1800);
  EXPECT_TRUE(finish_config(config).ok());
  EXPECT_EQ(load("webhook_tolerance_s = 301\n", config).code(), Code::invalid_argument);
  config.webhook_secrets = "whsec_a, whsec_b,,whsec_c";
  EXPECT_EQ(webhook_secret_list(config),
            (std::vector<std::string>{"whsec_a", "whsec_b", "whsec_c"}));
}

}  // namespace
}  // namespace dg::origin
