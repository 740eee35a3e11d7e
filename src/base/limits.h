// Every limit dropgate enforces, in one place, unit last: on untrusted input,
// on memory, on waits, and on every loop whose length is not ours. (I/O
// chunk sizes and thresholds that bound nothing stay beside their code.) Durations
// are std::chrono types (their unit is their type); config files still name
// theirs in the key (`hold_ttl_s`). Configuration may lower these, never raise
// them: each setting's ceiling is the limit named in its reader's table
// (origin/config.cc, edge/config.cc).
#pragma once

#include <chrono>
#include <cstdint>

namespace dg::limits {

// A settings file (dropgate.toml, edge.toml): a few dozen keys; anything
// larger is not a settings file.
inline constexpr uint64_t settings_file_bytes_max = 1 << 20;

// Tokens (PASETO v4.public). A token rides in a URL's query, so it must fit
// the request target with room for the path.
inline constexpr uint32_t token_bytes_max = 8 * 1024;
inline constexpr uint32_t token_footer_bytes_max = 512;  // {"kid":"k4.pid…"}: ~60 bytes
// The signed JSON inside a token; with the footer, below token_bytes_max.
inline constexpr uint32_t token_payload_bytes_max = 6 * 1024;
// A download token is a bearer link: short-lived, so a leaked one dies soon.
inline constexpr std::chrono::seconds download_token_ttl_max = std::chrono::minutes(15);
inline constexpr std::chrono::seconds download_token_ttl_default = std::chrono::minutes(5);
// An edge grant lets an edge sell offline: re-approval at least monthly bounds
// how long a lost edge nobody revoked can keep selling.
inline constexpr std::chrono::days edge_grant_ttl_max{30};  // approval's ttl_days
inline constexpr std::chrono::days edge_grant_ttl_default{30};
// Leeway for token and manifest times: phones and stall laptops drift by
// minutes; more than a quarter of an hour would stretch a 15-minute token double.
inline constexpr std::chrono::seconds clock_skew_default = std::chrono::minutes(3);
inline constexpr std::chrono::seconds clock_skew_max = std::chrono::minutes(15);
// Assets a download token names one by one (else "*"), and drops or leases a grant names.
inline constexpr uint32_t token_assets_count_max = 256;
// Account ids, jti, kid, certificate ids: room for a hash or a UUID with a prefix.
inline constexpr uint32_t identifier_bytes_max = 128;
// PASERK text of a key (k4.public.… is 53 characters, k4.secret.… 96).
inline constexpr uint32_t paserk_bytes_max = 128;
// A SHA-256 as lower-case hex: exactly this long, so also the bound to read it.
inline constexpr uint32_t sha256_hex_bytes = 64;
// An RFC 3339 time ("2026-11-21T06:00:00.123456789+05:30" is 35 characters).
inline constexpr uint32_t timestamp_bytes_max = 40;

// Keys. A keyring holds the current key and the retired ones still
// accepted: 64 is years of rotations.
inline constexpr uint32_t keyring_keys_max = 64;
inline constexpr uint32_t keyring_file_bytes_max = 64 * 1024;  // 64 keys at ~200 bytes, with room
// A key file (a PASERK, or the origin's owner secret) and its newline.
inline constexpr uint32_t key_file_bytes_max = 256;

// Manifests.
// A manifest's version stays an exact integer in every JSON reader (2^53).
inline constexpr int64_t manifest_version_max = int64_t{1} << 53;
// The longest an origin may sign a manifest for (manifest_ttl_days, default
// 30): ten years, for files that should stay servable long after a sale.
inline constexpr std::chrono::days manifest_ttl_max{3650};
// Manifest contents. The byte limit holds manifest_assets_max entries of a
// few hundred bytes each; paths follow common filesystem limits (255 per
// name, as ext4; 1024 in all, as macOS's PATH_MAX).
inline constexpr uint32_t manifest_bytes_max = 4 * 1024 * 1024;
inline constexpr uint32_t manifest_assets_max = 10'000;
inline constexpr uint32_t asset_path_bytes_max = 1024;
inline constexpr uint32_t asset_path_segment_bytes_max = 255;
inline constexpr uint32_t asset_path_depth_max = 32;
inline constexpr uint32_t media_type_bytes_max = 127;  // RFC 6838's bound on a name
inline constexpr uint32_t drop_slug_bytes_max = 64;    // a readable URL segment
// Serials of one drop: a million covers any run of numbered copies.
inline constexpr uint32_t edition_size_max = 1'000'000;
inline constexpr uint32_t territories_max = 250;    // ISO 3166-1 has 249 codes
inline constexpr uint32_t license_bytes_max = 128;  // an SPDX id or "proprietary"
// Rights: access_s at most a century (longer means "for ever"; say so by omitting it).
inline constexpr std::chrono::seconds access_max = std::chrono::days(100 * 365);
// A stored rights document: a licence and at most two lists of
// territories_max codes, far below this.
inline constexpr uint32_t rights_json_bytes_max = 64 * 1024;
// Drop fields an operator writes (POST/PUT /v1/drops).
inline constexpr uint32_t drop_title_bytes_max = 200;
inline constexpr uint32_t per_buyer_limit_max = 1000;
inline constexpr int64_t price_amount_max = int64_t{1} << 40;  // minor units; exact in JSON
inline constexpr uint32_t currency_code_bytes = 3;             // ISO 4217
inline constexpr uint32_t territory_code_bytes = 2;            // ISO 3166-1 alpha-2
inline constexpr uint32_t revocation_reason_bytes_max = 200;
// A .minisig file: four short lines, a trusted comment among them.
inline constexpr uint32_t minisign_sig_file_bytes_max = 4 * 1024;
inline constexpr uint32_t trusted_comment_bytes_max = 1024;

// Files.
inline constexpr uint64_t asset_size_bytes_max = 64ull * 1024 * 1024 * 1024;  // a long video master
inline constexpr uint32_t hash_read_buffer_bytes = 1024 * 1024;               // per hashing thread
inline constexpr uint32_t hash_threads_max = 16;  // files hashed at once

// HTTP.
inline constexpr uint32_t request_header_bytes_max = 16 * 1024;  // 431 beyond
inline constexpr uint32_t request_target_bytes_max = 12 * 1024;  // 414 beyond; holds a token
inline constexpr uint32_t request_body_bytes_max_anonymous = 16 * 1024;  // 413 beyond
inline constexpr uint32_t request_body_bytes_max_json = 1024 * 1024;     // authenticated JSON
// An uploaded file (upload_bytes_max may lower it); larger assets are added from disk.
inline constexpr uint64_t upload_bytes_max = 4ull * 1024 * 1024 * 1024;
inline constexpr uint32_t query_params_max = 32;      // our routes read at most a few
inline constexpr uint32_t request_id_bytes_max = 64;  // a longer X-Request-Id is replaced
// After a final response to a request whose body we did not read, the server
// reads and drops what the client still sends, for a while, before closing:
// closing with unread bytes makes the kernel send a RST that can destroy the
// response before the client reads it.
inline constexpr std::chrono::milliseconds lingering_close_max{2000};
inline constexpr uint32_t lingering_close_bytes_max = 1024 * 1024;  // then close regardless
// Slow clients: a request's head must be whole within request_head_max
// (from accept for a connection's first request, else from its first byte),
// and its body within request_body_time_floor plus its length (Content-Length,
// else the route's limit) at request_body_bytes_per_s_min. Both are totals
// that progress never extends: one byte every few seconds buys nothing.
inline constexpr std::chrono::milliseconds request_head_max{10'000};
inline constexpr std::chrono::milliseconds request_body_time_floor{30'000};
inline constexpr uint32_t request_body_bytes_per_s_min = 64 * 1024;
// Connections open at once from one client address (beyond: closed at
// accept). Loopback clients are exempt by default: a reverse proxy on the
// same host carries every client over loopback.
inline constexpr uint32_t connections_per_address_max = 256;
// A connection's read buffer at its largest: a whole header plus room for
// body reads (Beast reads at most this much at once).
inline constexpr uint32_t connection_read_buffer_bytes_max = request_header_bytes_max + 16 * 1024;
// A fast download must not starve the other connections of its I/O thread:
// after this many bytes of sendfile(2) in one turn, the thread moves on.
inline constexpr uint64_t sendfile_bytes_per_turn_max = 4 * 1024 * 1024;
// A connection waiting for its next request keeps a read block (no system
// call until the request comes) this long, then waits without one: idle
// connections hold no buffer (http/read_blocks.h).
inline constexpr std::chrono::seconds idle_read_block_hold_max{1};
// The request path written to the access log is cut at this length.
inline constexpr uint32_t access_log_path_bytes_max = 1024;
// Accepting fails (no descriptors left): the listener tries again after this.
inline constexpr std::chrono::milliseconds accept_retry_delay{100};
// At shutdown, after the grace period, how long force-closed connections get
// to unwind before the server returns regardless.
inline constexpr std::chrono::seconds force_close_unwind_max{2};
// dropgate's own HTTP client (the CLI's and the edge's calls to an origin):
// connecting gives up after client_connect_timeout; an API call after
// client_call_max in all; a transfer below 1 byte/s for client_stall_max (a
// frozen server, or a dead link) is cut. Big downloads and uploads have no
// overall deadline, only the stall one.
inline constexpr std::chrono::milliseconds client_connect_timeout{5000};
inline constexpr std::chrono::seconds client_call_max{60};
inline constexpr std::chrono::seconds client_stall_max{30};

// Logging (base/log.h): lines are buffered and reach stderr within
// log_flush_interval, or as soon as log_buffer_bytes_max wait.
inline constexpr std::chrono::milliseconds log_flush_interval{100};
inline constexpr uint32_t log_buffer_bytes_max = 64 * 1024;

// Edge.
// The edge's cache of judged download tokens (src/edge/token_cache.h), all
// entries counted; refusals get at most a quarter of it.
inline constexpr uint64_t edge_token_cache_bytes_max = 64ull * 1024 * 1024;
// An edge's calls to its origin give up after this long connecting, or
// waiting with no byte received, so a frozen origin shows on /healthz within
// seconds (sync_timeout_s may lower it).
inline constexpr std::chrono::seconds edge_sync_timeout_max{10};
// Events one push carries, both ways: the edge sends at most this many and the
// origin takes at most this many (~110 KB of JSON, far below the body limit).
inline constexpr uint32_t edge_push_events_max = 500;
// What an edge pushes after a 413 from an origin from before pushes were
// allowed the JSON body limit: 50 events (~11 KB) fit its anonymous 16 KiB.
inline constexpr uint32_t edge_push_events_small = 50;
// Offline sales one report carries (POST /v1/edge/sales): each ~2 KiB with
// its certificate and grant, so a report stays well under the 1 MiB body.
inline constexpr uint32_t edge_push_sales_max = 100;
// An event's kind ("download.completed") and its stored detail JSON (a larger
// detail is stored as {}: an edge's details are a few fields).
inline constexpr uint32_t event_kind_bytes_max = 32;
inline constexpr uint32_t event_detail_bytes_max = 4 * 1024;
// Pushes in one sync round (half a million events); the rest waits for the
// next round, so a huge backlog cannot keep a round from ending.
inline constexpr uint32_t edge_push_rounds_max = 1000;
// Drops one edge carries: the approval's list, the grant token's and the
// store's row hold the same list, so one bound serves them all.
inline constexpr uint32_t edge_drops_max = 256;
// The origin's sync document (GET /v1/edge/sync: every carried drop's signed
// manifest) and its revocation list, as the edge reads them.
inline constexpr uint64_t edge_sync_document_bytes_max = 64 * 1024 * 1024;
// The origin's small JSON answers to an edge (enrolment, grant).
inline constexpr uint32_t edge_origin_answer_bytes_max = 64 * 1024;
// The edge's own state files (versions.json, revocations.json, a drop's
// state with its manifest), read back at start.
inline constexpr uint64_t edge_state_file_bytes_max = 8 * 1024 * 1024;
// enrollment.json: an origin URL, an edge id and a secret.
inline constexpr uint32_t edge_enrollment_file_bytes_max = 4 * 1024;
inline constexpr uint32_t origin_url_bytes_max = 1024;
inline constexpr uint32_t edge_secret_bytes_max = 128;  // two random ids
// grant.token: one edge grant and a newline, with room to spare.
inline constexpr uint32_t edge_grant_file_bytes_max = 16 * 1024;
// Certificates on a revocation list, as the edge reads it: the largest
// edition's worth (edition_size_max).
inline constexpr uint32_t revocations_max = 1'000'000;
// Blobs this small are held in memory once served and written from there;
// larger ones go out with sendfile(2), which does not copy them through user
// space: at 64 KiB, copying cost more than the system calls it saves.
inline constexpr uint64_t edge_held_blob_bytes_max = 16 * 1024;
// The edge's outbox (store/outbox.h). A batch is one transaction and one row (~20-30 bytes a
// typical event, in the delta form; see store/outbox_codec.h). The cap bounds how long the writer
// holds the connection (peek and acknowledge wait for it) when a backlog built up; a full batch is
// written without waiting for the commit interval.
inline constexpr uint32_t outbox_batch_events_max = 32768;
// Commits are at least this far apart (unless a flush() waits or a batch is
// full): each costs an fsync. At tens of thousands of downloads a second,
// committing as often as the disk allows cost a fifth of a core; at a
// hundred a second, 10 ms apart still meant an fsync per download or two
// (a tenth of the edge's CPU serving 16 MiB files), and a venue edge often
// writes to flash, which wears. 100 ms is also how long the access log
// waits before it is written.
inline constexpr std::chrono::milliseconds outbox_commit_interval_min{100};
// The pause between attempts while writing fails, so a full or broken disk is
// not hammered in a loop; a shutdown cuts it short.
inline constexpr std::chrono::milliseconds outbox_write_retry_backoff{1000};
// While events keep coming, a written batch's buffer becomes the queue's
// next one, up to this size (about a full batch): a fresh buffer every
// commit grew by doubling, each step new pages, faulted in and soon
// unmapped, and cost the writer a fifth of its time. A larger one, left by a
// backlog, is let go; so are both once the writer finds nothing queued.
inline constexpr uint64_t outbox_spare_buffer_bytes_max = 8 * 1024 * 1024;
// The edge logs events its full outbox dropped at once, then at most this
// often, with how many were dropped meanwhile.
inline constexpr std::chrono::seconds edge_dropped_events_log_interval{10};

// Holds (origin). A hold takes a serial off sale for hold_ttl_s, so holds are
// rate-limited per account and per client address (429 with Retry-After
// beyond), in bursts of up to a minute's allowance. The address limit is the
// higher one: one checkout server may hold for many buyers.
inline constexpr uint32_t holds_per_account_per_min_max = 10;
inline constexpr uint32_t holds_per_address_per_min_max = 300;
inline constexpr uint32_t rate_limit_keys_max = 10'000;  // per limiter; memory bound
// A hold keeps its serial off sale at most a day (hold_ttl_s may shorten it),
// so an abandoned checkout gives its serial back the same day.
inline constexpr std::chrono::seconds hold_ttl_max = std::chrono::hours(24);

// Claim codes (docs/formats/claim-codes.md). A batch reserves one serial
// per code in one transaction, so its size bounds that transaction (and the
// CSV an operator prints). A typed code is at most this long with its
// separators. Redemption is rate-limited per client address and per drop
// (429 with Retry-After beyond), in bursts of up to a minute's allowance:
// with 95 random bits a code cannot be guessed at these rates, and the limits
// keep a guesser from even trying at scale. The drop limit is the higher
// one: a stall's queue redeems from one address (the venue's network).
inline constexpr uint32_t code_batch_count_max = 10'000;
inline constexpr uint32_t code_batch_label_bytes_max = 100;
inline constexpr uint32_t claim_code_bytes_max = 64;
inline constexpr uint32_t code_redeems_per_address_per_min_max = 30;
inline constexpr uint32_t code_redeems_per_drop_per_min_max = 600;

// Idempotency-Key: longer keys are refused (400), never cut short (two keys
// cut to one prefix would replay each other's answers).
inline constexpr uint32_t idempotency_key_bytes_max = identifier_bytes_max;

// JSON nesting: our documents nest a few levels; the bound keeps the parser's
// recursion shallow on hostile input.
inline constexpr uint32_t json_depth_max = 32;

// Operator listings: drops per page of GET /v1/drops (its ?limit= may ask for fewer).
inline constexpr uint32_t drops_page_count_max = 100;
// Edge enrolment (anonymous POST /v1/edges). A pending enrolment expires
// after edge_enrolment_ttl_max (config may shorten it); one client address may
// have at most edge_enrolments_per_address_max pending at once; when
// edge_enrolments_pending_max wait, a new one evicts the oldest, so anonymous
// traffic can never crowd out an operator's real enrolment.
inline constexpr uint32_t edge_enrolments_pending_max = 100;
inline constexpr uint32_t edge_enrolments_per_address_max = 3;
inline constexpr std::chrono::seconds edge_enrolment_ttl_max = std::chrono::hours(24);
inline constexpr uint32_t edge_enrolment_addresses_max = 10'000;  // addresses tracked in memory
inline constexpr uint32_t edge_name_bytes_max = 100;  // the operator's label for an edge

// Operator API keys: their hashes are held in memory, refreshed off the I/O
// thread, so checking a bearer value never waits for the store.
inline constexpr uint32_t operator_keys_max = 1000;
inline constexpr std::chrono::milliseconds operator_keys_refresh{1000};

// Origin caches. A drop read from the store is trusted this long, so a pause
// made through another origin process takes effect within it (this process's
// own changes apply at once).
inline constexpr std::chrono::milliseconds drop_cache_ttl{1000};
// The signed revocation list is kept this long before it is signed again: a
// revocation through this process re-signs it at once; one made through
// another origin process shows within this, without a signature per fetch.
inline constexpr std::chrono::minutes revocation_list_resign_after{10};
// A claim tries this many serials from its lease before giving up: another
// process may sell each one first, and a sold-out drop must not spin.
inline constexpr uint32_t claim_serial_attempts_max = 8;
// The group committer holds a batch at most this long for claims announced
// but not yet queued: a millisecond is below a disk's fsync.
inline constexpr std::chrono::microseconds claim_batch_linger_max{1000};

// Online checkout (origin/checkout.h). A checkout's hold covers the payment
// window: the provider's hosted checkout lives at least 30 minutes (Stripe's
// minimum expires_at), so the hold lives at least that (checkout_hold_ttl_s
// may set it from checkout_hold_ttl_min to hold_ttl_max), and the session
// expires no later than the hold.
inline constexpr std::chrono::seconds checkout_hold_ttl_min = std::chrono::minutes(30);
inline constexpr std::chrono::seconds checkout_hold_ttl_default = std::chrono::minutes(35);
// Webhooks: a signature older or newer than this is refused (a replay, or a
// clock far off); webhook_tolerance_s may lower it.
inline constexpr std::chrono::seconds webhook_tolerance_max = std::chrono::minutes(5);
// Stripe-Signature: a timestamp and a few v1 values (one per live secret).
inline constexpr uint32_t webhook_signature_header_bytes_max = 2048;
inline constexpr uint32_t webhook_signature_items_max = 16;
// Webhook secrets the origin accepts at once (rotation: the new and the old).
inline constexpr uint32_t webhook_secrets_max = 4;
// An event's JSON: a checkout session is a few KiB; this leaves room for
// expanded objects (Stripe's own events stay far below).
inline constexpr uint32_t webhook_body_bytes_max = 256 * 1024;
// The payment provider's API: an answer read at most this large, a call at most this long.
inline constexpr uint32_t payment_api_answer_bytes_max = 256 * 1024;
inline constexpr std::chrono::seconds payment_api_call_max{30};
inline constexpr uint32_t payment_url_bytes_max = 1024;  // payment_api_base, success/cancel URLs
inline constexpr uint32_t payment_secret_bytes_max = 256;
// Refund requests that failed are retried with a backoff doubling from
// refund_retry_backoff_min up to refund_retry_backoff_max; at most
// refund_retry_batch_max are retried per pass, and operators list at most
// refunds_list_count_max at once.
inline constexpr std::chrono::seconds refund_retry_backoff_min{30};
inline constexpr std::chrono::seconds refund_retry_backoff_max = std::chrono::hours(6);
inline constexpr uint32_t refund_retry_batch_max = 32;
inline constexpr uint32_t refunds_list_count_max = 1000;

// Store calls. Callers are our own code, but sizes often come from
// configuration, so the store refuses a call beyond them (invalid_argument)
// rather than asserting.
// Serials in one lease: one lease per thousand sales keeps the drop's row,
// which every lease locks, out of a surge's way; the store enumerates a lease
// and searches the leases covering a serial within this span.
inline constexpr uint32_t lease_serials_max = 1000;
// Claims in one record_claims call: one transaction, one fsync for them all.
inline constexpr uint32_t claims_batch_count_max = 1000;
// Events in one append_events call (one edge push, or the origin's own).
inline constexpr uint32_t events_batch_count_max = 1000;
// Events in one list_events answer: a page, not the whole history.
inline constexpr uint32_t events_list_count_max = 10'000;
// Open database connections of one process (PostgreSQL pool, SQLite readers).
inline constexpr uint32_t store_connections_max = 64;
// How long a call waits for a free pooled connection before unavailable.
inline constexpr std::chrono::milliseconds connection_wait_max{10'000};
// How long a call waits for a database lock (SQLite busy_timeout,
// PostgreSQL lock_timeout) before unavailable.
inline constexpr std::chrono::milliseconds lock_wait_max{10'000};
// An Idempotency-Key reservation older than this belongs to a request that
// died (crash, lost connection): a later request with the key takes it over.
// Far above what an action takes, including its waits for locks and connections.
inline constexpr std::chrono::milliseconds idempotency_in_flight_max{60'000};
// Connecting to PostgreSQL gives up after this (libpq's connect_timeout).
inline constexpr std::chrono::seconds postgres_connect_timeout{10};
// Statements are our own constant texts, a few dozen per connection; the
// bound guards against a future caller building unbounded SQL (PostgreSQL:
// statements beyond it run unprepared; SQLite: the cache starts over).
inline constexpr uint32_t prepared_statements_max = 256;

// Configuration ceilings: the highest value each setting of dropgate.toml and
// edge.toml may take (a file asking for more is refused, naming the ceiling).
// The duration settings' ceilings are the durations above (hold_ttl_max,
// download_token_ttl_max, clock_skew_max, manifest_ttl_max,
// edge_enrolment_ttl_max, edge_sync_timeout_max, sync_interval_max).
inline constexpr uint32_t db_connections_max = store_connections_max;
// Threads that wait on the store (each costs a stack), and network threads
// (far more than any machine has cores).
inline constexpr uint32_t handler_threads_max = 4096;
inline constexpr uint32_t io_threads_max = 256;
inline constexpr uint32_t claim_batch_claims_max = claims_batch_count_max;
// Seconds between an edge's sync rounds: at least one a day keeps its
// manifests, keyring and revocation list from going stale unnoticed.
inline constexpr std::chrono::seconds sync_interval_max = std::chrono::hours(24);
// Events an edge keeps while its origin is away: ~3 GB on disk at ~30 bytes each.
inline constexpr uint32_t outbox_depth_events_max = 100'000'000;
// Tokens the edge's cache holds; its bytes bound (token_cache_mb_max) binds first.
inline constexpr uint32_t token_cache_entries_max = 10'000'000;
inline constexpr uint32_t token_cache_mb_max = edge_token_cache_bytes_max >> 20;
inline constexpr uint32_t blob_memory_mb_max = 1'048'576;  // 1 TiB: in effect, the machine's memory

// Stall sales (reader receipts, declines, cash). Registered payment readers:
// few per operator; the listing returns them all. A reader's name is a label.
// Sales per page of GET /v1/drops/{slug}/sales (its ?limit= may ask for fewer).
inline constexpr uint32_t readers_max = 1000;
inline constexpr uint32_t reader_name_bytes_max = 100;
inline constexpr uint32_t sales_page_count_max = 500;
// The lifetime `dropgate reader sign` and `reader decline` give their tokens:
// a reader's receipt is exchanged within minutes; offline stalls may carry
// it for a day (receipts may live up to edge_grant_ttl_max).
inline constexpr std::chrono::seconds reader_token_ttl_default = std::chrono::hours(24);
// A cash sale's operator reference (a till slip number, a note).
inline constexpr uint32_t sale_reference_bytes_max = 200;
// A decline's reason; it goes on the revocation list after "payment declined: ".
inline constexpr uint32_t decline_reason_bytes_max = 160;

static_assert(token_bytes_max < request_target_bytes_max);
static_assert(request_target_bytes_max < request_header_bytes_max);
static_assert(request_id_bytes_max <= identifier_bytes_max);
static_assert(token_footer_bytes_max + token_payload_bytes_max < token_bytes_max);
static_assert(download_token_ttl_default <= download_token_ttl_max);
static_assert(clock_skew_default <= clock_skew_max);
static_assert(checkout_hold_ttl_min <= checkout_hold_ttl_default &&
              checkout_hold_ttl_default <= hold_ttl_max);
static_assert(webhook_body_bytes_max <= request_body_bytes_max_json);
static_assert(edge_grant_ttl_default <= edge_grant_ttl_max);
static_assert(decline_reason_bytes_max + 20 <= revocation_reason_bytes_max);
static_assert(reader_token_ttl_default <= edge_grant_ttl_max);
static_assert(asset_path_segment_bytes_max < asset_path_bytes_max);
static_assert(edge_grant_file_bytes_max > token_bytes_max);
// A configured value the store would turn down fails every call that uses it.
static_assert(db_connections_max <= store_connections_max);
static_assert(claim_batch_claims_max <= claims_batch_count_max);
static_assert(upload_bytes_max <= asset_size_bytes_max);
static_assert(uint64_t{token_cache_mb_max} << 20 == edge_token_cache_bytes_max);
// One edge push is appended to the store in one call; its drops fit one grant token.
static_assert(edge_push_events_max <= events_batch_count_max);
static_assert(edge_push_events_small < edge_push_events_max);
static_assert(edge_drops_max <= token_assets_count_max);
// A buyer's limit is never above the largest edition it applies to.
static_assert(per_buyer_limit_max <= edition_size_max);
// The connection wait and lock wait both fit inside an idempotency reservation,
// so a live request is never taken over while it waits.
static_assert(connection_wait_max + lock_wait_max < idempotency_in_flight_max);
// An edge's sync deadline is one of the client's: never longer than its defaults.
static_assert(edge_sync_timeout_max <= client_stall_max);
// Stored rights: a licence and two lists of quoted codes ("XX", at most 8 bytes each).
static_assert(license_bytes_max + 2 * territories_max * 8 + 1024 <= rights_json_bytes_max);

}  // namespace dg::limits
