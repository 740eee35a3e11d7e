// The "download all" archive: a drop's files as one ZIP, streamed with
// sendfile(2) and resumable. docs/formats/download-archive.md describes it.
//
// Entries are STORED (media does not shrink, and stored data maps each
// archive byte straight to a file byte), with the CRC-32 and sizes in the
// local headers (the edge computes the CRC when it syncs a blob, so no data
// descriptors), UTF-8 names, and ZIP64 fields only where a size or an offset
// needs them. The archive is a pure function of its entries: the same entries
// in the same order give the same bytes, so its length is known before the
// first byte goes out and a Range request can start anywhere (segments()).
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "http/http.h"

namespace dg::edge {

// Part of the archive's identity (its ETag): bump it whenever any byte of the
// layout changes, so that a client resuming with If-Range gets the new
// archive whole instead of a splice of two.
inline constexpr uint32_t zip_layout_version = 1;

struct ZipEntry {
  // The path inside the archive: a drop asset path (relative, '/'-separated,
  // UTF-8; core::validate_asset_path).
  std::string name;
  uint64_t size_bytes = 0;
  uint32_t crc32 = 0;          // of the file's bytes, as crc32_file() computes it
  std::filesystem::path file;  // holds the bytes; read only when the archive is sent
  int64_t mtime_ms = 0;        // Unix ms; stored as a DOS date and time in UTC
};

struct ZipOptions {
  // For tests: the ZIP64 forms everywhere, as if every size, offset and count
  // were too large for the classic fields.
  bool force_zip64 = false;
};

// The exact byte layout of an archive: headers built in memory, file data
// left in the files. Immutable once made; thread safety: const use from any
// thread, so one plan can serve every download of a manifest.
class ZipPlan {
 public:
  // Checks the entries and lays the archive out, in the order given. Errors:
  // invalid_argument (a bad name, a name given twice or also used as a folder
  // by another entry, a size over limits::asset_size_bytes_max),
  // limit_exceeded (more than limits::manifest_assets_max entries). Sizes and
  // CRCs are trusted: the files are not read.
  static Result<ZipPlan> create(std::vector<ZipEntry> entries, ZipOptions options = {});

  // The archive's length; never 0 (an empty archive is its 22-byte end record).
  uint64_t total_bytes() const { return total_bytes_; }
  size_t entry_count() const { return entry_count_; }

  // The segments that hold archive bytes [first, last], in order: headers as
  // bytes, file data as ranges of the entries' files. Requires first <= last <
  // total_bytes() (what http::parse_range yields). The whole archive is
  // segments(0, total_bytes() - 1).
  std::vector<http::Segment> segments(uint64_t first, uint64_t last) const;

 private:
  // A run of archive bytes starting at `offset_bytes`: header bytes, or one
  // entry's whole file (FileBody{file, 0, size_bytes}). Never empty.
  struct Piece {
    uint64_t offset_bytes = 0;
    http::Segment segment;
  };
  ZipPlan() = default;

  std::vector<Piece> pieces_;  // in archive order, contiguous
  uint64_t total_bytes_ = 0;
  size_t entry_count_ = 0;
};

// CRC-32 as ZIP, gzip and PNG use it (ISO-HDLC, reflected 0xEDB88320),
// chained like zlib's crc32(): start from 0, pass each result back in;
// crc32_update(crc32_update(0, a), b) is the CRC of a followed by b.
uint32_t crc32_update(uint32_t crc, std::span<const uint8_t> bytes);

// The CRC-32 of a regular file's bytes. Errors: not_found, forbidden,
// io_error, invalid_argument (not a regular file), limit_exceeded (larger
// than limits::asset_size_bytes_max), conflict (it changed size while read).
Result<uint32_t> crc32_file(const std::filesystem::path& path);

}  // namespace dg::edge
