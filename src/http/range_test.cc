#include <gtest/gtest.h>

#include "http/http.h"

namespace dg::http {
namespace {

// The parsed range as "first-last", "whole" for nullopt, "416" for unsatisfiable.
std::string range_of(std::string_view header, uint64_t size_bytes) {
  Result<std::optional<ByteRange>> range = parse_range(header, size_bytes);
  if (!range) {
    EXPECT_EQ(range.error().code(), Code::invalid_argument);
    return "416";
  }
  if (!*range) return "whole";
  return std::to_string((*range)->first) + "-" + std::to_string((*range)->last);
}

TEST(ParseRange, FirstToLast) {
  EXPECT_EQ(range_of("bytes=0-99", 1000), "0-99");
  EXPECT_EQ(range_of("bytes=10-10", 1000), "10-10");
  EXPECT_EQ(range_of("bytes=999-999", 1000), "999-999");
}

TEST(ParseRange, LastPastTheEndIsClamped) {
  EXPECT_EQ(range_of("bytes=500-5000", 1000), "500-999");
  EXPECT_EQ(range_of("bytes=0-99999999999999999999999", 1000), "0-999");
}

TEST(ParseRange, OpenEnded) {
  EXPECT_EQ(range_of("bytes=100-", 1000), "100-999");
  EXPECT_EQ(range_of("bytes=0-", 1), "0-0");
}

TEST(ParseRange, Suffix) {
  EXPECT_EQ(range_of("bytes=-1", 1000), "999-999");
  EXPECT_EQ(range_of("bytes=-100", 1000), "900-999");
  EXPECT_EQ(range_of("bytes=-5000", 1000), "0-999");
  EXPECT_EQ(range_of("bytes=-99999999999999999999999", 1000), "0-999");
}

TEST(ParseRange, UnsatisfiableIs416) {
  EXPECT_EQ(range_of("bytes=1000-", 1000), "416");
  EXPECT_EQ(range_of("bytes=1000-2000", 1000), "416");
  EXPECT_EQ(range_of("bytes=99999999999999999999999-", 1000), "416");
  EXPECT_EQ(range_of("bytes=-0", 1000), "416");
  EXPECT_EQ(range_of("bytes=0-", 0), "416");
  EXPECT_EQ(range_of("bytes=-5", 0), "416");
}

TEST(ParseRange, MultipleRangesAreServedWhole) {
  EXPECT_EQ(range_of("bytes=0-1,5-6", 1000), "whole");
  EXPECT_EQ(range_of("bytes=0-1, -5", 1000), "whole");
}

TEST(ParseRange, OtherUnitsAndBadSyntaxAreIgnored) {
  for (std::string_view header :
       {"", "items=0-1", "bytes", "bytes=", "bytes=-", "bytes=a-b", "bytes=5-1", "bytes=1-2-3",
        "bytes=+1-2", "bytes=1--2", "bytes= 1 - 2", "bytes=0x10-"}) {
    EXPECT_EQ(range_of(header, 1000), "whole") << header;
  }
}

TEST(ParseRange, UnitIsCaseInsensitiveAndOuterSpaceIsTrimmed) {
  EXPECT_EQ(range_of("Bytes=1-2", 1000), "1-2");
  EXPECT_EQ(range_of("  bytes= 1-2 ", 1000), "1-2");
}

}  // namespace
}  // namespace dg::http
