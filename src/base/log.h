// Structured logs: one JSON object per line on stderr, so operators can grep
// them and ship them anywhere. Thread-safe; a line is written whole.
//
//   log::info("claim", {{"drop", slug}, {"serial", 17}});
//   -> {"ts":"2026-11-21T06:00:00.123Z","level":"info","msg":"claim","drop":"summer-tape","serial":17}
#pragma once

#include <boost/json/object.hpp>
#include <string_view>

namespace dg::log {

enum class Level { debug = 0, info, warn, error };

// Lines below `level` are dropped. Default: info.
void set_level(Level level);
Level level();

void write(Level level, std::string_view message, boost::json::object fields = {});

// Writes `text` to stderr at once, whole, after any log lines waiting: for
// lines people and scripts read ("listening on port N"), which must not be
// split by a log batch written from another thread.
void print(std::string_view text);

inline void debug(std::string_view m, boost::json::object f = {}) { write(Level::debug, m, std::move(f)); }
inline void info(std::string_view m, boost::json::object f = {}) { write(Level::info, m, std::move(f)); }
inline void warn(std::string_view m, boost::json::object f = {}) { write(Level::warn, m, std::move(f)); }
inline void error(std::string_view m, boost::json::object f = {}) { write(Level::error, m, std::move(f)); }

}  // namespace dg::log
