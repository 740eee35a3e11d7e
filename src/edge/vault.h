// The edge's blobs, content-addressed under blobs/<aa>/<sha256>. A blob is
// served only while it is known good: hashed when it arrived or when the edge
// started, and unchanged on disk since (size, inode, mtime and ctime are
// compared on every use, which costs one stat). A changed or damaged blob is
// hashed again, and removed when it no longer matches, so the next sync
// fetches it afresh; it is never served.
//
// Thread safety: all methods are safe to call concurrently.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"

namespace dg::edge {

class Vault {
 public:
  explicit Vault(std::filesystem::path root);

  std::filesystem::path path_of(std::string_view sha256) const;
  std::filesystem::path partial_path_of(std::string_view sha256) const;

  // Hashes the given blobs (in parallel) and remembers the good ones; bad or
  // missing ones are removed. Returns how many were good.
  Result<uint32_t> verify(const std::vector<std::pair<std::string, uint64_t>>& sha256_and_size);

  // Moves a downloaded file into place after checking its hash and size.
  Status adopt(const std::filesystem::path& file, std::string_view sha256, uint64_t size_bytes);

  // True when the blob may be served now (see the file comment).
  bool ready(std::string_view sha256, uint64_t size_bytes);
  bool known_good(std::string_view sha256) const;

  uint64_t damaged_count() const { return damaged_.load(); }

 private:
  struct Seen {
    uint64_t size_bytes;
    uint64_t inode;
    int64_t mtime_ns;
    int64_t ctime_ns;
  };
  static bool stat_of(const std::filesystem::path& path, Seen& out);
  void forget_and_remove(std::string_view sha256);

  std::filesystem::path root_;
  mutable std::mutex mutex_;
  std::map<std::string, Seen, std::less<>> good_;
  std::atomic<uint64_t> damaged_{0};
};

}  // namespace dg::edge
