// EdgeService judged by an injected clock: the freeze defence (an expired
// manifest is not served until the edge syncs a fresh one) and the token
// cache (a token verified once still expires on time). The handlers are called
// directly with parsed requests, over a real Catalog, Vault and Outbox in a
// temporary folder.
#include "edge/service.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <vector>

#include "base/encoding.h"
#include "base/env.h"
#include "base/file.h"
#include "base/json.h"
#include "base/metrics.h"
#include "core/manifest.h"
#include "core/token.h"
#include "crypto/keyring.h"
#include "crypto/keys.h"
#include "crypto/sha256.h"
#include "edge/catalog.h"
#include "edge/vault.h"
#include "edge/zip.h"
#include "store/outbox.h"
#include "support/captured_stderr.h"
#include "support/temp_dir.h"

namespace dg::edge {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kNow = 1'790'000'000'000;
constexpr int64_t kMinuteMs = 60'000;
constexpr char kSlug[] = "summer-tape";
const std::string kNotes = "liner notes\n";

class EdgeServiceClockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    crypto::init();
    ASSERT_FALSE(temp_.path().empty()) << "no temporary folder";
    config_.data_dir = temp_.path();
    config_.clock_skew = std::chrono::seconds(0);
    fs::create_directories(config_.state_dir());
    crypto::Keyring keyring;
    ASSERT_TRUE(keyring.add(signer_.key().public_key(), crypto::KeyStatus::current).ok());
    ASSERT_TRUE(write_file_atomic(config_.state_dir() / "keyring.json", keyring.to_json(), 0644,
                                  Overwrite::yes)
                    .ok());
    ASSERT_TRUE(catalog_.load().ok());

    auto edge_key = crypto::SecretKey::generate();
    auto grant = core::issue_edge_grant(signer_, {edge_key.public_key().to_paserk(), {kSlug}, {}},
                                        kNow, 86'400);
    ASSERT_TRUE(grant.has_value());
    auto verified_grant =
        core::verify_edge_grant(keyring, *grant, {kNow, std::chrono::milliseconds(0), "dropgate"});
    ASSERT_TRUE(verified_grant.has_value()) << verified_grant.error().to_string();
    ASSERT_TRUE(catalog_.set_grant(*grant, *verified_grant).ok());
    vault_ = std::make_unique<Vault>(config_.blobs_dir());

    const std::string sha = hex_encode(crypto::sha256(as_bytes(kNotes)));
    const fs::path incoming = config_.data_dir / "incoming";
    ASSERT_TRUE(write_file_atomic(incoming, kNotes, 0644, Overwrite::yes).ok());
    ASSERT_TRUE(vault_->adopt(incoming, sha, kNotes.size()).ok());

    core::Manifest m;
    m.drop = kSlug;
    m.version = 1;
    m.issued_at_ms = kNow;
    m.expires_at_ms = kManifestExpiresAtMs;
    m.edition_size = 10;
    m.window = {kNow, std::nullopt};
    m.rights = {"all-rights-reserved", std::nullopt, {}, {}};
    m.assets = {{"notes.txt", kNotes.size(), sha, "text/plain"}};
    auto signed_manifest = core::sign_manifest(m, signer_.key());
    ASSERT_TRUE(signed_manifest.has_value());
    auto drop = std::make_shared<CarriedDrop>();
    drop->manifest = m;
    drop->manifest_json = signed_manifest->json;
    drop->manifest_minisig = signed_manifest->minisig;
    drop->manifest_sha256 = hex_encode(crypto::sha256(as_bytes(signed_manifest->json)));
    auto crc = crc32_file(vault_->path_of(sha));
    ASSERT_TRUE(crc.has_value());
    drop->crc32_by_sha256[sha] = *crc;
    drop->switched_at_ms = kNow;
    ASSERT_TRUE(catalog_.set_drop(kSlug, drop).ok());

    auto outbox = store::open_outbox((config_.data_dir / "outbox.db").string(), 1000);
    ASSERT_TRUE(outbox.has_value()) << outbox.error().to_string();
    outbox_ = std::move(*outbox);
    service_ =
        std::make_unique<EdgeService>(config_, catalog_, *vault_, *outbox_, metrics_, clock_);
  }
  void TearDown() override {
    service_.reset();
    outbox_.reset();
  }

