// The edge's blobs, content-addressed under blobs/<aa>/<sha256>. A blob is
// served only while it is known good: hashed when it arrived or when the edge
// started, and unchanged on disk since (size, inode, mtime and ctime are
// compared on every use). A changed or damaged blob is hashed again, and
// removed when it no longer matches, so the next sync fetches it afresh; it
// is never served. A good blob stays open once served (as nginx's
// open_file_cache), so a download costs one fstat(2), not an open, a stat
// and a close.
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
#include "http/http.h"

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

  // The blob, open, when it may be served now (see the file comment); null
  // when it is not here or not good.
  std::shared_ptr<const http::OpenFile> open(std::string_view sha256, uint64_t size_bytes);
  // True when the blob may be served now, from its path too (the archive
  // sends members by path): open() and the path is still that file.
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
  struct Good {
    Seen seen;
    std::shared_ptr<const http::OpenFile> file;  // opened at first use
  };
  static bool stat_of(const std::filesystem::path& path, Seen& out);
  static bool fstat_of(int fd, Seen& out);
  std::shared_ptr<const http::OpenFile> open_checked(std::string_view sha256, uint64_t size_bytes);
  void forget_and_remove(std::string_view sha256);

  std::filesystem::path root_;
  mutable std::mutex mutex_;
  std::map<std::string, Good, std::less<>> good_;
  std::atomic<uint64_t> damaged_{0};
};

}  // namespace dg::edge
