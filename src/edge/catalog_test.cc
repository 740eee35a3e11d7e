// Catalog::load() is the edge's trust decision at start-up: a drop stored on
// disk is carried again only when its manifest verifies against the pinned
// keyring, is not older than the highest version recorded in versions.json
// (rollback), is for the drop its file is named after, and has not expired
// by the injected clock. These tests write the on-disk state directly — as a
// stale backup, a meddling operator or a damaged disk would leave it — and
// check what a fresh Catalog carries.
#include "edge/catalog.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <map>

#include "base/env.h"
#include "base/file.h"
#include "base/time.h"
#include "core/manifest.h"
#include "core/token.h"
#include "crypto/keyring.h"
#include "crypto/keys.h"
#include "support/temp_dir.h"

namespace dg::edge {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kNow = 1'790'000'000'000;
constexpr int64_t kDayMs = 86'400'000;
constexpr std::chrono::seconds kSkew{180};
constexpr char kSlug[] = "summer-tape";

core::Manifest sample(std::string slug, int64_t version,
                      int64_t expires_at_ms = kNow + 30 * kDayMs) {
  core::Manifest m;
  m.drop = std::move(slug);
  m.version = version;
  m.issued_at_ms = kNow - kDayMs;
  m.expires_at_ms = expires_at_ms;
  m.edition_size = 200;
  m.window = {kNow - kDayMs, std::nullopt};
  m.rights = {"CC-BY-NC-4.0", std::nullopt, {}, {}};
  m.assets = {{"notes.txt", 12, std::string(64, 'a'), "text/plain"},
              {"side-a/01.flac", 4096, std::string(64, 'b'), "audio/flac"}};
  return m;
}

class CatalogLoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    crypto::init();
    config_.data_dir = temp_.path();
    ASSERT_FALSE(config_.data_dir.empty()) << "no temporary folder";
    config_.clock_skew = kSkew;
    fs::create_directories(config_.state_dir());
    fs::create_directories(config_.drops_dir());
    ASSERT_TRUE(keyring_.add(origin_key_.public_key(), crypto::KeyStatus::current).ok());
    pin(keyring_);
  }

  void pin(const crypto::Keyring& keyring) {
    ASSERT_TRUE(write_file_atomic(config_.state_dir() / "keyring.json", keyring.to_json(), 0644,
                                  Overwrite::yes)
                    .ok());
  }

  void write_versions(const std::map<std::string, int64_t>& versions) {
    boost::json::object out;
    for (const auto& [slug, version] : versions) out[slug] = version;
    ASSERT_TRUE(write_file_atomic(config_.state_dir() / "versions.json",
                                  boost::json::serialize(out), 0644, Overwrite::yes)
                    .ok());
  }

  static core::SignedManifest sign(const core::Manifest& m, const crypto::SecretKey& key) {
    auto s = core::sign_manifest(m, key);
    EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().to_string());
    return s.value_or(core::SignedManifest{});
  }

  // drops/<file_slug>.json in the layout Catalog::set_drop() writes.
  void write_drop(std::string_view file_slug, const core::SignedManifest& s) {
    boost::json::object state{{"manifest", s.json},
                              {"minisig", s.minisig},
                              {"crc32", boost::json::object{{std::string(64, 'a'), 305419896}}},
                              {"switched_at", kNow - 1000}};
    ASSERT_TRUE(write_file_atomic(config_.drops_dir() / (std::string(file_slug) + ".json"),
                                  boost::json::serialize(state), 0644, Overwrite::yes)
                    .ok());
  }

  // A fresh Catalog over the data folder, loaded at `now_ms`.
  std::unique_ptr<Catalog> load_at(int64_t now_ms) {
    clock_.set_ms(now_ms);
    auto catalog = std::make_unique<Catalog>(config_, clock_);
    Status s = catalog->load();
    EXPECT_TRUE(s.ok()) << s.to_string();
    return catalog;
  }

  dg::testing::TempDir temp_;  // config_.data_dir
  EdgeConfig config_;
  ManualClock clock_{kNow};
  crypto::SecretKey origin_key_ = crypto::SecretKey::generate();
  crypto::Keyring keyring_;
};

