// verify_rate: how many Ed25519 signatures the bare libsodium call verifies
// per second on N threads at once — the ceiling of an edge whose every
// request brings a new token (bench/edge_bench.sh's cold run), measured on
// the same cores with as many threads as the edge has I/O threads.
//
// The message is as long as the signed input (PASETO PAE) of the token given,
// so the baseline hashes the same number of bytes the edge does.
//
//   verify_rate --token TOKEN --threads 2 --duration-s 5
//   → {"threads":2,"message_bytes":403,"verifies":…,"seconds":…,"verifies_per_s":…}
#include <sodium.h>

#include <CLI/CLI.hpp>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "crypto/keys.h"
#include "crypto/paseto.h"

namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "verify_rate: %s\n", what.c_str());
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"verify_rate: raw libsodium Ed25519 verifications per second on N threads"};
  std::string token;
  unsigned threads = 1;
  double duration_s = 5;
  app.add_option("--token", token, "A token whose signed input gives the message length")
      ->required();
  app.add_option("--threads", threads, "Threads verifying at once")->check(CLI::PositiveNumber);
  app.add_option("--duration-s", duration_s, "Seconds to run")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  dg::crypto::init();
  auto parsed = dg::crypto::paseto_v4_public_parse(token);
  if (!parsed) die("cannot parse --token: " + parsed.error().to_string());
  std::string message = dg::crypto::paseto_pae(
      {"v4.public.", parsed->payload_untrusted, parsed->footer_untrusted, ""});

  std::array<unsigned char, crypto_sign_PUBLICKEYBYTES> public_key{};
  std::array<unsigned char, crypto_sign_SECRETKEYBYTES> secret_key{};
  std::array<unsigned char, crypto_sign_BYTES> signature{};
  crypto_sign_keypair(public_key.data(), secret_key.data());
  const auto* bytes = reinterpret_cast<const unsigned char*>(message.data());
  crypto_sign_detached(signature.data(), nullptr, bytes, message.size(), secret_key.data());

  std::atomic<bool> stop{false};
  std::atomic<bool> failed{false};
  std::vector<unsigned long long> counts(threads, 0);
  std::vector<std::thread> pool;
  auto start = std::chrono::steady_clock::now();
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      unsigned long long n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (crypto_sign_verify_detached(signature.data(), bytes, message.size(),
                                        public_key.data()) != 0) {
          failed = true;
        }
        ++n;
      }
      counts[t] = n;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(duration_s));
  stop = true;
  for (auto& t : pool) t.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (failed) die("the baseline signature did not verify");
  unsigned long long total = 0;
  for (auto c : counts) total += c;
  std::printf(
      "{\"threads\":%u,\"message_bytes\":%zu,\"verifies\":%llu,\"seconds\":%.3f,\"verifies_per_s\":"
      "%.1f}\n",
      threads, message.size(), total, seconds, static_cast<double>(total) / seconds);
  return 0;
}
