// An origin service assembled for a test as app.cc assembles it: a migrated
// SQLite store in a fresh temporary folder (removed when the test ends), a
// blob store, a signing key with its keyring, the default config, metrics,
// an owner secret, a seller and a group committer, all reading one injected
// clock. A test that needs to see or steer the store's calls wraps the SQLite
// store in one of its own, which the service then uses.
//
// Usage, as a member of a gtest fixture declared after the clock it is given:
//   ManualClock clock_{kNow};
//   dg::testing::TestOrigin origin_;
//   void SetUp() override { ASSERT_TRUE(origin_.start(clock_).ok()); }
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>

#include "base/env.h"
#include "base/metrics.h"
#include "base/status.h"
#include "core/token.h"
#include "crypto/keyring.h"
#include "crypto/keys.h"
#include "origin/blob_store.h"
#include "origin/committer.h"
#include "origin/config.h"
#include "origin/seller.h"
#include "origin/service.h"
#include "store/store.h"
#include "support/temp_dir.h"

namespace dg::testing {

class TestOrigin {
 public:
  // Given the SQLite store, returns the store the service is to use (which
  // forwards to it); TestOrigin owns it and destroys it after the service.
  using WrapStore = std::function<std::unique_ptr<store::Store>(store::Store& sqlite)>;

  TestOrigin() = default;
  TestOrigin(const TestOrigin&) = delete;
  TestOrigin& operator=(const TestOrigin&) = delete;

  // Opens and migrates the store and assembles the service over it (or over
  // what `wrap` makes of it). `config` may be changed before; `clock` must
  // outlive this object. Not ok: what could not be made.
  Status start(const Clock& clock, const WrapStore& wrap = {}) {
    crypto::init();
    if (temp_.path().empty()) return Status(Code::io_error, "no temporary folder");
    auto opened = store::open_sqlite((temp_.path() / "db").string());
    if (!opened) return opened.error();
    sqlite_ = std::move(*opened);
    DG_RETURN_IF_ERROR(sqlite_->migrate());
    if (wrap) wrapped_ = wrap(*sqlite_);
    DG_RETURN_IF_ERROR(blobs.open());
    DG_RETURN_IF_ERROR(keyring.add(signer.key().public_key(), crypto::KeyStatus::current));
    DG_RETURN_IF_ERROR(origin::finish_config(config));
    seller_.emplace(store(), clock, origin::SellerOptions{"test:0"});
    committer_.emplace(store(), 16);
    service_.emplace(origin::OriginService::Parts{store(), blobs, signer, keyring, *seller_,
                                                  *committer_, metrics, clock, config,
                                                  owner_secret});
    return Status();
  }

  const std::filesystem::path& dir() const { return temp_.path(); }
  // The SQLite store itself: what a test writes behind the service's back.
  store::Store& sqlite() { return *sqlite_; }
  // The store the service uses: the SQLite store, or the test's wrapper of it.
  store::Store& store() { return wrapped_ ? *wrapped_ : *sqlite_; }
  origin::OriginService& service() { return *service_; }
  origin::Seller& seller() { return *seller_; }
  origin::ClaimCommitter& committer() { return *committer_; }

 private:
  TempDir temp_;  // first: removed after everything that uses it
  std::unique_ptr<store::Store> sqlite_;
  std::unique_ptr<store::Store> wrapped_;

 public:
  origin::BlobStore blobs{temp_.path() / "blobs"};
  core::TokenSigner signer{crypto::SecretKey::generate(), "test"};
  crypto::Keyring keyring;
  origin::OriginConfig config;
  metrics::Registry metrics;
  core::OwnerSecret owner_secret = core::OwnerSecret::generate();

 private:
  // Last: built after, and destroyed before, what they use.
  std::optional<origin::Seller> seller_;
  std::optional<origin::ClaimCommitter> committer_;
  std::optional<origin::OriginService> service_;
};

}  // namespace dg::testing
