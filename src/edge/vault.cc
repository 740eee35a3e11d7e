#include "edge/vault.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "base/assert.h"
#include "base/encoding.h"
#include "base/limits.h"
#include "base/log.h"
#include "crypto/sha256.h"

namespace dg::edge {

Vault::Vault(std::filesystem::path root) : root_(std::move(root)) {}

Vault::~Vault() {
  if (watcher_.joinable()) {
    uint64_t one = 1;
    (void)!::write(stop_fd_, &one, sizeof one);
    watcher_.join();
  }
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
  if (stop_fd_ >= 0) ::close(stop_fd_);
}

std::filesystem::path Vault::path_of(std::string_view sha256) const {
  return root_ / std::string(sha256.substr(0, 2)) / std::string(sha256);
}

std::filesystem::path Vault::partial_path_of(std::string_view sha256) const {
  return root_ / "partial" / (std::string(sha256) + ".part");
}

namespace {

bool is_hex(std::string_view name) {
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}
// blobs/<aa>: a shard folder's name.
bool is_shard_name(std::string_view name) {
  return name.size() == 2 && is_hex(name);
}
// blobs/<aa>/<sha256>: a blob file's name.
bool is_blob_name(std::string_view name) {
  return name.size() == 64 && is_hex(name);
}

// What happens to a blob file that makes the watcher look at it again.
constexpr uint32_t kBlobEvents = IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE |
                                 IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF;

// Drops a file's pages from the page cache. The pages a download wrote
// stay cached as the small folios its writes made, and sendfile(2) then
// spends its time looking them up: a 16 MiB blob written by the syncer
// cost ~25% more CPU to serve than the same bytes read back through
// readahead, which brings a file in as large folios. Dropped, the blob is
// read back that way by the first download (or the next start's hash).
void drop_cached_pages(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fdatasync(fd);  // only clean pages can be dropped
  (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

bool seen_of(const struct stat& st, uint64_t& size_bytes, uint64_t& inode, int64_t& mtime_ns,
             int64_t& ctime_ns) {
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
  return ::stat(path.c_str(), &st) == 0 &&
         seen_of(st, out.size_bytes, out.inode, out.mtime_ns, out.ctime_ns);
}

bool Vault::fstat_of(int fd, Seen& out) {
  struct stat st;
  return ::fstat(fd, &st) == 0 &&
         seen_of(st, out.size_bytes, out.inode, out.mtime_ns, out.ctime_ns);
}

void Vault::remember(std::string_view sha256, const Seen& seen) {
  std::lock_guard lock(mutex_);
  auto it = good_.find(sha256);
  if (it == good_.end()) it = good_.emplace(std::string(sha256), Good{}).first;
  it->second.seen = seen;
  it->second.file = nullptr;
}

void Vault::forget_and_remove(std::string_view sha256) {
  {
    std::lock_guard lock(mutex_);
    if (auto it = good_.find(sha256); it != good_.end()) {
      if (it->second.bytes) held_bytes_.fetch_sub(it->second.bytes->size());
      good_.erase(it);
    }
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
    bool matches = digests[i] && hex_encode(digests[i]->sha256) == sha &&
                   digests[i]->size_bytes == size && stat_of(paths[i], seen);
    if (!matches) {
      forget_and_remove(sha);  // first: once counted, a damaged blob is no longer served
      if (digests[i] || digests[i].error().code() != Code::not_found) {
        damaged_.fetch_add(1);
        log::warn("blob damaged on disk; it will be fetched again", {{"sha256", sha}});
      }
      continue;
    }
    remember(sha, seen);
    ++good;
  }
  return good;
}

Status Vault::adopt(const std::filesystem::path& file, std::string_view sha256,
                    uint64_t size_bytes) {
  auto digest = crypto::sha256_file(file);
  if (!digest) return digest.error();
  if (hex_encode(digest->sha256) != sha256 || digest->size_bytes != size_bytes) {
    std::error_code ec;
    std::filesystem::remove(file, ec);
    return Status(Code::corruption,
                  "blob " + std::string(sha256) + " arrived with the wrong content");
  }
  auto target = path_of(sha256);
  std::error_code ec;
  std::filesystem::create_directories(target.parent_path(), ec);
  std::filesystem::rename(file, target, ec);
  if (ec) return Status(Code::io_error, "cannot store blob: " + ec.message());
  Seen seen;
  if (!stat_of(target, seen)) return Status(Code::io_error, "blob vanished after storing it");
  drop_cached_pages(target);
  remember(sha256, seen);
  return Status();
}

bool Vault::known_good(std::string_view sha256) const {
  std::lock_guard lock(mutex_);
  return good_.find(sha256) != good_.end();
}

Vault::Blob Vault::open(std::string_view sha256, uint64_t size_bytes) {
  {
    std::lock_guard lock(mutex_);
    auto it = good_.find(sha256);
    // Held bytes are served only while the watcher watches their file.
    if (it != good_.end() && it->second.bytes && it->second.bytes->size() == size_bytes &&
        holding_.load(std::memory_order_relaxed)) {
      return {it->second.bytes, nullptr};
    }
  }
  auto file = open_checked(sha256, size_bytes);
  if (!file) {
    // Unknown, or something touched the file: a fault is suspected, so hash
    // it again now (a damaged blob is removed and fetched again by the syncer).
    {
      std::lock_guard lock(mutex_);
      if (good_.find(sha256) == good_.end()) return {};
    }
    auto good = verify({{std::string(sha256), size_bytes}});
    if (!good || *good != 1) return {};
    file = open_checked(sha256, size_bytes);
    if (!file) return {};
  }
  if (holding_.load(std::memory_order_relaxed) && size_bytes <= limits::edge_held_blob_bytes_max) {
    if (auto bytes = hold(sha256, size_bytes, file)) return {std::move(bytes), nullptr};
  }
  return {nullptr, std::move(file)};
}

bool Vault::ready(std::string_view sha256, uint64_t size_bytes) {
  Seen expected;
  {
    std::lock_guard lock(mutex_);
    auto it = good_.find(sha256);
    if (it == good_.end()) return false;
    expected = it->second.seen;
  }
  Seen at_path;
  if (expected.size_bytes == size_bytes && stat_of(path_of(sha256), at_path) && at_path == expected)
    return true;
  // Changed, replaced or gone: hash what is there now.
  auto good = verify({{std::string(sha256), size_bytes}});
  return good && *good == 1;
}

// Reads a good blob's open file into memory and keeps it there when what was
// read hashes right and the budget allows. Null when not held (serve the file).
std::shared_ptr<const std::string> Vault::hold(std::string_view sha256, uint64_t size_bytes,
                                               const std::shared_ptr<const http::OpenFile>& file) {
  if (held_bytes_.load() + size_bytes > held_bytes_max_) return nullptr;
  auto bytes = std::make_shared<std::string>(size_bytes, '\0');
  uint64_t done = 0;
  while (done < size_bytes) {
    ssize_t n =
        ::pread(file->fd(), bytes->data() + done, size_bytes - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return nullptr;  // the file is served as it is; its fstat decides
    done += static_cast<uint64_t>(n);
  }
  auto digest = crypto::sha256({reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()});
  if (hex_encode(digest) != sha256) {
    // Unchanged on the outside, different inside: the disk damaged it.
    forget_and_remove(sha256);
    damaged_.fetch_add(1);
    log::warn("blob damaged on disk; it will be fetched again", {{"sha256", sha256}});
    return nullptr;
  }
  std::lock_guard lock(mutex_);
  auto it = good_.find(sha256);
  // Re-hashed or dropped meanwhile (the watcher saw a change): not this file's bytes to keep.
  if (it == good_.end() || it->second.file != file) return nullptr;
  if (it->second.bytes) return it->second.bytes;  // another thread held it first
  if (held_bytes_.load() + size_bytes > held_bytes_max_) return nullptr;
  held_bytes_.fetch_add(size_bytes);
  it->second.bytes = std::move(bytes);
  return it->second.bytes;
}

// The open blob when it is good and unchanged since it was hashed. One lock
// once the blob is open: the descriptor and the state it was hashed in are
// taken together, and fstat(2) of that descriptor decides.
std::shared_ptr<const http::OpenFile> Vault::open_checked(std::string_view sha256,
                                                          uint64_t size_bytes) {
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
  if (!fstat_of(entry.file->fd(), now) || now.size_bytes != size_bytes ||
      now.inode != expected.inode || now.mtime_ns != expected.mtime_ns ||
      now.ctime_ns != expected.ctime_ns) {
    return nullptr;
  }
  if (!opened_here) return entry.file;
  std::lock_guard lock(mutex_);
  auto it = good_.find(sha256);
  if (it == good_.end() || it->second.seen.inode != expected.inode)
    return nullptr;  // changed meanwhile
  if (!it->second.file) it->second.file = entry.file;
  return it->second.file;
}

// --- Watching.

Status Vault::watch(uint64_t held_bytes_max) {
  DG_ASSERT(!watcher_.joinable());
  if (held_bytes_max == 0) return Status();
  inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC);
  if (inotify_fd_ < 0 || stop_fd_ < 0) {
    return Status(Code::unavailable,
                  std::string("cannot watch the blobs (inotify): ") + std::strerror(errno));
  }
  std::error_code ec;
  std::filesystem::create_directories(root_, ec);
  root_watch_ =
      ::inotify_add_watch(inotify_fd_, root_.c_str(), IN_CREATE | IN_MOVED_TO | IN_ONLYDIR);
  if (root_watch_ < 0) {
    return Status(Code::unavailable,
                  "cannot watch " + root_.string() + ": " + std::strerror(errno));
  }
  for (const auto& entry : std::filesystem::directory_iterator(root_, ec)) {
    std::string name = entry.path().filename().string();
    if (is_shard_name(name) && entry.is_directory(ec)) {
      if (::inotify_add_watch(inotify_fd_, entry.path().c_str(), kBlobEvents | IN_ONLYDIR) < 0) {
        return Status(Code::unavailable,
                      "cannot watch " + entry.path().string() + ": " + std::strerror(errno));
      }
    }
  }
  held_bytes_max_ = held_bytes_max;
  watcher_ = std::thread([this] { watch_loop(); });
  holding_.store(true);
  return Status();
}

void Vault::watch_shard(std::string_view name) {
  auto path = root_ / std::string(name);
  if (::inotify_add_watch(inotify_fd_, path.c_str(), kBlobEvents | IN_ONLYDIR) < 0) {
    // Its blobs are then served open (fstat per use), never held.
    log::warn("cannot watch a blob folder; small blobs will not be held in memory",
              {{"path", path.string()}, {"error", std::strerror(errno)}});
    holding_.store(false);
    return;
  }
  // Blobs may have arrived in it before the watch began: look at them once.
  std::vector<std::string> blobs;
  {
    std::lock_guard lock(mutex_);
    for (auto it = good_.lower_bound(name); it != good_.end() && it->first.starts_with(name);
         ++it) {
      blobs.push_back(it->first);
    }
  }
  for (const auto& sha : blobs) recheck(sha);
}

void Vault::watch_loop() {
  alignas(inotify_event) char buffer[16 * 1024];
  pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  for (;;) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      log::error("blob watcher stopped; small blobs will not be held in memory",
                 {{"error", std::strerror(errno)}});
      holding_.store(false);
      return;
    }
    if (fds[1].revents != 0) return;
    ssize_t n = ::read(inotify_fd_, buffer, sizeof buffer);
    if (n <= 0) continue;
    std::set<std::string, std::less<>> suspects;  // a burst of writes to one file is looked at once
    bool overflowed = false;
    for (const char* at = buffer; at < buffer + n;) {
      const auto* event = reinterpret_cast<const inotify_event*>(at);
      at += sizeof(inotify_event) + event->len;
      if (event->mask & IN_Q_OVERFLOW) overflowed = true;
      if (event->len == 0) continue;
      std::string_view name(event->name);  // NUL-padded
      if (event->wd == root_watch_) {
        if ((event->mask & IN_ISDIR) && is_shard_name(name)) watch_shard(name);
      } else if (is_blob_name(name)) {
        suspects.emplace(name);
      }
    }
    if (overflowed) {  // events were lost: look at every blob
      std::lock_guard lock(mutex_);
      for (const auto& [sha, good] : good_) suspects.insert(sha);
    }
    for (const auto& sha : suspects) recheck(sha);
  }
}

void Vault::recheck(std::string_view sha256) {
  uint64_t size_bytes = 0;
  {
    std::lock_guard lock(mutex_);
    auto it = good_.find(sha256);
    if (it == good_.end()) return;
    size_bytes = it->second.seen.size_bytes;
  }
  // Unchanged (e.g. the event was our own adopt()): nothing to do; else hashed again.
  (void)ready(sha256, size_bytes);
}

}  // namespace dg::edge
