#include "crypto/sha256.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>

#include "base/assert.h"
#include "base/file.h"
#include "base/limits.h"

namespace dg::crypto {
namespace {

// Fetched once for the process and never freed: an implicit fetch
// (EVP_sha256() passed to EVP_DigestInit_ex2) searches the provider tables
// under a lock on every init, which shows when hashing many small files.
const EVP_MD* sha256_md() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  DG_ASSERT(md != nullptr);  // the default provider always has SHA-256
  return md;
}

// EVP calls on a valid context fail only when memory or the provider is
// broken, never because of input, hence assertions rather than Status.
void init_digest(EVP_MD_CTX* ctx) {
  const int initialised = EVP_DigestInit_ex2(ctx, sha256_md(), nullptr);
  DG_ASSERT(initialised == 1);
}

using OnReadBytes = std::function<void(uint64_t bytes_read)>;

// Hashes one file with a buffer the caller owns, so that sha256_files
// allocates one per thread rather than one per file.
Result<FileDigest> hash_file(const std::filesystem::path& path, std::span<uint8_t> buffer,
                             const OnReadBytes& on_read_bytes) {
  Sha256 hasher;
  auto size_bytes = read_file_in_pieces(path, limits::asset_size_bytes_max, buffer,
                                        [&](std::span<const uint8_t> piece) {
                                          hasher.update(piece);
                                          if (on_read_bytes) on_read_bytes(piece.size());
                                        });
  if (!size_bytes) return error(size_bytes.error());
  return FileDigest{.size_bytes = *size_bytes, .sha256 = hasher.finish()};
}

uint32_t worker_count_for(uint32_t thread_count, size_t file_count) {
  uint32_t count = thread_count;
  if (count == 0) count = std::max(1u, std::thread::hardware_concurrency());
  count = std::min(count, limits::hash_threads_max);
  return static_cast<uint32_t>(std::min<size_t>(count, file_count));
}

// The running total of one sha256_files call. The mutex both guards the total
// and keeps the caller's callback from running on two threads at once.
class ProgressTotal {
 public:
  explicit ProgressTotal(const std::function<void(uint64_t)>& on_progress)
      : on_progress_(on_progress) {}

  void add(uint64_t bytes) {
    std::lock_guard lock(mutex_);
    total_bytes_ += bytes;
    on_progress_(total_bytes_);
  }

 private:
  const std::function<void(uint64_t)>& on_progress_;
  std::mutex mutex_;
  uint64_t total_bytes_ = 0;  // guarded by mutex_
};

}  // namespace

void Sha256::CtxFree::operator()(EVP_MD_CTX* ctx) const {
  EVP_MD_CTX_free(ctx);
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  DG_ASSERT(ctx_ != nullptr);
  init_digest(ctx_.get());
}

Sha256::~Sha256() = default;

void Sha256::update(std::span<const uint8_t> bytes) {
  const int updated = EVP_DigestUpdate(ctx_.get(), bytes.data(), bytes.size());
  DG_ASSERT(updated == 1);
}

Sha256Digest Sha256::finish() {
  Sha256Digest digest;
  unsigned int digest_bytes = 0;
  const int finished = EVP_DigestFinal_ex(ctx_.get(), digest.data(), &digest_bytes);
  DG_ASSERT(finished == 1 && digest_bytes == digest.size());
  init_digest(ctx_.get());
  return digest;
}

Sha256Digest sha256(std::span<const uint8_t> bytes) {
  Sha256 hasher;
  hasher.update(bytes);
  return hasher.finish();
}

Result<FileDigest> sha256_file(const std::filesystem::path& path,
                               const std::function<void(uint64_t bytes)>& on_progress) {
  std::vector<uint8_t> buffer(limits::hash_read_buffer_bytes);
  uint64_t done_bytes = 0;
  OnReadBytes on_read_bytes;
  if (on_progress) {
    on_read_bytes = [&](uint64_t bytes_read) {
      done_bytes += bytes_read;
      on_progress(done_bytes);
    };
  }
  return hash_file(path, buffer, on_read_bytes);
}

std::vector<Result<FileDigest>> sha256_files(
    const std::vector<std::filesystem::path>& paths, uint32_t thread_count,
    const std::function<void(uint64_t bytes_done_total)>& on_progress) {
  std::vector<Result<FileDigest>> results(paths.size());
  const uint32_t worker_count = worker_count_for(thread_count, paths.size());
  ProgressTotal progress(on_progress);
  OnReadBytes on_read_bytes;
  if (on_progress) on_read_bytes = [&progress](uint64_t bytes_read) { progress.add(bytes_read); };
  // Workers claim the next unhashed file, so one big file does not leave the
  // other threads idle behind a fixed share of the list.
  std::atomic<size_t> next_index = 0;
  auto work = [&] {
    std::vector<uint8_t> buffer(limits::hash_read_buffer_bytes);
    for (size_t i = next_index++; i < paths.size(); i = next_index++) {
      results[i] = hash_file(paths[i], buffer, on_read_bytes);  // each i is claimed once
    }
  };
  std::vector<std::jthread> workers;
  for (uint32_t i = 1; i < worker_count; ++i) workers.emplace_back(work);
  if (worker_count > 0) work();  // the calling thread is one of the workers
  // Join before `results` is returned (moved): destructors would run too late.
  for (std::jthread& worker : workers) worker.join();
  return results;
}

}  // namespace dg::crypto
