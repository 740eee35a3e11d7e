// The `dropgate` command line: each group registers its subcommands on the app.
// Commands print results on stdout, messages on stderr, and exit 0 only on success.
#pragma once

#include <CLI/CLI.hpp>
#include <filesystem>
#include <string>

#include "base/status.h"
#include "crypto/keyring.h"
#include "crypto/keys.h"

namespace dg::cli {

// Exit codes (frozen; scripts depend on them).
inline constexpr int exit_ok = 0;
inline constexpr int exit_failed = 1;     // the command ran and the answer is no / it failed
inline constexpr int exit_usage = 2;      // bad flags or arguments

void add_keys_commands(CLI::App& app, int& exit_code);
void add_drop_commands(CLI::App& app, int& exit_code);
void add_verify_commands(CLI::App& app, int& exit_code);
void add_token_commands(CLI::App& app, int& exit_code);
void add_origin_commands(CLI::App& app, int& exit_code);
void add_edge_commands(CLI::App& app, int& exit_code);
// Attaches the API-calling operator commands (create, upload, publish, …) to `dropgate drop`.
void add_operator_commands(CLI::App& drop, int& exit_code);

// Prints "dropgate: <message>" on stderr and returns the exit code for `status`.
int report(const Status& status);

// Reads DIR/secret.paserk, refusing a file that others can read.
Result<crypto::SecretKey> load_secret_key(const std::filesystem::path& dir);
// Reads a keyring JSON or a single k4.public key file.
Result<crypto::Keyring> load_keyring(const std::filesystem::path& path);

inline constexpr std::string_view secret_key_file = "secret.paserk";
inline constexpr std::string_view public_key_file = "public.paserk";

}  // namespace dg::cli
