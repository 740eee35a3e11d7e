// minisign-compatible detached signatures (https://jedisct1.github.io/minisign/):
// the stock `minisign -V` verifies what dropgate signs, and dropgate verifies
// what stock minisign signs. dropgate signs only the prehashed form ("ED":
// Ed25519 over BLAKE2b-512 of the file); it verifies both that and legacy "Ed".
#pragma once

#include <array>
#include <span>
#include <string>
#include <string_view>

#include "base/status.h"
#include "crypto/keys.h"

namespace dg::crypto {

using MinisignKeyNumber = std::array<uint8_t, 8>;

struct MinisignPublicKey {
  MinisignKeyNumber key_number;
  PublicKey key;
};

// The key number as minisign prints it: 16 upper-case hex digits.
std::string minisign_key_number_text(const MinisignKeyNumber& number);

// The two-line `.pub` file: "untrusted comment: minisign public key <id>\n<base64>\n".
// The key number is PublicKey::minisign_key_number().
std::string minisign_public_key_text(const PublicKey& key);

// Accepts the two-line `.pub` file, or only its base64 line.
Result<MinisignPublicKey> minisign_parse_public_key(std::string_view text_untrusted);

// Signs `message` (prehashed) and returns the four-line `.minisig` text.
// Comments must be single lines.
Result<std::string> minisign_sign(const SecretKey& key, std::span<const uint8_t> message,
                                  std::string_view trusted_comment,
                                  std::string_view untrusted_comment);

// A parsed `.minisig` file, signatures not yet checked.
struct MinisignSignature {
  MinisignKeyNumber key_number;
  bool prehashed;
  Signature signature;
  std::string trusted_comment_untrusted;
  Signature global_signature;
};

Result<MinisignSignature> minisign_parse_signature(std::string_view text_untrusted);

// Checks both the file signature and the global signature (which covers the
// trusted comment). Refuses a signature whose key number is not the key's.
Status minisign_verify(const MinisignPublicKey& key, const MinisignSignature& signature,
                       std::span<const uint8_t> message);

}  // namespace dg::crypto
