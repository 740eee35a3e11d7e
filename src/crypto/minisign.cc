#include "crypto/minisign.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "base/encoding.h"
#include "base/limits.h"

namespace dg::crypto {
namespace {

constexpr std::string_view kUntrustedPrefix = "untrusted comment: ";
constexpr std::string_view kTrustedPrefix = "trusted comment: ";
constexpr size_t kPublicKeyBlobBytes = 2 + 8 + public_key_bytes;
constexpr size_t kSignatureBlobBytes = 2 + 8 + signature_bytes;
constexpr size_t kLinesMax = 4;

std::array<uint8_t, 64> blake2b_512(std::span<const uint8_t> message) {
  std::array<uint8_t, 64> hash;
  blake2b(hash, message);
  return hash;
}

// Splits text into at most `lines_max` lines; a final newline is optional, CRs are dropped.
Result<std::vector<std::string_view>> split_lines(std::string_view text, size_t lines_max) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    if (lines.size() == lines_max) return error(Code::invalid_argument, "too many lines");
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (line.ends_with('\r')) line.remove_suffix(1);
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

bool single_line(std::string_view text) {
  return text.find_first_of("\r\n") == std::string_view::npos;
}

}  // namespace

std::string minisign_key_number_text(const MinisignKeyNumber& number) {
  // minisign prints the little-endian 64-bit number in upper-case hex.
  std::string out;
  char buf[3];
  for (size_t i = number.size(); i-- > 0;) {
    std::snprintf(buf, sizeof buf, "%02X", number[i]);
    out += buf;
  }
  return out;
}

std::string minisign_public_key_text(const PublicKey& key) {
  auto number = key.minisign_key_number();
  std::string blob = "Ed";
  blob.append(reinterpret_cast<const char*>(number.data()), number.size());
  blob.append(reinterpret_cast<const char*>(key.bytes().data()), key.bytes().size());
  return std::string(kUntrustedPrefix) + "minisign public key " + minisign_key_number_text(number) +
         "\n" + base64_encode(as_bytes(blob)) + "\n";
}

Result<MinisignPublicKey> minisign_parse_public_key(std::string_view text_untrusted) {
  auto lines = split_lines(text_untrusted, 2);
  if (!lines || lines->empty()) return error(Code::invalid_argument, "not a minisign public key");
  std::string_view b64 = lines->back();
  if (lines->size() == 2 && !(*lines)[0].starts_with(kUntrustedPrefix)) {
    return error(Code::invalid_argument, "minisign public key: first line is not a comment");
  }
  auto blob = base64_decode(b64);
  if (!blob || blob->size() != kPublicKeyBlobBytes || (*blob)[0] != 'E' || (*blob)[1] != 'd') {
    return error(Code::invalid_argument, "not a minisign Ed25519 public key");
  }
  MinisignKeyNumber number;
  std::copy_n(blob->begin() + 2, number.size(), number.begin());
  auto key = PublicKey::from_bytes(std::span(*blob).subspan(10));
  if (!key) return error(key.error());
  return MinisignPublicKey{number, *key};
}

Result<std::string> minisign_sign(const SecretKey& key, std::span<const uint8_t> message,
                                  std::string_view trusted_comment,
                                  std::string_view untrusted_comment) {
  if (!single_line(trusted_comment) || !single_line(untrusted_comment) ||
      trusted_comment.size() > limits::trusted_comment_bytes_max) {
    return error(Code::invalid_argument, "minisign comments must be single, short lines");
  }
  Signature sig = key.sign(blake2b_512(message));
  std::string global_input(reinterpret_cast<const char*>(sig.data()), sig.size());
  global_input.append(trusted_comment);
  Signature global = key.sign(as_bytes(global_input));

  auto number = key.public_key().minisign_key_number();
  std::string blob = "ED";
  blob.append(reinterpret_cast<const char*>(number.data()), number.size());
  blob.append(reinterpret_cast<const char*>(sig.data()), sig.size());
  return std::string(kUntrustedPrefix) + std::string(untrusted_comment) + "\n" +
         base64_encode(as_bytes(blob)) + "\n" + std::string(kTrustedPrefix) +
         std::string(trusted_comment) + "\n" + base64_encode(global) + "\n";
}

Result<MinisignSignature> minisign_parse_signature(std::string_view text_untrusted) {
  if (text_untrusted.size() > limits::minisign_sig_file_bytes_max) {
    return error(Code::limit_exceeded, "minisign signature file is too large");
  }
  auto lines = split_lines(text_untrusted, kLinesMax);
  if (!lines || lines->size() != kLinesMax || !(*lines)[0].starts_with(kUntrustedPrefix) ||
      !(*lines)[2].starts_with(kTrustedPrefix)) {
    return error(Code::invalid_argument, "not a minisign signature file (want 4 lines)");
  }
  auto blob = base64_decode((*lines)[1]);
  if (!blob || blob->size() != kSignatureBlobBytes || (*blob)[0] != 'E' ||
      ((*blob)[1] != 'D' && (*blob)[1] != 'd')) {
    return error(Code::invalid_argument, "minisign signature: unknown algorithm or size");
  }
  auto global = base64_decode((*lines)[3]);
  if (!global || global->size() != signature_bytes) {
    return error(Code::invalid_argument, "minisign signature: bad global signature line");
  }
  MinisignSignature parsed;
  parsed.prehashed = (*blob)[1] == 'D';
  std::copy_n(blob->begin() + 2, parsed.key_number.size(), parsed.key_number.begin());
  std::copy_n(blob->begin() + 10, signature_bytes, parsed.signature.begin());
  parsed.trusted_comment_untrusted = std::string((*lines)[2].substr(kTrustedPrefix.size()));
  std::copy_n(global->begin(), signature_bytes, parsed.global_signature.begin());
  return parsed;
}

Status minisign_verify(const MinisignPublicKey& key, const MinisignSignature& signature,
                       std::span<const uint8_t> message) {
  if (key.key_number != signature.key_number) {
    return Status(Code::unauthorized, "signature was made with another key (key " +
                                          minisign_key_number_text(signature.key_number) + ")");
  }
  bool ok = signature.prehashed ? key.key.verify(blake2b_512(message), signature.signature)
                                : key.key.verify(message, signature.signature);
  if (!ok) return Status(Code::unauthorized, "signature verification failed");
  std::string global_input(reinterpret_cast<const char*>(signature.signature.data()),
                           signature.signature.size());
  global_input.append(signature.trusted_comment_untrusted);
  if (!key.key.verify(as_bytes(global_input), signature.global_signature)) {
    return Status(Code::unauthorized, "trusted comment signature verification failed");
  }
  return Status();
}

}  // namespace dg::crypto
