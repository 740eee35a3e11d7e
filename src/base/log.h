// Structured logs: one JSON object per line on stderr, so operators can grep
// them and ship them anywhere. Thread-safe; a line is written whole.
//
//   log::info("claim", {{"drop", slug}, {"serial", 17}});
//   ->
//   {"ts":"2026-11-21T06:00:00.123Z","level":"info","msg":"claim","drop":"summer-tape","serial":17}
#pragma once

#include <boost/json/object.hpp>
#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dg::log {

enum class Level { debug = 0, info, warn, error };

// Lines below `level` are dropped. Default: info.
void set_level(Level level);
Level level();
// "debug", "info", "warn" or "error"; nullopt for anything else.
std::optional<Level> parse_level(std::string_view name);

void write(Level level, std::string_view message, boost::json::object fields = {});

// Writes `text` to stderr at once, whole, after any log lines waiting: for
// lines people and scripts read ("listening on port N"), which must not be
// split by a log batch written from another thread.
void print(std::string_view text);

// A line built field by field straight into its text, for hot paths (the
// access log writes one per request) where a boost::json::object built first
// would cost more than the rest of the request. Below the level threshold it
// collects nothing. Keys are the caller's literals, written as they are (no
// quote, backslash or control character in them); "ts", "level" and "msg"
// are skipped as in write().
//
//   log::Line(log::Level::info, "request").add("status", 200).add("path", path).write();
class Line {
 public:
  Line(Level level, std::string_view message);
  ~Line();
  Line(const Line&) = delete;
  Line& operator=(const Line&) = delete;
  Line& add(std::string_view key, std::string_view value);
  Line& add(std::string_view key, const char* value) { return add(key, std::string_view(value)); }
  template <std::integral T>
  Line& add(std::string_view key, T value) {
    if constexpr (std::same_as<T, bool>) {
      return add_literal(key, value ? "true" : "false");
    } else if constexpr (std::signed_integral<T>) {
      return add_signed(key, static_cast<int64_t>(value));
    } else {
      return add_unsigned(key, static_cast<uint64_t>(value));
    }
  }
  // The value as JSON text, written as it is.
  Line& add_literal(std::string_view key, std::string_view json_text);
  bool enabled() const { return enabled_; }
  // Hands the line to the sink (at most once).
  void write();

 private:
  Line& add_signed(std::string_view key, int64_t value);
  Line& add_unsigned(std::string_view key, uint64_t value);
  bool start_field(std::string_view key);
  // For write(), whose keys may come from anywhere: escaped.
  friend void write(Level level, std::string_view message, boost::json::object fields);

  Level level_;
  bool enabled_;
  std::string text_;
};

inline void debug(std::string_view m, boost::json::object f = {}) {
  write(Level::debug, m, std::move(f));
}
inline void info(std::string_view m, boost::json::object f = {}) {
  write(Level::info, m, std::move(f));
}
inline void warn(std::string_view m, boost::json::object f = {}) {
  write(Level::warn, m, std::move(f));
}
inline void error(std::string_view m, boost::json::object f = {}) {
  write(Level::error, m, std::move(f));
}

}  // namespace dg::log
