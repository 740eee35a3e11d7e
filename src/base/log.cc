#include "base/log.h"

#include <unistd.h>

#include <atomic>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "base/encoding.h"
#include "base/file.h"
#include "base/limits.h"
#include "base/spare_string.h"
#include "base/time.h"

namespace dg::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};

std::string_view level_name(Level level) {
  switch (level) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
  }
  return "info";
}

// Appends "2026-11-21T06:00:00.123Z"; the part up to the second is formatted once a second.
void append_timestamp(std::string& out) {
  using namespace std::chrono;
  int64_t ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  std::string_view seconds = format_rfc3339_cached(ms);
  seconds.remove_suffix(1);  // the "Z" comes after the milliseconds
  int frac = static_cast<int>(ms % 1000);
  out += seconds;
  out += '.';
  out += static_cast<char>('0' + frac / 100);
  out += static_cast<char>('0' + frac / 10 % 10);
  out += static_cast<char>('0' + frac % 10);
  out += 'Z';
}

// Lines are written whole and in order. debug and info lines (the access log
// among them: one per request) are gathered and written together at least
// every limits::log_flush_interval, so a busy server makes one write(2) per batch rather
// than per request; warn and error lines are written at once, after whatever
// waited. The process's exit (a return from main, std::exit) flushes; a crash
// can lose the last limits::log_flush_interval of info lines.
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
    if (urgent || buffer_.size() >= limits::log_buffer_bytes_max || stopping_)
      return flush_locked();
    if (!flusher_.joinable()) flusher_ = std::thread([this] { run(); });
  }

 private:
  void flush_locked() {
    // If stderr is gone there is nothing better to do with a log line.
    (void)write_all(STDERR_FILENO, buffer_, "stderr");
    buffer_.clear();
  }

  void run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      wake_.wait_for(lock, limits::log_flush_interval);
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

void set_level(Level level) {
  g_level.store(static_cast<int>(level));
}
Level level() {
  return static_cast<Level>(g_level.load());
}

std::optional<Level> parse_level(std::string_view name) {
  for (Level candidate : {Level::debug, Level::info, Level::warn, Level::error}) {
    if (name == level_name(candidate)) return candidate;
  }
  return std::nullopt;
}

void print(std::string_view text) {
  sink().append(text, /*urgent=*/true);
}

Line::Line(Level level, std::string_view message)
    : level_(level), enabled_(static_cast<int>(level) >= g_level.load()) {
  if (!enabled_) return;
  take_spare_string(text_);  // a line is written for every request
  text_.reserve(384);
  text_ += "{\"ts\":\"";
  append_timestamp(text_);
  text_ += "\",\"level\":\"";
  text_ += level_name(level);
  text_ += "\",\"msg\":";
  append_json_string(text_, message);
}

bool Line::start_field(std::string_view key) {
  if (!enabled_ || key == "ts" || key == "level" || key == "msg") return false;
  text_ += ",\"";
  text_ += key;  // a literal of the caller's (see log.h): nothing to escape
  text_ += "\":";
  return true;
}

Line& Line::add(std::string_view key, std::string_view value) {
  if (start_field(key)) append_json_string(text_, value);
  return *this;
}

Line& Line::add_literal(std::string_view key, std::string_view json_text) {
  if (start_field(key)) text_ += json_text;
  return *this;
}

Line& Line::add_signed(std::string_view key, int64_t value) {
  char digits[24];
  auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  return add_literal(key, std::string_view(digits, static_cast<size_t>(end - digits)));
}

Line& Line::add_unsigned(std::string_view key, uint64_t value) {
  char digits[24];
  auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  return add_literal(key, std::string_view(digits, static_cast<size_t>(end - digits)));
}

Line::~Line() {
  give_back_spare_string(text_);
}

void Line::write() {
  if (!enabled_) return;
  enabled_ = false;
  text_ += "}\n";
  sink().append(text_, level_ >= Level::warn);
}

void write(Level lvl, std::string_view message, boost::json::object fields) {
  Line line(lvl, message);
  if (!line.enabled()) return;
  // Fields are serialised in place rather than copied into one object first.
  for (const auto& member : fields) {
    std::string_view key = member.key();
    if (key == "ts" || key == "level" || key == "msg") continue;
    line.text_ += ',';
    append_json_string(line.text_, key);
    line.text_ += ':';
    line.text_ += boost::json::serialize(member.value());
  }
  line.write();
}

}  // namespace dg::log
