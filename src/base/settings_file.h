// A TOML file of settings (dropgate.toml, edge.toml): parsed once, unknown
// keys refused, values read with their type and range checked. toml++ stays
// inside settings_file.cc, so its heavy header is compiled once.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>

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

// The value of an environment variable, or null when it is unset or empty.
const char* env_value(const char* name);

}  // namespace dg
