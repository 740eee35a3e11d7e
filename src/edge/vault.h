// The edge's blobs, content-addressed under blobs/<aa>/<sha256>. A blob is
// served only while it is known good: hashed when it arrived or when the edge
// started, and unchanged on disk since (size, inode, mtime and ctime). A
// changed or damaged blob is hashed again, and removed when it no longer
// matches, so the next sync fetches it afresh; it is never served.
//
// Two ways to serve a good blob:
// - Open: the file stays open once served (as nginx's open_file_cache) and
//   each use compares fstat(2) of it with the state it was hashed in, so a
//   download costs one fstat, not an open, a stat and a close. An adopted
//   blob's pages are dropped from the page cache, so it is read back through
//   readahead, in the large folios sendfile(2) serves cheaply (see adopt()).
// - Held in memory, for small blobs once watch() is on: the first use reads
//   the file and hashes what it read, and from then on a download is a map
//   lookup and the bytes leave with the response header in one write. No
//   file is touched per use: inotify(7) reports any change to a blob's file,
//   and the watcher hashes a changed one again at once (dropping it, memory
//   copy too, when it no longer matches). What is served is always the copy
//   that was hashed. A 4 KiB download costs about 2 µs of CPU less so (two
//   system calls fewer: sendfile and fstat); docs/BENCHMARKS.md.
//
// Thread safety: all methods are safe to call concurrently.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "http/http.h"

namespace dg::edge {

class Vault {
 public:
  explicit Vault(std::filesystem::path root);
  ~Vault();
  Vault(const Vault&) = delete;
  Vault& operator=(const Vault&) = delete;

  std::filesystem::path path_of(std::string_view sha256) const;
  std::filesystem::path partial_path_of(std::string_view sha256) const;

  // Starts watching the blobs' files (a thread reading inotify events) and
  // holding small blobs in memory, at most `held_bytes_max` in all (0: none
  // held, nothing watched). Errors when inotify is unavailable (e.g. out of
  // watches); the vault then serves every blob open, as before the call.
  Status watch(uint64_t held_bytes_max);

  // Hashes the given blobs (in parallel) and remembers the good ones; bad or
  // missing ones are removed. Returns how many were good.
  Result<uint32_t> verify(const std::vector<std::pair<std::string, uint64_t>>& sha256_and_size);

  // Moves a downloaded file into place after checking its hash and size.
  Status adopt(const std::filesystem::path& file, std::string_view sha256, uint64_t size_bytes);

  // A good blob, ready to serve: its bytes in memory or its file open.
  struct Blob {
    std::shared_ptr<const std::string> bytes;
    std::shared_ptr<const http::OpenFile> file;
    explicit operator bool() const { return bytes || file; }
  };
  // The blob when it may be served now (see the file comment); empty when it
  // is not here or not good.
  Blob open(std::string_view sha256, uint64_t size_bytes);
  // True when the blob may be served now from its path (the archive sends
  // members by path): the file there is the one hashed, unchanged.
  bool ready(std::string_view sha256, uint64_t size_bytes);
  bool known_good(std::string_view sha256) const;

  uint64_t damaged_count() const { return damaged_.load(); }
  // Bytes of blobs held in memory.
  uint64_t held_bytes() const { return held_bytes_.load(); }

 private:
  struct Seen {
    uint64_t size_bytes;
    uint64_t inode;
    int64_t mtime_ns;
    int64_t ctime_ns;
    bool operator==(const Seen&) const = default;
  };
  struct Good {
    Seen seen;
    std::shared_ptr<const http::OpenFile> file;  // opened at first use
    std::shared_ptr<const std::string> bytes;    // held at first use (small blobs, watching)
  };
  static bool stat_of(const std::filesystem::path& path, Seen& out);
  static bool fstat_of(int fd, Seen& out);
  std::shared_ptr<const http::OpenFile> open_checked(std::string_view sha256, uint64_t size_bytes);
  std::shared_ptr<const std::string> hold(std::string_view sha256, uint64_t size_bytes,
                                          const std::shared_ptr<const http::OpenFile>& file);
  // Records a blob as good in the state `seen` (its open file forgotten: it
  // may be of a replaced file; bytes held stay, being the hashed content).
  void remember(std::string_view sha256, const Seen& seen);
  void forget_and_remove(std::string_view sha256);
  // The watcher: reads inotify events until stop_fd_ is signalled.
  void watch_loop();
  void watch_shard(std::string_view name);
  // A blob's file may have changed: hashes it again unless it is as it was.
  void recheck(std::string_view sha256);

  std::filesystem::path root_;
  mutable std::mutex mutex_;
  std::map<std::string, Good, std::less<>> good_;
  std::atomic<uint64_t> damaged_{0};
  std::atomic<uint64_t> held_bytes_{0};  // written under mutex_
  uint64_t held_bytes_max_ = 0;          // set by watch(), before holding starts
  std::atomic<bool> holding_{false};
  int inotify_fd_ = -1;
  int root_watch_ = -1;
  int stop_fd_ = -1;  // an eventfd: the destructor stops the watcher with it
  std::thread watcher_;
};

}  // namespace dg::edge
