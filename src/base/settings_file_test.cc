#include "base/settings_file.h"

#include <gtest/gtest.h>

#include <fstream>

#include "support/temp_dir.h"

namespace dg {
namespace {

constexpr std::string_view kKnown[] = {"name", "count", "folder"};

class SettingsFileTest : public ::testing::Test {
 protected:
  std::filesystem::path write(const std::string& text) {
    std::ofstream(path_) << text;
    return path_;
  }
  void SetUp() override { ASSERT_FALSE(temp_.path().empty()) << "no temporary folder"; }
  dg::testing::TempDir temp_;
  std::filesystem::path path_ = temp_.path() / "settings.toml";
};

TEST_F(SettingsFileTest, ReadsValuesAndLeavesAbsentOnesAlone) {
  auto file = SettingsFile::load(write("name = \"stall\"\ncount = 12\n"), kKnown);
  ASSERT_TRUE(file.has_value()) << file.error().to_string();
  std::string name = "default";
  uint32_t count = 1;
  std::filesystem::path folder = "kept";
  ASSERT_TRUE(file->read("name", name).ok());
  ASSERT_TRUE(file->read("count", count, 100).ok());
  ASSERT_TRUE(file->read("folder", folder).ok());
  EXPECT_EQ(name, "stall");
  EXPECT_EQ(count, 12u);
  EXPECT_EQ(folder, "kept");
}

TEST_F(SettingsFileTest, RefusesUnknownKeysWrongTypesAndOutOfRangeNumbers) {
  auto unknown = SettingsFile::load(write("colour = \"red\"\n"), kKnown);
  ASSERT_FALSE(unknown.has_value());
  EXPECT_NE(unknown.error().message().find("unknown setting \"colour\""), std::string::npos);

  auto file = SettingsFile::load(write("name = 3\ncount = -1\n"), kKnown);
  ASSERT_TRUE(file.has_value());
  std::string name;
  EXPECT_EQ(file->read("name", name).code(), Code::invalid_argument);
  uint32_t count = 7;
  Status negative = file->read("count", count, 100);
  EXPECT_EQ(negative.code(), Code::invalid_argument);
  EXPECT_NE(negative.message().find("count must be a whole number from 0 to 100"),
            std::string::npos);
  EXPECT_EQ(count, 7u);

  auto big = SettingsFile::load(write("count = 101\n"), kKnown);
  ASSERT_TRUE(big.has_value());
  EXPECT_EQ(big->read("count", count, 100).code(), Code::invalid_argument);
}

TEST_F(SettingsFileTest, SyntaxErrorNamesTheFileAndLine) {
  auto file = SettingsFile::load(write("name = \"ok\"\ncount = = 3\n"), kKnown);
  ASSERT_FALSE(file.has_value());
  EXPECT_NE(file.error().message().find(path_.string() + ":2:"), std::string::npos)
      << file.error().message();
}

// Found by fuzz/config_fuzz.cc: a table header whose key starts with a
// character no key may start with made toml++ 3.3 fail an assertion (abort
// the process) in a build without NDEBUG, such as the ASan preset's, instead
// of reporting the syntax error it reports in a release build.
TEST_F(SettingsFileTest, ATableHeaderWithNoKeyIsASyntaxErrorInEveryBuild) {
  for (const char* text : {"[^data_dir]\n", "name = \"a\"\n[&\n", "[[[1]]]\n", "[[=\n"}) {
    auto file = SettingsFile::load(write(text), kKnown);
    ASSERT_FALSE(file.has_value()) << text;
    EXPECT_EQ(file.error().code(), Code::invalid_argument) << text;
    EXPECT_NE(file.error().message().find(path_.string() + ":"), std::string::npos)
        << file.error().message();
  }
}

// Found by fuzz/config_fuzz.cc: toml++ 3.3 reaches __builtin_unreachable
// (undefined behaviour, reported by UBSan) on a non-ASCII character where a
// value may end. Such a character outside quotes is refused with its line
// before toml++ parses; inside a quoted string it is ordinary text.
TEST_F(SettingsFileTest, ANonAsciiCharacterOutsideQuotesIsRefusedWithItsLine) {
  auto bad = SettingsFile::load(write("name = \"ok\"\ncount = 5\xEF\xBB\xBD\n"), kKnown);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), Code::invalid_argument);
  EXPECT_NE(bad.error().message().find(path_.string() + ":2: a non-ASCII character"),
            std::string::npos)
      << bad.error().message();
  auto good = SettingsFile::load(write("name = \"caf\xC3\xA9 \\\" \xEF\xBB\xBD\"\n"), kKnown);
  ASSERT_TRUE(good.has_value()) << good.error().message();
  std::string name;
  ASSERT_TRUE(good->read("name", name).ok());
  EXPECT_EQ(name, "caf\xC3\xA9 \" \xEF\xBB\xBD");
}

