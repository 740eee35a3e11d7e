// Download-token throughput: dropgate's issue_download / verify_download
// against raw libsodium Ed25519 over a message of the same size, in the same
// process and run, so the ratio shows what everything around the signature
// (base64url, JSON, keyring lookup, field checks) costs.
//
// Also the edge's per-request token-cache key against its former BLAKE2b.
//
// Goal (docs/BENCHMARKS.md): verify_download >= 0.9x raw
// crypto_sign_verify_detached. bench/run.sh runs this and writes the table.
//
// <sodium.h> is included here on purpose: the baseline must be the bare
// library call, not dg::crypto's wrapper of it.
#include <benchmark/benchmark.h>
#include <sodium.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "base/encoding.h"
#include "base/limits.h"
#include "core/token.h"
#include "crypto/keyring.h"
#include "crypto/keys.h"
#include "crypto/paseto.h"
#include "edge/token_cache.h"

namespace dg::bench {
namespace {

constexpr int64_t kIssuedAtMs = 1'790'000'000'000;    // 2026-09-21; fixed so runs are comparable
constexpr int64_t kVerifyAtMs = kIssuedAtMs + 1'000;  // inside the token's lifetime
constexpr uint32_t kTtlS = 300;                       // the CLI's default download TTL

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "token_bench: %s\n", what.c_str());
  std::exit(1);
}

// A download token as the origin issues one after a claim: an account id,
// a slug, a manifest version and two asset paths.
core::DownloadFields realistic_fields() {
  return core::DownloadFields{
      .account = "acct_01J9Z3X4M5N6P7Q8R9S0T1V2W3",
      .drop = "summer-tape",
      .manifest_version = 3,
      .assets = {"audio/side-a/01-opening-credits.flac", "art/cover-3000x3000.jpg"},
  };
}

// Everything the benchmarks share, built once: a signer and a 1-key keyring
// for dropgate, and a raw libsodium key pair with a PAE-sized message and its
// signature for the baseline.
struct Fixture {
  std::unique_ptr<core::TokenSigner> signer;
  crypto::Keyring keyring;
  core::DownloadFields fields = realistic_fields();
  std::string token;  // a valid token, verified by BM_DropgateVerifyDownload
  std::string pae;    // exactly the bytes Ed25519 signs inside `token`
  std::array<uint8_t, crypto_sign_PUBLICKEYBYTES> raw_public_key{};
  std::array<uint8_t, crypto_sign_SECRETKEYBYTES> raw_secret_key{};
  std::array<uint8_t, crypto_sign_BYTES> raw_signature{};
};

// The PAE input of a real token, rebuilt from its parts, so the baseline signs
// and verifies the same number of bytes dropgate does.
std::string pae_of(const std::string& token) {
  auto parsed = crypto::paseto_v4_public_parse(token);
  if (!parsed) die("cannot parse own token: " + parsed.error().to_string());
  return crypto::paseto_pae(
      {"v4.public.", parsed->payload_untrusted, parsed->footer_untrusted, ""});
}

Fixture make_fixture() {
  crypto::init();
  Fixture f;
  f.signer = std::make_unique<core::TokenSigner>(crypto::SecretKey::generate(),
                                                 "https://origin.dropgate.example");
  if (!f.keyring.add(f.signer->key().public_key(), crypto::KeyStatus::current).ok()) {
    die("cannot add key to keyring");
  }
  auto token = core::issue_download(*f.signer, f.fields, kIssuedAtMs, kTtlS);
  if (!token) die("cannot issue token: " + token.error().to_string());
  f.token = std::move(*token);
  // A benchmark of a verify that fails would measure the refusal path.
  auto verified = core::verify_download(f.keyring, f.token, core::VerifyOptions{kVerifyAtMs});
  if (!verified) die("own token does not verify: " + verified.error().to_string());

  f.pae = pae_of(f.token);
  crypto_sign_keypair(f.raw_public_key.data(), f.raw_secret_key.data());
  crypto_sign_detached(f.raw_signature.data(), nullptr, as_bytes(f.pae).data(), f.pae.size(),
                       f.raw_secret_key.data());
  return f;
}

