// Manifest model, canonical form, signing and every refusal of verify_manifest():
// bad signature, unknown or revoked key, expired, rollback, another drop,
// traversal paths, tampering.
#include "core/manifest.h"

#include <gtest/gtest.h>

#include "base/encoding.h"
#include "base/time.h"
#include "crypto/jcs.h"
#include "crypto/minisign.h"

namespace dg::core {
namespace {

constexpr int64_t kNow = 1'790'000'000'000;

Manifest sample(int64_t version = 2) {
  Manifest m;
  m.drop = "summer-tape";
  m.version = version;
  m.issued_at_ms = kNow;
  m.expires_at_ms = kNow + 7 * 86'400'000ll;
  m.edition_size = 200;
  m.window = {kNow, kNow + 86'400'000};
  m.rights = {"CC-BY-NC-4.0", 30 * 86'400, {}, {"KP"}};
  m.assets = {{"art/cover.png", 1234, std::string(64, 'a'), "image/png"},
              {"side-a.flac", 99, std::string(64, 'b'), "audio/flac"}};
  return m;
}

class ManifestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    crypto::init();
    ASSERT_TRUE(keyring_.add(key_.public_key(), crypto::KeyStatus::current).ok());
  }
  ManifestExpectations expect(int64_t seen = 0) { return {"summer-tape", seen, kNow + 1000}; }
  SignedManifest signed_sample(const Manifest& m = sample()) {
    auto s = sign_manifest(m, key_);
    EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().to_string());
    return s.value_or(SignedManifest{});
  }

  crypto::SecretKey key_ = crypto::SecretKey::generate();
  crypto::Keyring keyring_;
};

TEST_F(ManifestTest, JsonIsCanonicalAndRoundTrips) {
  auto json = manifest_to_json(sample());
  ASSERT_TRUE(json.has_value());
  auto recanonical = crypto::jcs_canonicalize_text(*json, limits::manifest_bytes_max);
  ASSERT_TRUE(recanonical.has_value());
  EXPECT_EQ(*recanonical, *json);
  auto parsed = parse_manifest(*json);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().to_string();
  EXPECT_EQ(*parsed, sample());
}

TEST_F(ManifestTest, SignedManifestVerifies) {
  auto s = signed_sample();
  auto verified = verify_manifest(keyring_, s.json, s.minisig, expect());
  ASSERT_TRUE(verified.has_value()) << verified.error().to_string();
  EXPECT_EQ(verified->manifest, sample());
  EXPECT_EQ(verified->key_id, key_.public_key().key_id());
  EXPECT_EQ(verified->sha256.size(), 64u);
}

TEST_F(ManifestTest, OneChangedByteIsRefused) {
  auto s = signed_sample();
  std::string tampered = s.json;
  tampered[tampered.find("\"edition\":200") + 10] = '9';  // 200 -> 900
  EXPECT_FALSE(verify_manifest(keyring_, tampered, s.minisig, expect()).has_value());
}

TEST_F(ManifestTest, RollbackIsRefused) {
  auto s = signed_sample(sample(2));
  EXPECT_TRUE(verify_manifest(keyring_, s.json, s.minisig, expect(2)).has_value());
  auto refused = verify_manifest(keyring_, s.json, s.minisig, expect(3));
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message().find("rollback"), std::string::npos);
}

TEST_F(ManifestTest, AnotherDropsManifestIsRefused) {
  auto s = signed_sample();
  ManifestExpectations other = expect();
  other.drop = "winter-tape";
  auto refused = verify_manifest(keyring_, s.json, s.minisig, other);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), Code::forbidden);
}

TEST_F(ManifestTest, ExpiredManifestIsRefused) {
  auto s = signed_sample();
  ManifestExpectations later = expect();
  later.now_ms = sample().expires_at_ms + to_ms(limits::clock_skew_default) + 1;
  auto refused = verify_manifest(keyring_, s.json, s.minisig, later);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message().find("expired"), std::string::npos);
}

TEST_F(ManifestTest, UnknownAndRevokedKeysAreRefused) {
  auto s = signed_sample();
  crypto::Keyring stranger;
  ASSERT_TRUE(
      stranger.add(crypto::SecretKey::generate().public_key(), crypto::KeyStatus::current).ok());
  EXPECT_FALSE(verify_manifest(stranger, s.json, s.minisig, expect()).has_value());
  ASSERT_TRUE(keyring_.revoke(key_.public_key().key_id()).ok());
  auto refused = verify_manifest(keyring_, s.json, s.minisig, expect());
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message().find("revoked"), std::string::npos);
}

