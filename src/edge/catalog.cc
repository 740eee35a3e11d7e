#include "edge/catalog.h"

#include <boost/json.hpp>

#include "base/encoding.h"
#include "base/env.h"
#include "base/file.h"
#include "base/json.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/time.h"
#include "crypto/minisign.h"

namespace dg::edge {
namespace {

std::filesystem::path drop_file(const EdgeConfig& c, std::string_view slug) {
  return c.drops_dir() / (std::string(slug) + ".json");
}

Status ensure_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status(Code::io_error, "cannot create " + dir.string() + ": " + ec.message());
  return Status();
}

}  // namespace

Result<Revocations> verify_revocations(const crypto::Keyring& keyring,
                                       std::string_view json_untrusted,
                                       std::string_view minisig_untrusted) {
  auto sig = crypto::minisign_parse_signature(minisig_untrusted);
  if (!sig) return error(sig.error().with_context("revocation list"));
  auto key = keyring.minisign_verification_key(sig->key_number);
  if (!key) return error(key.error().with_context("revocation list"));
  DG_RETURN_IF_ERROR_RESULT(crypto::minisign_verify(*key, *sig, as_bytes(json_untrusted))
                                .with_context("revocation list"));
  auto root = json::parse_object(json_untrusted, limits::edge_state_file_bytes_max);
  if (!root) return error(root.error().with_context("revocation list"));
  auto issued =
      json::get_string(*root, "issued_at", "revocation list", limits::timestamp_bytes_max);
  auto revoked = json::get_array(*root, "revoked", "revocation list", limits::revocations_max);
  if (!issued) return error(issued.error());
  if (!revoked) return error(revoked.error());
  auto issued_ms = parse_rfc3339(*issued);
  if (!issued_ms) return error(issued_ms.error());
  if (sig->trusted_comment_untrusted.find("issued_at=" + *issued) == std::string::npos) {
    return error(Code::unauthorized, "revocation list: trusted comment does not match the list");
  }
  Revocations out;
  out.issued_at_ms = *issued_ms;
  for (const auto& item : **revoked) {
    if (!item.is_object()) return error(Code::invalid_argument, "revocation list: bad entry");
    auto id = json::get_string(item.as_object(), "certificate_id", "revocation",
                               limits::identifier_bytes_max);
    if (!id) return error(id.error());
    out.certificate_ids.insert(*id);
  }
  return out;
}

Status Catalog::load() {
  for (const auto& dir :
       {config_.state_dir(), config_.drops_dir(), config_.blobs_dir(), config_.partial_dir()}) {
    DG_RETURN_IF_ERROR(ensure_dir(dir));
  }
  auto keyring = crypto::Keyring::load(config_.state_dir() / "keyring.json");
  if (!keyring) {
    if (keyring.error().code() == Code::not_found) return Status();  // not enrolled yet
    return keyring.error();
  }
  keyring_ = std::make_shared<crypto::Keyring>(std::move(*keyring));
  if (auto versions =
          read_file(config_.state_dir() / "versions.json", limits::edge_state_file_bytes_max)) {
    auto parsed = json::parse_object(*versions, limits::edge_state_file_bytes_max);
    if (!parsed) return parsed.error().with_context("versions.json");
    for (const auto& member : *parsed) {
      if (member.value().is_int64())
        versions_[std::string(member.key())] = member.value().as_int64();
    }
  }
  auto rev_json =
      read_file(config_.state_dir() / "revocations.json", limits::edge_state_file_bytes_max);
  auto rev_sig = read_file(config_.state_dir() / "revocations.json.minisig",
                           limits::minisign_sig_file_bytes_max);
  if (rev_json && rev_sig) {
    auto parsed = verify_revocations(*keyring_, *rev_json, *rev_sig);
    if (!parsed) return parsed.error();
    revocations_ = std::make_shared<Revocations>(std::move(*parsed));
  }
  if (auto token = read_file(config_.grant_file(), limits::edge_grant_file_bytes_max)) {
    while (!token->empty() && (token->back() == '\n')) token->pop_back();
    auto grant = core::verify_edge_grant(*keyring_, *token,
                                         {clock_.now_ms(), config_.clock_skew, config_.issuer});
    if (grant) {
      grant_ = std::make_shared<const core::VerifiedEdgeGrant>(std::move(*grant));
      grant_token_ = *token;
    } else {
      log::warn("stored grant refused", {{"error", grant.error().to_string()}});
    }
  }
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(config_.drops_dir(), ec)) {
    if (entry.path().extension() != ".json") continue;
    Status s = load_drop(entry.path());
    if (!s.ok())
      log::warn("not carrying a stored drop",
                {{"file", entry.path().string()}, {"error", s.to_string()}});
  }
  return Status();
}

Status Catalog::load_drop(const std::filesystem::path& file) {
  auto text = read_file(file, limits::edge_state_file_bytes_max);
  if (!text) return text.error();
  auto root = json::parse_object(*text, limits::edge_state_file_bytes_max);
  if (!root) return root.error();
  auto manifest = json::get_string(*root, "manifest", "drop state", limits::manifest_bytes_max);
  auto minisig =
      json::get_string(*root, "minisig", "drop state", limits::minisign_sig_file_bytes_max);
  auto crcs = json::get_object(*root, "crc32", "drop state");
  if (!manifest || !minisig || !crcs) return Status(Code::corruption, "drop state is incomplete");
  std::string slug = file.stem().string();
  core::ManifestExpectations expect{slug, version_seen(slug), clock_.now_ms(), config_.clock_skew};
  auto verified = core::verify_manifest(*keyring_, *manifest, *minisig, expect);
  if (!verified) return verified.error();
  auto drop = std::make_shared<CarriedDrop>();
  drop->manifest = std::move(verified->manifest);
  drop->manifest_json = std::move(*manifest);
  drop->manifest_minisig = std::move(*minisig);
  drop->manifest_sha256 = verified->sha256;
  for (const auto& member : **crcs) {
    if (member.value().is_int64()) {
      drop->crc32_by_sha256[std::string(member.key())] =
          static_cast<uint32_t>(member.value().as_int64());
    }
  }
  drop->switched_at_ms = root->contains("switched_at") && root->at("switched_at").is_int64()
                             ? root->at("switched_at").as_int64()
                             : 0;
  drops_[slug] = std::move(drop);
  return Status();
}