// A configuration as origin and edge have them: text, counts and durations.
struct Toy {
  std::string name = "default";
  std::filesystem::path folder = "kept";
  uint32_t count = 1;
  uint64_t bytes = 2;
  std::chrono::seconds timeout{3};
  std::chrono::days lifetime{4};
};

constexpr Setting<Toy> kToySettings[] = {
    {"name", &Toy::name},
    {"folder", &Toy::folder},
    {"count", &Toy::count, uint32_t{100}},
    {"bytes", &Toy::bytes, uint64_t{1} << 40},
    {"timeout_s", &Toy::timeout, std::chrono::minutes(15)},
    {"lifetime_days", &Toy::lifetime, std::chrono::days(30)},
};

// A table reads each kind of field, durations in the key's unit (a ceiling
// given in minutes is held in the field's seconds); absent keys keep their value.
TEST_F(SettingsFileTest, TableReadsEveryKindOfFieldInTheKeysUnit) {
  Toy toy;
  ASSERT_TRUE(load_settings<Toy>(write("name = \"stall\"\ncount = 100\ntimeout_s = 900\n"
                                       "lifetime_days = 30\nbytes = 1099511627776\n"),
                                 kToySettings, toy)
                  .ok());
  EXPECT_EQ(toy.name, "stall");
  EXPECT_EQ(toy.folder, "kept");
  EXPECT_EQ(toy.count, 100u);
  EXPECT_EQ(toy.bytes, uint64_t{1} << 40);
  EXPECT_EQ(toy.timeout, std::chrono::minutes(15));
  EXPECT_EQ(toy.lifetime, std::chrono::days(30));
  EXPECT_EQ(kToySettings[4].ceiling, 900u);
}

// Configuration may lower a limit, never raise it: one above any ceiling is
// refused with a message naming the key and the ceiling, and the field keeps
// its value; a key the table does not name is refused.
TEST_F(SettingsFileTest, TableRefusesAValueAboveItsCeilingNamingKeyAndCeiling) {
  struct Case {
    std::string text;
    std::string message;
  };
  const Case cases[] = {
      {"count = 101\n", "count must be a whole number from 0 to 100"},
      {"bytes = 1099511627777\n", "bytes must be a whole number from 0 to 1099511627776"},
      {"timeout_s = 901\n", "timeout_s must be a whole number from 0 to 900"},
      {"lifetime_days = 31\n", "lifetime_days must be a whole number from 0 to 30"},
  };
  for (const Case& c : cases) {
    Toy toy;
    Status refused = load_settings<Toy>(write(c.text), kToySettings, toy);
    EXPECT_EQ(refused.code(), Code::invalid_argument) << c.text;
    EXPECT_NE(refused.message().find(c.message), std::string::npos) << refused.message();
    EXPECT_EQ(toy.count, 1u);
    EXPECT_EQ(toy.bytes, 2u);
    EXPECT_EQ(toy.timeout, std::chrono::seconds(3));
    EXPECT_EQ(toy.lifetime, std::chrono::days(4));
  }
  Toy toy;
  Status unknown = load_settings<Toy>(write("timeout = 5\n"), kToySettings, toy);
  EXPECT_NE(unknown.message().find("unknown setting \"timeout\""), std::string::npos);
}

// A value set by another layer (a flag) is held to the same ceilings.
TEST(SettingsTable, CheckRefusesAValueAboveItsCeilingFromAnyLayer) {
  Toy toy;
  EXPECT_TRUE(check_settings<Toy>(kToySettings, toy).ok());
  toy.timeout = std::chrono::minutes(15);
  EXPECT_TRUE(check_settings<Toy>(kToySettings, toy).ok());
  toy.timeout += std::chrono::seconds(1);
  Status refused = check_settings<Toy>(kToySettings, toy);
  EXPECT_EQ(refused.code(), Code::invalid_argument);
  EXPECT_EQ(refused.message(), "timeout_s must be at most 900");
}

TEST(EnvValue, EmptyCountsAsUnset) {
  ::setenv("DG_SETTINGS_TEST_EMPTY", "", 1);
  ::setenv("DG_SETTINGS_TEST_SET", "x", 1);
  EXPECT_EQ(env_value("DG_SETTINGS_TEST_EMPTY"), nullptr);
  EXPECT_EQ(env_value("DG_SETTINGS_TEST_UNSET_NEVER"), nullptr);
  EXPECT_STREQ(env_value("DG_SETTINGS_TEST_SET"), "x");
}

}  // namespace
}  // namespace dg
