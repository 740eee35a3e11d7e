#include "base/json.h"

#include <gtest/gtest.h>

#include <random>

#include "base/encoding.h"
#include "base/limits.h"

namespace dg {
namespace {

// append_json_string writes JSON by hand on hot paths; Boost.JSON's
// serializer, which writes every other JSON text, is the reference.
TEST(Json, AppendJsonStringEscapesAsBoostJsonDoes) {
  std::mt19937 random(7);
  std::vector<std::string> texts = {
      "",         "plain",       "\"",       "\\", "a\nb\tc\rd\be\ff", std::string("\0x", 2),
      "\x1f\x7f", "caf\xc3\xa9", "</script>"};
  for (int i = 0; i < 5000; ++i) {
    std::string text(random() % 10, ' ');
    // Mostly ASCII, where escaping happens, with some high bytes.
    for (char& c : text) c = static_cast<char>(random() % 4 == 0 ? random() % 256 : random() % 128);
    texts.push_back(std::move(text));
  }
  for (const std::string& text : texts) {
    std::string mine = "prefix:";
    append_json_string(mine, text);
    EXPECT_EQ(mine, "prefix:" + boost::json::serialize(boost::json::string_view(text)))
        << "text bytes: " << hex_encode(as_bytes(text));
  }
}

TEST(Json, RefusesDuplicateKeysAtAnyDepth) {
  EXPECT_TRUE(json::parse(R"({"a":1,"b":{"a":2}})", 1000).has_value());
  EXPECT_FALSE(json::parse(R"({"a":1,"a":2})", 1000).has_value());
  EXPECT_FALSE(json::parse(R"({"x":[{"k":1,"k":1}]})", 1000).has_value());
  // The same key in sibling objects is fine.
  EXPECT_TRUE(json::parse(R"([{"k":1},{"k":2}])", 1000).has_value());
  // An object's keys are all compared, wherever they stand and however
  // spelled, and a nested object's keys do not count as its parent's.
  EXPECT_FALSE(json::parse(R"({"c":1,"b":2,"a":3,"c":4})", 1000).has_value());
  EXPECT_FALSE(json::parse(R"({"a":{"x":1,"y":{"z":1}},"b":1,"a":3})", 1000).has_value());
  EXPECT_FALSE(json::parse(R"({"a":1,"\u0061":2})", 1000).has_value());
  EXPECT_TRUE(json::parse(R"({"a":{"b":1,"c":{"a":1}},"b":2,"c":3})", 1000).has_value());
}

TEST(Json, RefusesOversizedDeepAndMalformed) {
  EXPECT_EQ(json::parse(std::string(50, ' ') + "1", 10).error().code(), Code::too_large);
  std::string deep(limits::json_depth_max + 1, '[');
  deep += std::string(limits::json_depth_max + 1, ']');
  EXPECT_FALSE(json::parse(deep, 10000).has_value());
  EXPECT_FALSE(json::parse("{\"a\":1,}", 100).has_value());
  EXPECT_FALSE(json::parse("// c\n{}", 100).has_value());
  EXPECT_FALSE(json::parse_object("[]", 100).has_value());
}

TEST(Json, TypedAccessorsNameTheField) {
  auto object = *json::parse_object(R"({"s":"x","n":5,"big":-1,"o":{},"f":1.5})", 1000);
  EXPECT_EQ(*json::get_string(object, "s", "thing", 10), "x");
  EXPECT_EQ(*json::get_int(object, "n", "thing", 0, 10), 5);
  auto err = json::get_int(object, "big", "thing", 0, 10);
  ASSERT_FALSE(err.has_value());
  EXPECT_NE(err.error().message().find("\"big\""), std::string::npos);
  EXPECT_FALSE(json::get_int(object, "f", "thing", 0, 10).has_value());
  EXPECT_FALSE(json::get_string(object, "n", "thing", 10).has_value());
  EXPECT_FALSE(json::get_string(object, "missing", "thing", 10).has_value());
  EXPECT_FALSE(json::get_string(object, "s", "thing", 0).has_value());
  EXPECT_TRUE(json::only_keys(object, {"s", "n", "big", "o", "f"}, "thing").ok());
  EXPECT_FALSE(json::only_keys(object, {"s"}, "thing").ok());
}

// Longer texts go through append_json_string's sixteen-bytes-at-a-time scan:
// a byte to escape (or a high byte, which must not be) at every position of
// a chunk, and runs of every length around the chunk size, still come out as
// Boost.JSON writes them.
TEST(Json, AppendJsonStringEscapesLongTextsAsBoostJsonDoes) {
  std::mt19937 random(11);
  const std::string specials = std::string("\"\\\n\x01\x1f\x20\x7f\x80\xff\0", 10);
  std::vector<std::string> texts;
  for (size_t length = 1; length <= 70; ++length) {
    for (size_t at = 0; at < length; ++at) {
      for (char special : specials) {
        std::string text(length, 'a');
        text[at] = special;
        texts.push_back(std::move(text));
      }
    }
  }
  for (int i = 0; i < 2000; ++i) {
    std::string text(random() % 200, ' ');
    for (char& c : text)
      c = static_cast<char>(random() % 64 == 0 ? random() % 256 : 'a' + random() % 26);
    texts.push_back(std::move(text));
  }
  for (const std::string& text : texts) {
    std::string mine = "prefix:";
    append_json_string(mine, text);
    ASSERT_EQ(mine, "prefix:" + boost::json::serialize(boost::json::string_view(text)))
        << "text bytes: " << hex_encode(as_bytes(text));
  }
}

}  // namespace
}  // namespace dg
