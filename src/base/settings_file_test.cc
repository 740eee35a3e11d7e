#include "base/settings_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace dg {
namespace {

constexpr std::string_view kKnown[] = {"name", "count", "folder"};

class SettingsFileTest : public ::testing::Test {
 protected:
  std::filesystem::path write(const std::string& text) {
    std::ofstream(path_) << text;
    return path_;
  }
  void TearDown() override { std::filesystem::remove(path_); }
  std::filesystem::path path_ = std::filesystem::temp_directory_path() /
                                ("dg-settings-" + std::to_string(::getpid()) + ".toml");
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

TEST(EnvValue, EmptyCountsAsUnset) {
  ::setenv("DG_SETTINGS_TEST_EMPTY", "", 1);
  ::setenv("DG_SETTINGS_TEST_SET", "x", 1);
  EXPECT_EQ(env_value("DG_SETTINGS_TEST_EMPTY"), nullptr);
  EXPECT_EQ(env_value("DG_SETTINGS_TEST_UNSET_NEVER"), nullptr);
  EXPECT_STREQ(env_value("DG_SETTINGS_TEST_SET"), "x");
}

}  // namespace
}  // namespace dg
