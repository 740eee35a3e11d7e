#include "crypto/keyring.h"

#include <gtest/gtest.h>

namespace dg::crypto {
namespace {

class KeyringTest : public ::testing::Test {
 protected:
  void SetUp() override { init(); }
  SecretKey a_ = SecretKey::generate();
  SecretKey b_ = SecretKey::generate();
};

TEST_F(KeyringTest, RotationRetiresThePreviousCurrentKey) {
  Keyring ring;
  ASSERT_TRUE(ring.add(a_.public_key(), KeyStatus::current).ok());
  ASSERT_TRUE(ring.add(b_.public_key(), KeyStatus::current).ok());
  ASSERT_NE(ring.current(), nullptr);
  EXPECT_EQ(ring.current()->key, b_.public_key());
  // The retired key still verifies what it signed.
  auto retired = ring.verification_key(a_.public_key().key_id());
  ASSERT_TRUE(retired.has_value());
  EXPECT_EQ(**retired, a_.public_key());
}

TEST_F(KeyringTest, RevokedAndUnknownKeysAreRefused) {
  Keyring ring;
  ASSERT_TRUE(ring.add(a_.public_key(), KeyStatus::current).ok());
  ASSERT_TRUE(ring.revoke(a_.public_key().key_id()).ok());
  auto revoked = ring.verification_key(a_.public_key().key_id());
  ASSERT_FALSE(revoked.has_value());
  EXPECT_EQ(revoked.error().code(), Code::forbidden);
  EXPECT_FALSE(ring.minisign_verification_key(a_.public_key().minisign_key_number()).has_value());
  auto unknown = ring.verification_key(b_.public_key().key_id());
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code(), Code::unauthorized);
  EXPECT_FALSE(ring.retire(a_.public_key().key_id()).ok());          // revoked stays revoked
  EXPECT_FALSE(ring.add(a_.public_key(), KeyStatus::retired).ok());  // no re-adding
}

TEST_F(KeyringTest, JsonRoundTrip) {
  Keyring ring;
  ASSERT_TRUE(ring.add(a_.public_key(), KeyStatus::revoked).ok());
  ASSERT_TRUE(ring.add(b_.public_key(), KeyStatus::current).ok());
  auto parsed = Keyring::parse_json(ring.to_json());
  ASSERT_TRUE(parsed.has_value()) << parsed.error().to_string();
  ASSERT_EQ(parsed->entries().size(), 2u);
  EXPECT_EQ(parsed->entries()[0].status, KeyStatus::revoked);
  EXPECT_EQ(parsed->current()->key, b_.public_key());
}

TEST_F(KeyringTest, JsonWithMismatchedKidOrTwoCurrentKeysIsRefused) {
  std::string a = a_.public_key().to_paserk();
  std::string b = b_.public_key().to_paserk();
  std::string wrong_kid = R"({"keys":[{"kid":")" + b_.public_key().key_id() + R"(","public":")" +
                          a + R"(","status":"current"}]})";
  EXPECT_FALSE(Keyring::parse_json(wrong_kid).has_value());
  std::string two = R"({"keys":[{"kid":")" + a_.public_key().key_id() + R"(","public":")" + a +
                    R"(","status":"current"},{"kid":")" + b_.public_key().key_id() +
                    R"(","public":")" + b + R"(","status":"current"}]})";
  EXPECT_FALSE(Keyring::parse_json(two).has_value());
  EXPECT_FALSE(
      Keyring::parse_json(R"({"keys":[{"kid":"x","public":"y","status":"odd"}]})").has_value());
  EXPECT_FALSE(Keyring::parse_json("[]").has_value());
}

}  // namespace
}  // namespace dg::crypto
