// RFC 8785 canonicalisation (crypto/jcs.h) of untrusted JSON text: what
// signer and verifier both hash. Checks that the canonical text is a fixed
// point (canonicalising it again changes nothing): a verifier that
// re-canonicalises what it received must arrive at the signed bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/assert.h"
#include "crypto/jcs.h"

namespace {

// Below libFuzzer's default input size (4 KiB), so the limit is reached too.
constexpr size_t kBytesMax = 2048;
// Canonical text can be far longer than its source ("1e300" is 301 digits).
constexpr size_t kCanonicalBytesMax = 1024 * 1024;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  dg::Result<std::string> canonical = dg::crypto::jcs_canonicalize_text(text, kBytesMax);
  if (!canonical) {
    DG_ASSERT(canonical.error().code() == dg::Code::invalid_argument ||
              canonical.error().code() == dg::Code::limit_exceeded);
    return 0;
  }
  dg::Result<std::string> again = dg::crypto::jcs_canonicalize_text(*canonical, kCanonicalBytesMax);
  DG_ASSERT(again.has_value());
  DG_ASSERT(*again == *canonical);
  return 0;
}
