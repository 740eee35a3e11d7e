// `dropgate verify manifest`: check a manifest and its minisign signature.
#include <boost/json.hpp>
#include <iostream>
#include <memory>

#include "base/env.h"
#include "base/file.h"
#include "base/limits.h"
#include "base/time.h"
#include "cli/commands.h"
#include "core/manifest.h"

namespace dg::cli {
namespace {

struct VerifyManifestOptions {
  std::string manifest_path;
  std::string signature_path;  // default: manifest_path + ".minisig"
  std::string public_path;
  std::string drop;
  int64_t version_seen_max = 0;
};

Status verify_manifest(const VerifyManifestOptions& o) {
  auto keyring = load_keyring(o.public_path);
  if (!keyring) return keyring.error();
  auto json_text = read_file(o.manifest_path, limits::manifest_bytes_max);
  if (!json_text) return json_text.error();
  std::string sig_path = o.signature_path.empty() ? o.manifest_path + ".minisig" : o.signature_path;
  auto sig_text = read_file(sig_path, limits::minisign_sig_file_bytes_max);
  if (!sig_text) return sig_text.error();

  core::ManifestExpectations expect;
  expect.drop = o.drop;
  if (expect.drop.empty()) {
    // Without --drop the manifest names its own drop; everything else is still checked.
    auto unverified = core::parse_manifest(*json_text);
    if (!unverified) return unverified.error();
    expect.drop = unverified->drop;
  }
  expect.version_seen_max = o.version_seen_max;
  expect.now_ms = system_clock().now_ms();
  auto verified = core::verify_manifest(*keyring, *json_text, *sig_text, expect);
  if (!verified) return verified.error().with_context("manifest refused");

  const auto& m = verified->manifest;
  uint64_t total_bytes = 0;
  for (const auto& a : m.assets) total_bytes += a.size_bytes;
  boost::json::object out{{"drop", m.drop},
                          {"version", m.version},
                          {"edition", m.edition_size},
                          {"assets", m.assets.size()},
                          {"bytes", total_bytes},
                          {"issued_at", format_rfc3339(m.issued_at_ms)},
                          {"expires_at", format_rfc3339(m.expires_at_ms)},
                          {"kid", verified->key_id},
                          {"sha256", verified->sha256}};
  std::cout << boost::json::serialize(out) << "\n";
  std::cerr << "manifest OK: " << m.drop << " version " << m.version << ", signed by "
            << verified->key_id << "\n";
  return Status();
}

}  // namespace

void add_verify_commands(CLI::App& app, int& exit_code) {
  auto* verify = app.add_subcommand("verify", "Verify signed artefacts");
  verify->require_subcommand(1);
  auto o = std::make_shared<VerifyManifestOptions>();
  auto* cmd = verify->add_subcommand(
      "manifest", "Verify a manifest's signature, key, expiry, drop and version");
  cmd->add_option("MANIFEST", o->manifest_path, "manifest.json")->required();
  cmd->add_option("--public", o->public_path,
                  "Public key (public.paserk) or keyring (keys.json) to trust")
      ->required();
  cmd->add_option("--sig", o->signature_path, "Signature file (default: MANIFEST.minisig)");
  cmd->add_option("--drop", o->drop, "Refuse a manifest for any other drop");
  cmd->add_option("--min-version", o->version_seen_max,
                  "Refuse versions below this one (the highest seen before)");
  cmd->callback([&exit_code, o] { exit_code = report(verify_manifest(*o)); });
}

}  // namespace dg::cli
