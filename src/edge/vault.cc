#include "edge/vault.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "base/encoding.h"
#include "base/log.h"
#include "crypto/sha256.h"

namespace dg::edge {

Vault::Vault(std::filesystem::path root) : root_(std::move(root)) {}

std::filesystem::path Vault::path_of(std::string_view sha256) const {
  return root_ / std::string(sha256.substr(0, 2)) / std::string(sha256);
}

std::filesystem::path Vault::partial_path_of(std::string_view sha256) const {
  return root_ / "partial" / (std::string(sha256) + ".part");
}

namespace {

bool seen_of(const struct stat& st, uint64_t& size_bytes, uint64_t& inode, int64_t& mtime_ns, int64_t& ctime_ns) {
  if (!S_ISREG(st.st_mode)) return false;
  size_bytes = static_cast<uint64_t>(st.st_size);
  inode = static_cast<uint64_t>(st.st_ino);
  mtime_ns = st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec;
  ctime_ns = st.st_ctim.tv_sec * 1'000'000'000LL + st.st_ctim.tv_nsec;
  return true;
}

}  // namespace

bool Vault::stat_of(const std::filesystem::path& path, Seen& out) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && seen_of(st, out.size_bytes, out.inode, out.mtime_ns, out.ctime_ns);
}

bool Vault::fstat_of(int fd, Seen& out) {
  struct stat st;
  return ::fstat(fd, &st) == 0 && seen_of(st, out.size_bytes, out.inode, out.mtime_ns, out.ctime_ns);
}

void Vault::forget_and_remove(std::string_view sha256) {
  {
    std::lock_guard lock(mutex_);
    if (auto it = good_.find(sha256); it != good_.end()) good_.erase(it);
  }
  std::error_code ec;
  std::filesystem::remove(path_of(sha256), ec);
}

Result<uint32_t> Vault::verify(const std::vector<std::pair<std::string, uint64_t>>& blobs) {
  std::vector<std::filesystem::path> paths;
  for (const auto& [sha, size] : blobs) paths.push_back(path_of(sha));
  auto digests = crypto::sha256_files(paths, 0);
  uint32_t good = 0;
  for (size_t i = 0; i < blobs.size(); ++i) {
    const auto& [sha, size] = blobs[i];
    Seen seen;
    bool matches = digests[i] && hex_encode(digests[i]->sha256) == sha && digests[i]->size_bytes == size &&
                   stat_of(paths[i], seen);
    if (!matches) {
      if (digests[i] || digests[i].error().code() != Code::not_found) {
        damaged_.fetch_add(1);
        log::warn("blob damaged on disk; it will be fetched again", {{"sha256", sha}});
      }
      forget_and_remove(sha);
      continue;
    }
    std::lock_guard lock(mutex_);
    good_[sha] = Good{seen, nullptr};  // a handle opened before may be of a replaced file
    ++good;
  }
  return good;
}

Status Vault::adopt(const std::filesystem::path& file, std::string_view sha256, uint64_t size_bytes) {
  auto digest = crypto::sha256_file(file);
  if (!digest) return digest.error();
  if (hex_encode(digest->sha256) != sha256 || digest->size_bytes != size_bytes) {
    std::error_code ec;
    std::filesystem::remove(file, ec);
    return Status(Code::corruption, "blob " + std::string(sha256) + " arrived with the wrong content");
  }
  auto target = path_of(sha256);
  std::error_code ec;
  std::filesystem::create_directories(target.parent_path(), ec);
  std::filesystem::rename(file, target, ec);
  if (ec) return Status(Code::io_error, "cannot store blob: " + ec.message());
  Seen seen;
  if (!stat_of(target, seen)) return Status(Code::io_error, "blob vanished after storing it");
  std::lock_guard lock(mutex_);
  good_[std::string(sha256)] = Good{seen, nullptr};
  return Status();
}

bool Vault::known_good(std::string_view sha256) const {
  std::lock_guard lock(mutex_);
  return good_.find(sha256) != good_.end();
}

std::shared_ptr<const http::OpenFile> Vault::open(std::string_view sha256, uint64_t size_bytes) {
  if (auto file = open_checked(sha256, size_bytes)) return file;
  // Unknown, or something touched the file: a fault is suspected, so hash it
  // again now (a damaged blob is removed and fetched again by the syncer).
  {
    std::lock_guard lock(mutex_);
    if (good_.find(sha256) == good_.end()) return nullptr;
  }
  auto good = verify({{std::string(sha256), size_bytes}});
  if (!good || *good != 1) return nullptr;
  return open_checked(sha256, size_bytes);
}

bool Vault::ready(std::string_view sha256, uint64_t size_bytes) {
  auto file = open(sha256, size_bytes);
  if (!file) return false;
  Seen at_path, open_file;
  if (stat_of(path_of(sha256), at_path) && fstat_of(file->fd(), open_file) && at_path.inode == open_file.inode) {
    return true;
  }
  // Another file was put at the path: hash what is there now.
  auto good = verify({{std::string(sha256), size_bytes}});
  return good && *good == 1;
}

// The open blob when it is good and unchanged since it was hashed. One lock
// once the blob is open: the descriptor and the state it was hashed in are
// taken together, and fstat(2) of that descriptor decides.
std::shared_ptr<const http::OpenFile> Vault::open_checked(std::string_view sha256, uint64_t size_bytes) {
  Good entry;
  {
    std::lock_guard lock(mutex_);
    auto it = good_.find(sha256);
    if (it == good_.end()) return nullptr;
    entry = it->second;
  }
  bool opened_here = false;
  if (!entry.file) {
    int fd = ::open(path_of(sha256).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return nullptr;
    entry.file = std::make_shared<http::OpenFile>(fd);
    opened_here = true;
  }
  // The descriptor's file must be the one hashed, unchanged (fstat also sees
  // a write to the open file; a file put in its place by rename is not ours).
  Seen now;
  const Seen& expected = entry.seen;
  if (!fstat_of(entry.file->fd(), now) || now.size_bytes != size_bytes || now.inode != expected.inode ||
      now.mtime_ns != expected.mtime_ns || now.ctime_ns != expected.ctime_ns) {
    return nullptr;
  }
  if (!opened_here) return entry.file;
  std::lock_guard lock(mutex_);
  auto it = good_.find(sha256);
  if (it == good_.end() || it->second.seen.inode != expected.inode) return nullptr;  // changed meanwhile
  if (!it->second.file) it->second.file = entry.file;
  return it->second.file;
}

}  // namespace dg::edge
