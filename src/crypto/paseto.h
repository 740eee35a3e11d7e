// PASETO v4.public (https://github.com/paseto-standard/paseto-spec):
// Ed25519 over PAE(header, payload, footer, implicit assertion).
//
// This layer knows nothing of purposes or fields; core/token.h builds the
// per-purpose tokens on top of it. Parsing is strict: unpadded canonical
// base64url only, bounded sizes, one spelling per token.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "crypto/keys.h"

namespace dg::crypto {

std::string paseto_v4_public_sign(const SecretKey& key, std::string_view payload,
                                  std::string_view footer, std::string_view implicit_assertion);

// A token split and decoded, signature not yet checked: nothing in it is trusted.
struct PasetoParsed {
  std::string payload_untrusted;
  std::string footer_untrusted;
  Signature signature;
};

// Splits and decodes a "v4.public." token; refuses other versions and purposes,
// oversized tokens and non-canonical base64url.
Result<PasetoParsed> paseto_v4_public_parse(std::string_view token_untrusted);

// Checks the signature of a parsed token; on success the payload and footer
// were signed by `key` (together with `implicit_assertion`).
Status paseto_v4_public_check(const PublicKey& key, const PasetoParsed& parsed,
                              std::string_view implicit_assertion);

// Pre-Authentication Encoding, exposed for tests.
std::string paseto_pae(std::initializer_list<std::string_view> pieces);

}  // namespace dg::crypto
