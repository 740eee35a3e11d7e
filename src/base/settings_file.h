// A TOML file of settings (dropgate.toml, edge.toml): parsed once, unknown
// keys refused, values read with their type and range checked. toml++ stays
// inside settings_file.cc, so its heavy header is compiled once.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "base/status.h"

namespace dg {

class SettingsFile {
 public:
  // Parses `path`; a syntax error names the file and line, and a key not in
  // `known_keys` is refused by name.
  static Result<SettingsFile> load(const std::filesystem::path& path,
                                   std::span<const std::string_view> known_keys);

  // Each leaves `out` unchanged when the key is absent; a value of the wrong
  // type, or out of [0, max], is an error naming the key.
  Status read(std::string_view key, std::string& out) const;
  Status read(std::string_view key, std::filesystem::path& out) const;
  template <typename T>
  Status read(std::string_view key, T& out, uint64_t max) const {
    uint64_t value = 0;
    bool present = false;
    DG_RETURN_IF_ERROR(read_uint(key, value, max, present));
    if (present) out = static_cast<T>(value);
    return Status();
  }

 private:
  struct Table;
  explicit SettingsFile(std::shared_ptr<const Table> table, std::string name);
  Status read_uint(std::string_view key, uint64_t& out, uint64_t max, bool& present) const;

  std::shared_ptr<const Table> table_;
  std::string name_;  // the file, for messages
};

// One setting of a configuration struct: its key in the file, the field it
// fills and, for a number, its ceiling: the limit in base/limits.h it may not
// exceed (configuration may lower a limit, never raise it). A duration's key
// names its unit (`hold_ttl_s`); its field and ceiling are std::chrono types
// of that unit, so the file's number is converted once, here.
template <typename Config>
struct Setting {
  using Field =
      std::variant<std::string Config::*, std::filesystem::path Config::*, uint32_t Config::*,
                   uint64_t Config::*, std::chrono::seconds Config::*, std::chrono::days Config::*>;

  constexpr Setting(std::string_view k, std::string Config::*f) : key(k), field(f) {}
  constexpr Setting(std::string_view k, std::filesystem::path Config::*f) : key(k), field(f) {}
  constexpr Setting(std::string_view k, uint32_t Config::*f, uint32_t max)
      : key(k), field(f), ceiling(max) {}
  constexpr Setting(std::string_view k, uint64_t Config::*f, uint64_t max)
      : key(k), field(f), ceiling(max) {}
  constexpr Setting(std::string_view k, std::chrono::seconds Config::*f, std::chrono::seconds max)
      : key(k), field(f), ceiling(static_cast<uint64_t>(max.count())) {}
  constexpr Setting(std::string_view k, std::chrono::days Config::*f, std::chrono::days max)
      : key(k), field(f), ceiling(static_cast<uint64_t>(max.count())) {}

  // A number (not text), with a ceiling.
  constexpr bool is_number() const { return field.index() >= 2; }

  std::string_view key;
  Field field;
  uint64_t ceiling = 0;  // numbers only, in the key's unit
};

namespace settings_detail {
template <typename T>
inline constexpr bool is_text =
    std::is_same_v<T, std::string> || std::is_same_v<T, std::filesystem::path>;
template <typename T>
uint64_t count_of(const T& value) {
  if constexpr (std::is_integral_v<T>) {
    return value;
  } else {
    return static_cast<uint64_t>(value.count());
  }
}
}  // namespace settings_detail

// Reads the file at `path` over `config` with `settings`: a key the table does
// not name is refused, a missing key keeps its field, and a number above its
// ceiling is refused with a message naming the key and the ceiling.
template <typename Config>
Status load_settings(const std::filesystem::path& path, std::span<const Setting<Config>> settings,
                     Config& config) {
  std::vector<std::string_view> keys;
  for (const Setting<Config>& setting : settings) keys.push_back(setting.key);
  auto file = SettingsFile::load(path, keys);
  if (!file) return file.error();
  for (const Setting<Config>& setting : settings) {
    Status read = std::visit(
        [&](auto member) {
          auto& out = config.*member;
          if constexpr (settings_detail::is_text<std::remove_cvref_t<decltype(out)>>) {
            return file->read(setting.key, out);
          } else {
            return file->read(setting.key, out, setting.ceiling);
          }
        },
        setting.field);
    DG_RETURN_IF_ERROR(read);
  }
  return Status();
}

// Checks every number of `config` against its ceiling, whichever layer set it
// (a command-line flag does not pass through the file's check).
template <typename Config>
Status check_settings(std::span<const Setting<Config>> settings, const Config& config) {
  for (const Setting<Config>& setting : settings) {
    uint64_t value = std::visit(
        [&](auto member) -> uint64_t {
          const auto& field = config.*member;
          if constexpr (settings_detail::is_text<std::remove_cvref_t<decltype(field)>>) {
            return 0;
          } else {
            return settings_detail::count_of(field);
          }
        },
        setting.field);
    if (value > setting.ceiling) {
      return Status(Code::invalid_argument, std::string(setting.key) + " must be at most " +
                                                std::to_string(setting.ceiling));
    }
  }
  return Status();
}

// The value of an environment variable, or null when it is unset or empty.
const char* env_value(const char* name);

}  // namespace dg
