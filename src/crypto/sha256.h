// SHA-256 (FIPS 180-4) of bytes and of files, through OpenSSL 3's EVP layer,
// which uses the CPU's SHA extensions where present: asset hashing is the
// slow step of publishing a drop, so this is the one place that matters.
// libsodium has only a portable SHA-256, hence OpenSSL here.
#pragma once

#include <openssl/types.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "base/status.h"

namespace dg::crypto {

using Sha256Digest = std::array<uint8_t, 32>;

// A streaming hasher. Not copyable or movable: there is no empty state to
// misuse. finish() starts a fresh hash, so one hasher can hash many inputs.
// Thread safety: one hasher per thread.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::span<const uint8_t> bytes);
  // The digest of everything given to update() since construction or the
  // last finish(); the hasher is then ready for a new input.
  Sha256Digest finish();

 private:
  struct CtxFree {
    void operator()(EVP_MD_CTX* ctx) const;
  };
  std::unique_ptr<EVP_MD_CTX, CtxFree> ctx_;
};

Sha256Digest sha256(std::span<const uint8_t> bytes);

struct FileDigest {
  uint64_t size_bytes = 0;
  Sha256Digest sha256 = {};
};

// Hashes the regular file at `path`, reading limits::hash_read_buffer_bytes
// at a time. `on_progress`, if set, receives the bytes of this file hashed so
// far, once per buffer. Errors name the file: not_found, forbidden,
// invalid_argument (not a regular file), limit_exceeded (larger than
// limits::asset_size_bytes_max), conflict (the file changed size while being
// hashed, so the digest would match neither version), io_error.
Result<FileDigest> sha256_file(const std::filesystem::path& path,
                               const std::function<void(uint64_t bytes)>& on_progress = {});

// Hashes `paths` on `thread_count` threads (0: one per hardware thread), never
// more than limits::hash_threads_max or one per file. Results are in the order
// of `paths`; one file's failure does not affect the others. `on_progress`, if
// set, is called from the worker threads, one call at a time, at most once per
// buffer read, with the bytes hashed so far over all files; keep it cheap, the
// workers wait for it.
std::vector<Result<FileDigest>> sha256_files(
    const std::vector<std::filesystem::path>& paths, uint32_t thread_count,
    const std::function<void(uint64_t bytes_done_total)>& on_progress = {});

}  // namespace dg::crypto
