// The Vault over real files in a temporary folder: which blobs it holds in
// memory, and that a change to a blob's file on disk is noticed by the
// watcher (inotify), with no use of the blob needed, and the blob dropped
// when its content no longer matches. What it serves is always the hashed
// content.
#include "edge/vault.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "base/encoding.h"
#include "base/file.h"
#include "base/limits.h"
#include "crypto/keys.h"
#include "crypto/sha256.h"
#include "support/temp_dir.h"

namespace dg::edge {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string sha_of(std::string_view bytes) {
  return hex_encode(crypto::sha256(as_bytes(bytes)));
}

std::string bytes_of_size(size_t size, char seed) {
  std::string out(size, '\0');
  for (size_t i = 0; i < size; ++i) out[i] = static_cast<char>(seed + i * 7 + i / 251);
  return out;
}

// Flips bytes of a file in place: same size, same inode, new content.
void damage_in_place(const fs::path& path, off_t offset) {
  int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  char byte = 0;
  ASSERT_EQ(::pread(fd, &byte, 1, offset), 1);
  byte = static_cast<char>(byte ^ 0x5a);
  ASSERT_EQ(::pwrite(fd, &byte, 1, offset), 1);
  ::close(fd);
}

// Polls `done` for up to 5 s.
template <typename F>
bool eventually(F done) {
  for (auto deadline = std::chrono::steady_clock::now() + 5s;
       std::chrono::steady_clock::now() < deadline;) {
    if (done()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return done();
}

class VaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    crypto::init();
    ASSERT_FALSE(dir_.empty()) << "no temporary folder";
    vault_ = std::make_unique<Vault>(dir_ / "blobs");
  }
  void TearDown() override { vault_.reset(); }
  // Stores `bytes` as a blob, as the syncer does; returns its sha256.
  std::string add(const std::string& bytes) {
    std::string sha = sha_of(bytes);
    fs::path incoming = dir_ / ("incoming-" + sha);
    EXPECT_TRUE(write_file_atomic(incoming, bytes, 0644, Overwrite::yes).ok());
    EXPECT_TRUE(vault_->adopt(incoming, sha, bytes.size()).ok());
    return sha;
  }

  dg::testing::TempDir temp_;  // before what uses it: removed last
  const fs::path& dir_ = temp_.path();
  std::unique_ptr<Vault> vault_;
};

TEST_F(VaultTest, WithoutWatchingEveryBlobIsServedOpen) {
  std::string small = bytes_of_size(4096, 'a');
  std::string sha = add(small);
  Vault::Blob blob = vault_->open(sha, small.size());
  ASSERT_TRUE(blob);
  EXPECT_EQ(blob.bytes, nullptr);
  ASSERT_NE(blob.file, nullptr);
  EXPECT_EQ(vault_->held_bytes(), 0u);
}

TEST_F(VaultTest, SmallBlobsAreHeldInMemoryLargeOnesServedOpen) {
  ASSERT_TRUE(vault_->watch(1024 * 1024).ok());
  std::string small = bytes_of_size(4096, 'a');
  std::string large = bytes_of_size(limits::edge_held_blob_bytes_max + 1, 'b');
  std::string small_sha = add(small);
  std::string large_sha = add(large);

  Vault::Blob held = vault_->open(small_sha, small.size());
  ASSERT_TRUE(held);
  ASSERT_NE(held.bytes, nullptr);
  EXPECT_EQ(held.file, nullptr);
  EXPECT_TRUE(*held.bytes == small);
  EXPECT_EQ(vault_->held_bytes(), small.size());
  // The second use is the same copy, not a new read.
  EXPECT_EQ(vault_->open(small_sha, small.size()).bytes, held.bytes);

  Vault::Blob open = vault_->open(large_sha, large.size());
  ASSERT_TRUE(open);
  EXPECT_EQ(open.bytes, nullptr);
  EXPECT_NE(open.file, nullptr);
  EXPECT_EQ(vault_->held_bytes(), small.size());
}

TEST_F(VaultTest, BlobsBeyondTheMemoryBudgetAreServedOpen) {
  ASSERT_TRUE(vault_->watch(6000).ok());
  std::string first = bytes_of_size(4096, 'c');
  std::string second = bytes_of_size(4096, 'd');
  std::string first_sha = add(first);
  std::string second_sha = add(second);
  EXPECT_NE(vault_->open(first_sha, first.size()).bytes, nullptr);
  Vault::Blob over = vault_->open(second_sha, second.size());
  ASSERT_TRUE(over);
  EXPECT_EQ(over.bytes, nullptr);
  EXPECT_NE(over.file, nullptr);
  EXPECT_EQ(vault_->held_bytes(), 4096u);
}

TEST_F(VaultTest, AHeldBlobDamagedOnDiskIsNoticedWithoutAUseAndDropped) {
  ASSERT_TRUE(vault_->watch(1024 * 1024).ok());
  std::string small = bytes_of_size(4096, 'e');
  std::string sha = add(small);
  ASSERT_NE(vault_->open(sha, small.size()).bytes, nullptr);

  damage_in_place(vault_->path_of(sha), 100);
  // Nothing uses the blob: the watcher alone finds the damage, counts it,
  // removes the file (the syncer fetches it again) and lets the memory go.
  EXPECT_TRUE(eventually([&] { return vault_->damaged_count() == 1; }));
  EXPECT_TRUE(eventually([&] { return !fs::exists(vault_->path_of(sha)); }));
  EXPECT_EQ(vault_->held_bytes(), 0u);
  EXPECT_FALSE(vault_->known_good(sha));
  EXPECT_FALSE(vault_->open(sha, small.size()));
}

TEST_F(VaultTest, WhatAHeldBlobServesIsAlwaysTheHashedContent) {
  ASSERT_TRUE(vault_->watch(1024 * 1024).ok());
  std::string small = bytes_of_size(8000, 'f');
  std::string sha = add(small);
  ASSERT_NE(vault_->open(sha, small.size()).bytes, nullptr);
  damage_in_place(vault_->path_of(sha), 0);
  // Until the watcher has looked, the blob may still be served: from the copy
  // that was hashed, never the damaged file.
  for (int i = 0; i < 2000 && vault_->damaged_count() == 0; ++i) {
    Vault::Blob blob = vault_->open(sha, small.size());
    if (!blob) break;
    ASSERT_NE(blob.bytes, nullptr);
    ASSERT_TRUE(*blob.bytes == small);
  }
  EXPECT_TRUE(eventually([&] { return vault_->damaged_count() == 1; }));
}

TEST_F(VaultTest, AFileReplacedWithTheSameContentStaysGoodAndHeld) {
  ASSERT_TRUE(vault_->watch(1024 * 1024).ok());
  std::string small = bytes_of_size(4096, 'g');
  std::string sha = add(small);
  auto held = vault_->open(sha, small.size()).bytes;
  ASSERT_NE(held, nullptr);
  // An operator restores the file from a backup: a new inode, the same bytes.
  fs::path copy = dir_ / "restored";
  ASSERT_TRUE(write_file_atomic(copy, small, 0644, Overwrite::yes).ok());
  fs::rename(copy, vault_->path_of(sha));
  // Hashed again (ready() compares the file at the path with what was hashed).
  EXPECT_TRUE(eventually([&] { return vault_->ready(sha, small.size()); }));
  EXPECT_EQ(vault_->damaged_count(), 0u);
  EXPECT_TRUE(vault_->known_good(sha));
  EXPECT_EQ(vault_->open(sha, small.size()).bytes, held);
}

TEST_F(VaultTest, BlobsInAShardFolderMadeAfterWatchingBeganAreWatchedToo) {
  ASSERT_TRUE(vault_->watch(1024 * 1024).ok());
  std::string small = bytes_of_size(2048, 'h');
  std::string sha = add(small);  // its folder blobs/<aa> is new
  ASSERT_NE(vault_->open(sha, small.size()).bytes, nullptr);
  // Damaged at once: before or after the watcher added the new folder, it sees it.
  damage_in_place(vault_->path_of(sha), 1);
  EXPECT_TRUE(eventually([&] { return vault_->damaged_count() == 1; }));
  EXPECT_FALSE(vault_->known_good(sha));
}

// Pages of `path` in the page cache.
size_t resident_pages(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  EXPECT_GE(fd, 0);
  size_t size = fs::file_size(path);
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  EXPECT_NE(map, MAP_FAILED);
  size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> in_core((size + page - 1) / page);
  EXPECT_EQ(::mincore(map, size, in_core.data()), 0);
  ::munmap(map, size);
  size_t resident = 0;
  for (unsigned char c : in_core) resident += c & 1;
  return resident;
}

TEST_F(VaultTest, AnAdoptedBlobLeavesThePageCacheItsDownloadFilled) {
  // Read back later through readahead, the blob comes in as large folios,
  // which sendfile(2) serves for less CPU than the pieces a download wrote.
  std::string large = bytes_of_size(4 * 1024 * 1024, 'j');
  fs::path incoming = dir_ / "incoming-large";
  ASSERT_TRUE(write_file_atomic(incoming, large, 0644, Overwrite::yes).ok());
  ASSERT_GT(resident_pages(incoming), 0u);  // just written: cached
  std::string sha = sha_of(large);
  ASSERT_TRUE(vault_->adopt(incoming, sha, large.size()).ok());
  EXPECT_EQ(resident_pages(vault_->path_of(sha)), 0u);
  Vault::Blob blob = vault_->open(sha, large.size());
  ASSERT_TRUE(blob);
  ASSERT_NE(blob.file, nullptr);
}

TEST_F(VaultTest, ReadyRefusesADamagedFileAtThePath) {
  std::string small = bytes_of_size(4096, 'i');
  std::string sha = add(small);
  EXPECT_TRUE(vault_->ready(sha, small.size()));
  damage_in_place(vault_->path_of(sha), 10);
  EXPECT_FALSE(vault_->ready(sha, small.size()));
  EXPECT_EQ(vault_->damaged_count(), 1u);
  EXPECT_FALSE(fs::exists(vault_->path_of(sha)));
}

}  // namespace
}  // namespace dg::edge
