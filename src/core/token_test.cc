// Per-purpose token issue and verification, including every refusal the
// foundation promises: wrong purpose, expired beyond leeway, not yet valid,
// wrong key, revoked key, tampered payload or footer, non-canonical base64,
// oversized tokens.
#include "core/token.h"

#include <gtest/gtest.h>

#include "base/encoding.h"
#include "base/time.h"
#include "core/validate.h"
#include "crypto/paseto.h"

namespace dg::core {
namespace {

constexpr int64_t kNow = 1'790'000'000'000;  // 2026-09-21

class TokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    crypto::init();
    signer_ = std::make_unique<TokenSigner>(crypto::SecretKey::generate(), "origin.test");
    ASSERT_TRUE(keyring_.add(signer_->key().public_key(), crypto::KeyStatus::current).ok());
  }
  std::string download(uint32_t ttl_s = 300, int64_t now_ms = kNow) {
    DownloadFields fields{"buyer-1", "summer-tape", 3, {"side-a.flac", "art/cover.png"}};
    auto token = issue_download(*signer_, fields, now_ms, ttl_s);
    EXPECT_TRUE(token.has_value());
    return token.value_or("");
  }
  VerifyOptions at(int64_t now_ms) { return VerifyOptions{now_ms}; }

  std::unique_ptr<TokenSigner> signer_;
  crypto::Keyring keyring_;
};

TEST_F(TokenTest, DownloadRoundTrip) {
  auto verified = verify_download(keyring_, download(), at(kNow + 1000));
  ASSERT_TRUE(verified.has_value()) << verified.error().to_string();
  EXPECT_EQ(verified->fields.account, "buyer-1");
  EXPECT_EQ(verified->fields.drop, "summer-tape");
  EXPECT_EQ(verified->fields.manifest_version, 3);
  EXPECT_TRUE(verified->allows("side-a.flac"));
  EXPECT_FALSE(verified->allows("side-b.flac"));
  EXPECT_EQ(verified->common.issuer, "origin.test");
  EXPECT_EQ(verified->common.key_id, signer_->key_id());
  EXPECT_EQ(verified->common.issued_at_ms, kNow);
  EXPECT_EQ(*verified->common.expires_at_ms, kNow + 300'000);
  EXPECT_FALSE(verified->common.token_id.empty());
}

TEST_F(TokenTest, EachTokenHasItsOwnId) {
  auto a = verify_download(keyring_, download(), at(kNow));
  auto b = verify_download(keyring_, download(), at(kNow));
  EXPECT_NE(a->common.token_id, b->common.token_id);
}

TEST_F(TokenTest, WrongPurposeIsRefused) {
  std::string token = download();
  auto as_cert = verify_cert(keyring_, token, at(kNow));
  ASSERT_FALSE(as_cert.has_value());
  EXPECT_EQ(as_cert.error().code(), Code::forbidden);
  EXPECT_FALSE(verify_edge_grant(keyring_, token, at(kNow)).has_value());
  EXPECT_FALSE(verify_receipt(keyring_, token, at(kNow)).has_value());

  CertFields cert{"buyer-1", "summer-tape",        17,
                  200,       std::string(64, 'a'), {"CC-BY-4.0", {}, {}, {}}};
  auto cert_token = issue_cert(*signer_, cert, kNow);
  ASSERT_TRUE(cert_token.has_value());
  EXPECT_FALSE(verify_download(keyring_, *cert_token, at(kNow)).has_value());
}

TEST_F(TokenTest, ExpiryHonoursTheClockSkewLeeway) {
  std::string token = download(60);
  const int64_t exp = kNow + 60'000;
  EXPECT_TRUE(
      verify_download(keyring_, token, at(exp + to_ms(limits::clock_skew_default))).has_value());
  auto late = verify_download(keyring_, token, at(exp + to_ms(limits::clock_skew_default) + 1));
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().code(), Code::unauthorized);
  EXPECT_NE(late.error().message().find("expired"), std::string::npos);
  EXPECT_NE(late.error().message().find("clocks may differ"), std::string::npos);
  VerifyOptions strict{exp + 1, std::chrono::milliseconds(0)};
  EXPECT_FALSE(verify_download(keyring_, token, strict).has_value());
}