TEST_F(CatalogLoadTest, CarriesAGoodDrop) {
  auto signed_manifest = sign(sample(kSlug, 3), origin_key_);
  write_versions({{kSlug, 3}});
  write_drop(kSlug, signed_manifest);
  auto catalog = load_at(kNow);
  ASSERT_NE(catalog->keyring(), nullptr);
  auto drop = catalog->drop(kSlug);
  ASSERT_NE(drop, nullptr);
  EXPECT_EQ(drop->manifest, sample(kSlug, 3));
  EXPECT_EQ(drop->manifest_json, signed_manifest.json);
  EXPECT_EQ(drop->manifest_minisig, signed_manifest.minisig);
  EXPECT_EQ(drop->manifest_sha256.size(), 64u);
  EXPECT_EQ(drop->crc32_by_sha256.at(std::string(64, 'a')), 305419896u);
  EXPECT_EQ(drop->switched_at_ms, kNow - 1000);
  EXPECT_EQ(catalog->version_seen(kSlug), 3);
  EXPECT_EQ(catalog->drops().size(), 1u);
}

TEST_F(CatalogLoadTest, CarriesADropWithNoVersionRecorded) {
  write_drop(kSlug, sign(sample(kSlug, 1), origin_key_));
  EXPECT_NE(load_at(kNow)->drop(kSlug), nullptr);
}

TEST_F(CatalogLoadTest, RefusesAManifestOlderThanTheVersionSeen) {
  write_versions({{kSlug, 5}});
  write_drop(kSlug, sign(sample(kSlug, 4), origin_key_));
  auto catalog = load_at(kNow);
  EXPECT_EQ(catalog->drop(kSlug), nullptr) << "a rolled-back manifest was carried";
  EXPECT_EQ(catalog->version_seen(kSlug), 5);

  write_drop(kSlug, sign(sample(kSlug, 5), origin_key_));  // the same version is not a rollback
  EXPECT_NE(load_at(kNow)->drop(kSlug), nullptr);
}

// The real sequence: set_drop() records version 2, then the drop file is
// replaced by the version-1 file a stale backup holds.
TEST_F(CatalogLoadTest, RefusesARollbackAfterSetDrop) {
  auto v1 = sign(sample(kSlug, 1), origin_key_);
  auto v2 = sign(sample(kSlug, 2), origin_key_);
  {
    auto catalog = load_at(kNow);
    auto verified = core::verify_manifest(keyring_, v2.json, v2.minisig, {kSlug, 0, kNow, kSkew});
    ASSERT_TRUE(verified.has_value()) << verified.error().to_string();
    auto drop = std::make_shared<CarriedDrop>();
    drop->manifest = verified->manifest;
    drop->manifest_json = v2.json;
    drop->manifest_minisig = v2.minisig;
    drop->manifest_sha256 = verified->sha256;
    drop->switched_at_ms = kNow;
    ASSERT_TRUE(catalog->set_drop(kSlug, drop).ok());
  }
  auto reloaded = load_at(kNow);
  ASSERT_NE(reloaded->drop(kSlug), nullptr);
  EXPECT_EQ(reloaded->drop(kSlug)->manifest.version, 2);
  EXPECT_EQ(reloaded->version_seen(kSlug), 2);

  write_drop(kSlug, v1);
  EXPECT_EQ(load_at(kNow)->drop(kSlug), nullptr) << "version 1 came back after version 2";
}

TEST_F(CatalogLoadTest, RefusesAnExpiredManifestByTheInjectedClock) {
  const int64_t expires_at_ms = kNow + kDayMs;
  write_drop(kSlug, sign(sample(kSlug, 1, expires_at_ms), origin_key_));
  EXPECT_NE(load_at(kNow)->drop(kSlug), nullptr);
  // The clock-skew leeway still covers the edge of expiry...
  EXPECT_NE(load_at(expires_at_ms + to_ms(kSkew))->drop(kSlug), nullptr);
  // ...and not one millisecond more.
  EXPECT_EQ(load_at(expires_at_ms + to_ms(kSkew) + 1)->drop(kSlug), nullptr)
      << "an expired manifest was carried";
  EXPECT_EQ(load_at(expires_at_ms + 30 * kDayMs)->drop(kSlug), nullptr);
}

