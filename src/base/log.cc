#include "base/log.h"

#include <unistd.h>

#include <atomic>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "base/time.h"

namespace dg::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};

// Buffered lines reach stderr within this, or when this many bytes wait.
constexpr auto flush_interval = std::chrono::milliseconds(100);
constexpr size_t buffer_bytes_max = 64 * 1024;

std::string_view level_name(Level level) {
  switch (level) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
  }
  return "info";
}

// "2026-11-21T06:00:00.123Z"; the part up to the second is formatted once a second.
std::string timestamp() {
  using namespace std::chrono;
  int64_t ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  thread_local int64_t cached_s = -1;
  thread_local std::string cached;  // "...:SS" without the "Z"
  if (ms / 1000 != cached_s) {
    cached_s = ms / 1000;
    cached = format_rfc3339(cached_s * 1000);
    cached.pop_back();
  }
  int frac = static_cast<int>(ms % 1000);
  std::string text = cached;
  text += '.';
  text += static_cast<char>('0' + frac / 100);
  text += static_cast<char>('0' + frac / 10 % 10);
  text += static_cast<char>('0' + frac % 10);
  text += 'Z';
  return text;
}

void write_all(std::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::write(STDERR_FILENO, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // stderr is gone: nothing better to do with a log line
    text.remove_prefix(static_cast<size_t>(n));
  }
}

// Lines are written whole and in order. debug and info lines (the access log
// among them: one per request) are gathered and written together at least
// every flush_interval, so a busy server makes one write(2) per batch rather
// than per request; warn and error lines are written at once, after whatever
// waited. The process's exit (a return from main, std::exit) flushes; a crash
// can lose the last flush_interval of info lines.
class Sink {
 public:
  // At exit: stops the flusher and writes what waits; lines logged later
  // (from other exit handlers) are written at once.
  void shut_down() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    if (flusher_.joinable()) flusher_.join();
    std::lock_guard lock(mutex_);
    flush_locked();
  }

  void append(std::string_view line, bool urgent) {
    std::lock_guard lock(mutex_);
    buffer_ += line;
    if (urgent || buffer_.size() >= buffer_bytes_max || stopping_) return flush_locked();
    if (!flusher_.joinable()) flusher_ = std::thread([this] { run(); });
  }

 private:
  void flush_locked() {
    write_all(buffer_);
    buffer_.clear();
  }

  void run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      wake_.wait_for(lock, flush_interval);
      if (!buffer_.empty()) flush_locked();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::string buffer_;
  bool stopping_ = false;
  std::thread flusher_;
};

// Never destroyed, so that a line logged from a static destructor still has
// a sink; shut down by an exit handler instead.
Sink& sink() {
  static Sink* instance = [] {
    auto* created = new Sink;
    std::atexit([] { sink().shut_down(); });
    return created;
  }();
  return *instance;
}

}  // namespace

void set_level(Level level) { g_level.store(static_cast<int>(level)); }
Level level() { return static_cast<Level>(g_level.load()); }

void print(std::string_view text) { sink().append(text, /*urgent=*/true); }

void write(Level lvl, std::string_view message, boost::json::object fields) {
  if (static_cast<int>(lvl) < g_level.load()) return;
  // Fields are serialised in place rather than copied into one object first.
  std::string text = "{\"ts\":\"" + timestamp() + "\",\"level\":\"" + std::string(level_name(lvl)) +
                     "\",\"msg\":" + boost::json::serialize(boost::json::string_view(message));
  for (const auto& member : fields) {
    if (member.key() == "ts" || member.key() == "level" || member.key() == "msg") continue;
    text += ',';
    text += boost::json::serialize(member.key());
    text += ':';
    text += boost::json::serialize(member.value());
  }
  text += "}\n";
  sink().append(text, lvl >= Level::warn);
}

}  // namespace dg::log
