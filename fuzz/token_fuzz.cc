// PASETO v4.public parsing (crypto/paseto.h) and the four token verifiers
// of core/token.h, with a keyring that holds the fixed fuzz key. The first
// byte picks what the rest is:
//   't'  a token, as a client sends it (anything else: the whole input is);
//   'p'  a payload, signed here with the fuzz key and the usual footer, so
//        that the verifiers' checks after the signature see fuzzed fields;
//   'f'  a footer, a newline, then a payload, both signed here.
// Checks that a token verifies for at most one purpose (a certificate can
// never be spent as a download), that a download token allows what it names,
// and that a token signed here parses back to what was signed.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/assert.h"
#include "core/token.h"
#include "crypto/paseto.h"
#include "fuzz_key.h"

namespace {

using namespace dg;

// 2026-11-21T06:10:21Z: the seeds' tokens are valid then.
constexpr int64_t kNowMs = 1795241421000;

int verified_purposes(std::string_view token) {
  const crypto::Keyring& keyring = fuzz::fuzz_keyring();
  const core::VerifyOptions options{.now_ms = kNowMs};
  int verified = 0;
  if (auto download = core::verify_download(keyring, token, options)) {
    ++verified;
    DG_ASSERT(!download->fields.assets.empty());
    for (const std::string& path : download->fields.assets) DG_ASSERT(download->allows(path));
    (void)core::to_json(*download);
  }
  if (auto cert = core::verify_cert(keyring, token, options)) {
    ++verified;
    (void)core::to_json(*cert);
  }
  if (auto grant = core::verify_edge_grant(keyring, token, options)) {
    ++verified;
    (void)core::to_json(*grant);
  }
  if (auto receipt = core::verify_receipt(keyring, token, options)) {
    ++verified;
    (void)core::to_json(*receipt);
  }
  return verified;
}

std::string sign(std::string_view payload, std::string_view footer) {
  return crypto::paseto_v4_public_sign(fuzz::fuzz_secret_key(), payload, footer, "");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const char mode = input.empty() ? 't' : input.front();
  std::string token;
  if (mode == 'p' || mode == 'f') {
    input.remove_prefix(1);
    std::string footer = R"({"kid":")" + fuzz::fuzz_secret_key().public_key().key_id() + R"("})";
    if (mode == 'f') {
      size_t newline = input.find('\n');
      footer = std::string(input.substr(0, newline));
      input = newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
    }
    token = sign(input, footer);
    // What was signed here parses back (unless too long) to exactly what
    // was signed, under a signature that holds.
    auto parsed = crypto::paseto_v4_public_parse(token);
    if (parsed) {
      DG_ASSERT(parsed->payload_untrusted == input);
      DG_ASSERT(parsed->footer_untrusted == footer);
      DG_ASSERT(
          crypto::paseto_v4_public_check(fuzz::fuzz_secret_key().public_key(), *parsed, "").ok());
    }
  } else {
    if (mode == 't' && !input.empty()) input.remove_prefix(1);
    token = std::string(input);
    (void)crypto::paseto_v4_public_parse(token);
  }
  DG_ASSERT(verified_purposes(token) <= 1);
  return 0;
}
