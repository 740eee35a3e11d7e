// TokenCache: what anonymous clients can make the edge remember is bounded in
// bytes, the least recently used entry goes first, refusals cannot push out
// verified tokens, and keys are fixed-size hashes whatever the token's size.
#include "edge/token_cache.h"

#include <gtest/gtest.h>

#include <string>

#include "base/limits.h"
#include "crypto/keys.h"

namespace dg::edge {
namespace {

constexpr int64_t kNow = 1'790'000'000'000;

TokenCache::Entry verified_entry(const std::string& account) {
  auto token = std::make_shared<core::VerifiedDownload>();
  token->common = {"dropgate",
                   "k4.pid.0123456789abcdefghijklmnopqrstuvwxyzABCDEFG",
                   "7_6pf_vZlB641LziwgGZEw",
                   kNow,
                   kNow + 300'000,
                   std::nullopt};
  token->fields = {account, "summer-tape", 1, {"*"}, ""};
  return {token, std::nullopt, kNow + 300'000};
}

TokenCache::Entry refused_entry() {
  return {nullptr, Status(Code::unauthorized, "token signature does not verify"), INT64_MAX};
}

class TokenCacheTest : public ::testing::Test {
 protected:
  void SetUp() override { crypto::init(); }
  static TokenCache::Key key(const TokenCache& cache, const std::string& token) {
    auto k = cache.key_of(token);
    EXPECT_TRUE(k.has_value());
    return k.value_or(TokenCache::Key{});
  }
};

// Keys are 16 bytes whatever the token's size, differ between tokens and
// between caches (a per-process secret), and a token longer than any valid
// one has no key at all: it is never cached.
TEST_F(TokenCacheTest, KeysAreFixedSizeKeyedHashesAndOversizedTokensHaveNone) {
  TokenCache a(1 << 20, 1000), b(1 << 20, 1000);
  const std::string token(400, 'x');
  EXPECT_EQ(key(a, token), key(a, token));
  EXPECT_NE(key(a, token), key(a, token + "y"));
  EXPECT_NE(key(a, token), key(b, token));
  EXPECT_TRUE(a.key_of(std::string(limits::token_bytes_max, 'x')).has_value());
  EXPECT_FALSE(a.key_of(std::string(limits::token_bytes_max + 1, 'x')).has_value());
  EXPECT_FALSE(a.key_of(std::string(15 * 1024, 'x')).has_value());
}

// The bytes counted are the footprint of each entry held, added on put and
// taken away on replacement, expiry and clear.
TEST_F(TokenCacheTest, BytesAreTheSumOfTheEntriesFootprints) {
  TokenCache cache(1 << 20, 1000);
  const auto good = verified_entry("buyer-with-a-long-account-name@example.org");
  const auto dead = refused_entry();
  EXPECT_GT(TokenCache::footprint(good), sizeof(core::VerifiedDownload));
  EXPECT_GT(TokenCache::footprint(dead), 0u);
  cache.put(key(cache, "good"), good);
  cache.put(key(cache, "dead"), dead);
  EXPECT_EQ(cache.bytes(), TokenCache::footprint(good) + TokenCache::footprint(dead));
  cache.put(key(cache, "dead"), dead);  // replaced, not counted twice
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.bytes(), TokenCache::footprint(good) + TokenCache::footprint(dead));
  EXPECT_EQ(cache.find(key(cache, "good"), kNow + 300'001), nullptr);  // outlived: dropped
  EXPECT_EQ(cache.bytes(), TokenCache::footprint(dead));
  cache.clear();
  EXPECT_EQ(cache.bytes(), 0u);
  EXPECT_EQ(cache.size(), 0u);
}

// 10,000 distinct dead tokens into a cache of 64 KiB: the bytes never pass
// the refusals' quarter, and the verified token put first is still there.
TEST_F(TokenCacheTest, AFloodOfRefusalsStaysInItsShareAndKeepsVerifiedTokens) {
  const uint64_t bytes_max = 64 * 1024;
  TokenCache cache(bytes_max, 1'000'000);
  const auto good = verified_entry("buyer-1");
  const auto good_key = key(cache, "good");
  cache.put(good_key, good);
  const uint64_t good_bytes = cache.bytes();
  for (int i = 0; i < 10'000; ++i) {
    cache.put(key(cache, "junk-" + std::to_string(i)), refused_entry());
    ASSERT_LE(cache.bytes(), good_bytes + bytes_max / 4) << i;
  }
  EXPECT_GT(cache.bytes(), good_bytes + bytes_max / 8);  // the share is used, not left empty
  const TokenCache::Entry* found = cache.find(good_key, kNow);
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->token, good.token);
  // The newest refusals are held, the oldest went.
  EXPECT_NE(cache.find(key(cache, "junk-9999"), kNow), nullptr);
  EXPECT_EQ(cache.find(key(cache, "junk-0"), kNow), nullptr);
}

// Full of verified tokens, the cache evicts the least recently used one, not
// everything: a token in use stays, the one nobody asked for goes.
TEST_F(TokenCacheTest, WhenFullTheLeastRecentlyUsedEntryGoesNotTheWholeCache) {
  const uint64_t one = TokenCache::footprint(verified_entry("buyer-0"));
  TokenCache cache(one * 4 * 4 / 3 + 8, 1000);  // room for 4 verified tokens
  for (int i = 0; i < 4; ++i)
    cache.put(key(cache, "t" + std::to_string(i)), verified_entry("buyer-" + std::to_string(i)));
  ASSERT_EQ(cache.size(), 4u);
  ASSERT_NE(cache.find(key(cache, "t0"), kNow), nullptr);  // t0 used again: t1 is now the oldest
  cache.put(key(cache, "t4"), verified_entry("buyer-4"));
  EXPECT_EQ(cache.size(), 4u);
  EXPECT_NE(cache.find(key(cache, "t0"), kNow), nullptr);
  EXPECT_EQ(cache.find(key(cache, "t1"), kNow), nullptr);
  EXPECT_NE(cache.find(key(cache, "t2"), kNow), nullptr);
  EXPECT_NE(cache.find(key(cache, "t4"), kNow), nullptr);
}

// The entry count bounds the cache too (token_cache_entries_max), evicting
// the oldest.
TEST_F(TokenCacheTest, TheEntryCountIsABoundToo) {
  TokenCache cache(1 << 20, 3);
  for (int i = 0; i < 5; ++i)
    cache.put(key(cache, "t" + std::to_string(i)), verified_entry("buyer"));
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.find(key(cache, "t1"), kNow), nullptr);
  EXPECT_NE(cache.find(key(cache, "t2"), kNow), nullptr);
  EXPECT_NE(cache.find(key(cache, "t4"), kNow), nullptr);
}

}  // namespace
}  // namespace dg::edge
