#include "origin/blob_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <system_error>

#include "base/assert.h"

namespace dg::origin {

bool is_sha256_hex(std::string_view text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

BlobStore::BlobStore(std::filesystem::path root)
    : root_(std::move(root)), spool_(root_ / "spool") {}

Status BlobStore::open() {
  std::error_code ec;
  std::filesystem::create_directories(spool_, ec);
  if (ec) return Status(Code::io_error, "cannot create " + spool_.string() + ": " + ec.message());
  return Status();
}

std::filesystem::path BlobStore::path_of(std::string_view sha256_hex) const {
  DG_ASSERT(is_sha256_hex(sha256_hex));
  return root_ / std::string(sha256_hex.substr(0, 2)) / std::string(sha256_hex);
}

bool BlobStore::contains(std::string_view sha256_hex) const {
  std::error_code ec;
  return is_sha256_hex(sha256_hex) && std::filesystem::is_regular_file(path_of(sha256_hex), ec);
}

Status BlobStore::adopt(const std::filesystem::path& file, std::string_view sha256_hex) {
  if (!is_sha256_hex(sha256_hex)) return Status(Code::invalid_argument, "not a sha256");
  auto target = path_of(sha256_hex);
  std::error_code ec;
  std::filesystem::create_directories(target.parent_path(), ec);
  if (ec) return Status(Code::io_error, "cannot create " + target.parent_path().string());
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status(Code::io_error, "cannot open " + file.string());
  int sync_result = ::fsync(fd);
  ::close(fd);
  if (sync_result != 0) return Status(Code::io_error, "cannot sync " + file.string());
  if (contains(sha256_hex)) {
    std::filesystem::remove(file, ec);
    return Status();
  }
  std::filesystem::rename(file, target, ec);
  if (ec) return Status(Code::io_error, "cannot store blob: " + ec.message());
  int dir_fd = ::open(target.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return Status();
}

}  // namespace dg::origin
