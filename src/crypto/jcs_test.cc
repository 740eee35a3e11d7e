// Expected values come from RFC 8785 (JSON Canonicalization Scheme):
// - Rfc8785Section322Sample: the input/output example of §3.2.2 (Figure 1,
//   "Sample Input", and the canonical output shown after it), covering
//   literals, number spellings and string escaping.
// - Rfc8785Section323Sorting: the §3.2.3 sorting example; the RFC lists the
//   property values in sorted order, the full output string is assembled here
//   from that order and the §3.2.2.2 string rules.
// - Rfc8785AppendixBNumbers: the IEEE 754 hex → string table of Appendix B
//   ("Number Serialization Samples"), NaN and Infinity included as errors.
// The other cases follow the rules of §3.2.2.2 (strings), §3.2.2.3 (numbers,
// ECMA-262 Number::toString) and §3.1 (I-JSON: no duplicate keys).
#include "crypto/jcs.h"

#include <gtest/gtest.h>

#include <bit>
#include <boost/json.hpp>
#include <cstdint>
#include <limits>
#include <string>

#include "base/limits.h"

namespace dg::crypto {
namespace {

namespace json = boost::json;

constexpr size_t kTextBytesMax = 64 * 1024;

std::string canonical(const json::value& value) {
  Result<std::string> result = jcs_canonicalize(value);
  EXPECT_TRUE(result.has_value()) << result.error().to_string();
  return result.value_or("<error>");
}

std::string canonical_text(std::string_view text) {
  Result<std::string> result = jcs_canonicalize_text(text, kTextBytesMax);
  EXPECT_TRUE(result.has_value()) << text << ": " << result.error().to_string();
  return result.value_or("<error>");
}

Code value_error(const json::value& value) {
  Result<std::string> result = jcs_canonicalize(value);
  EXPECT_FALSE(result.has_value()) << "canonicalised to " << *result;
  return result.has_value() ? Code::ok : result.error().code();
}

Code text_error(std::string_view text) {
  Result<std::string> result = jcs_canonicalize_text(text, kTextBytesMax);
  EXPECT_FALSE(result.has_value()) << text << " canonicalised to " << *result;
  return result.has_value() ? Code::ok : result.error().code();
}

TEST(Jcs, Rfc8785Section322Sample) {
  constexpr std::string_view kInput = R"({
    "numbers": [333333333.33333329, 1E30, 4.50,
                2e-3, 0.000000000000000000000000001],
    "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
    "literals": [null, true, false]
  })";
  constexpr std::string_view kOutput =
      R"({"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],)"
      "\"string\":\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}";
  EXPECT_EQ(canonical_text(kInput), kOutput);
  // Canonical text is a fixed point.
  EXPECT_EQ(canonical_text(kOutput), kOutput);
}

TEST(Jcs, Rfc8785Section323Sorting) {
  constexpr std::string_view kInput = R"({
    "\u20ac": "Euro Sign",
    "\r": "Carriage Return",
    "\ufb33": "Hebrew Letter Dalet With Dagesh",
    "1": "One",
    "\ud83d\ude00": "Emoji: Grinning Face",
    "\u0080": "Control",
    "\u00f6": "Latin Small Letter O With Diaeresis"
  })";
  // Sorted by UTF-16 code units: U+000D, U+0031, U+0080, U+00F6, U+20AC,
  // U+D83D U+DE00 (the emoji's surrogates), U+FB33. UTF-8 byte order would put
  // the emoji (F0 9F ...) after U+FB33 (EF AC B3).
  constexpr std::string_view kOutput =
      "{\"\\r\":\"Carriage Return\","
      "\"1\":\"One\","
      "\"\xc2\x80\":\"Control\","
      "\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\","
      "\"\xe2\x82\xac\":\"Euro Sign\","
      "\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\","
      "\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}";
  EXPECT_EQ(canonical_text(kInput), kOutput);
}

struct NumberSample {
  uint64_t ieee754_bits;
  std::string_view expected;
};

