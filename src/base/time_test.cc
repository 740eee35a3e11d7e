#include "base/time.h"

#include <gtest/gtest.h>

namespace dg {
namespace {

TEST(Rfc3339, FormatsUtc) {
  EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339(1'640'995'200'000), "2022-01-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339(951'782'400'000), "2000-02-29T00:00:00Z");
  EXPECT_EQ(format_rfc3339(-1000), "1969-12-31T23:59:59Z");
}

TEST(Rfc3339, ParsesOffsetsAndFractions) {
  EXPECT_EQ(*parse_rfc3339("2022-01-01T00:00:00Z"), 1'640'995'200'000);
  EXPECT_EQ(*parse_rfc3339("2022-01-01T00:00:00+00:00"), 1'640'995'200'000);
  EXPECT_EQ(*parse_rfc3339("2022-01-01T01:00:00+01:00"), 1'640'995'200'000);
  EXPECT_EQ(*parse_rfc3339("2021-12-31T23:00:00-01:00"), 1'640'995'200'000);
  EXPECT_EQ(*parse_rfc3339("2022-01-01T00:00:00.250Z"), 1'640'995'200'250);
  for (int64_t ms : {int64_t{0}, int64_t{1'700'000'000'000}, int64_t{4'102'444'800'000}}) {
    EXPECT_EQ(*parse_rfc3339(format_rfc3339(ms)), ms);
  }
}

TEST(Rfc3339, RefusesMalformed) {
  for (const char* bad :
       {"", "2022-01-01", "2022-01-01T00:00:00", "2022-13-01T00:00:00Z", "2022-02-30T00:00:00Z",
        "2021-02-29T00:00:00Z", "2022-01-01T24:00:00Z", "2022-01-01T00:00:00Zjunk",
        "2022-01-01 00:00:00Z", "2022-01-01T00:00:00.Z", "2022-01-01T00:00:00+0100"}) {
    EXPECT_FALSE(parse_rfc3339(bad).has_value()) << bad;
  }
}

}  // namespace
// The cached form is the plain one, whichever second comes next.
TEST(Time, CachedFormatMatchesThePlainOneAcrossSeconds) {
  for (int64_t ms :
       {int64_t{1'790'000'000'999}, int64_t{1'790'000'001'000}, int64_t{1'790'000'001'500},
        int64_t{1'790'000'000'000}, int64_t{0}, int64_t{-1}, int64_t{-1000}, int64_t{-1001}}) {
    EXPECT_EQ(format_rfc3339_cached(ms), format_rfc3339(ms)) << ms;
  }
}

}  // namespace dg
