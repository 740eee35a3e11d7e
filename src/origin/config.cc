#include "origin/config.h"

#include <unistd.h>

#include "base/limits.h"
#include "base/log.h"
#include "base/settings_file.h"
#include "http/http.h"
#include "origin/config_table.h"

namespace dg::origin {

namespace {

using S = Setting<OriginConfig>;
using C = OriginConfig;

constexpr S kSettings[] = {
    {"data_dir", &C::data_dir},
    {"database", &C::database},
    {"listen", &C::listen},
    {"public_url", &C::public_url},
    {"issuer", &C::issuer},
    {"instance", &C::instance},
    {"log_level", &C::log_level},
    {"metrics_token", &C::metrics_token},
    {"payment_api_base", &C::payment_api_base},
    {"payment_secret_key", &C::payment_secret_key},
    {"webhook_secrets", &C::webhook_secrets},
    {"checkout_success_url", &C::checkout_success_url},
    {"checkout_cancel_url", &C::checkout_cancel_url},
    {"db_connections", &C::db_connections, limits::db_connections_max},
    {"handler_threads", &C::handler_threads, limits::handler_threads_max},
    {"io_threads", &C::io_threads, limits::io_threads_max},
    {"hold_ttl_s", &C::hold_ttl, limits::hold_ttl_max},
    {"download_token_ttl_s", &C::download_token_ttl, limits::download_token_ttl_max},
    {"clock_skew_s", &C::clock_skew, limits::clock_skew_max},
    {"lease_serials_max", &C::lease_serials_max, limits::lease_serials_max},
    {"manifest_ttl_days", &C::manifest_ttl, limits::manifest_ttl_max},
    {"claim_batch_max", &C::claim_batch_max, limits::claim_batch_claims_max},
    {"upload_bytes_max", &C::upload_bytes_max, limits::upload_bytes_max},
    {"edge_enrolment_ttl_s", &C::edge_enrolment_ttl, limits::edge_enrolment_ttl_max},
    {"holds_per_account_per_min", &C::holds_per_account_per_min,
     limits::holds_per_account_per_min_max},
    {"holds_per_address_per_min", &C::holds_per_address_per_min,
     limits::holds_per_address_per_min_max},
    {"checkout_hold_ttl_s", &C::checkout_hold_ttl, limits::hold_ttl_max},
    {"webhook_tolerance_s", &C::webhook_tolerance, limits::webhook_tolerance_max},
    {"code_redeems_per_address_per_min", &C::code_redeems_per_address_per_min,
     limits::code_redeems_per_address_per_min_max},
    {"code_redeems_per_drop_per_min", &C::code_redeems_per_drop_per_min,
     limits::code_redeems_per_drop_per_min_max},
};

// The ceiling the table gives `key` (none: the highest value, failing below).
constexpr uint64_t ceiling_of(std::string_view key) {
  for (const S& setting : kSettings) {
    if (setting.key == key) return setting.ceiling;
  }
  return UINT64_MAX;
}

// A configured value the store would turn down fails every call that uses it.
static_assert(ceiling_of("db_connections") <= limits::store_connections_max);
static_assert(ceiling_of("lease_serials_max") <= limits::lease_serials_max);
static_assert(ceiling_of("claim_batch_max") <= limits::claims_batch_count_max);
static_assert(ceiling_of("upload_bytes_max") <= limits::asset_size_bytes_max);

// The checkout settings: a hold that outlives the provider's shortest
// session, URLs of bounded length, a bounded number of webhook secrets. The
// messages never quote a secret.
Status check_payment_settings(const OriginConfig& c) {
  if (c.checkout_hold_ttl < limits::checkout_hold_ttl_min) {
    return Status(Code::invalid_argument,
                  "checkout_hold_ttl_s must be at least " +
                      std::to_string(limits::checkout_hold_ttl_min.count()) +
                      " (the payment provider keeps a checkout open at least 30 minutes)");
  }
  for (const std::string* url :
       {&c.payment_api_base, &c.checkout_success_url, &c.checkout_cancel_url}) {
    if (url->size() > limits::payment_url_bytes_max)
      return Status(
          Code::invalid_argument,
          "payment URLs: at most " + std::to_string(limits::payment_url_bytes_max) + " characters");
  }
  if (c.payment_secret_key.size() > limits::payment_secret_bytes_max ||
      c.webhook_secrets.size() > limits::payment_secret_bytes_max * limits::webhook_secrets_max)
    return Status(Code::invalid_argument, "payment_secret_key or webhook_secrets is too long");
  if (webhook_secret_list(c).size() > limits::webhook_secrets_max)
    return Status(
        Code::invalid_argument,
        "webhook_secrets: at most " + std::to_string(limits::webhook_secrets_max) + " secrets");
  return Status();
}

}  // namespace

std::span<const Setting<OriginConfig>> origin_settings() {
  return kSettings;
}

Status load_config_file(const std::filesystem::path& path, OriginConfig& c) {
  return load_settings<OriginConfig>(path, kSettings, c);
}

Status apply_environment(OriginConfig& c) {
  if (auto v = env_value("DROPGATE_DATA")) c.data_dir = v;
  if (auto v = env_value("DROPGATE_DATABASE")) c.database = v;
  if (auto v = env_value("DROPGATE_LISTEN")) c.listen = v;
  if (auto v = env_value("DROPGATE_PUBLIC_URL")) c.public_url = v;
  if (auto v = env_value("DROPGATE_ISSUER")) c.issuer = v;
  if (auto v = env_value("DROPGATE_INSTANCE")) c.instance = v;
  if (auto v = env_value("DROPGATE_LOG_LEVEL")) c.log_level = v;
  if (auto v = env_value("DROPGATE_PAYMENT_API_BASE")) c.payment_api_base = v;
  if (auto v = env_value("DROPGATE_PAYMENT_SECRET_KEY")) c.payment_secret_key = v;
  if (auto v = env_value("DROPGATE_WEBHOOK_SECRETS")) c.webhook_secrets = v;
  return Status();
}

std::vector<std::string> webhook_secret_list(const OriginConfig& c) {
  std::vector<std::string> out;
  std::string_view rest = c.webhook_secrets;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
  }
  return out;
}

Result<std::pair<std::string, uint16_t>> parse_listen(std::string_view listen) {
  return http::parse_listen(listen);
}

Status finish_config(OriginConfig& c) {
  auto listen = parse_listen(c.listen);
  if (!listen) return listen.error();
  if (c.public_url.empty()) c.public_url = "http://" + c.listen;
  while (c.public_url.ends_with('/')) c.public_url.pop_back();
  if (c.instance.empty()) {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    c.instance = std::string(host) + ":" + std::to_string(listen->second);
  }
  DG_RETURN_IF_ERROR(check_settings<OriginConfig>(kSettings, c));
  if (c.download_token_ttl.count() == 0 || c.hold_ttl.count() == 0 || c.db_connections == 0 ||
      c.handler_threads == 0 || c.lease_serials_max == 0 || c.claim_batch_max == 0 ||
      c.edge_enrolment_ttl.count() == 0 || c.holds_per_account_per_min == 0 ||
      c.holds_per_address_per_min == 0 || c.code_redeems_per_address_per_min == 0 ||
      c.code_redeems_per_drop_per_min == 0) {
    return Status(Code::invalid_argument,
                  "config: lifetimes, pool sizes and batch sizes must be above zero");
  }
  DG_RETURN_IF_ERROR(check_payment_settings(c));
  if (!log::parse_level(c.log_level)) {
    return Status(Code::invalid_argument, "log_level must be debug, info, warn or error");
  }
  return Status();
}

}  // namespace dg::origin
