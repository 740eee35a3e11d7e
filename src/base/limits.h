// Every limit dropgate enforces on untrusted input, in one place, unit last.
// Configuration may lower these, never raise them.
#pragma once

#include <cstdint>

namespace dg::limits {

// Tokens (PASETO v4.public).
inline constexpr uint32_t token_bytes_max = 8 * 1024;
inline constexpr uint32_t token_footer_bytes_max = 512;
inline constexpr uint32_t token_payload_bytes_max = 6 * 1024;
inline constexpr uint32_t download_token_ttl_s_max = 15 * 60;
inline constexpr uint32_t download_token_ttl_s_default = 5 * 60;
inline constexpr uint32_t edge_grant_ttl_s_max = 30 * 24 * 3600;
inline constexpr int64_t clock_skew_ms_default = 3 * 60 * 1000;
inline constexpr int64_t clock_skew_ms_max = 15 * 60 * 1000;
inline constexpr uint32_t token_assets_count_max = 256;
inline constexpr uint32_t identifier_bytes_max = 128;  // account ids, slugs, jti, kid

// Keys.
inline constexpr uint32_t keyring_keys_max = 64;
inline constexpr uint32_t keyring_file_bytes_max = 64 * 1024;

// Manifests.
inline constexpr uint32_t manifest_bytes_max = 4 * 1024 * 1024;
inline constexpr uint32_t manifest_assets_max = 10'000;
inline constexpr uint32_t asset_path_bytes_max = 1024;
inline constexpr uint32_t asset_path_segment_bytes_max = 255;
inline constexpr uint32_t asset_path_depth_max = 32;
inline constexpr uint32_t media_type_bytes_max = 127;
inline constexpr uint32_t drop_slug_bytes_max = 64;
inline constexpr uint32_t edition_size_max = 1'000'000;
inline constexpr uint32_t territories_max = 250;
inline constexpr uint32_t license_bytes_max = 128;
inline constexpr uint32_t minisign_sig_file_bytes_max = 4 * 1024;
inline constexpr uint32_t trusted_comment_bytes_max = 1024;

// Files.
inline constexpr uint64_t asset_size_bytes_max = 64ull * 1024 * 1024 * 1024;
inline constexpr uint32_t hash_read_buffer_bytes = 1024 * 1024;
inline constexpr uint32_t hash_threads_max = 16;

// HTTP.
inline constexpr uint32_t request_header_bytes_max = 16 * 1024;  // 431 beyond
inline constexpr uint32_t request_target_bytes_max = 12 * 1024;  // 414 beyond; holds a token
inline constexpr uint32_t request_body_bytes_max_anonymous = 16 * 1024;  // 413 beyond
inline constexpr uint32_t request_body_bytes_max_json = 1024 * 1024;
inline constexpr uint64_t upload_bytes_max = 4ull * 1024 * 1024 * 1024;
inline constexpr uint32_t query_params_max = 32;
inline constexpr uint32_t request_id_bytes_max = 64;  // a longer X-Request-Id is replaced
// After a final response to a request whose body we did not read, the server
// reads and drops what the client still sends, for a while, before closing:
// closing with unread bytes makes the kernel send a RST that can destroy the
// response before the client reads it.
inline constexpr uint32_t lingering_close_ms_max = 2000;
inline constexpr uint32_t lingering_close_bytes_max = 1024 * 1024;
// Slow clients: a request's head must be whole within request_head_ms_max
// (from accept for a connection's first request, else from its first byte),
// and its body within request_body_ms_floor plus its length (Content-Length,
// else the route's limit) at request_body_bytes_per_s_min. Both are totals
// that progress never extends: one byte every few seconds buys nothing.
inline constexpr uint32_t request_head_ms_max = 10'000;
inline constexpr uint32_t request_body_ms_floor = 30'000;
inline constexpr uint32_t request_body_bytes_per_s_min = 64 * 1024;
// Connections open at once from one client address (beyond: closed at
// accept). Loopback clients are exempt by default: a reverse proxy on the
// same host carries every client over loopback.
inline constexpr uint32_t connections_per_address_max = 256;

// Edge.
// The edge's cache of judged download tokens (src/edge/token_cache.h), all
// entries counted; refusals get at most a quarter of it.
inline constexpr uint64_t edge_token_cache_bytes_max = 64ull * 1024 * 1024;
// An edge's calls to its origin give up after this long connecting, or
// waiting with no byte received, so a frozen origin shows on /healthz within
// seconds (sync_timeout_s may lower it).
inline constexpr uint32_t edge_sync_timeout_s_max = 10;

// Holds (origin). A hold takes a serial off sale for hold_ttl_s, so holds are
// rate-limited per account and per client address (429 with Retry-After
// beyond), in bursts of up to a minute's allowance. The address limit is the
// higher one: one checkout server may hold for many buyers.
inline constexpr uint32_t holds_per_account_per_min_max = 10;
inline constexpr uint32_t holds_per_address_per_min_max = 300;
inline constexpr uint32_t rate_limit_keys_max = 10'000;  // per limiter; memory bound

// Idempotency-Key: longer keys are refused (400), never cut short (two keys
// cut to one prefix would replay each other's answers).
inline constexpr uint32_t idempotency_key_bytes_max = identifier_bytes_max;

// JSON.
inline constexpr uint32_t json_depth_max = 32;

// Operator listings: drops per page of GET /v1/drops (its ?limit= may ask for fewer).
inline constexpr uint32_t drops_page_count_max = 100;
// Edge enrolment (anonymous POST /v1/edges). A pending enrolment expires
// after edge_enrolment_ttl_s (config may shorten it); one client address may
// have at most edge_enrolments_per_address_max pending at once; when
// edge_enrolments_pending_max wait, a new one evicts the oldest, so anonymous
// traffic can never refuse an operator's real enrolment.
inline constexpr uint32_t edge_enrolments_pending_max = 100;
inline constexpr uint32_t edge_enrolments_per_address_max = 3;
inline constexpr uint32_t edge_enrolment_ttl_s_max = 24 * 3600;
inline constexpr uint32_t edge_enrolment_addresses_max = 10'000;  // addresses tracked in memory

// Operator API keys: their hashes are held in memory, refreshed off the I/O
// thread, so checking a bearer value never waits for the store.
inline constexpr uint32_t operator_keys_max = 1000;
inline constexpr uint32_t operator_keys_refresh_ms = 1000;

// Store calls (sizes often come from configuration, so the store refuses a
// call beyond them rather than asserting).
inline constexpr uint32_t lease_serials_max = 1000;
inline constexpr uint32_t claims_batch_count_max = 1000;
inline constexpr uint32_t store_connections_max = 64;

// Configuration ceilings: the highest value each setting of dropgate.toml and
// edge.toml may take (a file asking for more is refused, naming the ceiling).
inline constexpr uint32_t db_connections_max = store_connections_max;
inline constexpr uint32_t handler_threads_max = 4096;
inline constexpr uint32_t io_threads_max = 256;
inline constexpr uint32_t hold_ttl_s_max = 24 * 3600;
inline constexpr uint32_t clock_skew_s_max = clock_skew_ms_max / 1000;
inline constexpr uint32_t manifest_ttl_days_max = 3650;
inline constexpr uint32_t claim_batch_claims_max = claims_batch_count_max;
inline constexpr uint32_t sync_interval_s_max = 24 * 3600;
inline constexpr uint32_t outbox_depth_events_max = 100'000'000;
inline constexpr uint32_t token_cache_entries_max = 10'000'000;
inline constexpr uint32_t blob_memory_mb_max = 1'048'576;

static_assert(token_bytes_max < request_target_bytes_max);
static_assert(request_target_bytes_max < request_header_bytes_max);
static_assert(request_id_bytes_max <= identifier_bytes_max);
static_assert(token_footer_bytes_max + token_payload_bytes_max < token_bytes_max);
static_assert(download_token_ttl_s_default <= download_token_ttl_s_max);
static_assert(asset_path_segment_bytes_max < asset_path_bytes_max);
// A configured value the store would refuse fails every call that uses it.
static_assert(db_connections_max <= store_connections_max);
static_assert(claim_batch_claims_max <= claims_batch_count_max);
static_assert(uint64_t{clock_skew_s_max} * 1000 <= uint64_t(clock_skew_ms_max));
static_assert(upload_bytes_max <= asset_size_bytes_max);

}  // namespace dg::limits
