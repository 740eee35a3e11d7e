#include "core/validate.h"

#include <gtest/gtest.h>

#include "base/limits.h"

namespace dg::core {
namespace {

TEST(AssetPath, AcceptsNormalisedRelativePaths) {
  for (const char* good : {"a", "a.flac", "side-a/01 intro.flac", "ünïcødé/日本.txt", ".hidden",
                           "a..b", "x/...", "deep/er/path.bin"}) {
    EXPECT_TRUE(validate_asset_path(good).ok()) << good;
  }
}

TEST(AssetPath, RefusesTraversalAbsoluteAndOddSpellings) {
  for (const char* bad :
       {"",      "/etc/passwd", "..",           "../x",         "a/../b",   "a/..",   "./a",
        "a/./b", "a//b",        "a/",           "a\\..\\b",     "..\\x",    "a\x01b", "a\nb",
        "a\x7f", "\xc0\xaf",    "\xe0\x80\xaf", "\xed\xa0\x80", "\xc2\x85", "\xff"}) {
    EXPECT_FALSE(validate_asset_path(bad).ok()) << bad;
  }
  // Percent-encoding is not decoded here: "%2e%2e" is a literal file name, which can only
  // match an asset of that exact name. HTTP layers decode before they look up.
  EXPECT_TRUE(validate_asset_path("%2e%2e").ok());
}

TEST(AssetPath, EnforcesLengthAndDepthLimits) {
  EXPECT_FALSE(
      validate_asset_path(std::string(limits::asset_path_segment_bytes_max + 1, 'a')).ok());
  std::string deep;
  for (uint32_t i = 0; i <= limits::asset_path_depth_max; ++i) deep += "d/";
  deep += "f";
  EXPECT_FALSE(validate_asset_path(deep).ok());
  std::string long_path;
  while (long_path.size() <= limits::asset_path_bytes_max) long_path += "abcdefghij/";
  EXPECT_FALSE(validate_asset_path(long_path + "f").ok());
}

TEST(Slug, Rules) {
  EXPECT_TRUE(validate_slug("summer-tape-2026").ok());
  for (const char* bad : {"", "-x", "Upper", "a_b", "a b", "a/b", "ü"}) {
    EXPECT_FALSE(validate_slug(bad).ok()) << bad;
  }
  EXPECT_FALSE(validate_slug(std::string(limits::drop_slug_bytes_max + 1, 'a')).ok());
}

TEST(Territory, OnlyAssignedAlpha2Codes) {
  EXPECT_TRUE(validate_territory("FR").ok());
  EXPECT_TRUE(validate_territory("JP").ok());
  for (const char* bad : {"fr", "XX", "UK", "FRA", "F", ""}) {
    EXPECT_FALSE(validate_territory(bad).ok()) << bad;
  }
}

TEST(MediaType, Shape) {
  EXPECT_TRUE(validate_media_type("audio/flac").ok());
  EXPECT_TRUE(validate_media_type("application/epub+zip").ok());
  for (const char* bad : {"audio", "/flac", "audio/", "audio/fl ac", "a/b\n"}) {
    EXPECT_FALSE(validate_media_type(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace dg::core
