#include "origin/claim_answer.h"

#include "base/encoding.h"
#include "base/time.h"
#include "http/client.h"

namespace dg::origin {
namespace {

// Appends `,"key":` then the value: the fixed shapes below are written by
// hand (a claim's hot path), byte for byte what Boost.JSON would serialize.
void append_key(std::string& out, std::string_view key) {
  out += ",\"";
  out += key;  // ours: plain ASCII, no escaping needed
  out += "\":";
}
void append_string(std::string& out, std::string_view key, std::string_view value) {
  append_key(out, key);
  append_json_string(out, value);
}
void append_number(std::string& out, std::string_view key, int64_t value) {
  append_key(out, key);
  out += std::to_string(value);
}

}  // namespace

// What a claim answers (and a replay of it, rebuilt from the claim's row):
// one function, so the two cannot differ.
std::string claim_answer_json(const std::string& public_url, const store::Drop& drop,
                              const core::Manifest& manifest, uint32_t serial,
                              const std::string& account, const std::string& owner,
                              int64_t claimed_at_ms, const std::string& cert,
                              const std::string& download) {
  std::string base = public_url + "/v1/drops/" + drop.spec.slug;
  std::string out;
  out.reserve(2 * (cert.size() + download.size()) + 512);
  out += "{\"drop\":";
  append_json_string(out, drop.spec.slug);
  append_number(out, "serial", serial);
  append_number(out, "edition", drop.spec.edition_size);
  append_string(out, "account", account);
  append_string(out, "owner", owner);
  append_string(out, "claimed_at", format_rfc3339(claimed_at_ms));
  append_string(out, "certificate", cert);
  append_string(out, "certificate_url", base + "/certificates/" + std::to_string(serial));
  append_string(out, "download_token", download);
  append_key(out, "files");
  out += '[';
  for (const auto& a : manifest.assets) {
    if (out.back() != '[') out += ',';
    out += "{\"path\":";
    append_json_string(out, a.path);
    append_key(out, "size");
    out += std::to_string(a.size_bytes);
    append_string(out, "type", a.media_type);
    // Encoded, so a file named "#1.txt" or "what?.txt" is a path, not a fragment or a query.
    append_string(out, "url", base + "/files/" + http::encode_path(a.path) + "?token=" + download);
    out += '}';
  }
  out += "]}";
  return out;
}

// The idempotency record a claim writes in its own transaction: only what
// its answer cannot be rebuilt without (see kClaimRecordPrefix).
store::IdempotencyRecord claim_record(const Idempotency& idem, const store::Drop& drop,
                                      uint32_t serial, uint32_t ttl_s,
                                      const std::string& download_id, int64_t now_ms) {
  std::string record(kClaimRecordPrefix);
  record += "\"drop_id\":" + std::to_string(drop.id);
  append_number(record, "serial", serial);
  append_number(record, "ver", drop.manifest_version);
  append_number(record, "ttl_s", ttl_s);
  append_string(record, "jti", download_id);
  record += '}';
  return store::IdempotencyRecord{idem.scope, idem.key,          idem.request_sha256,
                                  201,        std::move(record), now_ms};
}

}  // namespace dg::origin
