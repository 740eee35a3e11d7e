// The operator authenticator runs on I/O threads, so it checks bearer values
// against OperatorKeys in memory and never queries the store: a key written
// to the store is seen only after refresh() (which the origin runs off the
// I/O threads every second), and a key deleted from the store stops working
// at the next refresh.
#include "origin/operator_keys.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "base/encoding.h"
#include "base/env.h"
#include "base/metrics.h"
#include "crypto/keyring.h"
#include "crypto/sha256.h"
#include "http/http.h"
#include "origin/blob_store.h"
#include "origin/committer.h"
#include "origin/config.h"
#include "origin/routes.h"
#include "origin/seller.h"
#include "origin/service.h"
#include "store/store.h"

namespace dg::origin {
namespace {

std::string hash_of(std::string_view key) {
  return hex_encode(crypto::sha256(as_bytes(key)));
}

class OperatorKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    crypto::init();
    std::filesystem::create_directories(dir_);
    auto opened = store::open_sqlite((dir_ / "db").string());
    ASSERT_TRUE(opened.has_value()) << opened.error().to_string();
    store_ = std::move(*opened);
    ASSERT_TRUE(store_->migrate().ok());
    ASSERT_TRUE(store_->add_api_key(hash_of("dg_op_first"), "operator", 0).ok());
    ASSERT_TRUE(blobs_.open().ok());
    ASSERT_TRUE(keyring_.add(signer_.key().public_key(), crypto::KeyStatus::current).ok());
    ASSERT_TRUE(finish_config(config_).ok());
    seller_ = std::make_unique<Seller>(*store_, system_clock(), SellerOptions{"test:0"});
    committer_ = std::make_unique<ClaimCommitter>(*store_, 16);
    service_ = std::make_unique<OriginService>(
        OriginService::Parts{*store_, blobs_, signer_, keyring_, *seller_, *committer_, metrics_,
                             system_clock(), config_, owner_secret_});
    keys_ = std::make_unique<OperatorKeys>(*store_);
    ASSERT_TRUE(keys_->refresh().ok());
    add_routes(router_, *service_, *store_, metrics_, *keys_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // What the server asks on an I/O thread when a request's header arrives.
  bool authenticated(std::string_view authorization) {
    http::Request request;
    request.headers.set(http::Field::authorization, authorization);
    return router_.authenticate(request);
  }

  std::filesystem::path dir_ =
      std::filesystem::temp_directory_path() / ("dg-operator-keys-" + std::to_string(::getpid()));
  std::unique_ptr<store::Store> store_;
  BlobStore blobs_{dir_ / "blobs"};
  core::TokenSigner signer_{crypto::SecretKey::generate(), "test"};
  crypto::Keyring keyring_;
  OriginConfig config_;
  metrics::Registry metrics_;
  core::OwnerSecret owner_secret_ = core::OwnerSecret::generate();
  std::unique_ptr<Seller> seller_;
  std::unique_ptr<ClaimCommitter> committer_;
  std::unique_ptr<OriginService> service_;
  std::unique_ptr<OperatorKeys> keys_;
  http::Router router_;
};

TEST_F(OperatorKeysTest, AKeyLoadedAtStartIsAcceptedAndJunkIsRefused) {
  EXPECT_TRUE(authenticated("Bearer dg_op_first"));
  EXPECT_FALSE(authenticated("Bearer dg_op_wrong"));
  EXPECT_FALSE(authenticated("Bearer " + std::string(200, 'x')));  // longer than any key
  EXPECT_FALSE(authenticated("Basic dg_op_first"));
  EXPECT_FALSE(authenticated(""));
  EXPECT_EQ(keys_->size(), 1u);
}

// Proves the authenticator does not read the store: a key that is in the
// store but not yet in memory is refused. (Before OperatorKeys, every
// unknown bearer value was looked up in the store on the I/O thread, so this
// key was accepted at once.)
TEST_F(OperatorKeysTest, AKeyCreatedInTheStoreWorksFromTheNextRefreshNotBefore) {
  ASSERT_TRUE(store_->add_api_key(hash_of("dg_op_second"), "operator", 0).ok());
  EXPECT_FALSE(authenticated("Bearer dg_op_second"));
  ASSERT_TRUE(keys_->refresh().ok());
  EXPECT_TRUE(authenticated("Bearer dg_op_second"));
  EXPECT_TRUE(authenticated("bearer dg_op_second"));
  EXPECT_TRUE(authenticated("Bearer dg_op_first"));
}

// A revoked key (deleted from the store) stops working at the next refresh;
// other keys keep working.
TEST_F(OperatorKeysTest, ARevokedKeyStopsWorkingAtTheNextRefresh) {
  ASSERT_TRUE(store_->add_api_key(hash_of("dg_op_second"), "operator", 0).ok());
  ASSERT_TRUE(keys_->refresh().ok());
  ASSERT_TRUE(authenticated("Bearer dg_op_first"));
  ASSERT_TRUE(store_->delete_api_key(hash_of("dg_op_first")).ok());
  ASSERT_TRUE(keys_->refresh().ok());
  EXPECT_FALSE(authenticated("Bearer dg_op_first"));
  EXPECT_TRUE(authenticated("Bearer dg_op_second"));
}

}  // namespace
}  // namespace dg::origin
