// PASETO v4.public known-answer tests from tests/vectors/paseto/v4.json
// (paseto-standard/test-vectors): every 4-S-* case signs byte for byte and
// verifies; every 4-F-* case is refused by the v4.public verifier.
#include "crypto/paseto.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "base/encoding.h"
#include "base/file.h"
#include "base/limits.h"

namespace dg::crypto {
namespace {

Bytes hex(const boost::json::value& v) {
  return *hex_decode(std::string(v.as_string()));
}

std::vector<boost::json::object> public_cases() {
  auto text = read_file(std::string(DG_VECTORS_DIR) + "/paseto/v4.json", 1 << 20);
  EXPECT_TRUE(text.has_value());
  std::vector<boost::json::object> out;
  boost::json::value root = boost::json::parse(*text);
  for (const auto& t : root.as_object().at("tests").as_array()) {
    std::string name(t.as_object().at("name").as_string());
    if (name.starts_with("4-S-") || name.starts_with("4-F-")) out.push_back(t.as_object());
  }
  return out;
}

// Verifies like an application would: parse, then check with `key`.
Result<PasetoParsed> verify(const PublicKey& key, std::string_view token,
                            std::string_view implicit) {
  auto parsed = paseto_v4_public_parse(token);
  if (!parsed) return parsed;
  if (Status s = paseto_v4_public_check(key, *parsed, implicit); !s.ok()) return error(s);
  return parsed;
}

TEST(PasetoVectors, AllV4PublicCases) {
  init();
  auto cases = public_cases();
  ASSERT_EQ(cases.size(), 8u);  // 4-S-1..3 and 4-F-1..5
  PublicKey signing_public = *PublicKey::from_bytes(hex(cases[0].at("public-key")));
  for (const auto& c : cases) {
    std::string name(c.at("name").as_string());
    SCOPED_TRACE(name);
    std::string token(c.at("token").as_string());
    std::string footer(c.at("footer").as_string());
    std::string implicit(c.at("implicit-assertion").as_string());
    if (c.at("expect-fail").as_bool()) {
      EXPECT_FALSE(verify(signing_public, token, implicit).has_value());
      // The failure cases that carry a symmetric key must fail with it too.
      if (c.contains("key") && hex(c.at("key")).size() == public_key_bytes) {
        auto as_public = *PublicKey::from_bytes(hex(c.at("key")));
        EXPECT_FALSE(verify(as_public, token, implicit).has_value());
      }
      continue;
    }
    auto secret = SecretKey::from_bytes(hex(c.at("secret-key")));
    ASSERT_TRUE(secret.has_value());
    std::string payload(c.at("payload").as_string());
    EXPECT_EQ(paseto_v4_public_sign(*secret, payload, footer, implicit), token);
    auto verified = verify(signing_public, token, implicit);
    ASSERT_TRUE(verified.has_value()) << verified.error().to_string();
    EXPECT_EQ(verified->payload_untrusted, payload);
    EXPECT_EQ(verified->footer_untrusted, footer);
    // The same token under a different implicit assertion is refused.
    EXPECT_FALSE(verify(signing_public, token, implicit + "x").has_value());
  }
}

class PasetoTest : public ::testing::Test {
 protected:
  void SetUp() override { init(); }
  SecretKey key_ = SecretKey::generate();
};

TEST_F(PasetoTest, TamperedPayloadOrFooterIsRefused) {
  std::string token = paseto_v4_public_sign(key_, R"({"a":1})", R"({"kid":"x"})", "");
  ASSERT_TRUE(verify(key_.public_key(), token, "").has_value());
  size_t dot = token.rfind('.');
  std::string tampered_footer =
      token.substr(0, dot + 1) + base64url_encode(as_bytes(R"({"kid":"y"})"));
  EXPECT_FALSE(verify(key_.public_key(), tampered_footer, "").has_value());
  std::string tampered_payload = token;
  tampered_payload[12] = tampered_payload[12] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(verify(key_.public_key(), tampered_payload, "").has_value());
  EXPECT_FALSE(verify(SecretKey::generate().public_key(), token, "").has_value());
}

TEST_F(PasetoTest, NonCanonicalEncodingsAreRefused) {
  std::string token = paseto_v4_public_sign(key_, R"({"a":1})", "", "");
  ASSERT_TRUE(verify(key_.public_key(), token, "").has_value());
  EXPECT_FALSE(paseto_v4_public_parse(token + "=").has_value());
  EXPECT_FALSE(paseto_v4_public_parse(token + ".").has_value());  // empty footer, second spelling
  EXPECT_FALSE(paseto_v4_public_parse(token + " ").has_value());
  std::string plus = token;
  plus[15] = '+';
  EXPECT_FALSE(paseto_v4_public_parse(plus).has_value());
  // 71 payload+signature bytes end in a 2-bit remainder; setting it makes a second spelling.
  std::string odd = paseto_v4_public_sign(key_, "1234567", "", "");
  auto bytes = *base64url_decode(odd.substr(10));
  ASSERT_EQ(bytes.size() % 3, 2u);
  std::string body = odd.substr(10);
  char last = body.back();
  std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  body.back() = alphabet[alphabet.find(last) + 1];
  EXPECT_FALSE(paseto_v4_public_parse("v4.public." + body).has_value());
}

TEST_F(PasetoTest, OversizedTokenIsRefusedBeforeDecoding) {
  std::string big(limits::token_bytes_max + 1, 'A');
  auto parsed = paseto_v4_public_parse("v4.public." + big);
  ASSERT_FALSE(parsed.has_value());
  EXPECT_EQ(parsed.error().code(), Code::limit_exceeded);
}

TEST_F(PasetoTest, OtherVersionsAndPurposesAreRefused) {
  std::string token = paseto_v4_public_sign(key_, "{}", "", "");
  EXPECT_FALSE(paseto_v4_public_parse("v4.local." + token.substr(10)).has_value());
  EXPECT_FALSE(paseto_v4_public_parse("v3.public." + token.substr(10)).has_value());
  EXPECT_FALSE(paseto_v4_public_parse("V4.PUBLIC." + token.substr(10)).has_value());
  EXPECT_FALSE(paseto_v4_public_parse("v4.public.AAAA").has_value());  // shorter than a signature
}

TEST(PasetoPae, MatchesSpecExamples) {
  // From the PAE section of the PASETO specification.
  EXPECT_EQ(paseto_pae({}), std::string("\x00\x00\x00\x00\x00\x00\x00\x00", 8));
  EXPECT_EQ(paseto_pae({""}), std::string("\x01\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16));
  EXPECT_EQ(paseto_pae({"test"}), std::string("\x01\0\0\0\0\0\0\0\x04\0\0\0\0\0\0\0test", 20));
}

}  // namespace
}  // namespace dg::crypto
