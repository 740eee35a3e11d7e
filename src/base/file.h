// Small, careful file helpers: bounded reads and crash-safe writes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "base/status.h"

namespace dg {

// Reads a whole file; refuses one larger than `bytes_max`.
Result<std::string> read_file(const std::filesystem::path& path, uint64_t bytes_max);

// Reads a regular file from start to end in pieces of at most buffer.size()
// bytes, handing each to `consume` (a hash, a checksum). Refuses what is not
// a regular file (opening cannot hang on a FIFO) or is larger than
// `bytes_max`; a file that changes size while read is a conflict. Returns the
// file's size.
Result<uint64_t> read_file_in_pieces(const std::filesystem::path& path, uint64_t bytes_max,
                                     std::span<uint8_t> buffer,
                                     const std::function<void(std::span<const uint8_t>)>& consume);

// Writes all of `data` to `fd`, retrying short writes and EINTR; `path` names
// the file in the error.
Status write_all(int fd, std::string_view data, const std::filesystem::path& path);

enum class Overwrite { no, yes };

// Writes `data` to a temporary file beside `path`, fsyncs it, then renames it
// into place and fsyncs the folder: after a crash the file holds either the
// old or the new content, never a mix. With Overwrite::no an existing file is
// left untouched and the call returns conflict.
Status write_file_atomic(const std::filesystem::path& path, std::string_view data, uint32_t mode,
                         Overwrite overwrite);

}  // namespace dg
