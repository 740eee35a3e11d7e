#include "origin/config.h"

#include <unistd.h>

#include "base/limits.h"
#include "base/log.h"
#include "base/settings_file.h"
#include "base/time.h"
#include "http/http.h"

namespace dg::origin {

Status load_config_file(const std::filesystem::path& path, OriginConfig& c) {
  static constexpr std::string_view kKnown[] = {"data_dir",
                                                "database",
                                                "listen",
                                                "public_url",
                                                "issuer",
                                                "instance",
                                                "db_connections",
                                                "handler_threads",
                                                "io_threads",
                                                "hold_ttl_s",
                                                "download_token_ttl_s",
                                                "clock_skew_s",
                                                "lease_serials_max",
                                                "manifest_ttl_days",
                                                "claim_batch_max",
                                                "upload_bytes_max",
                                                "log_level",
                                                "edge_enrolment_ttl_s",
                                                "metrics_token",
                                                "holds_per_account_per_min",
                                                "holds_per_address_per_min"};
  auto file = SettingsFile::load(path, kKnown);
  if (!file) return file.error();
  DG_RETURN_IF_ERROR(file->read("data_dir", c.data_dir));
  DG_RETURN_IF_ERROR(file->read("database", c.database));
  DG_RETURN_IF_ERROR(file->read("listen", c.listen));
  DG_RETURN_IF_ERROR(file->read("public_url", c.public_url));
  DG_RETURN_IF_ERROR(file->read("issuer", c.issuer));
  DG_RETURN_IF_ERROR(file->read("instance", c.instance));
  DG_RETURN_IF_ERROR(file->read("log_level", c.log_level));
  DG_RETURN_IF_ERROR(file->read("metrics_token", c.metrics_token));
  DG_RETURN_IF_ERROR(file->read("db_connections", c.db_connections, limits::db_connections_max));
  DG_RETURN_IF_ERROR(file->read("handler_threads", c.handler_threads, limits::handler_threads_max));
  DG_RETURN_IF_ERROR(file->read("io_threads", c.io_threads, limits::io_threads_max));
  DG_RETURN_IF_ERROR(file->read("hold_ttl_s", c.hold_ttl, to_s(limits::hold_ttl_max)));
  DG_RETURN_IF_ERROR(file->read("download_token_ttl_s", c.download_token_ttl,
                                to_s(limits::download_token_ttl_max)));
  DG_RETURN_IF_ERROR(file->read("clock_skew_s", c.clock_skew, to_s(limits::clock_skew_max)));
  DG_RETURN_IF_ERROR(
      file->read("lease_serials_max", c.lease_serials_max, limits::lease_serials_max));
  DG_RETURN_IF_ERROR(
      file->read("manifest_ttl_days", c.manifest_ttl, limits::manifest_ttl_max.count()));
  DG_RETURN_IF_ERROR(
      file->read("claim_batch_max", c.claim_batch_max, limits::claim_batch_claims_max));
  DG_RETURN_IF_ERROR(file->read("upload_bytes_max", c.upload_bytes_max, limits::upload_bytes_max));
  DG_RETURN_IF_ERROR(file->read("edge_enrolment_ttl_s", c.edge_enrolment_ttl,
                                to_s(limits::edge_enrolment_ttl_max)));
  DG_RETURN_IF_ERROR(file->read("holds_per_account_per_min", c.holds_per_account_per_min,
                                limits::holds_per_account_per_min_max));
  DG_RETURN_IF_ERROR(file->read("holds_per_address_per_min", c.holds_per_address_per_min,
                                limits::holds_per_address_per_min_max));
  return Status();
}

Status apply_environment(OriginConfig& c) {
  if (auto v = env_value("DROPGATE_DATA")) c.data_dir = v;
  if (auto v = env_value("DROPGATE_DATABASE")) c.database = v;
  if (auto v = env_value("DROPGATE_LISTEN")) c.listen = v;
  if (auto v = env_value("DROPGATE_PUBLIC_URL")) c.public_url = v;
  if (auto v = env_value("DROPGATE_ISSUER")) c.issuer = v;
  if (auto v = env_value("DROPGATE_INSTANCE")) c.instance = v;
  if (auto v = env_value("DROPGATE_LOG_LEVEL")) c.log_level = v;
  return Status();
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
  if (c.download_token_ttl.count() == 0 || c.hold_ttl.count() == 0 || c.db_connections == 0 ||
      c.handler_threads == 0 || c.lease_serials_max == 0 || c.claim_batch_max == 0 ||
      c.edge_enrolment_ttl.count() == 0 || c.holds_per_account_per_min == 0 ||
      c.holds_per_address_per_min == 0) {
    return Status(Code::invalid_argument,
                  "config: lifetimes, pool sizes and batch sizes must be above zero");
  }
  if (!log::parse_level(c.log_level)) {
    return Status(Code::invalid_argument, "log_level must be debug, info, warn or error");
  }
  return Status();
}

}  // namespace dg::origin
