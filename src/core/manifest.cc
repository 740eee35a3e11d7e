#include "core/manifest.h"

#include <algorithm>
#include <boost/json.hpp>

#include "base/encoding.h"
#include "base/json.h"
#include "base/time.h"
#include "core/validate.h"
#include "crypto/jcs.h"
#include "crypto/minisign.h"
#include "crypto/sha256.h"

namespace dg::core {
namespace {

constexpr std::string_view kWhat = "manifest";

Status invalid(std::string message) {
  return Status(Code::invalid_argument, std::move(message));
}

bool is_sha256_hex(std::string_view text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

Status validate_asset(const Asset& asset) {
  DG_RETURN_IF_ERROR(validate_asset_path(asset.path).with_context(asset.path.substr(0, 64)));
  if (asset.size_bytes > limits::asset_size_bytes_max) {
    return Status(Code::too_large, asset.path + " is larger than the asset size limit");
  }
  if (!is_sha256_hex(asset.sha256))
    return invalid(asset.path + ": sha256 must be 64 lower-case hex digits");
  return validate_media_type(asset.media_type).with_context(asset.path);
}

Result<int64_t> get_time(const boost::json::object& object, std::string_view key) {
  auto text = json::get_string(object, key, kWhat, limits::timestamp_bytes_max);
  if (!text) return error(text.error());
  auto ms = parse_rfc3339(*text);
  if (!ms) return error(ms.error().with_context("manifest field \"" + std::string(key) + "\""));
  return ms;
}

Result<Asset> parse_asset(const boost::json::value& value) {
  if (!value.is_object()) return error(invalid("manifest assets must be objects"));
  const auto& object = value.as_object();
  DG_RETURN_IF_ERROR_RESULT(json::only_keys(object, {"path", "size", "sha256", "type"}, "asset"));
  auto path = json::get_string(object, "path", "asset", limits::asset_path_bytes_max);
  auto size =
      json::get_int(object, "size", "asset", 0, static_cast<int64_t>(limits::asset_size_bytes_max));
  auto sha = json::get_string(object, "sha256", "asset", limits::sha256_hex_bytes);
  auto type = json::get_string(object, "type", "asset", limits::media_type_bytes_max);
  if (!path) return error(path.error());
  if (!size) return error(size.error());
  if (!sha) return error(sha.error());
  if (!type) return error(type.error());
  Asset asset{std::move(*path), static_cast<uint64_t>(*size), std::move(*sha), std::move(*type)};
  DG_RETURN_IF_ERROR_RESULT(validate_asset(asset));
  return asset;
}

Result<SaleWindow> parse_window(const boost::json::object& root) {
  auto window = json::get_object(root, "window", kWhat);
  if (!window) return error(window.error());
  DG_RETURN_IF_ERROR_RESULT(
      json::only_keys(**window, {"opens_at", "closes_at"}, "manifest window"));
  auto opens = get_time(**window, "opens_at");
  if (!opens) return error(opens.error());
  SaleWindow out{*opens, std::nullopt};
  if ((*window)->contains("closes_at")) {
    auto closes = get_time(**window, "closes_at");
    if (!closes) return error(closes.error());
    out.closes_at_ms = *closes;
  }
  return out;
}

std::string trusted_comment(std::string_view drop, int64_t version, std::string_view key_id) {
  return "dropgate-manifest drop=" + std::string(drop) + " version=" + std::to_string(version) +
         " kid=" + std::string(key_id);
}

}  // namespace

Status validate_manifest(const Manifest& m) {
  DG_RETURN_IF_ERROR(validate_slug(m.drop));
  if (m.version < 1 || m.version > limits::manifest_version_max)
    return invalid("manifest version must be >= 1");
  if (m.expires_at_ms <= m.issued_at_ms) return invalid("manifest must expire after it is issued");
  if (m.edition_size < 1 || m.edition_size > limits::edition_size_max) {
    return invalid("edition size must be 1 to " + std::to_string(limits::edition_size_max));
  }
  if (m.window.closes_at_ms && *m.window.closes_at_ms <= m.window.opens_at_ms) {
    return invalid("sale window must close after it opens");
  }
  DG_RETURN_IF_ERROR(validate_rights(m.rights));
  if (m.assets.size() > limits::manifest_assets_max) {
    return Status(Code::too_large, "a manifest lists at most " +
                                       std::to_string(limits::manifest_assets_max) + " assets");
  }
  for (size_t i = 0; i < m.assets.size(); ++i) {
    DG_RETURN_IF_ERROR(validate_asset(m.assets[i]));
    if (i > 0 && !(m.assets[i - 1].path < m.assets[i].path)) {
      return invalid("manifest assets must be sorted by path, each path once (" + m.assets[i].path +
                     ")");
    }
  }
  return Status();
}

Result<std::string> manifest_to_json(const Manifest& m) {
  DG_RETURN_IF_ERROR_RESULT(validate_manifest(m));
  boost::json::array assets;
  for (const auto& a : m.assets) {
    assets.push_back(boost::json::object{
        {"path", a.path}, {"size", a.size_bytes}, {"sha256", a.sha256}, {"type", a.media_type}});
  }
  boost::json::object window{{"opens_at", format_rfc3339(m.window.opens_at_ms)}};
  if (m.window.closes_at_ms) window["closes_at"] = format_rfc3339(*m.window.closes_at_ms);
  boost::json::object root{{"format", manifest_format},
                           {"drop", m.drop},
                           {"version", m.version},
                           {"issued_at", format_rfc3339(m.issued_at_ms)},
                           {"expires_at", format_rfc3339(m.expires_at_ms)},
                           {"edition", m.edition_size},
                           {"window", std::move(window)},
                           {"rights", rights_to_json(m.rights)},
                           {"assets", std::move(assets)}};
  return crypto::jcs_canonicalize(root);
}

Result<Manifest> parse_manifest(std::string_view json_untrusted) {
  auto root = json::parse_object(json_untrusted, limits::manifest_bytes_max);
  if (!root) return error(root.error().with_context("manifest"));
  DG_RETURN_IF_ERROR_RESULT(json::only_keys(*root,
                                            {"format", "drop", "version", "issued_at", "expires_at",
                                             "edition", "window", "rights", "assets"},
                                            kWhat));
  auto format = json::get_int(*root, "format", kWhat, manifest_format, manifest_format);
  if (!format) return error(format.error());
  Manifest m;
  auto drop = json::get_string(*root, "drop", kWhat, limits::drop_slug_bytes_max);
  auto version = json::get_int(*root, "version", kWhat, 1, limits::manifest_version_max);
  auto issued = get_time(*root, "issued_at");
  auto expires = get_time(*root, "expires_at");
  auto edition = json::get_int(*root, "edition", kWhat, 1, limits::edition_size_max);
  auto window = parse_window(*root);
  auto rights_object = json::get_object(*root, "rights", kWhat);
  auto assets = json::get_array(*root, "assets", kWhat, limits::manifest_assets_max);
  if (!drop) return error(drop.error());
  if (!version) return error(version.error());
  if (!issued) return error(issued.error());
  if (!expires) return error(expires.error());
  if (!edition) return error(edition.error());
  if (!window) return error(window.error());
  if (!rights_object) return error(rights_object.error());
  if (!assets) return error(assets.error());
  auto rights = parse_rights(**rights_object);
  if (!rights) return error(rights.error());
  m.drop = std::move(*drop);
  m.version = *version;
  m.issued_at_ms = *issued;
  m.expires_at_ms = *expires;
  m.edition_size = static_cast<uint32_t>(*edition);
  m.window = *window;
  m.rights = std::move(*rights);
  for (const auto& item : **assets) {
    auto asset = parse_asset(item);
    if (!asset) return error(asset.error());
    m.assets.push_back(std::move(*asset));
  }
  DG_RETURN_IF_ERROR_RESULT(validate_manifest(m));
  return m;
}

std::string manifest_trusted_comment(const Manifest& manifest, std::string_view key_id) {
  return trusted_comment(manifest.drop, manifest.version, key_id);
}

Result<SignedManifest> sign_manifest(const Manifest& manifest, const crypto::SecretKey& key) {
  auto json_text = manifest_to_json(manifest);
  if (!json_text) return error(json_text.error());
  std::string key_id = key.public_key().key_id();
  auto sig = crypto::minisign_sign(
      key, as_bytes(*json_text), manifest_trusted_comment(manifest, key_id),
      "dropgate manifest, verify with: minisign -V -p drop.pub -m manifest.json");
  if (!sig) return error(sig.error());
  return SignedManifest{std::move(*json_text), std::move(*sig)};
}

Result<VerifiedManifest> verify_manifest(const crypto::Keyring& keyring,
                                         std::string_view json_untrusted,
                                         std::string_view minisig_untrusted,
                                         const ManifestExpectations& expect) {
  if (json_untrusted.size() > limits::manifest_bytes_max) {
    return error(Code::too_large, "manifest is larger than " +
                                      std::to_string(limits::manifest_bytes_max) + " bytes");
  }
  auto sig = crypto::minisign_parse_signature(minisig_untrusted);
  if (!sig) return error(sig.error());
  if (!sig->prehashed) {
    return error(Code::invalid_argument, "manifest signatures must be prehashed (minisign \"ED\")");
  }
  auto key = keyring.minisign_verification_key(sig->key_number);
  if (!key) return error(key.error());
  DG_RETURN_IF_ERROR_RESULT(crypto::minisign_verify(*key, *sig, as_bytes(json_untrusted)));

  auto manifest = parse_manifest(json_untrusted);
  if (!manifest) return error(manifest.error());
  std::string key_id = key->key.key_id();
  if (sig->trusted_comment_untrusted != manifest_trusted_comment(*manifest, key_id)) {
    return error(Code::unauthorized, "signature's trusted comment does not match the manifest");
  }
  if (manifest->drop != expect.drop) {
    return error(Code::forbidden,
                 "manifest is for drop \"" + manifest->drop + "\", not \"" + expect.drop + "\"");
  }
  if (manifest->version < expect.version_seen_max) {
    return error(Code::conflict, "manifest version " + std::to_string(manifest->version) +
                                     " is older than version " +
                                     std::to_string(expect.version_seen_max) +
                                     " already seen (rollback refused)");
  }
  const int64_t skew_ms = to_ms(std::clamp<std::chrono::milliseconds>(
      expect.clock_skew, std::chrono::milliseconds(0), limits::clock_skew_max));
  if (expect.now_ms > manifest->expires_at_ms + skew_ms) {
    return error(Code::unauthorized, "manifest expired at " +
                                         format_rfc3339(manifest->expires_at_ms) +
                                         "; the origin must publish a fresh one");
  }
  auto digest = crypto::sha256(as_bytes(json_untrusted));
  return VerifiedManifest{std::move(*manifest), hex_encode(digest), std::move(key_id)};
}

}  // namespace dg::core
