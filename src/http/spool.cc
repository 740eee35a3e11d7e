#include "http/spool.h"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "base/encoding.h"
#include "base/file.h"

namespace dg::http {
namespace {

constexpr int publish_attempts_max = 4;  // a clash of 96 random bits means something else is wrong

Status errno_status(std::string_view what, const std::filesystem::path& path) {
  int err = errno;
  Code code = err == ENOSPC || err == EDQUOT ? Code::limit_exceeded : Code::io_error;
  return Status(code, std::string(what) + " " + path.string() + ": " + std::strerror(err));
}

Result<std::string> random_name() {
  std::array<uint8_t, 12> bytes;
  if (::getrandom(bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size())) {
    return error(Code::io_error, "getrandom failed");
  }
  return "upload-" + hex_encode(bytes);
}

}  // namespace

SpoolFile::SpoolFile(int fd, std::filesystem::path dir, std::filesystem::path named_path)
    : fd_(fd), dir_(std::move(dir)), named_path_(std::move(named_path)) {}

SpoolFile::SpoolFile(SpoolFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      dir_(std::move(other.dir_)),
      named_path_(std::move(other.named_path_)),
      size_bytes_(other.size_bytes_) {
  other.named_path_.clear();
}

SpoolFile& SpoolFile::operator=(SpoolFile&& other) noexcept {
  if (this != &other) {
    discard();
    fd_ = std::exchange(other.fd_, -1);
    dir_ = std::move(other.dir_);
    named_path_ = std::move(other.named_path_);
    other.named_path_.clear();
    size_bytes_ = other.size_bytes_;
  }
  return *this;
}

SpoolFile::~SpoolFile() {
  discard();
}

void SpoolFile::discard() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!named_path_.empty()) ::unlink(named_path_.c_str());
  named_path_.clear();
}

Result<SpoolFile> SpoolFile::create(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
  if (fd >= 0) return SpoolFile(fd, dir, {});
  if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
    return error(errno_status("creating a spool file in", dir));
  }
  std::string name = (dir / "upload-XXXXXX").string();
  fd = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd < 0) return error(errno_status("creating a spool file in", dir));
  return SpoolFile(fd, dir, name);
}

Status SpoolFile::append(std::span<const char> bytes) {
  DG_RETURN_IF_ERROR(write_all(fd_, std::string_view(bytes.data(), bytes.size()), dir_));
  size_bytes_ += bytes.size();
  return Status::ok_status();
}

Result<std::filesystem::path> SpoolFile::publish() {
  std::filesystem::path path = named_path_;
  if (path.empty()) {
    // linkat(AT_EMPTY_PATH) would need CAP_DAC_READ_SEARCH; the /proc link does not.
    std::string proc_path = "/proc/self/fd/" + std::to_string(fd_);
    for (int attempt = 0; path.empty(); ++attempt) {
      Result<std::string> name = random_name();
      if (!name) return error(name.error());
      std::filesystem::path candidate = dir_ / *name;
      if (::linkat(AT_FDCWD, proc_path.c_str(), AT_FDCWD, candidate.c_str(), AT_SYMLINK_FOLLOW) ==
          0) {
        path = std::move(candidate);
      } else if (errno != EEXIST || attempt + 1 == publish_attempts_max) {
        return error(errno_status("naming spool file", candidate));
      }
    }
  }
  ::close(std::exchange(fd_, -1));
  named_path_.clear();  // the caller owns the name now
  return path;
}

}  // namespace dg::http
