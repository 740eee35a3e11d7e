// `dropgate drop pack`: hash a folder and write its signed manifest.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>

#include "base/encoding.h"
#include "base/env.h"
#include "base/file.h"
#include "base/time.h"
#include "cli/commands.h"
#include "core/manifest.h"
#include "core/media_type.h"
#include "core/validate.h"
#include "crypto/sha256.h"

namespace dg::cli {
namespace {

namespace fs = std::filesystem;

struct PackOptions {
  std::string source_dir;
  std::string slug;
  uint32_t edition_size = 0;
  std::string keys_dir;
  std::string out_dir;
  int64_t version = 1;
  std::string opens_at;  // RFC 3339; empty: now
  std::string closes_at;
  std::string license = "all-rights-reserved";
  uint32_t access_days = 0;  // 0: access does not end
  std::vector<std::string> territories_allowed;
  std::vector<std::string> territories_denied;
  uint32_t expires_in_days = 30;
  uint32_t threads = 0;
};

struct SourceFile {
  fs::path absolute;
  std::string asset_path;
};

// Lists the regular files under `root` (sorted by asset path), skipping `skip`
// (the output folder when it sits inside the source). Symlinks and special
// files are refused: a drop must not pick up files from outside its folder.
Result<std::vector<SourceFile>> list_files(const fs::path& root, const fs::path& skip) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    return error(Code::not_found, root.string() + " is not a folder");
  }
  std::vector<SourceFile> files;
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec), end;
  if (ec) return error(Code::io_error, "cannot read " + root.string() + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return error(Code::io_error, "cannot read " + root.string() + ": " + ec.message());
    const fs::path& path = it->path();
    if (!skip.empty() && fs::equivalent(path, skip, ec)) {
      it.disable_recursion_pending();
      continue;
    }
    auto status = it->symlink_status(ec);
    if (fs::is_directory(status)) continue;
    if (!fs::is_regular_file(status)) {
      return error(Code::invalid_argument,
                   path.string() + " is a symlink or special file; copy the real file in instead");
    }
    std::string asset_path = path.lexically_relative(root).generic_string();
    DG_RETURN_IF_ERROR_RESULT(core::validate_asset_path(asset_path).with_context(path.string()));
    if (files.size() >= limits::manifest_assets_max) {
      return error(
          Code::limit_exceeded,
          "a drop holds at most " + std::to_string(limits::manifest_assets_max) + " files");
    }
    files.push_back({path, std::move(asset_path)});
  }
  std::sort(files.begin(), files.end(),
            [](const SourceFile& a, const SourceFile& b) { return a.asset_path < b.asset_path; });
  if (files.empty()) return error(Code::invalid_argument, root.string() + " holds no files");
  return files;
}

// Reports hashing progress on stderr: an updating line on a terminal, a line
// every few seconds otherwise; silent for small drops.
class Progress {
 public:
  explicit Progress(uint64_t total_bytes)
      : total_bytes_(total_bytes),
        tty_(::isatty(STDERR_FILENO) == 1),
        start_(std::chrono::steady_clock::now()),
        last_(start_) {}

  void update(uint64_t done_bytes) {
    constexpr uint64_t kQuietBelowBytes = 64ull << 20;
    if (total_bytes_ < kQuietBelowBytes) return;
    auto now = std::chrono::steady_clock::now();
    if (now - last_ < (tty_ ? std::chrono::milliseconds(200) : std::chrono::seconds(3)) &&
        done_bytes < total_bytes_) {
      return;
    }
    last_ = now;
    double seconds = std::chrono::duration<double>(now - start_).count();
    double mib = static_cast<double>(done_bytes) / (1 << 20);
    std::fprintf(stderr, "%shashing: %.0f / %.0f MiB (%.0f MiB/s)%s", tty_ ? "\r" : "", mib,
                 static_cast<double>(total_bytes_) / (1 << 20), seconds > 0 ? mib / seconds : 0.0,
                 tty_ ? "" : "\n");
    printed_ = true;
  }
  ~Progress() {
    if (printed_ && tty_) std::fprintf(stderr, "\n");
  }