  std::string download_token(int64_t issued_at_ms, uint32_t ttl_s) {
    auto token =
        core::issue_download(signer_, {"buyer-1", kSlug, 1, {"*"}, ""}, issued_at_ms, ttl_s);
    EXPECT_TRUE(token.has_value());
    return token.value_or("");
  }

  static http::Request request(const std::string& token, std::string path = "") {
    http::Request r;
    r.method = http::Verb::get;
    r.params.emplace_back("slug", kSlug);
    if (!path.empty()) r.params.emplace_back("path", std::move(path));
    r.query = {{"token", token}};
    return r;
  }

  // The problem type of a refusal, or "" for anything else.
  static std::string problem_type(const http::Response& response) {
    const auto* body = std::get_if<std::string>(&response.body);
    if (!body) return "";
    auto at = body->find("https://dropgate.dev/problems/");
    if (at == std::string::npos) return "";
    auto end = body->find('"', at);
    return body->substr(at + 30, end - at - 30);
  }

  // A string member of a problem body, or "" when absent.
  static std::string problem_member(const http::Response& response, std::string_view name) {
    const auto* body = std::get_if<std::string>(&response.body);
    if (!body) return "";
    auto value = json::parse_object(*body, 64 * 1024);
    if (!value) return "";
    auto member = json::get_string(*value, name, "problem", 1024);
    return member ? *member : "";
  }

  static constexpr int64_t kManifestExpiresAtMs = kNow + 30 * kMinuteMs;

  dg::testing::TempDir temp_;  // first: removed after what uses it
  core::TokenSigner signer_{crypto::SecretKey::generate(), "dropgate"};
  EdgeConfig config_;
  ManualClock clock_{kNow};
  Catalog catalog_{config_, clock_};
  std::unique_ptr<Vault> vault_;  // made in SetUp, once data_dir is known
  std::unique_ptr<store::Outbox> outbox_;
  metrics::Registry metrics_;
  std::unique_ptr<EdgeService> service_;
};

TEST_F(EdgeServiceClockTest, AFileIsRefusedOnceItsManifestExpired) {
  const std::string token =
      download_token(kManifestExpiresAtMs - kMinuteMs, 600);  // outlives the manifest
  clock_.set_ms(kManifestExpiresAtMs - 1000);
  auto before = request(token, "notes.txt");
  auto served = service_->file(before);
  EXPECT_EQ(served.status, 200);
  EXPECT_TRUE(std::holds_alternative<http::FileBody>(served.body));

  clock_.set_ms(kManifestExpiresAtMs + 1000);
  auto after = request(token, "notes.txt");
  auto refused = service_->file(after);
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(problem_type(refused), "manifest-expired");
}

// The archive is refused like a single file once the manifest expired: an
// edge frozen on an expired manifest must not keep serving every file of it
// as the ZIP archive.
TEST_F(EdgeServiceClockTest, TheArchiveIsRefusedOnceItsManifestExpired) {
  const std::string token = download_token(kManifestExpiresAtMs - kMinuteMs, 600);
  clock_.set_ms(kManifestExpiresAtMs - 1000);
  auto before = request(token);
  EXPECT_EQ(service_->archive(before).status, 200);

  clock_.set_ms(kManifestExpiresAtMs + 1000);
  auto after = request(token);
  auto refused = service_->archive(after);
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(problem_type(refused), "manifest-expired");
}

