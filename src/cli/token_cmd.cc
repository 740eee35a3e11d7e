// `dropgate token issue|verify`: PASETO v4.public tokens from the command line.
#include <iostream>
#include <iterator>
#include <memory>

#include "base/env.h"
#include "base/time.h"
#include "cli/commands.h"
#include "core/token.h"

namespace dg::cli {
namespace {

struct IssueOptions {
  std::string keys_dir;
  std::string purpose;
  std::string issuer = "dropgate";
  std::string drop;
  std::string account;
  uint32_t ttl_s = static_cast<uint32_t>(to_s(limits::download_token_ttl_default));
  int64_t manifest_version = 1;
  std::vector<std::string> assets;
  // cert
  uint32_t serial = 0;
  uint32_t edition_size = 0;
  std::string manifest_sha256;
  std::string license = "all-rights-reserved";
};

Status issue(const IssueOptions& o) {
  auto purpose = core::parse_purpose(o.purpose);
  if (!purpose) {
    return Status(Code::invalid_argument, "unknown purpose \"" + o.purpose +
                                              "\"; use download, cert, edge-grant or receipt");
  }
  if (*purpose == core::Purpose::edge_grant || *purpose == core::Purpose::receipt ||
      *purpose == core::Purpose::decline) {
    return Status(Code::invalid_argument,
                  "edge-grant tokens come from the origin when it approves an edge, and receipts "
                  "and declines from payment readers (`dropgate reader sign`, `dropgate reader "
                  "decline`); this command issues download and cert tokens");
  }
  auto key = load_secret_key(o.keys_dir);
  if (!key) return key.error();
  core::TokenSigner signer(std::move(*key), o.issuer);
  int64_t now_ms = system_clock().now_ms();
  Result<std::string> token;
  if (*purpose == core::Purpose::download) {
    core::DownloadFields fields{o.account, o.drop, o.manifest_version, o.assets};
    if (fields.assets.empty()) fields.assets.push_back("*");
    token = core::issue_download(signer, fields, now_ms, o.ttl_s);
  } else {
    core::CertFields fields{o.account, o.drop, o.serial, o.edition_size, o.manifest_sha256, {}};
    fields.rights.license = o.license;
    token = core::issue_cert(signer, fields, now_ms);
  }
  if (!token) return token.error();
  std::cout << *token << "\n";
  return Status();
}

struct VerifyOptions {
  std::string public_path;
  std::string purpose;
  std::string token;
  std::string issuer;
  int64_t leeway_s = to_s(limits::clock_skew_default);
  std::string at;
};

Result<std::string> verify_to_json(const crypto::Keyring& keyring, core::Purpose purpose,
                                   std::string_view token, const core::VerifyOptions& options) {
  auto render = [](auto result) -> Result<std::string> {
    if (!result) return error(result.error());
    return core::to_json(*result);
  };
  switch (purpose) {
    case core::Purpose::download:
      return render(core::verify_download(keyring, token, options));
    case core::Purpose::cert:
      return render(core::verify_cert(keyring, token, options));
    case core::Purpose::edge_grant:
      return render(core::verify_edge_grant(keyring, token, options));
    case core::Purpose::receipt:
      return render(core::verify_receipt(keyring, token, options));
    case core::Purpose::decline:
      return render(core::verify_decline(keyring, token, options));
  }
  return error(Code::invalid_argument, "unknown purpose");
}

Status verify(VerifyOptions o) {
  auto purpose = core::parse_purpose(o.purpose);
  if (!purpose) {
    return Status(Code::invalid_argument,
                  "unknown purpose \"" + o.purpose +
                      "\"; use download, cert, edge-grant, receipt or decline");
  }
  if (o.token == "-") {
    std::getline(std::cin, o.token);
  }
  auto keyring = load_keyring(o.public_path);
  if (!keyring) return keyring.error();
  core::VerifyOptions options{system_clock().now_ms(), std::chrono::seconds(o.leeway_s),
                              std::nullopt};
  if (!o.issuer.empty()) options.issuer = o.issuer;
  if (!o.at.empty()) {
    auto at = parse_rfc3339(o.at);
    if (!at) return at.error().with_context("--at");
    options.now_ms = *at;
  }
  auto json_text = verify_to_json(*keyring, *purpose, o.token, options);
  if (!json_text) return json_text.error().with_context("token refused");
  std::cout << *json_text << "\n";
  return Status();
}

}  // namespace

void add_token_commands(CLI::App& app, int& exit_code) {
  auto* token = app.add_subcommand("token", "Issue and verify PASETO v4.public tokens");
  token->require_subcommand(1);

  auto io = std::make_shared<IssueOptions>();
  auto* issue_cmd = token->add_subcommand("issue", "Sign a token and print it");
  issue_cmd->add_option("--keys", io->keys_dir, "Key folder made by `dropgate keys new`")
      ->required();
  issue_cmd->add_option("--purpose", io->purpose, "download or cert")->required();
  issue_cmd->add_option("--drop", io->drop, "Drop slug")->required();
  issue_cmd->add_option("--account", io->account, "Account (download) or owner (cert) id")
      ->required();
  issue_cmd->add_option("--ttl-s", io->ttl_s, "Lifetime of a download token in seconds")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, to_s(limits::download_token_ttl_max)));
  issue_cmd->add_option("--version", io->manifest_version, "Manifest version the token is for")
      ->capture_default_str();
  issue_cmd->add_option("--asset", io->assets, "Asset path allowed (repeatable; default: all)");
  issue_cmd->add_option("--issuer", io->issuer, "Value of the iss field")->capture_default_str();
  issue_cmd->add_option("--serial", io->serial, "cert: the serial owned");
  issue_cmd->add_option("--edition", io->edition_size, "cert: the edition size");
  issue_cmd->add_option("--manifest-sha256", io->manifest_sha256, "cert: SHA-256 of the manifest");
  issue_cmd->add_option("--license", io->license, "cert: licence identifier")
      ->capture_default_str();
  issue_cmd->callback([&exit_code, io] { exit_code = report(issue(*io)); });

  auto vo = std::make_shared<VerifyOptions>();
  auto* verify_cmd = token->add_subcommand(
      "verify", "Verify a token for one purpose; print its fields as JSON, or why it is refused");
  verify_cmd->add_option("TOKEN", vo->token, "The token, or - to read it from standard input")
      ->required();
  verify_cmd
      ->add_option("--public", vo->public_path,
                   "Public key (public.paserk) or keyring (keys.json) to trust")
      ->required();
  verify_cmd->add_option("--purpose", vo->purpose, "download, cert, edge-grant or receipt")
      ->required();
  verify_cmd->add_option("--issuer", vo->issuer, "Refuse tokens from any other issuer");
  verify_cmd->add_option("--leeway-s", vo->leeway_s, "Clock-skew allowance in seconds")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, to_s(limits::clock_skew_max)));
  verify_cmd->add_option("--at", vo->at, "Verify as of this RFC 3339 time instead of now");
  verify_cmd->callback([&exit_code, vo] { exit_code = report(verify(*vo)); });
}

}  // namespace dg::cli
