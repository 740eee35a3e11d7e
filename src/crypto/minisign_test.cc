// minisign signatures: the stock-minisign vectors in tests/vectors/minisign
// (made with minisign 0.11) verify, and what dropgate signs round-trips.
// Interop with the stock binary itself is in tests/cli/minisign_interop.sh.
#include "crypto/minisign.h"

#include <gtest/gtest.h>

#include "base/encoding.h"
#include "base/file.h"

namespace dg::crypto {
namespace {

std::string vector_file(const std::string& name) {
  auto text = read_file(std::string(DG_VECTORS_DIR) + "/minisign/" + name, 1 << 16);
  EXPECT_TRUE(text.has_value()) << name;
  return text.value_or("");
}

class MinisignTest : public ::testing::Test {
 protected:
  void SetUp() override { init(); }
};

TEST_F(MinisignTest, StockPublicKeyParses) {
  auto key = minisign_parse_public_key(vector_file("minisign.pub"));
  ASSERT_TRUE(key.has_value()) << key.error().to_string();
  EXPECT_EQ(minisign_key_number_text(key->key_number), "B4DD5041BDDB6B1B");
  EXPECT_EQ(hex_encode(key->key.bytes()),
            "4fed50f3cf7904a0357e5db5dc89cab817e88a90efcb95fdde6e8d6d14eb3839");
}

TEST_F(MinisignTest, StockPrehashedSignatureVerifies) {
  auto key = *minisign_parse_public_key(vector_file("minisign.pub"));
  auto sig = minisign_parse_signature(vector_file("message.txt.minisig"));
  ASSERT_TRUE(sig.has_value()) << sig.error().to_string();
  EXPECT_TRUE(sig->prehashed);
  EXPECT_EQ(sig->trusted_comment_untrusted, "drop-manifest example trusted comment");
  std::string message = vector_file("message.txt");
  EXPECT_TRUE(minisign_verify(key, *sig, as_bytes(message)).ok());
  EXPECT_FALSE(minisign_verify(key, *sig, as_bytes(message + "x")).ok());
}

TEST_F(MinisignTest, StockLegacySignatureVerifies) {
  auto key = *minisign_parse_public_key(vector_file("minisign.pub"));
  auto sig = minisign_parse_signature(vector_file("message.txt.legacy.minisig"));
  ASSERT_TRUE(sig.has_value());
  EXPECT_FALSE(sig->prehashed);
  EXPECT_TRUE(minisign_verify(key, *sig, as_bytes(vector_file("message.txt"))).ok());
}

TEST_F(MinisignTest, TamperedTrustedCommentIsRefused) {
  auto key = *minisign_parse_public_key(vector_file("minisign.pub"));
  auto sig = *minisign_parse_signature(vector_file("message.txt.minisig"));
  sig.trusted_comment_untrusted += " (edited)";
  Status s = minisign_verify(key, sig, as_bytes(vector_file("message.txt")));
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("trusted comment"), std::string::npos);
}

TEST_F(MinisignTest, SignAndVerifyRoundTrip) {
  auto secret = SecretKey::generate();
  auto text = minisign_sign(secret, as_bytes("payload"), "tc line", "uc line");
  ASSERT_TRUE(text.has_value());
  auto pub = minisign_parse_public_key(minisign_public_key_text(secret.public_key()));
  ASSERT_TRUE(pub.has_value());
  EXPECT_EQ(pub->key_number, secret.public_key().minisign_key_number());
  auto sig = minisign_parse_signature(*text);
  ASSERT_TRUE(sig.has_value());
  EXPECT_TRUE(sig->prehashed);
  EXPECT_EQ(sig->trusted_comment_untrusted, "tc line");
  EXPECT_TRUE(minisign_verify(*pub, *sig, as_bytes("payload")).ok());
  EXPECT_FALSE(minisign_verify(*pub, *sig, as_bytes("payloaD")).ok());
  // Another key with the same bytes but another number is refused by number.
  MinisignPublicKey other = *pub;
  other.key_number[0] ^= 1;
  EXPECT_FALSE(minisign_verify(other, *sig, as_bytes("payload")).ok());
}

TEST_F(MinisignTest, MultiLineCommentsAreRefused) {
  auto secret = SecretKey::generate();
  EXPECT_FALSE(minisign_sign(secret, as_bytes("x"), "a\nb", "u").has_value());
  EXPECT_FALSE(minisign_sign(secret, as_bytes("x"), "a", "u\n").has_value());
}

TEST_F(MinisignTest, MalformedFilesAreRefused) {
  EXPECT_FALSE(minisign_parse_signature("").has_value());
  EXPECT_FALSE(minisign_parse_signature("untrusted comment: x\nAAAA\n").has_value());
  std::string good = vector_file("message.txt.minisig");
  EXPECT_FALSE(minisign_parse_signature(good + "extra line\n").has_value());
  EXPECT_FALSE(minisign_parse_signature(std::string(8192, 'a')).has_value());
  EXPECT_FALSE(minisign_parse_public_key("untrusted comment: x\nnot base64!\n").has_value());
}

}  // namespace
}  // namespace dg::crypto