 private:
  uint64_t total_bytes_;
  bool tty_;
  bool printed_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

Result<int64_t> parse_time_option(const std::string& text, const char* flag, int64_t fallback) {
  if (text.empty()) return fallback;
  auto ms = parse_rfc3339(text);
  if (!ms) return error(ms.error().with_context(flag));
  return ms;
}

Result<core::Manifest> describe(const PackOptions& o, const std::vector<SourceFile>& files,
                                int64_t now_ms) {
  core::Manifest m;
  m.drop = o.slug;
  m.version = o.version;
  m.issued_at_ms = now_ms;
  m.expires_at_ms = now_ms + int64_t{o.expires_in_days} * 86'400'000;
  m.edition_size = o.edition_size;
  auto opens = parse_time_option(o.opens_at, "--opens-at", now_ms);
  if (!opens) return error(opens.error());
  m.window.opens_at_ms = *opens;
  if (!o.closes_at.empty()) {
    auto closes = parse_time_option(o.closes_at, "--closes-at", 0);
    if (!closes) return error(closes.error());
    m.window.closes_at_ms = *closes;
  }
  m.rights.license = o.license;
  if (o.access_days > 0) m.rights.access_s = int64_t{o.access_days} * 86'400;
  m.rights.territories_allowed = o.territories_allowed;
  m.rights.territories_denied = o.territories_denied;
  for (const auto& f : files) {
    m.assets.push_back({f.asset_path, 0, "", core::guess_media_type(f.asset_path)});
  }
  return m;
}

Status hash_assets(const std::vector<SourceFile>& files, uint32_t threads, core::Manifest& m) {
  uint64_t total_bytes = 0;
  std::vector<fs::path> paths;
  for (const auto& f : files) {
    std::error_code ec;
    total_bytes += fs::file_size(f.absolute, ec);
    paths.push_back(f.absolute);
  }
  Progress progress(total_bytes);
  auto digests = crypto::sha256_files(paths, threads,
                                      [&](uint64_t done_bytes) { progress.update(done_bytes); });
  for (size_t i = 0; i < files.size(); ++i) {
    if (!digests[i]) return digests[i].error();
    m.assets[i].size_bytes = digests[i]->size_bytes;
    m.assets[i].sha256 = hex_encode(digests[i]->sha256);
  }
  return Status();
}

Status pack(const PackOptions& o) {
  DG_RETURN_IF_ERROR(core::validate_slug(o.slug));
  auto key = load_secret_key(o.keys_dir);
  if (!key) return key.error();
  std::error_code ec;
  fs::create_directories(o.out_dir, ec);
  if (ec) return Status(Code::io_error, "cannot create " + o.out_dir + ": " + ec.message());
  auto files = list_files(o.source_dir, fs::weakly_canonical(o.out_dir));
  if (!files) return files.error();
  auto manifest = describe(o, *files, system_clock().now_ms());
  if (!manifest) return manifest.error();
  DG_RETURN_IF_ERROR(hash_assets(*files, o.threads, *manifest));
  auto signed_manifest = core::sign_manifest(*manifest, *key);
  if (!signed_manifest) return signed_manifest.error();
  fs::path json_path = fs::path(o.out_dir) / "manifest.json";
  // The signature goes second: a crash in between leaves a pair that fails
  // verification, never one that passes with the wrong content.
  DG_RETURN_IF_ERROR(write_file_atomic(json_path, signed_manifest->json, 0644, Overwrite::yes));
  DG_RETURN_IF_ERROR(write_file_atomic(json_path.string() + ".minisig", signed_manifest->minisig,
                                       0644, Overwrite::yes));
  uint64_t total_bytes = 0;
  for (const auto& a : manifest->assets) total_bytes += a.size_bytes;
  std::cout << "packed " << manifest->drop << " version " << manifest->version << ": "
            << manifest->assets.size() << " files, " << total_bytes << " bytes, edition of "
            << manifest->edition_size << "\n"
            << "  " << json_path.string() << "\n  " << json_path.string() << ".minisig\n"
            << "  signed by " << key->public_key().key_id() << ", expires "
            << format_rfc3339(manifest->expires_at_ms) << "\n";
  return Status();
}

}  // namespace

void add_drop_commands(CLI::App& app, int& exit_code) {
  auto* drop = app.add_subcommand("drop", "Prepare drops, and manage them on an origin");
  drop->require_subcommand(1);
  auto o = std::make_shared<PackOptions>();
  auto* cmd = drop->add_subcommand(
      "pack",
      "Hash every file under SRC_DIR and write OUT/manifest.json with its minisign signature");
  cmd->add_option("SRC_DIR", o->source_dir, "Folder holding the drop's files")->required();
  cmd->add_option("--slug", o->slug, "Drop slug, e.g. summer-tape")->required();
  cmd->add_option("--edition", o->edition_size, "Edition size N (serials 1..N)")
      ->required()
      ->check(CLI::Range(1u, limits::edition_size_max));
  cmd->add_option("--keys", o->keys_dir, "Key folder made by `dropgate keys new`")->required();
  cmd->add_option("--out", o->out_dir, "Folder to write manifest.json and manifest.json.minisig")
      ->required();
  cmd->add_option("--version", o->version, "Manifest version; must grow with every change")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--opens-at", o->opens_at, "Sale window start, RFC 3339 (default: now)");
  cmd->add_option("--closes-at", o->closes_at, "Sale window end, RFC 3339 (default: open-ended)");
  cmd->add_option("--license", o->license, "Licence identifier, e.g. CC-BY-NC-4.0")
      ->capture_default_str();
  cmd->add_option("--access-days", o->access_days, "Days of access after a claim (0: no end)")
      ->capture_default_str();
  cmd->add_option("--allow-territories", o->territories_allowed,
                  "Only these ISO 3166-1 alpha-2 codes, comma separated")
      ->delimiter(',');
  cmd->add_option("--deny-territories", o->territories_denied,
                  "Not these ISO 3166-1 alpha-2 codes, comma separated")
      ->delimiter(',')
      ->excludes("--allow-territories");
  cmd->add_option("--expires-in-days", o->expires_in_days,
                  "Manifest lifetime; verifiers reject it afterwards (freeze defence)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 3650u));
  cmd->add_option("--threads", o->threads, "Hashing threads (default: one per core)");
  cmd->callback([&exit_code, o] { exit_code = report(pack(*o)); });
}

}  // namespace dg::cli