TEST_F(ManifestTest, SignatureFromAnotherManifestIsRefused) {
  // Mix-and-match: version 3's bytes with version 2's signature, and a valid
  // signature whose trusted comment names another drop.
  auto v2 = signed_sample(sample(2));
  auto v3 = signed_sample(sample(3));
  EXPECT_FALSE(verify_manifest(keyring_, v3.json, v2.minisig, expect()).has_value());
  auto json = *manifest_to_json(sample());
  auto lying = crypto::minisign_sign(
      key_, as_bytes(json),
      "dropgate-manifest drop=winter-tape version=2 kid=" + key_.public_key().key_id(), "x");
  ASSERT_TRUE(lying.has_value());
  auto refused = verify_manifest(keyring_, json, *lying, expect());
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message().find("trusted comment"), std::string::npos);
}

TEST_F(ManifestTest, TraversalPathsAreRefusedEvenWhenSigned) {
  for (const char* bad : {"../secret", "/etc/passwd", "a/../../b", "a//b", "./a", "a\\..\\b"}) {
    Manifest m = sample();
    m.assets = {{bad, 1, std::string(64, 'c'), "text/plain"}};
    EXPECT_FALSE(manifest_to_json(m).has_value()) << bad;
    // Hand-built JSON signed by a trusted key is still refused.
    std::string json = R"({"assets":[{"path":")" + std::string(bad) + R"(","sha256":")" +
                       std::string(64, 'c') +
                       R"(","size":1,"type":"text/plain"}],"drop":"summer-tape","edition":200,)"
                       R"("expires_at":"2026-10-01T00:00:00Z","format":1,"issued_at":)"
                       R"("2026-09-21T00:00:00Z","rights":{"license":"x","territories":{}},)"
                       R"("version":2,"window":{"opens_at":"2026-09-21T00:00:00Z"}})";
    // JSON-escape the backslashes of the Windows-style case.
    std::string escaped;
    for (char c : json) escaped += c == '\\' ? std::string("\\\\") : std::string(1, c);
    auto sig = crypto::minisign_sign(
        key_, as_bytes(escaped),
        "dropgate-manifest drop=summer-tape version=2 kid=" + key_.public_key().key_id(), "x");
    ASSERT_TRUE(sig.has_value());
    auto refused = verify_manifest(keyring_, escaped, *sig, expect());
    ASSERT_FALSE(refused.has_value()) << bad;
    EXPECT_EQ(refused.error().code(), Code::invalid_argument) << refused.error().to_string();
  }
}

TEST_F(ManifestTest, InvalidModelsAreRefused) {
  Manifest unsorted = sample();
  std::swap(unsorted.assets[0], unsorted.assets[1]);
  EXPECT_FALSE(manifest_to_json(unsorted).has_value());
  Manifest duplicate = sample();
  duplicate.assets[1].path = duplicate.assets[0].path;
  EXPECT_FALSE(manifest_to_json(duplicate).has_value());
  Manifest bad_hash = sample();
  bad_hash.assets[0].sha256 = std::string(64, 'A');
  EXPECT_FALSE(manifest_to_json(bad_hash).has_value());
  Manifest bad_window = sample();
  bad_window.window.closes_at_ms = bad_window.window.opens_at_ms;
  EXPECT_FALSE(manifest_to_json(bad_window).has_value());
  Manifest bad_territory = sample();
  bad_territory.rights.territories_denied = {"XX"};
  EXPECT_FALSE(manifest_to_json(bad_territory).has_value());
  Manifest both = sample();
  both.rights.territories_allowed = {"FR"};
  EXPECT_FALSE(manifest_to_json(both).has_value());
  EXPECT_FALSE(parse_manifest(R"({"format":2})").has_value());
}

TEST_F(ManifestTest, LegacyUnhashedSignatureIsRefused) {
  auto s = signed_sample();
  auto parsed = *crypto::minisign_parse_signature(s.minisig);
  // Rewrite the algorithm to legacy "Ed": the signature no longer applies, and
  // dropgate refuses legacy signatures for manifests before even checking.
  std::string lines = s.minisig;
  size_t start = lines.find('\n') + 1;
  size_t end = lines.find('\n', start);
  auto blob = *base64_decode(lines.substr(start, end - start));
  blob[1] = 'd';
  lines.replace(start, end - start, base64_encode(blob));
  auto refused = verify_manifest(keyring_, s.json, lines, expect());
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message().find("prehashed"), std::string::npos);
  EXPECT_TRUE(parsed.prehashed);
}

}  // namespace
}  // namespace dg::core
