// The operator authenticator runs on I/O threads, so it checks bearer values
// against OperatorKeys in memory and never queries the store: a key written
// to the store is seen only after refresh() (which the origin runs off the
// I/O threads every second), and a key deleted from the store stops working
// at the next refresh.
#include "origin/operator_keys.h"

#include <gtest/gtest.h>

#include <memory>

#include "base/encoding.h"
#include "base/env.h"
#include "crypto/sha256.h"
#include "http/http.h"
#include "origin/routes.h"
#include "support/test_origin.h"

namespace dg::origin {
namespace {

std::string hash_of(std::string_view key) {
  return hex_encode(crypto::sha256(as_bytes(key)));
}

class OperatorKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status started = origin_.start(system_clock());
    ASSERT_TRUE(started.ok()) << started.to_string();
    ASSERT_TRUE(store().add_api_key(hash_of("dg_op_first"), "operator", 0).ok());
    keys_ = std::make_unique<OperatorKeys>(store());
    ASSERT_TRUE(keys_->refresh().ok());
    add_routes(router_, origin_.service(), store(), origin_.metrics, *keys_);
  }

  store::Store& store() { return origin_.store(); }

  // What the server asks on an I/O thread when a request's header arrives.
  bool authenticated(std::string_view authorization) {
    http::Request request;
    request.headers.set(http::Field::authorization, authorization);
    return router_.authenticate(request);
  }

  dg::testing::TestOrigin origin_;
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
  ASSERT_TRUE(store().add_api_key(hash_of("dg_op_second"), "operator", 0).ok());
  EXPECT_FALSE(authenticated("Bearer dg_op_second"));
  ASSERT_TRUE(keys_->refresh().ok());
  EXPECT_TRUE(authenticated("Bearer dg_op_second"));
  EXPECT_TRUE(authenticated("bearer dg_op_second"));
  EXPECT_TRUE(authenticated("Bearer dg_op_first"));
}

// A revoked key (deleted from the store) stops working at the next refresh;
// other keys keep working.
TEST_F(OperatorKeysTest, ARevokedKeyStopsWorkingAtTheNextRefresh) {
  ASSERT_TRUE(store().add_api_key(hash_of("dg_op_second"), "operator", 0).ok());
  ASSERT_TRUE(keys_->refresh().ok());
  ASSERT_TRUE(authenticated("Bearer dg_op_first"));
  ASSERT_TRUE(store().delete_api_key(hash_of("dg_op_first")).ok());
  ASSERT_TRUE(keys_->refresh().ok());
  EXPECT_FALSE(authenticated("Bearer dg_op_first"));
  EXPECT_TRUE(authenticated("Bearer dg_op_second"));
}

}  // namespace
}  // namespace dg::origin