TEST_F(CatalogLoadTest, RefusesAManifestSignedByAKeyNotPinned) {
  auto stranger = crypto::SecretKey::generate();
  write_drop(kSlug, sign(sample(kSlug, 1), stranger));
  write_drop("other-drop", sign(sample("other-drop", 1), origin_key_));
  auto catalog = load_at(kNow);
  EXPECT_EQ(catalog->drop(kSlug), nullptr) << "a manifest signed by an unknown key was carried";
  EXPECT_NE(catalog->drop("other-drop"), nullptr) << "one bad drop file stopped the others loading";
}

TEST_F(CatalogLoadTest, RefusesAManifestSignedByARevokedKey) {
  auto successor = crypto::SecretKey::generate();
  crypto::Keyring rotated;
  ASSERT_TRUE(rotated.add(origin_key_.public_key(), crypto::KeyStatus::current).ok());
  ASSERT_TRUE(rotated.add(successor.public_key(), crypto::KeyStatus::current).ok());
  ASSERT_TRUE(rotated.revoke(origin_key_.public_key().key_id()).ok());
  pin(rotated);
  write_drop(kSlug, sign(sample(kSlug, 1), origin_key_));
  write_drop("other-drop", sign(sample("other-drop", 1), successor));
  auto catalog = load_at(kNow);
  EXPECT_EQ(catalog->drop(kSlug), nullptr) << "a manifest signed by a revoked key was carried";
  EXPECT_NE(catalog->drop("other-drop"), nullptr);
}

TEST_F(CatalogLoadTest, RefusesAnotherDropsManifestUnderThisName) {
  write_drop("other-drop", sign(sample(kSlug, 1), origin_key_));
  auto catalog = load_at(kNow);
  EXPECT_EQ(catalog->drop("other-drop"), nullptr);
  EXPECT_EQ(catalog->drop(kSlug), nullptr);
}

TEST_F(CatalogLoadTest, RefusesATamperedManifestOrSignature) {
  auto s = sign(sample(kSlug, 1), origin_key_);
  auto tampered = s;
  tampered.json.replace(tampered.json.find("\"edition\":200"), 13, "\"edition\":900");
  write_drop(kSlug, tampered);
  EXPECT_EQ(load_at(kNow)->drop(kSlug), nullptr);

  auto swapped = sign(sample(kSlug, 1, kNow + 2 * kDayMs), origin_key_);  // another valid signature
  swapped.json = s.json;
  write_drop(kSlug, swapped);
  EXPECT_EQ(load_at(kNow)->drop(kSlug), nullptr);

  ASSERT_TRUE(write_file_atomic(config_.drops_dir() / "summer-tape.json", "{\"manifest\":", 0644,
                                Overwrite::yes)
                  .ok());
  EXPECT_EQ(load_at(kNow)->drop(kSlug), nullptr);
}

TEST_F(CatalogLoadTest, WithNoPinnedKeyringNothingIsCarried) {
  write_drop(kSlug, sign(sample(kSlug, 1), origin_key_));
  fs::remove(config_.state_dir() / "keyring.json");
  auto catalog = load_at(kNow);
  EXPECT_EQ(catalog->keyring(), nullptr);
  EXPECT_EQ(catalog->drop(kSlug), nullptr);
}

TEST_F(CatalogLoadTest, TheStoredGrantIsJudgedByTheInjectedClock) {
  auto signer_key = crypto::SecretKey::from_paserk(origin_key_.to_paserk());
  ASSERT_TRUE(signer_key.has_value());
  core::TokenSigner signer(std::move(*signer_key), "dropgate");
  auto edge_key = crypto::SecretKey::generate();
  auto grant = core::issue_edge_grant(signer, {edge_key.public_key().to_paserk(), {kSlug}, {}},
                                      kNow, 86'400);
  ASSERT_TRUE(grant.has_value()) << grant.error().to_string();
  ASSERT_TRUE(write_file_atomic(config_.grant_file(), *grant + "\n", 0600, Overwrite::yes).ok());

  auto fresh = load_at(kNow + 1000);
  ASSERT_TRUE(fresh->grant() != nullptr);
  EXPECT_EQ(fresh->grant_token(), *grant);
  EXPECT_EQ(fresh->grant()->fields.drops, std::vector<std::string>{kSlug});
  auto expired = load_at(kNow + kDayMs + to_ms(kSkew) + 1000);
  EXPECT_EQ(expired->grant(), nullptr);
  EXPECT_TRUE(expired->grant_token().empty());
}

}  // namespace
}  // namespace dg::edge
