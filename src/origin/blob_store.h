// Content-addressed files: each asset lives once under blobs/<aa>/<sha256>,
// whatever its name in any drop. Files are looked up by hash, never by a
// path taken from a request.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "base/status.h"

namespace dg::origin {

class BlobStore {
 public:
  explicit BlobStore(std::filesystem::path root);
  // Creates the folders.
  Status open();

  // Moves a received file whose SHA-256 the caller computed while it arrived
  // into place (fsynced). An existing blob with the same hash is kept.
  Status adopt(const std::filesystem::path& file, std::string_view sha256_hex);

  bool contains(std::string_view sha256_hex) const;
  // Path of a blob; the hash must be 64 lower-case hex digits (asserted).
  std::filesystem::path path_of(std::string_view sha256_hex) const;
  const std::filesystem::path& spool_dir() const { return spool_; }

 private:
  std::filesystem::path root_;
  std::filesystem::path spool_;
};

bool is_sha256_hex(std::string_view text);

}  // namespace dg::origin