const Fixture& fixture() {
  static const Fixture f = make_fixture();
  return f;
}

// Sizes travel with the results so the doc can say what was measured.
void report_sizes(benchmark::State& state) {
  state.SetItemsProcessed(state.iterations());
  state.counters["pae_bytes"] = static_cast<double>(fixture().pae.size());
  state.counters["token_bytes"] = static_cast<double>(fixture().token.size());
}

void BM_SodiumSign(benchmark::State& state) {
  const Fixture& f = fixture();
  std::array<uint8_t, crypto_sign_BYTES> signature;
  for (auto _ : state) {
    crypto_sign_detached(signature.data(), nullptr, as_bytes(f.pae).data(), f.pae.size(),
                         f.raw_secret_key.data());
    benchmark::DoNotOptimize(signature);
  }
  report_sizes(state);
}

void BM_SodiumVerify(benchmark::State& state) {
  const Fixture& f = fixture();
  for (auto _ : state) {
    int rc = crypto_sign_verify_detached(f.raw_signature.data(), as_bytes(f.pae).data(),
                                         f.pae.size(), f.raw_public_key.data());
    if (rc != 0) state.SkipWithError("baseline signature does not verify");
    benchmark::DoNotOptimize(rc);
  }
  report_sizes(state);
}

void BM_DropgateIssueDownload(benchmark::State& state) {
  const Fixture& f = fixture();
  for (auto _ : state) {
    auto token = core::issue_download(*f.signer, f.fields, kIssuedAtMs, kTtlS);
    if (!token) state.SkipWithError("issue_download failed");
    benchmark::DoNotOptimize(token);
  }
  report_sizes(state);
}

void BM_DropgateVerifyDownload(benchmark::State& state) {
  const Fixture& f = fixture();
  const core::VerifyOptions options{kVerifyAtMs};
  for (auto _ : state) {
    auto verified = core::verify_download(f.keyring, f.token, options);
    if (!verified) state.SkipWithError("verify_download failed");
    benchmark::DoNotOptimize(verified);
  }
  report_sizes(state);
}

// The edge's token-cache key, computed on every request for the token it
// carries: TokenCache::key_of (keyed SipHash-2-4-128) against what it did
// before, keyed BLAKE2b-256 over a copy of key ‖ token, on the same token.
void BM_CacheKeyOf(benchmark::State& state) {
  const Fixture& f = fixture();
  const edge::TokenCache cache(1 << 20, 1000);
  for (auto _ : state) {
    auto key = cache.key_of(f.token);
    benchmark::DoNotOptimize(key);
  }
  report_sizes(state);
}

void BM_CacheKeyBlake2bBaseline(benchmark::State& state) {
  const Fixture& f = fixture();
  std::array<uint8_t, 32> hash_key;
  crypto::random_bytes(hash_key);
  for (auto _ : state) {
    std::array<uint8_t, 32 + limits::token_bytes_max> input;
    std::memcpy(input.data(), hash_key.data(), hash_key.size());
    std::memcpy(input.data() + hash_key.size(), f.token.data(), f.token.size());
    std::array<uint8_t, 32> key;
    crypto::blake2b(key, std::span<const uint8_t>(input.data(), hash_key.size() + f.token.size()));
    benchmark::DoNotOptimize(key);
  }
  report_sizes(state);
}

// Wall time, not CPU time: the two are the same for this single-threaded
// work, and wall time is what a server's request latency is made of.
BENCHMARK(BM_SodiumSign)->UseRealTime();
BENCHMARK(BM_SodiumVerify)->UseRealTime();
BENCHMARK(BM_DropgateIssueDownload)->UseRealTime();
BENCHMARK(BM_DropgateVerifyDownload)->UseRealTime();
BENCHMARK(BM_CacheKeyOf)->UseRealTime();
BENCHMARK(BM_CacheKeyBlake2bBaseline)->UseRealTime();

}  // namespace
}  // namespace dg::bench

BENCHMARK_MAIN();
