// mint_tokens: download tokens for the edge benchmark, minted ahead of a run
// with dropgate's own code (core::issue_download) and the origin's signing
// key, so each measured request can carry a token the edge has never seen.
//
// The tokens copy a real one (--like, a download token the origin issued on a
// claim, verified here first): same issuer, drop, manifest version, assets
// and certificate id, hence the same size, and an account of the same length,
// so they are the tokens a crowd of buyers would bring. Each gets its own
// account and jti; they are valid for the template's lifetime from now.
//
//   mint_tokens --key DATA/keys/secret.paserk --like TOKEN --count 100000 > tokens
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "base/env.h"
#include "base/file.h"
#include "core/token.h"
#include "crypto/keyring.h"
#include "crypto/keys.h"

namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "mint_tokens: %s\n", what.c_str());
  std::exit(1);
}

std::string read_key(const std::string& path) {
  auto text = dg::read_file(path, 256);
  if (!text) die("cannot read " + path + ": " + text.error().to_string());
  while (!text->empty() && (text->back() == '\n' || text->back() == '\r')) text->pop_back();
  return *text;
}

// The account of token `i`: the template's, with its last characters
// replaced by i, so every token is as long as the real one.
std::string account_for(const std::string& like, uint64_t i) {
  std::string suffix = "-" + std::to_string(i);
  if (suffix.size() >= like.size()) return "b" + suffix;
  return like.substr(0, like.size() - suffix.size()) + suffix;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mint_tokens: download tokens like a real one, for the edge benchmark"};
  std::string key_path, like;
  uint64_t count = 0;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  app.add_option("--key", key_path, "The origin's secret key (DATA/keys/secret.paserk)")
      ->required();
  app.add_option("--like", like, "A download token the origin issued, to copy")->required();
  app.add_option("--count", count, "Tokens to print, one per line")->required();
  app.add_option("--threads", threads, "Threads signing (default: one per core)")
      ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  dg::crypto::init();
  auto key = dg::crypto::SecretKey::from_paserk(read_key(key_path));
  if (!key) die(key.error().to_string());
  dg::crypto::Keyring keyring;
  if (!keyring.add(key->public_key(), dg::crypto::KeyStatus::current).ok())
    die("cannot build a keyring");
  int64_t now_ms = dg::system_clock().now_ms();
  auto template_token = dg::core::verify_download(keyring, like, dg::core::VerifyOptions{now_ms});
  if (!template_token)
    die("--like does not verify with this key: " + template_token.error().to_string());
  const auto& common = template_token->common;
  if (!common.expires_at_ms) die("--like has no expiry");
  auto ttl_s = static_cast<uint32_t>((*common.expires_at_ms - common.issued_at_ms) / 1000);
  dg::core::TokenSigner signer(std::move(*key), common.issuer);

  // Each thread signs a contiguous share; the shares are printed in order.
  std::vector<std::string> shares(threads);
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      uint64_t begin = count * t / threads, end = count * (t + 1) / threads;
      std::string& out = shares[t];
      dg::core::DownloadFields fields = template_token->fields;
      for (uint64_t i = begin; i < end; ++i) {
        fields.account = account_for(template_token->fields.account, i);
        auto token = dg::core::issue_download(signer, fields, now_ms, ttl_s);
        if (!token) die("issue_download: " + token.error().to_string());
        out += *token;
        out += '\n';
      }
    });
  }
  for (auto& t : pool) t.join();
  for (const auto& share : shares) std::fwrite(share.data(), 1, share.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}