TEST_F(TokenTest, TokenFromTheFutureIsNotYetValid) {
  // Issued by a clock 10 minutes ahead of the verifier's.
  std::string token = download(300, kNow + 600'000);
  auto early = verify_download(keyring_, token, at(kNow));
  ASSERT_FALSE(early.has_value());
  EXPECT_NE(early.error().message().find("future"), std::string::npos);
  // Within the leeway it is fine.
  EXPECT_TRUE(verify_download(keyring_, download(300, kNow + 60'000), at(kNow)).has_value());
}

TEST_F(TokenTest, NotBeforeIsEnforced) {
  // nbf is not issued by dropgate today, but a verifier honours it when present.
  std::string payload = R"({"typ":"download","iss":"x","iat":")" + format_rfc3339(kNow) +
                        R"(","exp":")" + format_rfc3339(kNow + 3'600'000) + R"(","nbf":")" +
                        format_rfc3339(kNow + 1'800'000) +
                        R"(","jti":"j","sub":"a","drop":"d","ver":1,"assets":["*"]})";
  std::string footer = R"({"kid":")" + signer_->key_id() + R"("})";
  std::string token = crypto::paseto_v4_public_sign(signer_->key(), payload, footer, "");
  auto early = verify_download(keyring_, token, at(kNow));
  ASSERT_FALSE(early.has_value());
  EXPECT_NE(early.error().message().find("not valid before"), std::string::npos);
  EXPECT_TRUE(verify_download(keyring_, token, at(kNow + 1'800'000)).has_value());
}

TEST_F(TokenTest, WrongKeyIsRefused) {
  crypto::Keyring other;
  ASSERT_TRUE(
      other.add(crypto::SecretKey::generate().public_key(), crypto::KeyStatus::current).ok());
  auto refused = verify_download(other, download(), at(kNow));
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message().find("unknown key"), std::string::npos);

  // A token whose footer names our key but that another key signed.
  TokenSigner impostor(crypto::SecretKey::generate(), "origin.test");
  std::string payload = R"({"typ":"download","iss":"x","iat":")" + format_rfc3339(kNow) +
                        R"(","exp":")" + format_rfc3339(kNow + 60'000) +
                        R"(","jti":"j","sub":"a","drop":"d","ver":1,"assets":["*"]})";
  std::string forged = crypto::paseto_v4_public_sign(
      impostor.key(), payload, R"({"kid":")" + signer_->key_id() + R"("})", "");
  auto bad_sig = verify_download(keyring_, forged, at(kNow));
  ASSERT_FALSE(bad_sig.has_value());
  EXPECT_NE(bad_sig.error().message().find("signature"), std::string::npos);
}

TEST_F(TokenTest, RevokedKeyIsRefusedRetiredKeyStillVerifies) {
  std::string token = download();
  ASSERT_TRUE(keyring_.retire(signer_->key_id()).ok());
  EXPECT_TRUE(verify_download(keyring_, token, at(kNow)).has_value());
  ASSERT_TRUE(keyring_.revoke(signer_->key_id()).ok());
  auto refused = verify_download(keyring_, token, at(kNow));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), Code::forbidden);
  EXPECT_NE(refused.error().message().find("revoked"), std::string::npos);
}

TEST_F(TokenTest, TamperedPayloadIsRefused) {
  std::string token = download();
  size_t body_start = std::string_view("v4.public.").size();
  size_t dot = token.find('.', body_start);
  auto body = *base64url_decode(std::string_view(token).substr(body_start, dot - body_start));
  std::string text(body.begin(), body.end() - 64);
  size_t pos = text.find("buyer-1");
  ASSERT_NE(pos, std::string::npos);
  body[pos + 6] = '2';  // buyer-1 -> buyer-2
  std::string tampered = token.substr(0, body_start) + base64url_encode(body) + token.substr(dot);
  auto refused = verify_download(keyring_, tampered, at(kNow));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), Code::unauthorized);
}

TEST_F(TokenTest, TamperedFooterIsRefused) {
  // Re-point the footer at a second trusted key: the signature no longer holds.
  auto second = crypto::SecretKey::generate();
  ASSERT_TRUE(keyring_.add(second.public_key(), crypto::KeyStatus::retired).ok());
  std::string token = download();
  std::string footer = R"({"kid":")" + second.public_key().key_id() + R"("})";
  std::string tampered = token.substr(0, token.rfind('.') + 1) + base64url_encode(as_bytes(footer));
  EXPECT_FALSE(verify_download(keyring_, tampered, at(kNow)).has_value());
  // A footer with extra members or none at all is refused too.
  std::string payload = R"({"typ":"download"})";
  EXPECT_FALSE(verify_download(keyring_,
                               crypto::paseto_v4_public_sign(signer_->key(), payload, "", ""),
                               at(kNow))
                   .has_value());
  std::string extra = R"({"kid":")" + signer_->key_id() + R"(","x":1})";
  EXPECT_FALSE(verify_download(keyring_,
                               crypto::paseto_v4_public_sign(signer_->key(), payload, extra, ""),
                               at(kNow))
                   .has_value());
}