TEST_F(EdgeServiceClockTest, ACachedTokenStillExpiresOnTime) {
  const std::string token = download_token(kNow, 60);
  auto first = request(token, "notes.txt");
  EXPECT_EQ(service_->file(first).status, 200);
  clock_.set_ms(kNow + 60'000);  // exp, with no leeway: still valid, now from the cache
  auto cached = request(token, "notes.txt");
  EXPECT_EQ(service_->file(cached).status, 200);
  clock_.set_ms(kNow + 60'001);
  auto late = request(token, "notes.txt");
  auto refused = service_->file(late);
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(problem_type(refused), "token-refused");
  EXPECT_EQ(problem_member(refused, "reason"), "expired");
  auto late_archive = request(token);
  auto late_refused = service_->archive(late_archive);
  EXPECT_EQ(problem_type(late_refused), "token-refused");
  EXPECT_EQ(problem_member(late_refused, "reason"), "expired");
}

// A token that cannot pass under the current keyring is refused from the
// cache after the first signature check; a new keyring forgets the refusal.
TEST_F(EdgeServiceClockTest, ADeadTokenIsRefusedFromTheCacheUntilTheKeyringChanges) {
  auto counter = [&](const char* result) {
    return metrics_
        .counter("dropgate_edge_token_cache_total", "Token verifications by cache result.",
                 {{"result", result}})
        .value();
  };
  core::TokenSigner stranger{crypto::SecretKey::generate(), "dropgate"};
  auto token = core::issue_download(stranger, {"buyer-2", kSlug, 1, {"*"}, ""}, kNow, 600);
  ASSERT_TRUE(token.has_value());
  const uint64_t misses = counter("miss"), hits = counter("hit");
  for (int i = 0; i < 3; ++i) {
    auto r = request(*token, "notes.txt");
    auto refused = service_->file(r);
    EXPECT_EQ(refused.status, 401);
    EXPECT_EQ(problem_type(refused), "token-refused");
    EXPECT_EQ(problem_member(refused, "reason"), "unknown_key");
  }
  EXPECT_EQ(counter("miss"), misses + 1);  // one signature check
  EXPECT_EQ(counter("hit"), hits + 2);

  // An expired token is the same: refused once by checking, then by lookup.
  const std::string expired = download_token(kNow - 10 * kMinuteMs, 60);
  for (int i = 0; i < 2; ++i) {
    auto r = request(expired, "notes.txt");
    auto refused = service_->file(r);
    EXPECT_EQ(problem_type(refused), "token-refused");
    EXPECT_EQ(problem_member(refused, "reason"), "expired");
  }
  EXPECT_EQ(counter("miss"), misses + 2);

  crypto::Keyring keyring;
  ASSERT_TRUE(keyring.add(signer_.key().public_key(), crypto::KeyStatus::current).ok());
  ASSERT_TRUE(keyring.add(stranger.key().public_key(), crypto::KeyStatus::current).ok());
  ASSERT_TRUE(catalog_.set_keyring(keyring.to_json()).ok());
  auto r = request(*token, "notes.txt");
  EXPECT_EQ(service_->file(r).status, 200);
}

// The Authorization scheme is case-insensitive (RFC 9110 §11.1), as on the
// origin: "bearer" and "BEARER" pass like "Bearer", with one or more spaces
// before the token; another scheme is not a token at all.
TEST_F(EdgeServiceClockTest, TheBearerSchemeIsMatchedWithoutRegardToCase) {
  const std::string token = download_token(kNow, 600);
  for (const std::string& header :
       {"Bearer " + token, "bearer " + token, "BEARER " + token, "bEaReR  " + token}) {
    http::Request r;
    r.method = http::Verb::get;
    r.params.emplace_back("slug", kSlug);
    r.params.emplace_back("path", "notes.txt");
    r.headers.set(http::Field::authorization, header);
    EXPECT_EQ(service_->file(r).status, 200) << header.substr(0, 10);
  }
  http::Request basic;
  basic.method = http::Verb::get;
  basic.params.emplace_back("slug", kSlug);
  basic.params.emplace_back("path", "notes.txt");
  basic.headers.set(http::Field::authorization, "Basic " + token);
  EXPECT_EQ(service_->file(basic).status, 401);
}

// A refusal the origin also makes carries the origin's problem type
// (docs/api/problems.md), so a client reads one vocabulary on both servers.
TEST_F(EdgeServiceClockTest, RefusalsTheOriginAlsoMakesCarryTheOriginsProblemTypes) {
  auto missing = request("", "notes.txt");
  missing.query.clear();
  auto refused = service_->file(missing);
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(problem_type(refused), "token-required");

  auto other_drop =
      core::issue_download(signer_, {"buyer-1", "other-drop", 1, {"*"}, ""}, kNow, 600);
  ASSERT_TRUE(other_drop.has_value());
  auto wrong_drop = request(*other_drop, "notes.txt");
  refused = service_->file(wrong_drop);
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(problem_type(refused), "token-wrong-drop");

  auto one_file =
      core::issue_download(signer_, {"buyer-1", kSlug, 1, {"other.txt"}, ""}, kNow, 600);
  ASSERT_TRUE(one_file.has_value());
  auto wrong_asset = request(*one_file, "notes.txt");
  refused = service_->file(wrong_asset);
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(problem_type(refused), "token-wrong-asset");

  auto forged = request("v4.public.garbage", "notes.txt");
  refused = service_->file(forged);
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(problem_type(refused), "token-refused");
  EXPECT_EQ(problem_member(refused, "reason"), "malformed");

  auto certified =
      core::issue_download(signer_, {"buyer-1", kSlug, 1, {"*"}, "cert-17"}, kNow, 600);
  ASSERT_TRUE(certified.has_value());
  ASSERT_TRUE(catalog_.set_revocations("{}", "", Revocations{{"cert-17"}, kNow}).ok());
  auto revoked = request(*certified, "notes.txt");
  refused = service_->file(revoked);
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(problem_type(refused), "certificate-revoked");
}

// A download token is permission for one manifest version: the version the
// edge holds is served; an older one is stale (401, ask for a fresh link); a
// newer one is one the edge has not synced yet (503, retry in 30 s). Both for
// a file and for the archive.
TEST_F(EdgeServiceClockTest, ATokenDownloadsOnlyTheManifestVersionItWasIssuedFor) {
  auto token_for = [&](int64_t version) {
    auto token = core::issue_download(signer_, {"buyer-1", kSlug, version, {"*"}, ""}, kNow, 600);
    EXPECT_TRUE(token.has_value());
    return token.value_or("");
  };
  auto current = request(token_for(1), "notes.txt");
  EXPECT_EQ(service_->file(current).status, 200);

  for (bool archive : {false, true}) {
    auto older = request(token_for(0), archive ? "" : "notes.txt");
    auto stale = archive ? service_->archive(older) : service_->file(older);
    EXPECT_EQ(stale.status, 401);
    EXPECT_EQ(problem_type(stale), "token-stale");
    EXPECT_NE(problem_member(stale, "detail").find("version 0"), std::string::npos);
    EXPECT_NE(problem_member(stale, "detail").find("version 1 is current"), std::string::npos);

    auto newer = request(token_for(999), archive ? "" : "notes.txt");
    auto unsynced = archive ? service_->archive(newer) : service_->file(newer);
    EXPECT_EQ(unsynced.status, 503);
    EXPECT_EQ(problem_type(unsynced), "version-not-synced");
    EXPECT_EQ(unsynced.headers[http::Field::retry_after], "30");
  }

  // Once the edge holds version 2, a version-1 link is stale.
  auto v2 = std::make_shared<CarriedDrop>(*catalog_.drop(kSlug));
  v2->manifest.version = 2;
  ASSERT_TRUE(catalog_.set_drop(kSlug, v2).ok());
  auto old_link = request(token_for(1), "notes.txt");
  EXPECT_EQ(problem_type(service_->file(old_link)), "token-stale");
  auto new_link = request(token_for(2), "notes.txt");
  EXPECT_EQ(service_->file(new_link).status, 200);
}

// Anonymous junk cannot evict the tokens buyers use: with room for 100
// entries, 500 distinct dead links (well-formed, signed by a key the edge does
// not know) and 500 malformed ones later, a verified token is still answered
// from the cache; malformed text is never cached at all.
TEST_F(EdgeServiceClockTest, AFloodOfDeadLinksKeepsVerifiedTokensCached) {
  config_.token_cache_entries_max = 100;
  metrics::Registry metrics;
  EdgeService service(config_, catalog_, *vault_, *outbox_, metrics, clock_);
  auto counter = [&](const char* result) {
    return metrics
        .counter("dropgate_edge_token_cache_total", "Token verifications by cache result.",
                 {{"result", result}})
        .value();
  };
  auto cache_bytes = [&] {
    const std::string text = service.metrics_text();
    const std::string name = "\ndropgate_edge_token_cache_bytes ";
    auto at = text.find(name);
    return at == std::string::npos ? -1.0 : std::stod(text.substr(at + name.size()));
  };
  const std::string good = download_token(kNow, 600);
  auto first = request(good, "notes.txt");
  ASSERT_EQ(service.file(first).status, 200);
  const double bytes_with_good = cache_bytes();
  EXPECT_GT(bytes_with_good, 0);

  core::TokenSigner stranger{crypto::SecretKey::generate(), "dropgate"};
  for (int i = 0; i < 500; ++i) {
    auto dead = core::issue_download(stranger, {"junk-" + std::to_string(i), kSlug, 1, {"*"}, ""},
                                     kNow, 600);
    ASSERT_TRUE(dead.has_value());
    auto r = request(*dead, "notes.txt");
    ASSERT_EQ(service.file(r).status, 401);
  }
  const double bytes_after_dead = cache_bytes();
  for (int i = 0; i < 500; ++i) {
    auto r = request("v4.public." + std::string(2000, 'A') + std::to_string(i), "notes.txt");
    ASSERT_EQ(problem_member(service.file(r), "reason"), "malformed");
  }
  EXPECT_EQ(cache_bytes(), bytes_after_dead);  // malformed text took no room

  const uint64_t hits = counter("hit"), misses = counter("miss");
  auto again = request(good, "notes.txt");
  EXPECT_EQ(service.file(again).status, 200);
  EXPECT_EQ(counter("hit"), hits + 1);
  EXPECT_EQ(counter("miss"), misses);
}

// A full outbox drops downloads' events: each is counted in the metric, and
// the log says so at once, then at most every 10 s with how many were dropped
// since, not a line per download.
TEST_F(EdgeServiceClockTest, AFullOutboxCountsEveryDropAndLogsThemInSummaries) {
  auto small = store::open_outbox((config_.data_dir / "small-outbox.db").string(), 2);
  ASSERT_TRUE(small.has_value()) << small.error().to_string();
  metrics::Registry metrics;
  EdgeService service(config_, catalog_, *vault_, **small, metrics, clock_);
  const std::string token = download_token(kNow, 600);
  auto download = [&] {
    auto r = request(token, "notes.txt");
    auto response = service.file(r);
    ASSERT_EQ(response.status, 200);
    ASSERT_TRUE(response.on_done);
    response.on_done(true, kNotes.size());
  };
  auto dropped = [&] {
    return metrics
        .counter("dropgate_edge_outbox_dropped_total",
                 "Events dropped because the outbox was full.")
        .value();
  };
  test_support::CapturedStderr log;
  const std::string summary = "download events not recorded";
  download();
  download();
  EXPECT_EQ(dropped(), 0u);
  EXPECT_TRUE(log.lines_with(summary).empty());
  download();  // the first drop: logged at once
  EXPECT_EQ(dropped(), 1u);
  ASSERT_EQ(log.lines_with(summary).size(), 1u);
  EXPECT_NE(log.lines_with(summary)[0].find("\"dropped\":1"), std::string::npos)
      << log.lines_with(summary)[0];
  for (int i = 0; i < 5; ++i) download();
  EXPECT_EQ(dropped(), 6u);
  EXPECT_EQ(log.lines_with(summary).size(), 1u);  // within 10 s: counted, not logged
  clock_.advance_ms(10'000);
  download();
  EXPECT_EQ(dropped(), 7u);
  auto lines = log.lines_with(summary);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[1].find("\"dropped\":6"), std::string::npos) << lines[1];
  EXPECT_EQ(*(*small)->depth(), 2u);
}

}  // namespace
}  // namespace dg::edge
