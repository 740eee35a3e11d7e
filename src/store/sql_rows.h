// How store rows map to SQL columns, both ways. Each kColumns list is the
// exact SELECT list its read_* function expects, in order. Private to src/store.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "store/sql.h"
#include "store/store.h"

namespace dg::store {

inline constexpr std::string_view kDropColumns =
    "id, slug, title, edition_size, opens_at_ms, closes_at_ms, per_buyer_limit, price_minor, "
    "currency, rights_json, state, manifest_version, created_at_ms, updated_at_ms";
inline constexpr std::string_view kAssetColumns = "path, size_bytes, sha256, media_type";
inline constexpr std::string_view kManifestColumns =
    "version, json, minisig, sha256, published_at_ms";
inline constexpr std::string_view kLeaseColumns =
    "id, drop_id, seller_id, first_serial, last_serial";
inline constexpr std::string_view kHoldColumns =
    "id, drop_id, serial, account, seller_id, expires_at_ms";
inline constexpr std::string_view kClaimColumns =
    "id, drop_id, serial, account, source, payment_ref, cert_id, cert_token, claimed_at_ms, "
    "revoked_at_ms";
inline constexpr std::string_view kRevocationColumns =
    "cert_id, drop_id, serial, revoked_at_ms, reason";
inline constexpr std::string_view kIdempotencyColumns =
    "scope, key, request_sha256, response_status, response_body, created_at_ms";
inline constexpr std::string_view kEventColumns =
    "kind, drop_id, serial, account, detail_json, at_ms, dedup_key";

// "SELECT <columns> FROM <rest>": keeps the column list and its reader together.
std::string select_from(std::string_view columns, std::string_view rest);

// Rights are stored as their JSON text (core::rights_to_json).
std::string rights_text(const core::Rights& rights);

Result<Drop> read_drop(const sql::Rows& rows, size_t row);
Result<AssetRecord> read_asset(const sql::Rows& rows, size_t row);
Result<ManifestRecord> read_manifest(const sql::Rows& rows, size_t row);
Result<Lease> read_lease(const sql::Rows& rows, size_t row);
Result<Hold> read_hold(const sql::Rows& rows, size_t row);
Result<Claim> read_claim(const sql::Rows& rows, size_t row);
Result<Revocation> read_revocation(const sql::Rows& rows, size_t row);
Result<IdempotencyRecord> read_idempotency(const sql::Rows& rows, size_t row);
Result<Event> read_event(const sql::Rows& rows, size_t row);

// The integer in the first column of the first row (an aggregate, a RETURNING
// id); corruption when there is none. The Result overloads pass errors through.
Result<int64_t> first_int(const sql::Rows& rows);
Result<int64_t> first_int(const Result<sql::Rows>& rows);
// The same, for a count that must fit in uint32_t.
Result<uint32_t> first_count(const sql::Rows& rows);
Result<uint32_t> first_count(const Result<sql::Rows>& rows);

// Replaces a database's wording of an expected refusal (a unique or foreign
// key violation) with ours, keeping the code; other failures pass unchanged.
Status reword(const Status& status, Code code, std::string message);

// Reads every row with `read`, or the first failure.
template <typename T>
Result<std::vector<T>> read_all(const sql::Rows& rows,
                                Result<T> (*read)(const sql::Rows&, size_t)) {
  std::vector<T> out;
  out.reserve(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    Result<T> item = read(rows, i);
    if (!item) return std::unexpected<Status>(item.error());
    out.push_back(std::move(*item));
  }
  return out;
}

// The first row with `read`, or not_found saying `what` is missing.
template <typename T>
Result<T> read_one(const sql::Rows& rows, Result<T> (*read)(const sql::Rows&, size_t),
                   std::string what) {
  if (rows.empty()) return error(Code::not_found, std::move(what));
  return read(rows, 0);
}

}  // namespace dg::store
