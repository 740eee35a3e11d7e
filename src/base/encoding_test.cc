#include "base/encoding.h"

#include <gtest/gtest.h>

namespace dg {
namespace {

std::string text(const std::optional<Bytes>& bytes) {
  return bytes ? std::string(bytes->begin(), bytes->end()) : "<refused>";
}

TEST(Base64Url, Rfc4648Vectors) {
  // RFC 4648 §10, without padding.
  const std::pair<const char*, const char*> cases[] = {
      {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},         {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}};
  for (auto [plain, encoded] : cases) {
    EXPECT_EQ(base64url_encode(as_bytes(plain)), encoded);
    EXPECT_EQ(text(base64url_decode(encoded)), plain);
  }
  EXPECT_EQ(base64url_encode(Bytes{0xfb, 0xff}), "-_8");
}

TEST(Base64Url, RefusesNonCanonicalInput) {
  EXPECT_FALSE(base64url_decode("Zg==").has_value());    // padding
  EXPECT_FALSE(base64url_decode("Zh").has_value());      // trailing bits set
  EXPECT_FALSE(base64url_decode("Z").has_value());       // impossible length
  EXPECT_FALSE(base64url_decode("Zm9v+g").has_value());  // standard alphabet
  EXPECT_FALSE(base64url_decode("Zm 9v").has_value());
  EXPECT_FALSE(base64url_decode("Zm 9").has_value());     // outside the alphabet, in a group of 4
  EXPECT_FALSE(base64url_decode("Zm9vZm9").has_value());  // trailing bits set after 2 bytes
  EXPECT_EQ(text(base64url_decode("Zm9vZm8")), "foofo");
}

TEST(Base64, PaddedVectors) {
  EXPECT_EQ(base64_encode(as_bytes("foob")), "Zm9vYg==");
  EXPECT_EQ(text(base64_decode("Zm9vYg==")), "foob");
  EXPECT_EQ(text(base64_decode("Zm9vYmE=")), "fooba");
  EXPECT_FALSE(base64_decode("Zm9vYg").has_value());
  EXPECT_FALSE(base64_decode("Zm9vYh==").has_value());
  EXPECT_FALSE(base64_decode("Zm9v====").has_value());
}

TEST(Base64, EncodesEveryLengthAndByteAsRfc4648Says) {
  // RFC 4648 §10 with padding: every remainder of the length by 3.
  const std::pair<const char*, const char*> cases[] = {{"", ""},
                                                       {"f", "Zg=="},
                                                       {"fo", "Zm8="},
                                                       {"foo", "Zm9v"},
                                                       {"foob", "Zm9vYg=="},
                                                       {"fooba", "Zm9vYmE="},
                                                       {"foobar", "Zm9vYmFy"}};
  for (auto [plain, encoded] : cases) EXPECT_EQ(base64_encode(as_bytes(plain)), encoded);
  // Every byte value, at every offset within a group of three, survives both
  // alphabets (a write past the sized output or a wrong padding would not).
  Bytes all;
  for (int i = 0; i < 256 * 3 + 2; ++i) all.push_back(static_cast<uint8_t>(i * 7 + i / 256));
  for (size_t size = 0; size <= all.size(); size += size < 10 ? 1 : 97) {
    Bytes piece(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(size));
    EXPECT_EQ(base64_decode(base64_encode(piece)), piece) << size;
    EXPECT_EQ(base64url_decode(base64url_encode(piece)), piece) << size;
    EXPECT_EQ(base64url_encode(piece).size(), (size * 4 + 2) / 3) << size;
  }
}

TEST(Hex, RoundTripAndRefusal) {
  EXPECT_EQ(hex_encode(Bytes{0x00, 0xab, 0xff}), "00abff");
  EXPECT_EQ(*hex_decode("00ABff"), (Bytes{0x00, 0xab, 0xff}));
  EXPECT_FALSE(hex_decode("abc").has_value());
  EXPECT_FALSE(hex_decode("zz").has_value());
}

}  // namespace
}  // namespace dg
