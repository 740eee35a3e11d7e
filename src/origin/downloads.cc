#include "origin/downloads.h"

#include <boost/json.hpp>

#include "base/problem_types.h"
#include "origin/events.h"

namespace dg::origin {

Downloads::Downloads(Parts parts)
    : parts_(parts),
      metrics_{
          parts.metrics.counter("dropgate_downloads_total", "Downloads by result.",
                                {{"result", "completed"}}),
          parts.metrics.counter("dropgate_downloads_total", "Downloads by result.",
                                {{"result", "failed"}}),
          parts.metrics.counter("dropgate_download_bytes_total", "Body bytes sent for downloads."),
      } {}

Result<Delivery> Downloads::resolve_download(std::string_view slug, std::string_view path,
                                             std::string_view token_untrusted) {
  if (token_untrusted.empty()) {
    return error(problem::token_required, "pass ?token=… or Authorization: Bearer …");
  }
  core::VerifyOptions options{parts_.clock.now_ms(), parts_.config.clock_skew,
                              parts_.config.issuer};
  auto token = core::verify_download(parts_.keyring, token_untrusted, options);
  if (!token) return error(problem::token_refused, token.error().message());
  if (token->fields.drop != slug) {
    return error(problem::token_wrong_drop, "this token is for \"" + token->fields.drop + "\"");
  }
  auto cached = parts_.catalog.load_drop(slug);
  if (!cached) return std::unexpected(cached.error());
  // A token is for one manifest version (docs/formats/tokens.md): after a new
  // publish its files may have changed, so the buyer asks for a fresh link; a
  // version that does not exist yet was never issued by this origin.
  int64_t token_version = token->fields.manifest_version;
  int64_t current_version = cached->drop.manifest_version;
  if (token_version < current_version) {
    return error(problem::token_stale, "this link is for version " + std::to_string(token_version) +
                                           " of the drop, but version " +
                                           std::to_string(current_version) +
                                           " is current; ask for a fresh link");
  }
  if (token_version > current_version) {
    return error(problem::token_refused, "this token is for version " +
                                             std::to_string(token_version) +
                                             " of the drop, but version " +
                                             std::to_string(current_version) + " is the latest");
  }
  if (!token->fields.cert_id.empty()) {
    // The same rule an edge applies with its synced list: a revoked claim downloads nothing.
    if (parts_.certificates.is_revoked(token->fields.cert_id)) {
      return error(problem::certificate_revoked, "the certificate behind this token was revoked");
    }
  }
  if (!token->allows(path)) {
    return error(problem::token_wrong_asset, std::string(path));
  }
  if (!cached->manifest) return error(problem::not_found, "no such file");
  // The manifest's path list is the only way from a name to a file.
  for (const auto& asset : cached->manifest->assets) {
    if (asset.path != path) continue;
    return Delivery{parts_.blobs.path_of(asset.sha256), asset, token->fields.account,
                    token->common.token_id, cached->drop.id};
  }
  return error(problem::not_found, "this drop has no file \"" + std::string(path) + "\"");
}

void Downloads::record_download_started(const Delivery& d, uint64_t offset_bytes) {
  boost::json::object detail{{"path", d.asset.path}, {"offset", offset_bytes}, {"jti", d.token_id}};
  note_events(parts_.store, {{"download.started", d.drop_id, std::nullopt, d.account,
                              boost::json::serialize(detail), parts_.clock.now_ms(), ""}});
}

void Downloads::record_download(const Delivery& d, bool complete, bool reaches_end,
                                uint64_t bytes_sent) {
  if (complete && reaches_end) metrics_.downloads_completed.inc();
  if (!complete) metrics_.downloads_failed.inc();
  metrics_.download_bytes.inc(bytes_sent);
  boost::json::object detail{{"path", d.asset.path}, {"bytes", bytes_sent}, {"jti", d.token_id}};
  std::string kind = !complete     ? "download.failed"
                     : reaches_end ? "download.completed"
                                   : "download.partial";
  note_events(parts_.store, {{kind, d.drop_id, std::nullopt, d.account,
                              boost::json::serialize(detail), parts_.clock.now_ms(), ""}});
}

}  // namespace dg::origin