TEST_F(TokenTest, NonCanonicalBase64IsRefused) {
  std::string token = download();
  EXPECT_FALSE(verify_download(keyring_, token + "=", at(kNow)).has_value());
  std::string with_plus = token;
  with_plus[20] = '+';
  EXPECT_FALSE(verify_download(keyring_, with_plus, at(kNow)).has_value());
  // The footer {"kid":"k4.pid.<44>"} is 61 bytes, so its last base64url character
  // carries 4 unused bits; setting one gives a second spelling, which is refused.
  std::string footer_text = token.substr(token.rfind('.') + 1);
  ASSERT_EQ(footer_text.size() % 4, 2u);
  std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string odd = token;
  odd.back() = alphabet[alphabet.find(odd.back()) | 1];
  ASSERT_NE(odd, token);
  EXPECT_FALSE(verify_download(keyring_, odd, at(kNow)).has_value());
}

TEST_F(TokenTest, OversizedTokenIsRefused) {
  std::string huge = "v4.public." + std::string(limits::token_bytes_max, 'A');
  auto refused = verify_download(keyring_, huge, at(kNow));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), Code::limit_exceeded);
}

TEST_F(TokenTest, IssuerCanBeRequired) {
  VerifyOptions options{kNow};
  options.issuer = "someone-else";
  auto refused = verify_download(keyring_, download(), options);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), Code::forbidden);
}

TEST_F(TokenTest, DownloadTtlIsBounded) {
  DownloadFields fields{"buyer-1", "summer-tape", 1, {"*"}};
  EXPECT_FALSE(issue_download(*signer_, fields, kNow, 0).has_value());
  const auto ttl_s_over = static_cast<uint32_t>(to_s(limits::download_token_ttl_max) + 1);
  EXPECT_FALSE(issue_download(*signer_, fields, kNow, ttl_s_over).has_value());
  fields.assets = {"../etc/passwd"};
  EXPECT_FALSE(issue_download(*signer_, fields, kNow, 60).has_value());
}

TEST_F(TokenTest, UnknownFieldsAreRefused) {
  std::string payload = R"({"typ":"download","iss":"x","iat":")" + format_rfc3339(kNow) +
                        R"(","exp":")" + format_rfc3339(kNow + 60'000) +
                        R"(","jti":"j","sub":"a","drop":"d","ver":1,"assets":["*"],"admin":true})";
  std::string token = crypto::paseto_v4_public_sign(
      signer_->key(), payload, R"({"kid":")" + signer_->key_id() + R"("})", "");
  EXPECT_FALSE(verify_download(keyring_, token, at(kNow)).has_value());
}

