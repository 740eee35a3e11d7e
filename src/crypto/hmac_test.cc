// HMAC-SHA256 against the known answers of RFC 4231.
#include "crypto/hmac.h"

#include <gtest/gtest.h>

#include <string>

#include "base/encoding.h"
#include "crypto/keys.h"

namespace dg::crypto {
namespace {

class Hmac : public ::testing::Test {
 protected:
  void SetUp() override { init(); }
};

// RFC 4231 test case 2: a short key ("Jefe") and a short message.
TEST_F(Hmac, MatchesRfc4231TestCase2) {
  EXPECT_EQ(hex_encode(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

// RFC 4231 test case 6: a 131-byte key, longer than the block, is hashed first.
TEST_F(Hmac, HashesAKeyLongerThanTheBlockAsRfc4231TestCase6) {
  std::string key(131, '\xaa');
  EXPECT_EQ(hex_encode(hmac_sha256(key, "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

}  // namespace
}  // namespace dg::crypto
