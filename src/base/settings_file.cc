#include "base/settings_file.h"

// toml++ 3.3 (Debian 12) asserts that a table header's key starts with a
// key character ("[^x]", "[[[1]]]") and, past the assertion, reports the
// syntax error; a build without NDEBUG (the ASan preset, the fuzz targets)
// aborted there on a bad config file. Its assertions only check, and a
// release build compiles them out: with none, every build takes the path
// that reports the error. (Upstream: marzer/tomlplusplus#294, #301.)
#define TOML_ASSERT(expr) static_cast<void>(0)
#include <toml++/toml.h>

#include <algorithm>
#include <cstdlib>

namespace dg {

struct SettingsFile::Table {
  toml::table table;
};

SettingsFile::SettingsFile(std::shared_ptr<const Table> table, std::string name)
    : table_(std::move(table)), name_(std::move(name)) {}

Result<SettingsFile> SettingsFile::load(const std::filesystem::path& path,
                                        std::span<const std::string_view> known_keys) {
  auto parsed = std::make_shared<Table>();
  try {
    parsed->table = toml::parse_file(path.string());
  } catch (const toml::parse_error& e) {
    return error(Code::invalid_argument, path.string() + ":" +
                                             std::to_string(e.source().begin.line) + ": " +
                                             std::string(e.description()));
  }
  for (const auto& [key, value] : parsed->table) {
    if (std::find(known_keys.begin(), known_keys.end(), std::string_view(key.str())) ==
        known_keys.end()) {
      return error(Code::invalid_argument,
                   path.string() + ": unknown setting \"" + std::string(key.str()) + "\"");
    }
  }
  return SettingsFile(std::move(parsed), path.string());
}

Status SettingsFile::read(std::string_view key, std::string& out) const {
  const auto* node = table_->table.get(key);
  if (!node) return Status();
  auto value = node->value<std::string>();
  if (!value)
    return Status(Code::invalid_argument, name_ + ": " + std::string(key) + " must be a string");
  out = *value;
  return Status();
}

Status SettingsFile::read(std::string_view key, std::filesystem::path& out) const {
  std::string text = out.string();
  DG_RETURN_IF_ERROR(read(key, text));
  out = text;
  return Status();
}

Status SettingsFile::read_uint(std::string_view key, uint64_t& out, uint64_t max,
                               bool& present) const {
  const auto* node = table_->table.get(key);
  present = node != nullptr;
  if (!node) return Status();
  auto value = node->value<int64_t>();
  if (!value || *value < 0 || static_cast<uint64_t>(*value) > max) {
    return Status(Code::invalid_argument, name_ + ": " + std::string(key) +
                                              " must be a whole number from 0 to " +
                                              std::to_string(max));
  }
  out = static_cast<uint64_t>(*value);
  return Status();
}

const char* env_value(const char* name) {
  const char* value = std::getenv(name);
  return value && *value ? value : nullptr;
}

}  // namespace dg
