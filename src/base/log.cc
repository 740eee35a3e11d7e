#include "base/log.h"

#include <atomic>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cstdio>
#include <mutex>

#include "base/time.h"

namespace dg::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};
std::mutex g_mutex;

std::string_view level_name(Level level) {
  switch (level) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
  }
  return "info";
}

std::string timestamp() {
  using namespace std::chrono;
  int64_t ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  std::string text = format_rfc3339(ms);  // "...:SSZ"
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(ms % 1000));
  text.replace(text.size() - 1, 1, frac);
  return text;
}

}  // namespace

void set_level(Level level) { g_level.store(static_cast<int>(level)); }
Level level() { return static_cast<Level>(g_level.load()); }

void write(Level lvl, std::string_view message, boost::json::object fields) {
  if (static_cast<int>(lvl) < g_level.load()) return;
  boost::json::object line;
  line["ts"] = timestamp();
  line["level"] = level_name(lvl);
  line["msg"] = message;
  for (auto& member : fields) line[member.key()] = std::move(member.value());
  std::string text = boost::json::serialize(line);
  text += '\n';
  std::lock_guard lock(g_mutex);
  std::fwrite(text.data(), 1, text.size(), stderr);
}

}  // namespace dg::log
