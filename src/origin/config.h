// Origin configuration: defaults, then a TOML file, then DROPGATE_* environment
// variables, then command-line flags (the CLI applies the last layer).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "base/limits.h"
#include "base/status.h"

namespace dg::origin {

struct OriginConfig {
  std::filesystem::path data_dir = "dropgate-data";
  std::string database;  // empty: SQLite at data_dir/dropgate.db; or postgresql://…
  std::string listen = "127.0.0.1:8080";
  std::string public_url;  // how buyers reach this origin; default http://<listen>
  std::string issuer = "dropgate";
  std::string instance;  // default: <hostname>:<port>
  uint32_t db_connections = 16;
  uint32_t handler_threads = 16;
  uint32_t io_threads = 0;
  // Durations: the file's keys name their unit (hold_ttl_s, manifest_ttl_days).
  std::chrono::seconds hold_ttl{600};
  std::chrono::seconds download_token_ttl = limits::download_token_ttl_default;
  std::chrono::seconds clock_skew = limits::clock_skew_default;
  // A lease is also at most 1/16 of the unleased stock (Seller), so this
  // bounds the leases of large editions only: one lease per thousand sales
  // keeps the drop's row, which every lease locks, out of a surge's way.
  uint32_t lease_serials_max = 1000;
  std::chrono::days manifest_ttl{30};
  uint32_t claim_batch_max = 256;
  uint64_t upload_bytes_max = 4ull << 30;
  // A pending enrolment expires after this.
  std::chrono::seconds edge_enrolment_ttl = limits::edge_enrolment_ttl_max;
  // Up to limits::holds_per_*_per_min_max; configuration may only lower them.
  uint32_t holds_per_account_per_min = limits::holds_per_account_per_min_max;
  uint32_t holds_per_address_per_min = limits::holds_per_address_per_min_max;
  // Online checkout (docs/config.md "Payments"). Checkout is on when
  // payment_secret_key is set; webhooks need webhook_secrets. Secrets are
  // never logged.
  std::string payment_api_base = "https://api.stripe.com";
  std::string payment_secret_key;
  std::string webhook_secrets;       // comma-separated: several during a rotation
  std::string checkout_success_url;  // default <public_url>/v1/orders/{ORDER_ID}
  std::string checkout_cancel_url;   // default the same
  // From limits::checkout_hold_ttl_min up to limits::hold_ttl_max.
  std::chrono::seconds checkout_hold_ttl = limits::checkout_hold_ttl_default;
  std::chrono::seconds webhook_tolerance = limits::webhook_tolerance_max;
  // Claim code redemptions, up to limits::code_redeems_per_*_per_min_max.
  uint32_t code_redeems_per_address_per_min = limits::code_redeems_per_address_per_min_max;
  uint32_t code_redeems_per_drop_per_min = limits::code_redeems_per_drop_per_min_max;
  std::string log_level = "info";
  // Lets /metrics be scraped from off this host with "Authorization: Bearer
  // <metrics_token>"; empty: loopback only (http/scrape.h).
  std::string metrics_token;

  std::filesystem::path database_path() const { return data_dir / "dropgate.db"; }
  std::filesystem::path keys_dir() const { return data_dir / "keys"; }
  std::filesystem::path blobs_dir() const { return data_dir / "blobs"; }
  std::string store_location() const {
    return database.empty() ? database_path().string() : database;
  }
};

// Reads a TOML file over `config` (missing keys keep their values; unknown keys are an error).
Status load_config_file(const std::filesystem::path& path, OriginConfig& config);
// Applies DROPGATE_DATA, DROPGATE_DATABASE, DROPGATE_LISTEN, DROPGATE_PUBLIC_URL,
// DROPGATE_ISSUER, DROPGATE_INSTANCE, DROPGATE_LOG_LEVEL, DROPGATE_PAYMENT_SECRET_KEY,
// DROPGATE_WEBHOOK_SECRETS, DROPGATE_PAYMENT_API_BASE.
Status apply_environment(OriginConfig& config);
// Fills derived defaults and checks ranges.
Status finish_config(OriginConfig& config);

// The webhook secrets of `webhook_secrets` (comma-separated, blanks trimmed).
std::vector<std::string> webhook_secret_list(const OriginConfig& config);

// "host:port" → parts; refuses anything else (http::parse_listen).
Result<std::pair<std::string, uint16_t>> parse_listen(std::string_view listen);

}  // namespace dg::origin