// RFC 8785 Appendix B; the two non-finite rows are in Rfc8785AppendixBNonFinite.
constexpr NumberSample kAppendixB[] = {
    {0x0000000000000000, "0"},
    {0x8000000000000000, "0"},  // minus zero
    {0x0000000000000001, "5e-324"},
    {0x8000000000000001, "-5e-324"},
    {0x7fefffffffffffff, "1.7976931348623157e+308"},
    {0xffefffffffffffff, "-1.7976931348623157e+308"},
    {0x4340000000000000, "9007199254740992"},
    {0xc340000000000000, "-9007199254740992"},
    {0x4430000000000000, "295147905179352830000"},
    {0x44b52d02c7e14af5, "9.999999999999997e+22"},
    {0x44b52d02c7e14af6, "1e+23"},
    {0x44b52d02c7e14af7, "1.0000000000000001e+23"},
    {0x444b1ae4d6e2ef4e, "999999999999999700000"},
    {0x444b1ae4d6e2ef4f, "999999999999999900000"},
    {0x444b1ae4d6e2ef50, "1e+21"},
    {0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
    {0x3eb0c6f7a0b5ed8d, "0.000001"},
    {0x41b3de4355555553, "333333333.3333332"},
    {0x41b3de4355555554, "333333333.33333325"},
    {0x41b3de4355555555, "333333333.3333333"},
    {0x41b3de4355555556, "333333333.3333334"},
    {0x41b3de4355555557, "333333333.33333343"},
    {0xbecbf647612f3696, "-0.0000033333333333333333"},
    {0x43143ff3c1cb0959, "1424953923781206.2"},  // round to even
};

TEST(Jcs, Rfc8785AppendixBNumbers) {
  for (const NumberSample& sample : kAppendixB) {
    const double number = std::bit_cast<double>(sample.ieee754_bits);
    SCOPED_TRACE(sample.expected);
    EXPECT_EQ(canonical(json::value(number)), sample.expected);
    // Parsing the canonical spelling gives back the same double, bit for bit.
    if (sample.ieee754_bits != 0x8000000000000000) {
      EXPECT_EQ(canonical_text(sample.expected), sample.expected);
    }
  }
}

TEST(Jcs, Rfc8785AppendixBNonFinite) {
  EXPECT_EQ(value_error(json::value(std::bit_cast<double>(uint64_t{0x7fffffffffffffff}))),
            Code::invalid_argument);  // NaN
  EXPECT_EQ(value_error(json::value(std::bit_cast<double>(uint64_t{0x7ff0000000000000}))),
            Code::invalid_argument);  // Infinity
  EXPECT_EQ(value_error(json::value(-std::numeric_limits<double>::infinity())),
            Code::invalid_argument);
  EXPECT_EQ(value_error(json::array{1, std::numeric_limits<double>::quiet_NaN()}),
            Code::invalid_argument);
}

TEST(Jcs, NumberLayoutFollowsEcmascript) {
  EXPECT_EQ(canonical(json::value(1e21)), "1e+21");
  EXPECT_EQ(canonical(json::value(1e20)), "100000000000000000000");
  EXPECT_EQ(canonical(json::value(1e-7)), "1e-7");
  EXPECT_EQ(canonical(json::value(1.5e-7)), "1.5e-7");
  EXPECT_EQ(canonical(json::value(1.5e-6)), "0.0000015");
  EXPECT_EQ(canonical(json::value(123.0)), "123");
  EXPECT_EQ(canonical(json::value(-0.5)), "-0.5");
  EXPECT_EQ(canonical(json::value(0.1)), "0.1");
  EXPECT_EQ(canonical(json::value(12.5e3)), "12500");
  EXPECT_EQ(canonical(json::value(-1.25e300)), "-1.25e+300");
  EXPECT_EQ(canonical(json::value(-0.0)), "0");
}

TEST(Jcs, IntegersUpToTwoToThe53) {
  constexpr int64_t kTwoTo53 = int64_t{1} << 53;
  EXPECT_EQ(canonical(json::value(int64_t{0})), "0");
  EXPECT_EQ(canonical(json::value(int64_t{-42})), "-42");
  EXPECT_EQ(canonical(json::value(kTwoTo53)), "9007199254740992");
  EXPECT_EQ(canonical(json::value(-kTwoTo53)), "-9007199254740992");
  EXPECT_EQ(canonical(json::value(uint64_t{1} << 53)), "9007199254740992");
  EXPECT_EQ(value_error(json::value(kTwoTo53 + 1)), Code::invalid_argument);
  EXPECT_EQ(value_error(json::value(-kTwoTo53 - 1)), Code::invalid_argument);
  EXPECT_EQ(value_error(json::value(std::numeric_limits<int64_t>::min())), Code::invalid_argument);
  EXPECT_EQ(value_error(json::value((uint64_t{1} << 53) + 1)), Code::invalid_argument);
  EXPECT_EQ(value_error(json::value(std::numeric_limits<uint64_t>::max())), Code::invalid_argument);
  EXPECT_EQ(value_error(json::object{{"size", json::array{1, kTwoTo53 + 2}}}),
            Code::invalid_argument);
}

TEST(Jcs, BigIntegerLiteralsInText) {
  EXPECT_EQ(canonical_text("[9007199254740992,-9007199254740992]"),
            "[9007199254740992,-9007199254740992]");
  // A double would read these as a different number.
  EXPECT_EQ(text_error("9007199254740993"), Code::invalid_argument);
  EXPECT_EQ(text_error("-9007199254740993"), Code::invalid_argument);
  EXPECT_EQ(text_error("18446744073709551615"), Code::invalid_argument);  // uint64 max
  EXPECT_EQ(text_error("1152921504606846976"), Code::invalid_argument);   // 2^60, exact
  EXPECT_EQ(text_error("100000000000000000000000000000001"), Code::invalid_argument);
  // Canonical spellings of doubles beyond 2^53 parse back unchanged.
  EXPECT_EQ(canonical_text("1152921504606847000"), "1152921504606847000");
  EXPECT_EQ(canonical_text("-295147905179352830000"), "-295147905179352830000");
  // With a fraction or exponent the author asked for a double; RFC 8785 rounds.
  EXPECT_EQ(canonical_text("9007199254740993.0"), "9007199254740992");
  EXPECT_EQ(canonical_text("1152921504606846976e0"), "1152921504606847000");
}

TEST(Jcs, NumbersInTextAreReadWithCorrectRounding) {
  EXPECT_EQ(canonical_text("[-0,-0.0,1.0,1E2,0.5e1,4.50,2e-3,1e+30]"),
            "[0,0,1,100,5,4.5,0.002,1e+30]");
  // Boost.JSON 1.81 on its own reads this one ULP low (…54 instead of …55).
  EXPECT_EQ(canonical_text("333333333.33333329"), "333333333.3333333");
  EXPECT_EQ(canonical_text("2.4703282292062328e-324"), "5e-324");
  EXPECT_EQ(text_error("1e400"), Code::invalid_argument);
  EXPECT_EQ(text_error("-1e400"), Code::invalid_argument);
  EXPECT_EQ(text_error("1e-400"), Code::invalid_argument);
}

TEST(Jcs, StringEscapes) {
  using std::literals::operator""sv;
  json::value value = json::string("\0\x01\x08\t\n\x0b\x0c\r\x1f \"\\/\x7f"sv);
  EXPECT_EQ(canonical(value), R"("\u0000\u0001\b\t\n\u000b\f\r\u001f \"\\/)"
                              "\x7f\"");
  // U+2028, U+2029 and non-ASCII stay raw UTF-8; "\/" and "\u00e9" lose their escapes.
  EXPECT_EQ(canonical_text(R"("\u2028\u2029\/\u00e9\u00E9")"),
            "\"\xe2\x80\xa8\xe2\x80\xa9/\xc3\xa9\xc3\xa9\"");
  EXPECT_EQ(canonical(json::value(nullptr)), "null");
  EXPECT_EQ(canonical(json::value(true)), "true");
  EXPECT_EQ(canonical(json::value("")), "\"\"");
}

TEST(Jcs, SortsKeysByUtf16NotUtf8) {
  // U+E000 is EE 80 80 in UTF-8 and U+10000 is F0 90 80 80: UTF-8 order puts
  // U+E000 first, UTF-16 order (D800 DC00 < E000) puts U+10000 first.
  json::object object;
  object["\xee\x80\x80"] = 1;
  object["\xf0\x90\x80\x80"] = 2;
  object["b"] = 3;
  object["a"] = json::object{{"z", 1}, {"y", json::array{json::object{{"d", 1}, {"c", 2}}}}};
  object[""] = 0;
  object["aa"] = 5;
  EXPECT_EQ(canonical(object),
            "{\"\":0,\"a\":{\"y\":[{\"c\":2,\"d\":1}],\"z\":1},\"aa\":5,\"b\":3,"
            "\"\xf0\x90\x80\x80\":2,\"\xee\x80\x80\":1}");
}

TEST(Jcs, RefusesInvalidUtf8) {
  const char* kInvalid[] = {
      "\xff",              // never valid
      "\xc0\xaf",          // overlong '/'
      "\xe0\x80\xaf",      // overlong '/'
      "\xed\xa0\x80",      // surrogate U+D800 encoded directly
      "\xf4\x90\x80\x80",  // U+110000
      "\xe2\x82",          // truncated
      "a\x80",             // stray continuation byte
  };
  for (const char* bytes : kInvalid) {
    SCOPED_TRACE(testing::PrintToString(std::string(bytes)));
    EXPECT_EQ(value_error(json::value(bytes)), Code::invalid_argument);
    json::object object;
    object[bytes] = 1;
    EXPECT_EQ(value_error(object), Code::invalid_argument);
    EXPECT_EQ(text_error("[\"" + std::string(bytes) + "\"]"), Code::invalid_argument);
  }
  // Lone surrogates written as escapes are not Unicode text either.
  EXPECT_EQ(text_error(R"("\ud800")"), Code::invalid_argument);
  EXPECT_EQ(text_error(R"("\ude00x")"), Code::invalid_argument);
}

TEST(Jcs, RefusesDuplicateKeys) {
  EXPECT_EQ(text_error(R"({"a":1,"a":2})"), Code::invalid_argument);
  EXPECT_EQ(text_error(R"({"a":1,"b":{"c":1,"c":1}})"), Code::invalid_argument);
  // Same key spelled two ways is still the same key.
  EXPECT_EQ(text_error(R"({"\u0061":1,"a":2})"), Code::invalid_argument);
  // The same key in different objects is fine.
  EXPECT_EQ(canonical_text(R"({"a":{"a":1},"b":[{"a":2},{"a":3}]})"),
            R"({"a":{"a":1},"b":[{"a":2},{"a":3}]})");
}

// Boost.JSON hands long keys and numbers to the parse handler in pieces.
TEST(Jcs, LongKeysAndNumbersArriveInParts) {
  const std::string long_key(20'000, 'k');
  const std::string escaped_key = long_key + "\\u0041";
  EXPECT_EQ(text_error("{\"" + escaped_key + "\":1,\"" + long_key + "A\":2}"),
            Code::invalid_argument);
  EXPECT_EQ(canonical_text("{\"" + escaped_key + "\":1,\"" + long_key + "B\":2}"),
            "{\"" + long_key + "A\":1,\"" + long_key + "B\":2}");
  const std::string long_number = "0." + std::string(20'000, '0') + "1e20000";
  EXPECT_EQ(canonical_text("[" + long_number + "]"), "[0.1]");
  EXPECT_EQ(canonical_text("[" + std::string(20'000, '0').insert(0, "1.") + "]"), "[1]");
}

std::string nested_arrays(uint32_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

json::value nested_objects(uint32_t depth) {
  json::value value = 1;
  for (uint32_t i = 0; i < depth; ++i) value = json::object{{"k", std::move(value)}};
  return value;
}

TEST(Jcs, DepthLimit) {
  constexpr uint32_t kMax = limits::json_depth_max;
  EXPECT_EQ(canonical_text(nested_arrays(kMax)), nested_arrays(kMax));
  EXPECT_EQ(text_error(nested_arrays(kMax + 1)), Code::limit_exceeded);
  EXPECT_EQ(text_error(nested_arrays(1000)), Code::limit_exceeded);
  EXPECT_TRUE(jcs_canonicalize(nested_objects(kMax)).has_value());
  EXPECT_EQ(value_error(nested_objects(kMax + 1)), Code::limit_exceeded);
  json::value arrays = json::parse(nested_arrays(kMax));
  EXPECT_EQ(canonical(arrays), nested_arrays(kMax));
  EXPECT_EQ(value_error(json::array{arrays}), Code::limit_exceeded);
}

TEST(Jcs, TextSizeLimit) {
  EXPECT_EQ(jcs_canonicalize_text("[1, 2]", 6).value_or(""), "[1,2]");
  Result<std::string> too_big = jcs_canonicalize_text("[1, 2]", 5);
  ASSERT_FALSE(too_big.has_value());
  EXPECT_EQ(too_big.error().code(), Code::limit_exceeded);
}

TEST(Jcs, RefusesMalformedText) {
  EXPECT_EQ(text_error(""), Code::invalid_argument);
  EXPECT_EQ(text_error("   "), Code::invalid_argument);
  EXPECT_EQ(text_error("{\"a\":1} x"), Code::invalid_argument);
  EXPECT_EQ(text_error("[1,2,]"), Code::invalid_argument);
  EXPECT_EQ(text_error("[1] // comment"), Code::invalid_argument);
  EXPECT_EQ(text_error("{'a':1}"), Code::invalid_argument);
  EXPECT_EQ(text_error("NaN"), Code::invalid_argument);
  EXPECT_EQ(text_error("01"), Code::invalid_argument);
  EXPECT_EQ(text_error("[1]\n[2]"), Code::invalid_argument);
  EXPECT_EQ(canonical_text(" \n\t[ true ,false, null ]\r\n "), "[true,false,null]");
}

}  // namespace
}  // namespace dg::crypto
