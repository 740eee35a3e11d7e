// Manifest parsing (core::parse_manifest) and verification
// (core::verify_manifest, with the minisign signature parser under it), as an
// edge meets them when it syncs. Input: manifest JSON; or JSON, a NUL byte,
// then a minisign signature, to be verified against a keyring holding the
// fuzz key. A manifest that parses must survive the way back: written out
// as canonical JSON it parses to the same manifest, and signed with the fuzz
// key it verifies as that manifest.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/assert.h"
#include "core/manifest.h"
#include "crypto/jcs.h"
#include "fuzz_key.h"

namespace {

using namespace dg;

// 2026-11-21T06:10:21Z, when the seeds' manifests are valid.
constexpr int64_t kNowMs = 1795241421000;

void verify(std::string_view json, std::string_view minisig) {
  core::ManifestExpectations expect{.drop = "summer-tape", .now_ms = kNowMs};
  auto verified = core::verify_manifest(fuzz::fuzz_keyring(), json, minisig, expect);
  if (verified) DG_ASSERT(verified->manifest.drop == "summer-tape");
}

void round_trip(std::string_view json) {
  Result<core::Manifest> manifest = core::parse_manifest(json);
  if (!manifest) return;
  Result<std::string> written = core::manifest_to_json(*manifest);
  DG_ASSERT(written.has_value());
  Result<std::string> canonical = crypto::jcs_canonicalize_text(*written, written->size());
  DG_ASSERT(canonical.has_value() && *canonical == *written);
  Result<core::Manifest> again = core::parse_manifest(*written);
  DG_ASSERT(again.has_value() && *again == *manifest);

  Result<core::SignedManifest> signed_manifest =
      core::sign_manifest(*manifest, fuzz::fuzz_secret_key());
  DG_ASSERT(signed_manifest.has_value());
  core::ManifestExpectations expect{.drop = manifest->drop,
                                    .version_seen_max = manifest->version,
                                    .now_ms = manifest->issued_at_ms};
  auto verified = core::verify_manifest(fuzz::fuzz_keyring(), signed_manifest->json,
                                        signed_manifest->minisig, expect);
  DG_ASSERT(verified.has_value() && verified->manifest == *manifest);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (size_t nul = input.find('\0'); nul != std::string_view::npos) {
    verify(input.substr(0, nul), input.substr(nul + 1));
  } else {
    round_trip(input);
  }
  return 0;
}
