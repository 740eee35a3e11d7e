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
inline constexpr uint32_t request_header_bytes_max = 16 * 1024;   // 431 beyond
inline constexpr uint32_t request_target_bytes_max = 12 * 1024;   // 414 beyond; holds a token
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

static_assert(token_bytes_max < request_target_bytes_max);
static_assert(request_target_bytes_max < request_header_bytes_max);
static_assert(request_id_bytes_max <= identifier_bytes_max);
static_assert(token_footer_bytes_max + token_payload_bytes_max < token_bytes_max);
static_assert(download_token_ttl_s_default <= download_token_ttl_s_max);
static_assert(asset_path_segment_bytes_max < asset_path_bytes_max);

}  // namespace dg::limits
