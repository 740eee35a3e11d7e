#include "core/token.h"

#include <algorithm>
#include <array>
#include <boost/json.hpp>

#include "base/encoding.h"
#include "base/json.h"
#include "base/time.h"
#include "core/validate.h"
#include "crypto/paseto.h"

namespace dg::core {
namespace {

// Tokens bind no implicit assertion, so any PASETO v4 library can verify them
// with the public key alone (see docs/formats/tokens.md).
constexpr std::string_view kImplicitAssertion = "";
constexpr std::array<std::string_view, 6> kCommonKeys = {"typ", "iss", "iat", "exp", "nbf", "jti"};

Status refused(Code code, std::string message) {
  return Status(code, std::move(message));
}

std::string seconds_text(int64_t ms) {
  return std::to_string(ms / 1000) + " s";
}

// Checks the payload has only the common keys plus `purpose_keys`.
Status only_keys(const boost::json::object& payload,
                 std::initializer_list<std::string_view> purpose_keys) {
  for (const auto& member : payload) {
    auto key = member.key();
    bool known = std::find(kCommonKeys.begin(), kCommonKeys.end(), key) != kCommonKeys.end() ||
                 std::find(purpose_keys.begin(), purpose_keys.end(), key) != purpose_keys.end();
    if (!known)
      return refused(Code::invalid_argument,
                     "token has an unknown field \"" + std::string(key) + "\"");
  }
  return Status();
}

Result<std::string> sign(const TokenSigner& signer, Purpose purpose, boost::json::object fields,
                         int64_t now_ms, std::optional<int64_t> expires_at_ms,
                         std::string* token_id = nullptr, std::string_view given_id = {}) {
  fields["typ"] = purpose_name(purpose);
  fields["iss"] = signer.issuer();
  fields["iat"] = format_rfc3339(now_ms);
  if (expires_at_ms) fields["exp"] = format_rfc3339(*expires_at_ms);
  std::string jti = given_id.empty() ? crypto::random_id() : std::string(given_id);
  fields["jti"] = jti;
  if (token_id) *token_id = jti;
  std::string payload = boost::json::serialize(fields);
  if (payload.size() > limits::token_payload_bytes_max) {
    return error(Code::too_large, "token payload would be larger than " +
                                      std::to_string(limits::token_payload_bytes_max) + " bytes");
  }
  std::string footer = boost::json::serialize(boost::json::object{{"kid", signer.key_id()}});
  return crypto::paseto_v4_public_sign(signer.key(), payload, footer, kImplicitAssertion);
}

Result<std::optional<int64_t>> optional_time(const boost::json::object& payload,
                                             std::string_view key) {
  auto text = json::get_optional_string_view(payload, key, "token", limits::timestamp_bytes_max);
  if (!text) return error(text.error());
  if (!*text) return std::optional<int64_t>();
  auto ms = parse_rfc3339(**text);
  if (!ms) return error(ms.error().with_context("token field \"" + std::string(key) + "\""));
  return std::optional<int64_t>(*ms);
}

Status check_times(const TokenCommon& common, const VerifyOptions& options) {
  const int64_t skew_ms = to_ms(std::clamp<std::chrono::milliseconds>(
      options.clock_skew, std::chrono::milliseconds(0), limits::clock_skew_max));
  // Written only for a refusal: a valid token costs no strings here.
  auto allowance = [&] { return " (clocks may differ by up to " + seconds_text(skew_ms) + ")"; };
  if (common.expires_at_ms && options.now_ms > *common.expires_at_ms + skew_ms) {
    return refused(Code::unauthorized,
                   "token expired at " + format_rfc3339(*common.expires_at_ms) + ", " +
                       seconds_text(options.now_ms - *common.expires_at_ms) + " ago" + allowance());
  }
  if (common.not_before_ms && options.now_ms + skew_ms < *common.not_before_ms) {
    return refused(Code::unauthorized, "token is not valid before " +
                                           format_rfc3339(*common.not_before_ms) + allowance());
  }
  if (common.issued_at_ms > options.now_ms + skew_ms) {
    return refused(Code::unauthorized, "token was issued in the future, at " +
                                           format_rfc3339(common.issued_at_ms) +
                                           "; check this machine's clock" + allowance());
  }
  return Status();
}

// The footer's key id, signature not checked.
Result<std::string> footer_key_id(const crypto::PasetoParsed& parsed) {
  if (parsed.footer_untrusted.empty()) {
    return error(Code::invalid_argument, "token has no footer with a key id");
  }
  // The footer dies with this frame: its memory is on the stack.
  std::array<unsigned char, 512> footer_memory;
  boost::json::monotonic_resource footer_resource(footer_memory.data(), footer_memory.size());
  auto footer =
      json::parse_object(parsed.footer_untrusted, limits::token_footer_bytes_max, &footer_resource);
  if (!footer) return error(footer.error().with_context("token footer"));
  DG_RETURN_IF_ERROR_RESULT(json::only_keys(*footer, {"kid"}, "token footer"));
  auto kid = json::get_string(*footer, "kid", "token footer", limits::identifier_bytes_max);
  if (!kid) return error(kid.error());
  return std::string(*kid);
}

struct Opened {
  boost::json::object payload;
  TokenCommon common;
};

// Finds the key, checks the signature, then the purpose and the times. Nothing
// from the token is looked at beyond the footer's key id before the signature holds.
// The payload's memory comes from `payload_storage` (see json::parse).
Result<Opened> open(const crypto::Keyring& keyring, std::string_view token_untrusted,
                    Purpose purpose, const VerifyOptions& options,
                    boost::json::storage_ptr payload_storage = {}) {
  auto parsed = crypto::paseto_v4_public_parse(token_untrusted);
  if (!parsed) return error(parsed.error());
  auto kid = footer_key_id(*parsed);
  if (!kid) return error(kid.error());
  auto key = keyring.verification_key(*kid);
  if (!key) return error(key.error());
  DG_RETURN_IF_ERROR_RESULT(crypto::paseto_v4_public_check(**key, *parsed, kImplicitAssertion));

  auto payload = json::parse_object(parsed->payload_untrusted, limits::token_payload_bytes_max,
                                    std::move(payload_storage));
  if (!payload) return error(payload.error().with_context("token payload"));
  Opened opened{std::move(*payload), {}};  // moved, so it keeps the payload's storage
  auto typ = json::get_string(opened.payload, "typ", "token", 32);
  if (!typ) return error(typ.error());
  if (*typ != purpose_name(purpose)) {
    return error(Code::forbidden, "this is a \"" + typ->substr(0, 32) + "\" token; a \"" +
                                      std::string(purpose_name(purpose)) + "\" token is needed");
  }
  TokenCommon& common = opened.common;
  common.key_id = std::move(*kid);
  auto iss = json::get_string(opened.payload, "iss", "token", limits::identifier_bytes_max);
  auto jti = json::get_string(opened.payload, "jti", "token", limits::identifier_bytes_max);
  auto iat = optional_time(opened.payload, "iat");
  auto exp = optional_time(opened.payload, "exp");
  auto nbf = optional_time(opened.payload, "nbf");
  for (const Status* s :
       {iss ? nullptr : &iss.error(), jti ? nullptr : &jti.error(), iat ? nullptr : &iat.error(),
        exp ? nullptr : &exp.error(), nbf ? nullptr : &nbf.error()}) {
    if (s) return error(*s);
  }
  if (!*iat) return error(Code::invalid_argument, "token has no \"iat\"");
  if (!*exp && purpose != Purpose::cert)
    return error(Code::invalid_argument, "token has no \"exp\"");
  common.issuer = std::move(*iss);
  common.token_id = std::move(*jti);
  common.issued_at_ms = **iat;
  common.expires_at_ms = *exp;
  common.not_before_ms = *nbf;
  if (options.issuer && common.issuer != *options.issuer) {
    return error(Code::forbidden, "token was issued by \"" + common.issuer + "\", not by \"" +
                                      *options.issuer + "\"");
  }
  if (options.check_times) DG_RETURN_IF_ERROR_RESULT(check_times(common, options));
  return opened;
}

Result<std::string> get_id(const boost::json::object& payload, std::string_view key,
                           std::string_view what) {
  auto value = json::get_string(payload, key, "token", limits::identifier_bytes_max);
  if (!value) return value;
  DG_RETURN_IF_ERROR_RESULT(validate_identifier(*value, what));
  return value;
}

Result<std::string> get_slug(const boost::json::object& payload, std::string_view key) {
  auto value = json::get_string(payload, key, "token", limits::drop_slug_bytes_max);
  if (!value) return value;
  DG_RETURN_IF_ERROR_RESULT(validate_slug(*value));
  return value;
}

boost::json::object common_json(const TokenCommon& common, Purpose purpose) {
  boost::json::object out{{"typ", purpose_name(purpose)},
                          {"iss", common.issuer},
                          {"kid", common.key_id},
                          {"jti", common.token_id},
                          {"iat", format_rfc3339(common.issued_at_ms)}};
  if (common.expires_at_ms) out["exp"] = format_rfc3339(*common.expires_at_ms);
  if (common.not_before_ms) out["nbf"] = format_rfc3339(*common.not_before_ms);
  return out;
}

Status check_ttl(uint32_t ttl_s, std::chrono::seconds ttl_max) {
  if (ttl_s == 0 || std::chrono::seconds(ttl_s) > ttl_max) {
    return Status(Code::invalid_argument,
                  "token lifetime must be 1 to " + std::to_string(to_s(ttl_max)) + " seconds");
  }
  return Status();
}

}  // namespace

std::string_view purpose_name(Purpose purpose) {
  switch (purpose) {
    case Purpose::download:
      return "download";
    case Purpose::cert:
      return "cert";
    case Purpose::edge_grant:
      return "edge-grant";
    case Purpose::receipt:
      return "receipt";
    case Purpose::decline:
      return "decline";
  }
  return "unknown";
}

std::optional<Purpose> parse_purpose(std::string_view name_untrusted) {
  for (Purpose p : {Purpose::download, Purpose::cert, Purpose::edge_grant, Purpose::receipt,
                    Purpose::decline}) {
    if (purpose_name(p) == name_untrusted) return p;
  }
  return std::nullopt;
}

TokenSigner::TokenSigner(crypto::SecretKey key, std::string issuer)
    : key_(std::move(key)), key_id_(key_.public_key().key_id()), issuer_(std::move(issuer)) {}

// ---------------------------------------------------------------- download

bool VerifiedDownload::allows(std::string_view path) const {
  for (const auto& asset : fields.assets) {
    if (asset == "*" || asset == path) return true;
  }
  return false;
}

Result<std::string> issue_download(const TokenSigner& signer, const DownloadFields& fields,
                                   int64_t now_ms, uint32_t ttl_s, std::string* token_id,
                                   std::string_view given_id) {
  DG_RETURN_IF_ERROR_RESULT(check_ttl(ttl_s, limits::download_token_ttl_max));
  DG_RETURN_IF_ERROR_RESULT(validate_identifier(fields.account, "account"));
  DG_RETURN_IF_ERROR_RESULT(validate_slug(fields.drop));
  if (fields.assets.empty() || fields.assets.size() > limits::token_assets_count_max) {
    return error(Code::invalid_argument, "a download token names 1 to " +
                                             std::to_string(limits::token_assets_count_max) +
                                             " assets (or \"*\")");
  }
  for (const auto& asset : fields.assets) {
    if (asset != "*") DG_RETURN_IF_ERROR_RESULT(validate_asset_path(asset));
  }
  boost::json::object payload{
      {"sub", fields.account},
      {"drop", fields.drop},
      {"ver", fields.manifest_version},
      {"assets", boost::json::array(fields.assets.begin(), fields.assets.end())}};
  if (!fields.cert_id.empty()) {
    DG_RETURN_IF_ERROR_RESULT(validate_identifier(fields.cert_id, "certificate id"));
    payload["cert"] = fields.cert_id;
  }
  if (!given_id.empty()) DG_RETURN_IF_ERROR_RESULT(validate_identifier(given_id, "token id"));
  return sign(signer, Purpose::download, std::move(payload), now_ms, now_ms + int64_t{ttl_s} * 1000,
              token_id, given_id);
}

Result<VerifiedDownload> verify_download(const crypto::Keyring& keyring,
                                         std::string_view token_untrusted,
                                         const VerifyOptions& options) {
  // The payload is read into the token's fields and dropped: its memory is
  // on the stack (a token's payload is at most a few hundred bytes; more
  // comes from the heap).
  std::array<unsigned char, 2048> payload_memory;
  boost::json::monotonic_resource payload_resource(payload_memory.data(), payload_memory.size());
  auto opened = open(keyring, token_untrusted, Purpose::download, options, &payload_resource);
  if (!opened) return error(opened.error());
  const auto& payload = opened->payload;
  DG_RETURN_IF_ERROR_RESULT(only_keys(payload, {"sub", "drop", "ver", "assets", "cert"}));
  VerifiedDownload token{std::move(opened->common), {}};
  auto account = get_id(payload, "sub", "account");
  auto drop = get_slug(payload, "drop");
  auto version = json::get_int(payload, "ver", "token", 0, INT64_MAX);
  auto assets = json::get_array(payload, "assets", "token", limits::token_assets_count_max);
  if (!account) return error(account.error());
  if (!drop) return error(drop.error());
  if (!version) return error(version.error());
  if (!assets) return error(assets.error());
  token.fields.assets.reserve((*assets)->size());
  for (const auto& item : **assets) {
    if (!item.is_string()) return error(Code::invalid_argument, "token assets must be strings");
    std::string path(item.as_string());
    if (path != "*") DG_RETURN_IF_ERROR_RESULT(validate_asset_path(path));
    token.fields.assets.push_back(std::move(path));
  }
  if (token.fields.assets.empty()) return error(Code::invalid_argument, "token names no assets");
  token.fields.account = std::move(*account);
  token.fields.drop = std::move(*drop);
  token.fields.manifest_version = *version;
  if (payload.contains("cert")) {
    auto cert = get_id(payload, "cert", "certificate id");
    if (!cert) return error(cert.error());
    token.fields.cert_id = std::move(*cert);
  }
  return token;
}

std::string to_json(const VerifiedDownload& token) {
  auto out = common_json(token.common, Purpose::download);
  out["sub"] = token.fields.account;
  out["drop"] = token.fields.drop;
  out["ver"] = token.fields.manifest_version;
  out["assets"] = boost::json::array(token.fields.assets.begin(), token.fields.assets.end());
  if (!token.fields.cert_id.empty()) out["cert"] = token.fields.cert_id;
  return boost::json::serialize(out);
}

// ---------------------------------------------------------------- owner ids

OwnerSecret OwnerSecret::generate() {
  auto bytes = std::make_unique<Bytes>();
  crypto::random_bytes(bytes->value);
  return OwnerSecret(std::move(bytes));
}

Result<OwnerSecret> OwnerSecret::from_text(std::string_view text_untrusted) {
  auto decoded = base64url_decode(text_untrusted);
  if (!decoded || decoded->size() != owner_secret_bytes) {
    if (decoded) crypto::wipe(*decoded);
    return error(Code::invalid_argument, "an owner-id secret is base64url of " +
                                             std::to_string(owner_secret_bytes) + " bytes");
  }
  auto bytes = std::make_unique<Bytes>();
  std::copy(decoded->begin(), decoded->end(), bytes->value.begin());
  crypto::wipe(*decoded);
  return OwnerSecret(std::move(bytes));
}

std::string OwnerSecret::to_text() const {
  return base64url_encode(bytes_->value);
}

OwnerSecret::~OwnerSecret() {
  if (bytes_) crypto::wipe(bytes_->value);
}

std::string owner_id(const OwnerSecret& secret, std::string_view drop, std::string_view account) {
  std::string message = "dropgate-owner-v1";
  for (std::string_view part : {drop, account}) {
    auto size = static_cast<uint32_t>(part.size());
    for (int shift = 24; shift >= 0; shift -= 8)
      message.push_back(static_cast<char>((size >> shift) & 0xFF));
    message.append(part);
  }
  std::array<uint8_t, owner_id_hash_bytes> hash;
  crypto::blake2b_keyed(hash, secret.bytes(), as_bytes(message));
  return std::string(owner_id_prefix) + base64url_encode(hash);
}

// ---------------------------------------------------------------- cert

Result<std::string> issue_cert(const TokenSigner& signer, const CertFields& fields, int64_t now_ms,
                               std::string* token_id) {
  DG_RETURN_IF_ERROR_RESULT(validate_identifier(fields.owner, "owner"));
  DG_RETURN_IF_ERROR_RESULT(validate_slug(fields.drop));
  DG_RETURN_IF_ERROR_RESULT(validate_rights(fields.rights));
  if (fields.serial == 0 || fields.serial > fields.edition_size ||
      fields.edition_size > limits::edition_size_max) {
    return error(Code::invalid_argument, "serial must be in 1..edition size");
  }
  boost::json::object payload{{"sub", fields.owner},
                              {"drop", fields.drop},
                              {"serial", fields.serial},
                              {"edition", fields.edition_size},
                              {"manifest", fields.manifest_sha256},
                              {"rights", rights_to_json(fields.rights)}};
  if (!fields.grant_id.empty()) {
    DG_RETURN_IF_ERROR_RESULT(validate_identifier(fields.grant_id, "grant id"));
    payload["grant"] = fields.grant_id;
  }
  return sign(signer, Purpose::cert, std::move(payload), now_ms, std::nullopt, token_id);
}

Result<VerifiedCert> verify_cert(const crypto::Keyring& keyring, std::string_view token_untrusted,
                                 const VerifyOptions& options) {
  auto opened = open(keyring, token_untrusted, Purpose::cert, options);
  if (!opened) return error(opened.error());
  const auto& payload = opened->payload;
  DG_RETURN_IF_ERROR_RESULT(
      only_keys(payload, {"sub", "drop", "serial", "edition", "manifest", "rights", "grant"}));
  VerifiedCert token{std::move(opened->common), {}};
  auto owner = get_id(payload, "sub", "owner");
  auto drop = get_slug(payload, "drop");
  auto edition = json::get_int(payload, "edition", "token", 1, limits::edition_size_max);
  auto serial = json::get_int(payload, "serial", "token", 1, limits::edition_size_max);
  auto manifest = json::get_string(payload, "manifest", "token", limits::sha256_hex_bytes);
  auto rights_object = json::get_object(payload, "rights", "token");
  if (!owner) return error(owner.error());
  if (!drop) return error(drop.error());
  if (!edition) return error(edition.error());
  if (!serial) return error(serial.error());
  if (!manifest) return error(manifest.error());
  if (!rights_object) return error(rights_object.error());
  if (*serial > *edition) return error(Code::invalid_argument, "token serial exceeds its edition");
  auto rights = parse_rights(**rights_object);
  if (!rights) return error(rights.error());
  token.fields = {std::move(*owner),
                  std::move(*drop),
                  static_cast<uint32_t>(*serial),
                  static_cast<uint32_t>(*edition),
                  std::move(*manifest),
                  std::move(*rights),
                  {}};
  if (payload.contains("grant")) {
    auto grant = get_id(payload, "grant", "grant id");
    if (!grant) return error(grant.error());
    token.fields.grant_id = std::move(*grant);
  }
  return token;
}

std::string to_json(const VerifiedCert& token) {
  auto out = common_json(token.common, Purpose::cert);
  out["sub"] = token.fields.owner;
  out["drop"] = token.fields.drop;
  out["serial"] = token.fields.serial;
  out["edition"] = token.fields.edition_size;
  out["manifest"] = token.fields.manifest_sha256;
  out["rights"] = rights_to_json(token.fields.rights);
  if (!token.fields.grant_id.empty()) out["grant"] = token.fields.grant_id;
  return boost::json::serialize(out);
}

// ---------------------------------------------------------------- edge-grant

namespace {

boost::json::array leases_to_json(const std::vector<GrantLease>& leases) {
  boost::json::array out;
  for (const auto& lease : leases) {
    out.push_back(boost::json::object{{"drop", lease.drop},
                                      {"first", lease.first_serial},
                                      {"last", lease.last_serial},
                                      {"sell_until", format_rfc3339(lease.sell_until_ms)}});
  }
  return out;
}

Result<std::vector<GrantLease>> parse_leases(const boost::json::array& leases) {
  std::vector<GrantLease> out;
  for (const auto& item : leases) {
    if (!item.is_object()) return error(Code::invalid_argument, "grant leases must be objects");
    const auto& lease = item.as_object();
    DG_RETURN_IF_ERROR_RESULT(
        json::only_keys(lease, {"drop", "first", "last", "sell_until"}, "lease"));
    auto drop = get_slug(lease, "drop");
    auto first = json::get_int(lease, "first", "lease", 1, limits::edition_size_max);
    auto last = json::get_int(lease, "last", "lease", 1, limits::edition_size_max);
    auto until = optional_time(lease, "sell_until");
    if (!drop) return error(drop.error());
    if (!first) return error(first.error());
    if (!last) return error(last.error());
    if (!until) return error(until.error());
    if (!*until || *first > *last) {
      return error(Code::invalid_argument, "lease needs first <= last and a sell_until time");
    }
    out.push_back(
        {std::move(*drop), static_cast<uint32_t>(*first), static_cast<uint32_t>(*last), **until});
  }
  return out;
}

boost::json::object caps_to_json(const OfflineCaps& caps) {
  return {{"sales_max", caps.sales_max},
          {"value_minor_max", caps.value_minor_max},
          {"sale_value_minor_max", caps.sale_value_minor_max}};
}

Result<OfflineCaps> parse_caps(const boost::json::object& caps) {
  DG_RETURN_IF_ERROR_RESULT(
      json::only_keys(caps, {"sales_max", "value_minor_max", "sale_value_minor_max"}, "caps"));
  auto sales = json::get_int(caps, "sales_max", "caps", 0, limits::edition_size_max);
  auto value = json::get_int(caps, "value_minor_max", "caps", 0, limits::price_amount_max);
  auto per_sale = json::get_int(caps, "sale_value_minor_max", "caps", 0, limits::price_amount_max);
  if (!sales) return error(sales.error());
  if (!value) return error(value.error());
  if (!per_sale) return error(per_sale.error());
  return OfflineCaps{static_cast<uint32_t>(*sales), *value, *per_sale};
}

Result<std::vector<OfflineTarget>> parse_offline_sales(const boost::json::object& targets) {
  if (targets.size() > limits::token_assets_count_max)
    return error(Code::too_large, "too many offline_sales entries");
  std::vector<OfflineTarget> out;
  for (const auto& [slug, value] : targets) {
    DG_RETURN_IF_ERROR_RESULT(validate_slug(slug));
    if (!value.is_int64() || value.as_int64() < 0 || value.as_int64() > limits::edition_size_max)
      return error(Code::invalid_argument, "offline_sales are counts of sales");
    out.push_back({std::string(slug), static_cast<uint32_t>(value.as_int64())});
  }
  return out;
}

Result<std::vector<OfflinePrice>> parse_prices(const boost::json::object& prices) {
  if (prices.size() > limits::token_assets_count_max)
    return error(Code::too_large, "too many prices");
  std::vector<OfflinePrice> out;
  for (const auto& [slug, value] : prices) {
    DG_RETURN_IF_ERROR_RESULT(validate_slug(slug));
    if (!value.is_object()) return error(Code::invalid_argument, "a price is {amount, currency}");
    DG_RETURN_IF_ERROR_RESULT(json::only_keys(value.as_object(), {"amount", "currency"}, "price"));
    auto amount = json::get_int(value.as_object(), "amount", "price", 0, limits::price_amount_max);
    auto currency = json::get_string(value.as_object(), "currency", "price", 3);
    if (!amount) return error(amount.error());
    if (!currency) return error(currency.error());
    DG_RETURN_IF_ERROR_RESULT(validate_currency(*currency));
    out.push_back({std::string(slug), *amount, std::move(*currency)});
  }
  return out;
}

boost::json::object grant_payload(const EdgeGrantFields& fields, const std::string& edge_key_id) {
  boost::json::object payload{
      {"sub", edge_key_id},
      {"edge_key", fields.edge_key},
      {"drops", boost::json::array(fields.drops.begin(), fields.drops.end())},
      {"leases", leases_to_json(fields.leases)}};
  if (fields.caps) payload["caps"] = caps_to_json(*fields.caps);
  if (!fields.offline_sales.empty()) {
    boost::json::object targets;
    for (const auto& t : fields.offline_sales) targets[t.drop] = t.sales;
    payload["offline_sales"] = std::move(targets);
  }
  if (!fields.prices.empty()) {
    boost::json::object prices;
    for (const auto& p : fields.prices)
      prices[p.drop] = boost::json::object{{"amount", p.amount_minor}, {"currency", p.currency}};
    payload["prices"] = std::move(prices);
  }
  return payload;
}

}  // namespace

Result<std::string> issue_edge_grant(const TokenSigner& signer, const EdgeGrantFields& fields,
                                     int64_t now_ms, uint32_t ttl_s) {
  DG_RETURN_IF_ERROR_RESULT(check_ttl(ttl_s, limits::edge_grant_ttl_max));
  auto edge_key = crypto::PublicKey::from_paserk(fields.edge_key);
  if (!edge_key) return error(edge_key.error());
  if (fields.drops.size() > limits::token_assets_count_max ||
      fields.leases.size() > limits::token_assets_count_max) {
    return error(Code::too_large, "too many drops or leases for one grant");
  }
  for (const auto& drop : fields.drops) DG_RETURN_IF_ERROR_RESULT(validate_slug(drop));
  for (const auto& lease : fields.leases) {
    DG_RETURN_IF_ERROR_RESULT(validate_slug(lease.drop));
    if (lease.first_serial == 0 || lease.first_serial > lease.last_serial) {
      return error(Code::invalid_argument, "lease needs 1 <= first <= last");
    }
  }
  for (const auto& target : fields.offline_sales)
    DG_RETURN_IF_ERROR_RESULT(validate_slug(target.drop));
  if (fields.offline_sales.size() > limits::token_assets_count_max) {
    return error(Code::too_large, "too many offline_sales entries for one grant");
  }
  return sign(signer, Purpose::edge_grant, grant_payload(fields, edge_key->key_id()), now_ms,
              now_ms + int64_t{ttl_s} * 1000);
}

Result<VerifiedEdgeGrant> verify_edge_grant(const crypto::Keyring& keyring,
                                            std::string_view token_untrusted,
                                            const VerifyOptions& options) {
  auto opened = open(keyring, token_untrusted, Purpose::edge_grant, options);
  if (!opened) return error(opened.error());
  const auto& payload = opened->payload;
  DG_RETURN_IF_ERROR_RESULT(only_keys(
      payload, {"sub", "edge_key", "drops", "leases", "caps", "offline_sales", "prices"}));
  auto sub = json::get_string(payload, "sub", "token", limits::identifier_bytes_max);
  auto edge_key_text = json::get_string(payload, "edge_key", "token", limits::paserk_bytes_max);
  auto drops = json::get_array(payload, "drops", "token", limits::token_assets_count_max);
  auto leases = json::get_array(payload, "leases", "token", limits::token_assets_count_max);
  if (!sub) return error(sub.error());
  if (!edge_key_text) return error(edge_key_text.error());
  if (!drops) return error(drops.error());
  if (!leases) return error(leases.error());
  auto edge_key = crypto::PublicKey::from_paserk(*edge_key_text);
  if (!edge_key) return error(edge_key.error());
  if (edge_key->key_id() != *sub) {
    return error(Code::invalid_argument, "grant subject does not match its edge key");
  }
  EdgeGrantFields fields;
  fields.edge_key = std::move(*edge_key_text);
  for (const auto& item : **drops) {
    if (!item.is_string()) return error(Code::invalid_argument, "grant drops must be strings");
    DG_RETURN_IF_ERROR_RESULT(validate_slug(item.as_string()));
    fields.drops.emplace_back(item.as_string());
  }
  auto parsed_leases = parse_leases(**leases);
  if (!parsed_leases) return error(parsed_leases.error());
  fields.leases = std::move(*parsed_leases);
  if (payload.contains("caps")) {
    auto caps_object = json::get_object(payload, "caps", "token");
    if (!caps_object) return error(caps_object.error());
    auto caps = parse_caps(**caps_object);
    if (!caps) return error(caps.error());
    fields.caps = *caps;
  }
  if (payload.contains("offline_sales")) {
    auto targets_object = json::get_object(payload, "offline_sales", "token");
    if (!targets_object) return error(targets_object.error());
    auto targets = parse_offline_sales(**targets_object);
    if (!targets) return error(targets.error());
    fields.offline_sales = std::move(*targets);
  }
  if (payload.contains("prices")) {
    auto prices_object = json::get_object(payload, "prices", "token");
    if (!prices_object) return error(prices_object.error());
    auto prices = parse_prices(**prices_object);
    if (!prices) return error(prices.error());
    fields.prices = std::move(*prices);
  }
  return VerifiedEdgeGrant{std::move(opened->common), std::move(fields), *edge_key};
}

Result<VerifiedEdgeCert> verify_edge_cert(const crypto::Keyring& origin_keyring,
                                          std::string_view grant_untrusted,
                                          std::string_view cert_untrusted,
                                          const VerifyOptions& options) {
  // The grant's signature now, its times against the certificate's below.
  VerifyOptions untimed = options;
  untimed.check_times = false;
  auto grant = verify_edge_grant(origin_keyring, grant_untrusted, untimed);
  if (!grant) return error(grant.error().with_context("edge grant"));
  crypto::Keyring edge_keyring;
  DG_RETURN_IF_ERROR_RESULT(edge_keyring.add(grant->edge_key, crypto::KeyStatus::current));
  VerifyOptions cert_options = options;
  cert_options.issuer.reset();  // an edge signs under the origin's grant, not as the origin
  auto cert = verify_cert(edge_keyring, cert_untrusted, cert_options);
  if (!cert) return error(cert.error().with_context("edge certificate"));
  if (cert->fields.grant_id != grant->common.token_id) {
    return error(Code::forbidden, "the certificate does not name this grant");
  }
  const int64_t issued_ms = cert->common.issued_at_ms;
  const int64_t leeway_ms = to_ms(options.clock_skew);
  if (issued_ms + leeway_ms < grant->common.issued_at_ms ||
      (grant->common.expires_at_ms && issued_ms > *grant->common.expires_at_ms + leeway_ms)) {
    return error(Code::forbidden, "the certificate was issued outside its grant's life");
  }
  for (const auto& lease : grant->fields.leases) {
    if (lease.drop != cert->fields.drop || cert->fields.serial < lease.first_serial ||
        cert->fields.serial > lease.last_serial)
      continue;
    if (issued_ms > lease.sell_until_ms + leeway_ms) {
      return error(Code::forbidden, "the certificate was issued after its lease's sell_until (" +
                                        format_rfc3339(lease.sell_until_ms) + ")");
    }
    return VerifiedEdgeCert{std::move(*cert), std::move(*grant)};
  }
  return error(Code::forbidden, "serial " + std::to_string(cert->fields.serial) + " of \"" +
                                    cert->fields.drop + "\" is in no lease of the grant");
}

std::string to_json(const VerifiedEdgeGrant& token) {
  auto out = common_json(token.common, Purpose::edge_grant);
  out["sub"] = token.edge_key.key_id();
  out["edge_key"] = token.fields.edge_key;
  out["drops"] = boost::json::array(token.fields.drops.begin(), token.fields.drops.end());
  out["leases"] = leases_to_json(token.fields.leases);
  for (auto& [key, value] : grant_payload(token.fields, token.edge_key.key_id())) {
    if (key == "caps" || key == "offline_sales" || key == "prices") out[key] = value;
  }
  return boost::json::serialize(out);
}

// ---------------------------------------------------------------- receipt

Result<std::string> issue_receipt(const TokenSigner& signer, const ReceiptFields& fields,
                                  int64_t now_ms, uint32_t ttl_s) {
  DG_RETURN_IF_ERROR_RESULT(check_ttl(ttl_s, limits::edge_grant_ttl_max));
  DG_RETURN_IF_ERROR_RESULT(validate_identifier(fields.reader, "reader"));
  DG_RETURN_IF_ERROR_RESULT(validate_identifier(fields.transaction, "transaction"));
  DG_RETURN_IF_ERROR_RESULT(validate_currency(fields.currency));
  DG_RETURN_IF_ERROR_RESULT(validate_slug(fields.drop));
  if (fields.amount_minor < 0) return error(Code::invalid_argument, "amount must not be negative");
  boost::json::object payload{{"reader", fields.reader},
                              {"txn", fields.transaction},
                              {"amount", fields.amount_minor},
                              {"currency", fields.currency},
                              {"drop", fields.drop}};
  return sign(signer, Purpose::receipt, std::move(payload), now_ms, now_ms + int64_t{ttl_s} * 1000);
}

Result<VerifiedReceipt> verify_receipt(const crypto::Keyring& keyring,
                                       std::string_view token_untrusted,
                                       const VerifyOptions& options) {
  auto opened = open(keyring, token_untrusted, Purpose::receipt, options);
  if (!opened) return error(opened.error());
  const auto& payload = opened->payload;
  DG_RETURN_IF_ERROR_RESULT(only_keys(payload, {"reader", "txn", "amount", "currency", "drop"}));
  auto reader = get_id(payload, "reader", "reader");
  auto txn = get_id(payload, "txn", "transaction");
  auto amount = json::get_int(payload, "amount", "token", 0, INT64_MAX);
  auto currency = json::get_string(payload, "currency", "token", limits::currency_code_bytes);
  auto drop = get_slug(payload, "drop");
  if (!reader) return error(reader.error());
  if (!txn) return error(txn.error());
  if (!amount) return error(amount.error());
  if (!currency) return error(currency.error());
  if (!drop) return error(drop.error());
  DG_RETURN_IF_ERROR_RESULT(validate_currency(*currency));
  return VerifiedReceipt{
      std::move(opened->common),
      {std::move(*reader), std::move(*txn), *amount, std::move(*currency), std::move(*drop)}};
}

std::string to_json(const VerifiedReceipt& token) {
  auto out = common_json(token.common, Purpose::receipt);
  out["reader"] = token.fields.reader;
  out["txn"] = token.fields.transaction;
  out["amount"] = token.fields.amount_minor;
  out["currency"] = token.fields.currency;
  out["drop"] = token.fields.drop;
  return boost::json::serialize(out);
}

// ---------------------------------------------------------------- decline

Result<std::string> issue_decline(const TokenSigner& signer, const DeclineFields& fields,
                                  int64_t now_ms, uint32_t ttl_s) {
  DG_RETURN_IF_ERROR_RESULT(check_ttl(ttl_s, limits::edge_grant_ttl_max));
  DG_RETURN_IF_ERROR_RESULT(validate_identifier(fields.reader, "reader"));
  DG_RETURN_IF_ERROR_RESULT(validate_identifier(fields.transaction, "transaction"));
  DG_RETURN_IF_ERROR_RESULT(validate_slug(fields.drop));
  if (fields.reason.size() > limits::decline_reason_bytes_max) {
    return error(Code::invalid_argument,
                 "reason: at most " + std::to_string(limits::decline_reason_bytes_max) + " bytes");
  }
  boost::json::object payload{
      {"reader", fields.reader}, {"txn", fields.transaction}, {"drop", fields.drop}};
  if (!fields.reason.empty()) payload["reason"] = fields.reason;
  return sign(signer, Purpose::decline, std::move(payload), now_ms, now_ms + int64_t{ttl_s} * 1000);
}

Result<VerifiedDecline> verify_decline(const crypto::Keyring& keyring,
                                       std::string_view token_untrusted,
                                       const VerifyOptions& options) {
  auto opened = open(keyring, token_untrusted, Purpose::decline, options);
  if (!opened) return error(opened.error());
  const auto& payload = opened->payload;
  DG_RETURN_IF_ERROR_RESULT(only_keys(payload, {"reader", "txn", "drop", "reason"}));
  auto reader = get_id(payload, "reader", "reader");
  auto txn = get_id(payload, "txn", "transaction");
  auto drop = get_slug(payload, "drop");
  auto reason =
      json::get_optional_string(payload, "reason", "token", limits::decline_reason_bytes_max);
  if (!reader) return error(reader.error());
  if (!txn) return error(txn.error());
  if (!drop) return error(drop.error());
  if (!reason) return error(reason.error());
  return VerifiedDecline{
      std::move(opened->common),
      {std::move(*reader), std::move(*txn), std::move(*drop), reason->value_or("")}};
}

std::string to_json(const VerifiedDecline& token) {
  auto out = common_json(token.common, Purpose::decline);
  out["reader"] = token.fields.reader;
  out["txn"] = token.fields.transaction;
  out["drop"] = token.fields.drop;
  if (!token.fields.reason.empty()) out["reason"] = token.fields.reason;
  return boost::json::serialize(out);
}

Result<std::string> unverified_key_id(std::string_view token_untrusted) {
  auto parsed = crypto::paseto_v4_public_parse(token_untrusted);
  if (!parsed) return error(parsed.error());
  return footer_key_id(*parsed);
}

}  // namespace dg::core
