// The file a streaming request body is written into while it arrives.
// Internal to the http module.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>

#include "base/status.h"

namespace dg::http {

// Created unnamed (O_TMPFILE) where the filesystem allows it, so a failed
// upload, or a crash in the middle of one, leaves nothing behind; where it
// does not (e.g. some overlay filesystems), a named file that the destructor
// removes. publish() gives the finished file a name. Not thread-safe.
class SpoolFile {
 public:
  static Result<SpoolFile> create(const std::filesystem::path& dir);

  SpoolFile(SpoolFile&& other) noexcept;
  SpoolFile& operator=(SpoolFile&& other) noexcept;
  SpoolFile(const SpoolFile&) = delete;
  SpoolFile& operator=(const SpoolFile&) = delete;
  // Closes the file and removes it unless publish() succeeded.
  ~SpoolFile();

  Status append(std::span<const char> bytes);
  uint64_t size_bytes() const { return size_bytes_; }

  // Names the file "<dir>/upload-<random hex>" and closes it; the caller then
  // owns the path (and deletes it).
  Result<std::filesystem::path> publish();

 private:
  SpoolFile(int fd, std::filesystem::path dir, std::filesystem::path named_path);
  void discard();

  int fd_ = -1;
  std::filesystem::path dir_;
  std::filesystem::path named_path_;  // empty while unnamed (O_TMPFILE)
  uint64_t size_bytes_ = 0;
};

}  // namespace dg::http