Catalog::Serving Catalog::serving(std::string_view slug) const {
  std::lock_guard lock(mutex_);
  auto it = drops_.find(slug);
  return Serving{grant_, keyring_, revocations_, it == drops_.end() ? nullptr : it->second};
}

std::shared_ptr<const crypto::Keyring> Catalog::keyring() const {
  std::lock_guard lock(mutex_);
  return keyring_;
}

std::shared_ptr<const Revocations> Catalog::revocations() const {
  std::lock_guard lock(mutex_);
  return revocations_;
}

std::shared_ptr<const CarriedDrop> Catalog::drop(std::string_view slug) const {
  std::lock_guard lock(mutex_);
  auto it = drops_.find(slug);
  return it == drops_.end() ? nullptr : it->second;
}

std::map<std::string, std::shared_ptr<const CarriedDrop>> Catalog::drops() const {
  std::lock_guard lock(mutex_);
  return {drops_.begin(), drops_.end()};
}

std::shared_ptr<const core::VerifiedEdgeGrant> Catalog::grant() const {
  std::lock_guard lock(mutex_);
  return grant_;
}

std::string Catalog::grant_token() const {
  std::lock_guard lock(mutex_);
  return grant_token_;
}

int64_t Catalog::version_seen(std::string_view slug) const {
  std::lock_guard lock(mutex_);
  auto it = versions_.find(slug);
  return it == versions_.end() ? 0 : it->second;
}

SyncHealth Catalog::health() const {
  std::lock_guard lock(mutex_);
  return health_;
}

void Catalog::set_health(SyncHealth health) {
  std::lock_guard lock(mutex_);
  health_ = std::move(health);
}

void Catalog::note_origin_heard(int64_t at_ms) {
  std::lock_guard lock(mutex_);
  health_.heard_at_ms = at_ms;
}

Status Catalog::set_keyring(const std::string& keyring_json) {
  auto parsed = crypto::Keyring::parse_json(keyring_json);
  if (!parsed) return parsed.error();
  DG_RETURN_IF_ERROR(
      write_file_atomic(config_.state_dir() / "keyring.json", keyring_json, 0644, Overwrite::yes));
  std::lock_guard lock(mutex_);
  keyring_ = std::make_shared<crypto::Keyring>(std::move(*parsed));
  return Status();
}

Status Catalog::set_revocations(const std::string& json, const std::string& minisig,
                                Revocations parsed) {
  DG_RETURN_IF_ERROR(
      write_file_atomic(config_.state_dir() / "revocations.json", json, 0644, Overwrite::yes));
  DG_RETURN_IF_ERROR(write_file_atomic(config_.state_dir() / "revocations.json.minisig", minisig,
                                       0644, Overwrite::yes));
  std::lock_guard lock(mutex_);
  revocations_ = std::make_shared<Revocations>(std::move(parsed));
  return Status();
}

Status Catalog::set_grant(const std::string& token, core::VerifiedEdgeGrant grant) {
  DG_RETURN_IF_ERROR(write_file_atomic(config_.grant_file(), token + "\n", 0600, Overwrite::yes));
  std::lock_guard lock(mutex_);
  grant_ = std::make_shared<const core::VerifiedEdgeGrant>(std::move(grant));
  grant_token_ = token;
  return Status();
}

void Catalog::clear_grant() {
  std::error_code ec;
  std::filesystem::remove(config_.grant_file(), ec);
  std::lock_guard lock(mutex_);
  grant_.reset();
  grant_token_.clear();
}

Status Catalog::save_versions_locked() {
  boost::json::object versions;
  for (const auto& [slug, version] : versions_) versions[slug] = version;
  return write_file_atomic(config_.state_dir() / "versions.json", boost::json::serialize(versions),
                           0644, Overwrite::yes);
}

Status Catalog::set_drop(const std::string& slug, std::shared_ptr<const CarriedDrop> drop) {
  boost::json::object crcs;
  for (const auto& [sha, crc] : drop->crc32_by_sha256) crcs[sha] = crc;
  boost::json::object state{{"manifest", drop->manifest_json},
                            {"minisig", drop->manifest_minisig},
                            {"crc32", std::move(crcs)},
                            {"switched_at", drop->switched_at_ms}};
  // The highest version is recorded before the drop file, so a crash between
  // the two can never let an older manifest back in.
  std::lock_guard lock(mutex_);
  int64_t& seen = versions_[slug];
  seen = std::max(seen, drop->manifest.version);
  DG_RETURN_IF_ERROR(save_versions_locked());
  DG_RETURN_IF_ERROR(write_file_atomic(drop_file(config_, slug), boost::json::serialize(state),
                                       0644, Overwrite::yes));
  drops_[slug] = std::move(drop);
  return Status();
}

Status Catalog::remove_drop(const std::string& slug) {
  std::error_code ec;
  std::filesystem::remove(drop_file(config_, slug), ec);
  std::lock_guard lock(mutex_);
  drops_.erase(slug);
  return Status();
}

}  // namespace dg::edge
