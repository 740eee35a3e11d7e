#include "base/file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "support/temp_dir.h"

namespace dg {
namespace {

class FileTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(dir_.empty()) << "no temporary folder"; }
  dg::testing::TempDir temp_;
  const std::filesystem::path& dir_ = temp_.path();
};

TEST_F(FileTest, WriteThenReadWithMode) {
  auto path = dir_ / "a.txt";
  ASSERT_TRUE(write_file_atomic(path, "hello", 0600, Overwrite::no).ok());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(*read_file(path, 100), "hello");
}

TEST_F(FileTest, NoOverwriteLeavesTheOldFile) {
  auto path = dir_ / "a.txt";
  ASSERT_TRUE(write_file_atomic(path, "old", 0644, Overwrite::no).ok());
  Status s = write_file_atomic(path, "new", 0644, Overwrite::no);
  EXPECT_EQ(s.code(), Code::conflict);
  EXPECT_EQ(*read_file(path, 100), "old");
  ASSERT_TRUE(write_file_atomic(path, "new", 0644, Overwrite::yes).ok());
  EXPECT_EQ(*read_file(path, 100), "new");
  // No temporary files are left behind.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_), {}), 1);
}

TEST_F(FileTest, ReadRefusesLargeAndMissingFiles) {
  auto path = dir_ / "big";
  ASSERT_TRUE(write_file_atomic(path, std::string(200, 'x'), 0644, Overwrite::no).ok());
  EXPECT_EQ(read_file(path, 100).error().code(), Code::limit_exceeded);
  EXPECT_EQ(read_file(dir_ / "missing", 100).error().code(), Code::not_found);
  EXPECT_EQ(read_file(dir_, 100).error().code(), Code::invalid_argument);
}

}  // namespace
}  // namespace dg
