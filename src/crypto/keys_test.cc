// PASERK k4.public / k4.secret / k4.pid known-answer tests, byte for byte,
// from tests/vectors/paseto/PASERK (paseto-standard/test-vectors).
#include "crypto/keys.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <set>
#include <thread>

#include "base/encoding.h"
#include "base/file.h"

namespace dg::crypto {
namespace {

boost::json::array load_tests(const std::string& name) {
  auto text = read_file(std::string(DG_VECTORS_DIR) + "/paseto/PASERK/" + name, 1 << 20);
  EXPECT_TRUE(text.has_value()) << name;
  auto tests = boost::json::parse(*text).as_object().at("tests").as_array();
  EXPECT_FALSE(tests.empty());
  return tests;
}

Bytes hex(const boost::json::value& v) {
  return *hex_decode(std::string(v.as_string()));
}

class KeysTest : public ::testing::Test {
 protected:
  void SetUp() override { init(); }
};

TEST_F(KeysTest, PaserkPublicVectors) {
  for (const auto& t : load_tests("k4.public.json")) {
    const auto& c = t.as_object();
    SCOPED_TRACE(std::string(c.at("name").as_string()));
    auto key = PublicKey::from_bytes(hex(c.at("key")));
    if (c.at("expect-fail").as_bool()) {
      EXPECT_FALSE(key.has_value());
      continue;
    }
    ASSERT_TRUE(key.has_value());
    std::string paserk(c.at("paserk").as_string());
    EXPECT_EQ(key->to_paserk(), paserk);
    auto parsed = PublicKey::from_paserk(paserk);
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, *key);
  }
}

TEST_F(KeysTest, PaserkSecretVectors) {
  for (const auto& t : load_tests("k4.secret.json")) {
    const auto& c = t.as_object();
    SCOPED_TRACE(std::string(c.at("name").as_string()));
    auto key = SecretKey::from_bytes(hex(c.at("key")));
    if (c.at("expect-fail").as_bool()) {
      EXPECT_FALSE(key.has_value());
      continue;
    }
    ASSERT_TRUE(key.has_value()) << key.error().to_string();
    EXPECT_EQ(key->to_paserk(), std::string(c.at("paserk").as_string()));
    EXPECT_EQ(hex_encode(key->public_key().bytes()), std::string(c.at("public-key").as_string()));
    auto from_seed = SecretKey::from_seed(hex(c.at("secret-key-seed")));
    ASSERT_TRUE(from_seed.has_value());
    EXPECT_EQ(from_seed->to_paserk(), key->to_paserk());
    auto parsed = SecretKey::from_paserk(std::string(c.at("paserk").as_string()));
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(parsed->public_key(), key->public_key());
  }
}

TEST_F(KeysTest, PaserkPidVectors) {
  for (const auto& t : load_tests("k4.pid.json")) {
    const auto& c = t.as_object();
    SCOPED_TRACE(std::string(c.at("name").as_string()));
    auto key = PublicKey::from_bytes(hex(c.at("key")));
    if (c.at("expect-fail").as_bool()) {
      EXPECT_FALSE(key.has_value());
      continue;
    }
    ASSERT_TRUE(key.has_value());
    EXPECT_EQ(key->key_id(), std::string(c.at("paserk").as_string()));
  }
}

TEST_F(KeysTest, WrongVersionOrTypeIsRefused) {
  auto key = SecretKey::generate();
  std::string pub = key.public_key().to_paserk();
  EXPECT_TRUE(PublicKey::from_paserk(pub).has_value());
  EXPECT_FALSE(PublicKey::from_paserk("k3" + pub.substr(2)).has_value());
  EXPECT_FALSE(PublicKey::from_paserk(key.to_paserk()).has_value());
  EXPECT_FALSE(SecretKey::from_paserk(pub).has_value());
  EXPECT_FALSE(PublicKey::from_paserk(pub + "A").has_value());
  EXPECT_FALSE(PublicKey::from_paserk(pub + "=").has_value());
}

TEST_F(KeysTest, SecretWithMismatchedPublicHalfIsRefused) {
  auto key = SecretKey::generate();
  auto other = SecretKey::generate();
  auto bytes = *base64url_decode(key.to_paserk().substr(10));
  auto other_pub = other.public_key().bytes();
  std::copy(other_pub.begin(), other_pub.end(), bytes.begin() + 32);
  EXPECT_FALSE(SecretKey::from_bytes(bytes).has_value());
}

TEST_F(KeysTest, SignAndVerify) {
  auto key = SecretKey::generate();
  auto sig = key.sign(as_bytes("hello"));
  EXPECT_TRUE(key.public_key().verify(as_bytes("hello"), sig));
  EXPECT_FALSE(key.public_key().verify(as_bytes("hellp"), sig));
  EXPECT_FALSE(SecretKey::generate().public_key().verify(as_bytes("hello"), sig));
}

TEST_F(KeysTest, ConstantTimeEqual) {
  EXPECT_TRUE(constant_time_equal(std::string_view("abc"), std::string_view("abc")));
  EXPECT_FALSE(constant_time_equal(std::string_view("abc"), std::string_view("abd")));
  EXPECT_FALSE(constant_time_equal(std::string_view("abc"), std::string_view("abcd")));
  EXPECT_TRUE(constant_time_equal(std::string_view(""), std::string_view("")));
}

TEST_F(KeysTest, RandomIdsDiffer) {
  EXPECT_NE(random_id(), random_id());
  EXPECT_EQ(random_id().size(), 22u);
}

// Ids drawn from a pool that is refilled many times keep their format (22
// base64url characters of 16 bytes) and never repeat.
TEST_F(KeysTest, RandomIdsAreSixteenBytesOfBase64urlAcrossManyRefills) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = random_id();
    ASSERT_EQ(id.size(), 22u) << id;
    std::optional<Bytes> bytes = base64url_decode(id);
    ASSERT_TRUE(bytes.has_value()) << id;
    EXPECT_EQ(bytes->size(), 16u);
    EXPECT_TRUE(seen.insert(id).second) << "repeated: " << id;
  }
}

// Each thread draws from its own pool: ids drawn at once on several threads
// are all different (a pool shared without care would hand one out twice).
TEST_F(KeysTest, RandomIdsDoNotRepeatAcrossThreads) {
  constexpr int kThreads = 8;
  constexpr int kIdsPerThread = 500;
  std::vector<std::vector<std::string>> drawn(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&drawn, t] {
      for (int i = 0; i < kIdsPerThread; ++i) drawn[t].push_back(random_id());
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::set<std::string> all;
  for (const auto& ids : drawn) all.insert(ids.begin(), ids.end());
  EXPECT_EQ(all.size(), size_t{kThreads * kIdsPerThread});
}

// The child of a fork does not inherit its parent's unused ids: its first id
// is none of the ids its parent draws next (those would come from the same
// pool if the child kept it).
TEST_F(KeysTest, AForkedChildDrawsNoneOfItsParentsNextIds) {
  random_id();  // the pool now holds unused ids
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::string id = random_id();
    ssize_t written = write(pipe_fds[1], id.data(), id.size());
    _exit(written == static_cast<ssize_t>(id.size()) ? 0 : 1);
  }
  close(pipe_fds[1]);
  std::string from_child(22, '\0');
  ssize_t got = read(pipe_fds[0], from_child.data(), from_child.size());
  close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_EQ(got, 22);
  for (int i = 0; i < 32; ++i) EXPECT_NE(random_id(), from_child) << "after " << i << " ids";
}

}  // namespace
}  // namespace dg::crypto
