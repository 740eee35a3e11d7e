// Known answers are the FIPS 180-4 examples published by NIST (SHA-256
// "abc", the 448-bit two-block message, one million 'a') and the well-known
// digest of the empty string.
#include "crypto/sha256.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

#include "base/encoding.h"
#include "base/file.h"
#include "base/limits.h"
#include "support/temp_dir.h"

namespace dg::crypto {
namespace {

namespace fs = std::filesystem;

std::string hex(const Sha256Digest& digest) {
  return hex_encode(digest);
}

TEST(Sha256, NistVectors) {
  EXPECT_EQ(hex(sha256(as_bytes(""))),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex(sha256(as_bytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex(sha256(as_bytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, MillionAStreamedInUnevenChunks) {
  const std::string a_chunk(1000, 'a');
  Sha256 hasher;
  size_t done_bytes = 0;
  // Chunk sizes 1, 2, ..., 999 (and a remainder), so updates cross the
  // 64-byte block boundary at every offset.
  for (size_t chunk_bytes = 1; done_bytes < 1'000'000; chunk_bytes = chunk_bytes % 999 + 1) {
    const size_t take_bytes = std::min(chunk_bytes, 1'000'000 - done_bytes);
    hasher.update(as_bytes(std::string_view(a_chunk).substr(0, take_bytes)));
    done_bytes += take_bytes;
  }
  EXPECT_EQ(hex(hasher.finish()),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // finish() leaves a fresh hasher behind.
  hasher.update(as_bytes("abc"));
  EXPECT_EQ(hex(hasher.finish()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex(hasher.finish()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

// Deterministic, non-repeating-looking content so that a misplaced buffer
// boundary changes the digest.
std::string content_of_size(size_t size_bytes, uint32_t seed) {
  std::string content(size_bytes, '\0');
  uint32_t state = seed * 2654435761u + 1;
  for (char& c : content) {
    state = state * 1664525u + 1013904223u;
    c = static_cast<char>(state >> 24);
  }
  return content;
}

class Sha256FileTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(dir_.empty()) << "no temporary folder"; }

  fs::path write(const std::string& name, const std::string& content) {
    fs::path path = dir_ / name;
    Status status = write_file_atomic(path, content, 0600, Overwrite::no);
    EXPECT_TRUE(status.ok()) << status.to_string();
    return path;
  }

  dg::testing::TempDir temp_;  // before what uses it: removed last
  const fs::path& dir_ = temp_.path();
};

TEST_F(Sha256FileTest, EmptyFile) {
  Result<FileDigest> digest = sha256_file(write("empty", ""));
  ASSERT_TRUE(digest.has_value()) << digest.error().to_string();
  EXPECT_EQ(digest->size_bytes, 0u);
  EXPECT_EQ(hex(digest->sha256),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_F(Sha256FileTest, FileSpanningSeveralBuffersEqualsInMemory) {
  const size_t size_bytes = 3 * 1024 * 1024 + 1;
  static_assert(3 * 1024 * 1024 + 1 > 3 * limits::hash_read_buffer_bytes);
  const std::string content = content_of_size(size_bytes, 7);
  std::vector<uint64_t> progress;
  Result<FileDigest> digest =
      sha256_file(write("big", content), [&](uint64_t bytes) { progress.push_back(bytes); });
  ASSERT_TRUE(digest.has_value()) << digest.error().to_string();
  EXPECT_EQ(digest->size_bytes, size_bytes);
  EXPECT_EQ(digest->sha256, sha256(as_bytes(content)));
  // Once per buffer: 1 MiB, 2 MiB, 3 MiB, then the last byte.
  const uint64_t mib = 1024 * 1024;
  EXPECT_EQ(progress, (std::vector<uint64_t>{mib, 2 * mib, 3 * mib, 3 * mib + 1}));
}

TEST_F(Sha256FileTest, ErrorsNameTheFile) {
  Result<FileDigest> missing = sha256_file(dir_ / "missing");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), Code::not_found);
  EXPECT_NE(missing.error().message().find((dir_ / "missing").string()), std::string::npos)
      << missing.error().message();

  Result<FileDigest> directory = sha256_file(dir_);
  ASSERT_FALSE(directory.has_value());
  EXPECT_EQ(directory.error().code(), Code::invalid_argument);
  EXPECT_NE(directory.error().message().find(dir_.string()), std::string::npos);

  // A FIFO is refused without blocking on open.
  const fs::path fifo = dir_ / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  Result<FileDigest> from_fifo = sha256_file(fifo);
  ASSERT_FALSE(from_fifo.has_value());
  EXPECT_EQ(from_fifo.error().code(), Code::invalid_argument);
}

// The progress callback runs between reads, so it can change the file under
// the hasher: the digest would then describe neither version.
TEST_F(Sha256FileTest, FileChangingSizeWhileHashedIsAConflict) {
  const fs::path path = write("changing", content_of_size(2 * limits::hash_read_buffer_bytes, 1));
  Result<FileDigest> grown = sha256_file(path, [&](uint64_t) {
    std::error_code ignored;
    fs::resize_file(path, 3 * limits::hash_read_buffer_bytes, ignored);
  });
  ASSERT_FALSE(grown.has_value());
  EXPECT_EQ(grown.error().code(), Code::conflict);
  EXPECT_NE(grown.error().message().find(path.string()), std::string::npos);

  Result<FileDigest> shrunk = sha256_file(path, [&](uint64_t) {
    std::error_code ignored;
    fs::resize_file(path, limits::hash_read_buffer_bytes, ignored);
  });
  ASSERT_FALSE(shrunk.has_value());
  EXPECT_EQ(shrunk.error().code(), Code::conflict);
}

TEST_F(Sha256FileTest, ParallelEqualsSerialInInputOrder) {
  std::vector<fs::path> paths;
  std::vector<std::string> contents;
  uint64_t total_bytes = 0;
  for (uint32_t i = 0; i < 20; ++i) {
    // Mixed sizes: empty, tiny, exactly one buffer, and a few multi-buffer files.
    const size_t size_bytes = i == 0       ? 0
                              : i == 1     ? limits::hash_read_buffer_bytes
                              : i % 5 == 0 ? (i / 5) * 700'000 + 13
                                           : i * 997;
    contents.push_back(content_of_size(size_bytes, i));
    paths.push_back(write("file" + std::to_string(i), contents.back()));
    total_bytes += size_bytes;
  }
  std::atomic<int> callbacks_running = 0;
  std::atomic<bool> overlapped = false;
  std::vector<uint64_t> totals;  // written only inside the serialised callback
  std::vector<Result<FileDigest>> parallel = sha256_files(paths, 4, [&](uint64_t bytes_done_total) {
    if (callbacks_running.fetch_add(1) != 0) overlapped = true;
    totals.push_back(bytes_done_total);
    callbacks_running.fetch_sub(1);
  });
  ASSERT_EQ(parallel.size(), paths.size());
  for (size_t i = 0; i < paths.size(); ++i) {
    SCOPED_TRACE(paths[i].string());
    ASSERT_TRUE(parallel[i].has_value()) << parallel[i].error().to_string();
    Result<FileDigest> serial = sha256_file(paths[i]);
    ASSERT_TRUE(serial.has_value());
    EXPECT_EQ(parallel[i]->sha256, serial->sha256);
    EXPECT_EQ(parallel[i]->sha256, sha256(as_bytes(contents[i])));
    EXPECT_EQ(parallel[i]->size_bytes, contents[i].size());
  }
  EXPECT_FALSE(overlapped);
  ASSERT_FALSE(totals.empty());
  EXPECT_EQ(totals.back(), total_bytes);
  EXPECT_TRUE(std::is_sorted(totals.begin(), totals.end()));
}

TEST_F(Sha256FileTest, MissingFileFailsOnlyItsOwnEntry) {
  std::vector<fs::path> paths = {write("a", "abc"), dir_ / "missing", write("b", "")};
  for (uint32_t thread_count : {0u, 1u, 2u, 64u}) {
    SCOPED_TRACE(thread_count);
    uint64_t last_total = 0;
    std::vector<Result<FileDigest>> results =
        sha256_files(paths, thread_count, [&](uint64_t total) { last_total = total; });
    ASSERT_EQ(results.size(), 3u);
    ASSERT_TRUE(results[0].has_value());
    EXPECT_EQ(hex(results[0]->sha256),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ASSERT_FALSE(results[1].has_value());
    EXPECT_EQ(results[1].error().code(), Code::not_found);
    ASSERT_TRUE(results[2].has_value());
    EXPECT_EQ(results[2]->size_bytes, 0u);
    EXPECT_EQ(last_total, 3u);
  }
}

TEST_F(Sha256FileTest, NoFiles) {
  EXPECT_TRUE(sha256_files({}, 4).empty());
}

}  // namespace
}  // namespace dg::crypto
