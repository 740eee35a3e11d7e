#include "store/sql_rows.h"

#include <boost/json/serialize.hpp>
#include <limits>

#include "base/json.h"
#include "base/limits.h"

namespace dg::store {
namespace {

// Turns a reader's sticky failure into the result, naming what was read.
template <typename T>
Result<T> finish(const sql::RowReader& reader, T value, std::string_view what) {
  if (!reader.status().ok()) return error(reader.status().with_context(what));
  return value;
}

Result<core::Rights> parse_rights_text(const std::string& text) {
  Result<boost::json::object> object = json::parse_object(text, limits::rights_json_bytes_max);
  if (!object) return error(Code::corruption, "stored rights: " + object.error().message());
  Result<core::Rights> rights = core::parse_rights(*object);
  if (!rights) return error(Code::corruption, "stored rights: " + rights.error().message());
  return rights;
}

}  // namespace

Result<int64_t> first_int(const sql::Rows& rows) {
  if (rows.empty()) return error(Code::corruption, "a query returned no row");
  sql::RowReader reader(rows, 0);
  int64_t value = reader.int64();
  if (!reader.status().ok()) return error(reader.status());
  return value;
}

Result<int64_t> first_int(const Result<sql::Rows>& rows) {
  if (!rows) return error(rows.error());
  return first_int(*rows);
}

Result<uint32_t> first_count(const sql::Rows& rows) {
  Result<int64_t> value = first_int(rows);
  if (!value) return error(value.error());
  if (*value < 0 || *value > std::numeric_limits<uint32_t>::max()) {
    return error(Code::corruption, "a count is out of range");
  }
  return static_cast<uint32_t>(*value);
}

Result<uint32_t> first_count(const Result<sql::Rows>& rows) {
  if (!rows) return error(rows.error());
  return first_count(*rows);
}

Status reword(const Status& status, Code code, std::string message) {
  if (status.code() != code) return status;
  return Status(code, std::move(message));
}

std::string select_from(std::string_view columns, std::string_view rest) {
  std::string sql = "SELECT ";
  sql.append(columns).append(" FROM ").append(rest);
  return sql;
}

std::string rights_text(const core::Rights& rights) {
  return boost::json::serialize(core::rights_to_json(rights));
}

Result<Drop> read_drop(const sql::Rows& rows, size_t row) {
  sql::RowReader r(rows, row);
  Drop drop;
  drop.id = r.int64();
  drop.spec.slug = r.text();
  drop.spec.title = r.text();
  drop.spec.edition_size = r.uint32();
  drop.spec.opens_at_ms = r.int64();
  drop.spec.closes_at_ms = r.optional_int64();
  drop.spec.per_buyer_limit = r.uint32();
  drop.spec.price_minor = r.int64();
  drop.spec.currency = r.text();
  std::string rights = r.text();
  std::string state = r.text();
  drop.manifest_version = r.int64();
  drop.created_at_ms = r.int64();
  drop.updated_at_ms = r.int64();
  if (!r.status().ok()) return error(r.status().with_context("drop"));
  std::optional<DropState> parsed_state = parse_drop_state(state);
  if (!parsed_state) return error(Code::corruption, "drop " + drop.spec.slug + ": bad state");
  drop.state = *parsed_state;
  Result<core::Rights> parsed_rights = parse_rights_text(rights);
  if (!parsed_rights) return error(parsed_rights.error().with_context("drop " + drop.spec.slug));
  drop.spec.rights = std::move(*parsed_rights);
  return drop;
}

Result<AssetRecord> read_asset(const sql::Rows& rows, size_t row) {
  sql::RowReader r(rows, row);
  AssetRecord asset;
  asset.path = r.text();
  int64_t size_bytes = r.int64();
  asset.sha256 = r.text();
  asset.media_type = r.text();
  if (r.status().ok() && size_bytes < 0) return error(Code::corruption, "asset: negative size");
  asset.size_bytes = static_cast<uint64_t>(size_bytes);
  return finish(r, std::move(asset), "asset");
}

Result<ManifestRecord> read_manifest(const sql::Rows& rows, size_t row) {
  sql::RowReader r(rows, row);
  ManifestRecord manifest;
  manifest.version = r.int64();
  manifest.json = r.text();
  manifest.minisig = r.text();
  manifest.sha256 = r.text();
  manifest.published_at_ms = r.int64();
  return finish(r, std::move(manifest), "manifest");
}

Result<Lease> read_lease(const sql::Rows& rows, size_t row) {
  sql::RowReader r(rows, row);
  Lease lease;
  lease.id = r.int64();
  lease.drop_id = r.int64();
  lease.seller_id = r.text();
  lease.first_serial = r.uint32();
  lease.last_serial = r.uint32();
  if (r.status().ok() && (lease.first_serial == 0 || lease.last_serial < lease.first_serial)) {
    return error(Code::corruption, "lease " + std::to_string(lease.id) + ": bad serial range");
  }
  return finish(r, std::move(lease), "lease");
}

Result<Hold> read_hold(const sql::Rows& rows, size_t row) {
  sql::RowReader r(rows, row);
  Hold hold;
  hold.id = r.int64();
  hold.drop_id = r.int64();
  hold.serial = r.uint32();
  hold.account = r.text();
  hold.seller_id = r.text();
  hold.expires_at_ms = r.int64();
  return finish(r, std::move(hold), "hold");
}

Result<Claim> read_claim(const sql::Rows& rows, size_t row) {
  sql::RowReader r(rows, row);
  Claim claim;
  claim.id = r.int64();
  claim.drop_id = r.int64();
  claim.serial = r.uint32();
  claim.account = r.text();
  std::string source = r.text();
  claim.payment_ref = r.text();
  claim.cert_id = r.text();
  claim.cert_token = r.text();
  claim.claimed_at_ms = r.int64();
  claim.revoked_at_ms = r.optional_int64();
  if (!r.status().ok()) return error(r.status().with_context("claim"));
  std::optional<ClaimSource> parsed_source = parse_claim_source(source);
  if (!parsed_source) return error(Code::corruption, "claim: bad source \"" + source + "\"");
  claim.source = *parsed_source;
  return claim;
}

Result<Revocation> read_revocation(const sql::Rows& rows, size_t row) {
  sql::RowReader r(rows, row);
  Revocation revocation;
  revocation.cert_id = r.text();
  revocation.drop_id = r.int64();
  revocation.serial = r.uint32();
  revocation.revoked_at_ms = r.int64();
  revocation.reason = r.text();
  return finish(r, std::move(revocation), "revocation");
}

Result<IdempotencyRecord> read_idempotency(const sql::Rows& rows, size_t row) {
  sql::RowReader r(rows, row);
  IdempotencyRecord record;
  record.scope = r.text();
  record.key = r.text();
  record.request_sha256 = r.text();
  record.response_status = r.uint32();
  record.response_body = r.text();
  record.created_at_ms = r.int64();
  return finish(r, std::move(record), "idempotency record");
}

Result<Event> read_event(const sql::Rows& rows, size_t row) {
  sql::RowReader r(rows, row);
  Event event;
  event.kind = r.text();
  event.drop_id = r.int64();
  event.serial = r.optional_uint32();
  event.account = r.text();
  event.detail_json = r.text();
  event.at_ms = r.int64();
  event.dedup_key = r.text();
  return finish(r, std::move(event), "event");
}

}  // namespace dg::store