TEST_F(TokenTest, CertHasNoExpiryAndCarriesRights) {
  CertFields fields{"buyer-1", "summer-tape",        17,
                    200,       std::string(64, 'b'), {"CC-BY-NC-4.0", 86'400, {}, {"US"}}};
  auto token = issue_cert(*signer_, fields, kNow);
  ASSERT_TRUE(token.has_value());
  auto verified = verify_cert(keyring_, *token, at(kNow + 10ll * 365 * 86'400'000));
  ASSERT_TRUE(verified.has_value()) << verified.error().to_string();
  EXPECT_EQ(verified->fields.serial, 17u);
  EXPECT_EQ(verified->fields.edition_size, 200u);
  EXPECT_EQ(verified->fields.rights, fields.rights);
  EXPECT_FALSE(verified->common.expires_at_ms.has_value());
  fields.serial = 201;
  EXPECT_FALSE(issue_cert(*signer_, fields, kNow).has_value());
}

TEST_F(TokenTest, EdgeGrantBindsTheEdgeKey) {
  auto edge = crypto::SecretKey::generate();
  EdgeGrantFields fields{
      edge.public_key().to_paserk(), {"summer-tape"}, {{"summer-tape", 1, 20, kNow + 3'600'000}}};
  auto token = issue_edge_grant(*signer_, fields, kNow, 86'400);
  ASSERT_TRUE(token.has_value());
  auto verified = verify_edge_grant(keyring_, *token, at(kNow));
  ASSERT_TRUE(verified.has_value()) << verified.error().to_string();
  EXPECT_EQ(verified->edge_key, edge.public_key());
  ASSERT_EQ(verified->fields.leases.size(), 1u);
  EXPECT_EQ(verified->fields.leases[0].last_serial, 20u);
  EXPECT_EQ(verified->fields.leases[0].sell_until_ms, kNow + 3'600'000);
  EXPECT_FALSE(verify_edge_grant(keyring_, *token, at(kNow + 2 * 86'400'000)).has_value());
}

TEST_F(TokenTest, ReceiptRoundTrip) {
  ReceiptFields fields{"reader-7", "txn-123", 1500, "EUR", "summer-tape"};
  auto token = issue_receipt(*signer_, fields, kNow, 600);
  ASSERT_TRUE(token.has_value());
  auto verified = verify_receipt(keyring_, *token, at(kNow));
  ASSERT_TRUE(verified.has_value());
  EXPECT_EQ(verified->fields.amount_minor, 1500);
  EXPECT_EQ(verified->fields.currency, "EUR");
  fields.currency = "euro";
  EXPECT_FALSE(issue_receipt(*signer_, fields, kNow, 600).has_value());
}

// Owner ids: the certificate's "sub" is a pseudonym the origin can recompute
// for the same drop and account, and nobody without the secret can derive.
TEST(OwnerIdTest, IsStableForTheSameSecretDropAndAccount) {
  crypto::init();
  auto secret = OwnerSecret::generate();
  std::string id = owner_id(secret, "summer-tape", "ana@example.com");
  EXPECT_EQ(id, owner_id(secret, "summer-tape", "ana@example.com"));
  // Reloaded from its file text, the secret gives the same ids.
  auto reloaded = OwnerSecret::from_text(secret.to_text());
  ASSERT_TRUE(reloaded.has_value()) << reloaded.error().to_string();
  EXPECT_EQ(id, owner_id(*reloaded, "summer-tape", "ana@example.com"));
}

TEST(OwnerIdTest, IsOwnPrefixedBase64urlAndNeverContainsTheAccount) {
  crypto::init();
  auto secret = OwnerSecret::generate();
  std::string id = owner_id(secret, "summer-tape", "ana@example.com");
  ASSERT_TRUE(id.starts_with("own_")) << id;
  auto hash = base64url_decode(std::string_view(id).substr(4));
  ASSERT_TRUE(hash.has_value()) << id;
  EXPECT_EQ(hash->size(), owner_id_hash_bytes);
  EXPECT_EQ(id.find("ana"), std::string::npos);
  EXPECT_TRUE(validate_identifier(id, "owner").ok());
}

TEST(OwnerIdTest, DiffersAcrossAccountsDropsAndSecrets) {
  crypto::init();
  auto secret = OwnerSecret::generate();
  auto other_secret = OwnerSecret::generate();
  std::string id = owner_id(secret, "summer-tape", "ana@example.com");
  EXPECT_NE(id, owner_id(secret, "summer-tape", "bob@example.com"));
  EXPECT_NE(id, owner_id(secret, "winter-tape", "ana@example.com"));
  EXPECT_NE(id, owner_id(other_secret, "summer-tape", "ana@example.com"));
  // Lengths are part of the hashed message: moving a character across the
  // drop/account boundary gives another id.
  EXPECT_NE(owner_id(secret, "ab", "c"), owner_id(secret, "a", "bc"));
}

TEST(OwnerIdTest, SecretTextOfTheWrongSizeOrAlphabetIsRefused) {
  crypto::init();
  EXPECT_FALSE(OwnerSecret::from_text("").has_value());
  EXPECT_FALSE(OwnerSecret::from_text("AAAA").has_value());
  std::string text = OwnerSecret::generate().to_text();
  EXPECT_FALSE(OwnerSecret::from_text(text + "AAAA").has_value());
  EXPECT_FALSE(OwnerSecret::from_text(text + "=").has_value());
  EXPECT_TRUE(OwnerSecret::from_text(text).has_value());
}

}  // namespace
}  // namespace dg::core
