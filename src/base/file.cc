#include "base/file.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace dg {
namespace {

Status errno_status(std::string_view what, const std::filesystem::path& path) {
  int err = errno;
  Code code = err == ENOENT || err == ENOTDIR ? Code::not_found
              : err == EEXIST                 ? Code::conflict
                                              : Code::io_error;
  if (err == EACCES || err == EPERM) code = Code::forbidden;
  return Status(code, std::string(what) + " " + path.string() + ": " + std::strerror(err));
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

}  // namespace

Status write_all(int fd, std::string_view data, const std::filesystem::path& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status("writing", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status();
}

Result<std::string> read_file(const std::filesystem::path& path, uint64_t bytes_max) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return error(errno_status("opening", path));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return error(errno_status("reading", path));
  if (!S_ISREG(st.st_mode)) return error(Code::invalid_argument, path.string() + " is not a file");
  if (static_cast<uint64_t>(st.st_size) > bytes_max) {
    return error(Code::limit_exceeded,
                 path.string() + " is larger than " + std::to_string(bytes_max) + " bytes");
  }
  std::string data;
  data.resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::read(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return error(errno_status("reading", path));
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  data.resize(done);
  return data;
}

Result<uint64_t> read_file_in_pieces(const std::filesystem::path& path, uint64_t bytes_max,
                                     std::span<uint8_t> buffer,
                                     const std::function<void(std::span<const uint8_t>)>& consume) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) return error(errno_status("opening", path));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return error(errno_status("inspecting", path));
  if (!S_ISREG(st.st_mode))
    return error(Code::invalid_argument, path.string() + " is not a regular file");
  const uint64_t size_bytes = static_cast<uint64_t>(st.st_size);
  if (size_bytes > bytes_max) {
    return error(Code::limit_exceeded, path.string() + " is " + std::to_string(size_bytes) +
                                           " bytes, more than the limit of " +
                                           std::to_string(bytes_max));
  }
  // Advice only: if it fails, the kernel's default read-ahead is used.
  (void)::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  uint64_t read_total_bytes = 0;
  // Bounded by the file: reading more than it held when opened ends the loop.
  while (read_total_bytes <= size_bytes) {
    ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return error(errno_status("reading", path));
    if (n == 0) break;
    consume(buffer.first(static_cast<size_t>(n)));
    read_total_bytes += static_cast<uint64_t>(n);
  }
  if (read_total_bytes != size_bytes) {
    return error(Code::conflict, path.string() + " changed size while being read (" +
                                     std::to_string(size_bytes) + " bytes when opened)");
  }
  return size_bytes;
}

Status write_file_atomic(const std::filesystem::path& path, std::string_view data, uint32_t mode,
                         Overwrite overwrite) {
  std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : ".";
  std::string tmp = (dir / ("." + path.filename().string() + ".tmp-XXXXXX")).string();
  Fd fd(::mkstemp(tmp.data()));
  if (fd.get() < 0) return errno_status("creating a file in", dir);
  auto fail = [&](Status status) {
    ::unlink(tmp.c_str());
    return status;
  };
  if (::fchmod(fd.get(), mode) != 0) return fail(errno_status("setting the mode of", tmp));
  if (Status s = write_all(fd.get(), data, tmp); !s.ok()) return fail(s);
  if (::fsync(fd.get()) != 0) return fail(errno_status("syncing", tmp));
  unsigned flags = overwrite == Overwrite::no ? RENAME_NOREPLACE : 0;
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), flags) != 0) {
    return fail(errno_status(errno == EEXIST ? "refusing to overwrite" : "renaming onto", path));
  }
  Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() >= 0) ::fsync(dir_fd.get());
  return Status();
}

}  // namespace dg
