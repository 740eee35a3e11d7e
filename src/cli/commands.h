// The `dropgate` command line: each group registers its subcommands on the app.
// Commands print results on stdout, messages on stderr, and exit 0 only on success.
#pragma once

#include <CLI/CLI.hpp>
#include <boost/json/fwd.hpp>
#include <filesystem>
#include <functional>
#include <ostream>
#include <string>

#include "base/status.h"
#include "crypto/keyring.h"
#include "crypto/keys.h"
#include "http/client.h"

namespace dg::cli {

// Exit codes (frozen; scripts depend on them).
inline constexpr int exit_ok = 0;
inline constexpr int exit_failed = 1;  // the command ran and the answer is no / it failed
inline constexpr int exit_usage = 2;   // bad flags or arguments

void add_keys_commands(CLI::App& app, int& exit_code);
void add_drop_commands(CLI::App& app, int& exit_code);
void add_verify_commands(CLI::App& app, int& exit_code);
void add_token_commands(CLI::App& app, int& exit_code);
void add_origin_commands(CLI::App& app, int& exit_code);
void add_edge_commands(CLI::App& app, int& exit_code);
void add_refunds_commands(CLI::App& app, int& exit_code);  // online checkout's refund queue
// `dropgate reader …`, and `drop cash` / `drop sales` (after add_drop_commands).
void add_reader_commands(CLI::App& app, int& exit_code);
void add_codes_commands(CLI::App& app, int& exit_code);
// Attaches the API-calling operator commands (create, upload, publish, …) to `dropgate drop`.
void add_operator_commands(CLI::App& drop, int& exit_code);

// Prints "dropgate: <message>" on stderr and returns the exit code for `status`.
int report(const Status& status);

// Prints an origin's 2xx answer on stdout: with `json`, its body as it came
// (one line; scripts parse it); otherwise what `summarize` writes from it, a
// few lines for people. A non-2xx answer, or a body that is not a JSON object
// when a summary is wanted, is a failure.
using Summarize = std::function<void(const boost::json::object& answer, std::ostream& out)>;
Status print_answer(const Result<http::ApiResponse>& response, bool json,
                    const Summarize& summarize);

// Members of an origin's answer, for summaries: "?" / 0 when absent or of another type.
std::string json_text(const boost::json::object& o, std::string_view key);
int64_t json_int(const boost::json::object& o, std::string_view key);
// "3.0 MB", "512 B": sizes for people (powers of 1000, one decimal).
std::string format_size(uint64_t bytes);

// Reads DIR/secret.paserk, refusing a file that others can read.
Result<crypto::SecretKey> load_secret_key(const std::filesystem::path& dir);
// Reads a keyring JSON or a single k4.public key file.
Result<crypto::Keyring> load_keyring(const std::filesystem::path& path);

inline constexpr std::string_view secret_key_file = "secret.paserk";
inline constexpr std::string_view public_key_file = "public.paserk";

}  // namespace dg::cli
