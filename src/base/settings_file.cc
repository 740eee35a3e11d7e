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

#include "base/file.h"
#include "base/limits.h"

namespace dg {
namespace {

// toml++ 3.3's whitespace test hits __builtin_unreachable (undefined
// behaviour) for most non-ASCII characters where a value may end, e.g. a
// stray U+FEFD after a number (found by fuzz/config_fuzz.cc). Settings are
// ASCII outside quoted strings, so such a character is refused before
// toml++ sees it. Returns the 1-based line of the first one, or 0.
size_t first_line_with_bare_non_ascii(std::string_view text) {
  size_t line = 1;
  char quote = 0;  // '"' or '\'' inside a string
  bool comment = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\n') {
      ++line;
      comment = false;
      continue;
    }
    if (static_cast<unsigned char>(c) >= 0x80) {
      if (!quote) return line;
      continue;
    }
    if (comment) continue;
    if (quote == '"' && c == '\\') {
      ++i;  // an escaped character, e.g. \"
    } else if (quote && c == quote) {
      quote = 0;
    } else if (!quote && (c == '"' || c == '\'')) {
      quote = c;
    } else if (!quote && c == '#') {
      comment = true;
    }
  }
  return 0;
}

}  // namespace

struct SettingsFile::Table {
  toml::table table;
};

SettingsFile::SettingsFile(std::shared_ptr<const Table> table, std::string name)
    : table_(std::move(table)), name_(std::move(name)) {}

Result<SettingsFile> SettingsFile::load(const std::filesystem::path& path,
                                        std::span<const std::string_view> known_keys) {
  auto text = read_file(path, limits::settings_file_bytes_max);
  if (!text) return error(text.error());
  if (size_t line = first_line_with_bare_non_ascii(*text); line > 0) {
    return error(Code::invalid_argument,
                 path.string() + ":" + std::to_string(line) +
                     ": a non-ASCII character outside a quoted string (settings are read as ASCII "
                     "outside quotes, comments included; put text in quotes)");
  }
  auto parsed = std::make_shared<Table>();
  try {
    parsed->table = toml::parse(*text, path.string());
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
