// Store is the durable source of truth for drops, assets, manifests, leases,
// holds, claims, revocations, idempotency records and events.
//
// Thread safety: safe for concurrent use from many threads; every call is one
// transaction. Several processes may share one PostgreSQL database (and, with
// care, one SQLite file); all cross-process safety comes from the database.
// Durability: when a mutating call returns ok, its effect survives a crash of
// the process and of the machine (synchronous commit, fsync). After a failed
// commit the store refuses further writes (unavailable) rather than guess.
//
// Scarcity (docs/DESIGN.md "Scarcity: serial leases"): serials 1..N of a drop
// are handed to sellers in leases. A serial is in at most one lease at a time;
// claims carry UNIQUE(drop, serial). A seller sells only serials of leases it
// holds. Serials of a dead origin seller that were neither claimed nor held by
// an unexpired hold go back to the drop's pool and can be leased again.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/limits.h"
#include "base/status.h"
#include "core/drop.h"
#include "core/rights.h"

namespace dg::store {

// The store's limits (lease_serials_max, claims_batch_count_max,
// events_batch_count_max, events_list_count_max, store_connections_max and the
// waits) live in base/limits.h. Callers are our own code, but sizes often come
// from configuration, so a call beyond a limit is refused (invalid_argument)
// rather than asserted.

// The drop state machine lives in core/drop.h; stored as its frozen text names.
using core::drop_state_name;
using core::DropState;
using core::parse_drop_state;

struct DropSpec {
  std::string slug;
  std::string title;
  uint32_t edition_size = 0;
  int64_t opens_at_ms = 0;
  std::optional<int64_t> closes_at_ms;
  uint32_t per_buyer_limit = 1;
  int64_t price_minor = 0;  // 0: free
  std::string currency = "EUR";
  core::Rights rights;
};

struct Drop {
  int64_t id = 0;
  DropSpec spec;
  DropState state = DropState::draft;
  int64_t manifest_version = 0;  // 0: never published
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

struct AssetRecord {
  std::string path;
  uint64_t size_bytes = 0;
  std::string sha256;
  std::string media_type;
};

struct ManifestRecord {
  int64_t version = 0;
  std::string json;
  std::string minisig;
  std::string sha256;
  int64_t published_at_ms = 0;
};

// Frozen: stored as text. Origin sellers' leases are reclaimed when their
// heartbeat stops; edge sellers' leases never are (DESIGN.md, rule 4). A
// claim code batch's seller is of kind edge too (code_batch_seller_id).
enum class SellerKind { origin, edge };
std::string_view seller_kind_name(SellerKind kind);
std::optional<SellerKind> parse_seller_kind(std::string_view name);

struct Lease {
  int64_t id = 0;
  int64_t drop_id = 0;
  std::string seller_id;
  uint32_t first_serial = 0;
  uint32_t last_serial = 0;  // inclusive; a lease is one contiguous run
};

struct Hold {
  int64_t id = 0;
  int64_t drop_id = 0;
  uint32_t serial = 0;
  std::string account;
  std::string seller_id;
  int64_t expires_at_ms = 0;
};

// Frozen: stored as text.
enum class ClaimSource { free, payment, receipt, code, entitlement, operator_grant, cash };
std::string_view claim_source_name(ClaimSource source);
std::optional<ClaimSource> parse_claim_source(std::string_view name);

struct IdempotencyRecord {
  std::string scope;  // who: e.g. "account:buyer-1" or "operator"
  std::string key;    // the client's Idempotency-Key
  std::string request_sha256;
  unsigned response_status = 0;
  std::string response_body;
  int64_t created_at_ms = 0;
};

struct Event {
  std::string kind;     // "claim", "hold.expired", "claim.revoked", "download.completed", …
  int64_t drop_id = 0;  // not checked against drops: 0 for events of no drop
  std::optional<uint32_t> serial;
  std::string account;
  std::string detail_json = "{}";
  int64_t at_ms = 0;
  std::string dedup_key;  // non-empty: an event with the same key is stored once (edge outbox)
};

struct ClaimInsert {
  int64_t drop_id = 0;
  uint32_t serial = 0;
  std::string account;
  ClaimSource source = ClaimSource::free;
  std::string payment_ref;
  std::string cert_id;  // the certificate token's jti
  std::string cert_token;
  // Fails with limit_exceeded when the account's unrevoked claims of the
  // drop plus its other unexpired holds (the hold this claim confirms counts
  // once, as the claim) already reach this many (0: refuses every claim).
  uint32_t per_buyer_limit = 1;
  int64_t at_ms = 0;
  // Confirming a hold: it must exist, be unexpired at `at_ms` (expires_at_ms >
  // at_ms), match drop, serial and account; it is deleted with the claim.
  // Without a hold, the serial must not be held by an unexpired hold.
  std::optional<int64_t> from_hold_id;
  // Non-empty: the serial must lie in a lease `seller_id` still holds
  // (conflict otherwise), and the lease cannot be reclaimed while the claim
  // commits. Empty: no lease check (operator grants, tests).
  std::string seller_id;
  std::optional<IdempotencyRecord> idempotency;  // stored in the same transaction
  std::vector<Event> events;                     // appended in the same transaction
};

struct Claim {
  int64_t id = 0;
  int64_t drop_id = 0;
  uint32_t serial = 0;
  std::string account;
  ClaimSource source = ClaimSource::free;
  std::string payment_ref;
  std::string cert_id;
  std::string cert_token;
  int64_t claimed_at_ms = 0;
  std::optional<int64_t> revoked_at_ms;
};

struct Revocation {
  std::string cert_id;
  int64_t drop_id = 0;
  uint32_t serial = 0;
  int64_t revoked_at_ms = 0;
  std::string reason;
};

// Frozen: stored as text.
enum class EdgeState { pending, approved, revoked };
std::string_view edge_state_name(EdgeState state);

// An edge node that asked to carry drops (docs/formats/sync.md).
struct EdgeRecord {
  int64_t id = 0;
  std::string name;
  std::string edge_key;       // k4.public.…
  std::string key_id;         // k4.pid.… of edge_key
  std::string secret_sha256;  // hash of the enrolment secret only the edge knows
  EdgeState state = EdgeState::pending;
  std::vector<std::string> drops;  // granted drop slugs
  std::string grant_token;         // the current edge-grant, empty while pending
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

// --- Online checkout (docs/formats/orders.md). Frozen: stored as text.
// pending: sent to pay; paid: the provider confirmed, the claim not yet
// written; claimed: the serial is the buyer's; review: paid with another
// amount or currency (an operator decides); refund_pending: paid, no serial
// could be had, a refund is on its way; refunded / disputed: the money went
// back (any certificate is revoked).
enum class OrderState { pending, paid, claimed, review, refund_pending, refunded, disputed };
std::string_view order_state_name(OrderState state);
std::optional<OrderState> parse_order_state(std::string_view name);

struct Order {
  std::string id;  // 128 random bits, base64url: unguessable, the buyer's only handle
  int64_t drop_id = 0;
  std::string account;
  std::string territory;  // the buyer's, as given at checkout ("" when not given)
  int64_t hold_id = 0;    // the hold taken before the buyer was sent to pay
  int64_t amount_minor = 0;
  std::string currency;
  std::string session_id;  // the provider's checkout session
  std::string checkout_url;
  std::string payment_intent;  // once paid
  OrderState state = OrderState::pending;
  std::optional<uint32_t> serial;  // once claimed
  std::string note;                // why review, refund or dispute
  int64_t expires_at_ms = 0;       // the hold's (and the session's) end
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

// A change to an order, applied only from one of `from` (conflict otherwise).
// Empty optionals leave their column as it is.
struct OrderChange {
  std::vector<OrderState> from;
  OrderState to = OrderState::pending;
  std::optional<std::string> session_id;
  std::optional<std::string> checkout_url;
  std::optional<std::string> payment_intent;
  std::optional<uint32_t> serial;
  std::optional<std::string> note;
  int64_t now_ms = 0;
};

// A webhook event processed (or being ignored): the de-duplication record.
struct WebhookEventRecord {
  std::string event_id;
  std::string type;
  std::string payment_intent;  // "" when none
  std::string order_id;        // "" when not known
  std::string outcome;         // "claimed", "review", "refund_queued", "ignored", …
  int64_t received_at_ms = 0;
};

// Frozen: stored as text. requested: queued, the provider not yet known to
// have taken it (a crash here is retried); failed: the provider refused or
// did not answer (retried at next_attempt_at_ms); succeeded: done.
enum class RefundState { requested, succeeded, failed };
std::string_view refund_state_name(RefundState state);

struct Refund {
  int64_t id = 0;
  std::string order_id;  // one refund per order
  std::string payment_intent;
  int64_t amount_minor = 0;
  std::string currency;
  std::string reason;  // "sold_out", "window_closed", …
  RefundState state = RefundState::requested;
  uint32_t attempts = 0;
  int64_t next_attempt_at_ms = 0;
  std::string provider_ref;  // re_… once the provider took it
  std::string last_error;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

// --- Payment readers and stall sales (docs/formats/receipt.md).

// A payment reader an operator registered: receipts it signs with its key
// become serials.
struct ReaderRecord {
  std::string id;          // "rdr_…": what its receipts' "reader" names
  std::string name;        // the operator's label
  std::string public_key;  // k4.public.…
  std::string key_id;      // k4.pid.… of public_key: what its tokens' footers name
  int64_t created_at_ms = 0;
  std::optional<int64_t> revoked_at_ms;
};

// Frozen: stored as text.
enum class SaleChannel { receipt, cash };
enum class SaleState { accepted, declined };
std::string_view sale_channel_name(SaleChannel channel);
std::string_view sale_state_name(SaleState state);

// One stall sale: a reader's transaction (exchanged for a serial, or
// declined), or a cash sale. At most one per (reader_id, transaction).
struct ReceiptSale {
  int64_t id = 0;
  std::string reader_id;    // "" for cash
  std::string transaction;  // the reader's transaction id; cash: the sale's Idempotency-Key
  SaleChannel channel = SaleChannel::receipt;
  int64_t drop_id = 0;             // 0: declined before exchange, drop not known
  std::optional<uint32_t> serial;  // nullopt: no serial was sold for it
  int64_t amount_minor = 0;
  std::string currency;
  std::string account;
  std::string reference;  // cash: the operator's note
  SaleState state = SaleState::accepted;
  int64_t sold_at_ms = 0;  // accepted: when sold; declined first: when the decline came
  std::optional<int64_t> declined_at_ms;
  std::string decline_reason;
};

// --- Claim codes (docs/formats/claim-codes.md). A batch of single-use codes
// for one drop; each code reserved one serial when it was made.
struct CodeBatch {
  int64_t id = 0;
  int64_t drop_id = 0;
  std::string label;
  // Who redeems its codes: "origin" (any origin process). Kept per batch so
  // that a later change can hand a batch to one edge, never to two places.
  std::string redeemer = "origin";
  int64_t created_at_ms = 0;
  uint32_t generated = 0;
  uint32_t used = 0;     // redeemed: the code's serial has a claim
  uint32_t revoked = 0;  // given up unused: their serials went back to the pool
  uint32_t unused() const { return generated - used - revoked; }
};

// The seller that holds a batch's reserved serials, one one-serial lease per
// code. Frozen text: "code-batch:<batch id>", registered as kind edge, whose
// leases are never reclaimed by timeout.
std::string code_batch_seller_id(int64_t batch_id);

// One code, as found by its hash.
struct ClaimCodeRecord {
  int64_t id = 0;
  int64_t batch_id = 0;
  int64_t drop_id = 0;
  uint32_t serial = 0;  // reserved for this code
  std::string redeemer;
  bool used = false;
  std::optional<int64_t> revoked_at_ms;
};

struct CodeRevocation {
  uint32_t revoked = 0;       // codes revoked now; as many serials went back to the pool
  uint32_t already_used = 0;  // used codes the request named: they stay used
};

class Store {
 public:
  virtual ~Store() = default;

  // Creates or upgrades the schema to the latest version; safe to run from
  // several processes at once. conflict if the database was migrated by a
  // newer dropgate (its schema version is above ours).
  virtual Status migrate() = 0;
  virtual Result<int> schema_version() = 0;  // 0 before the first migrate()

  // --- Operator API keys, stored as SHA-256 hashes, never in the clear.
  virtual Status add_api_key(std::string_view key_sha256, std::string_view label,
                             int64_t now_ms) = 0;
  virtual Result<bool> api_key_exists(std::string_view key_sha256) = 0;
  // The stored hashes, at most `count_max` (limit_exceeded when there are more):
  // what the origin holds in memory to check bearer values without the store.
  virtual Result<std::vector<std::string>> list_api_keys(uint32_t count_max) = 0;
  // Revokes a key: not_found when no key has that hash.
  virtual Status delete_api_key(std::string_view key_sha256) = 0;

  // --- Drops. create: conflict if the slug exists; edition_size must be in
  // [1, limits::edition_size_max] (invalid_argument). update: not_found; the
  // slug cannot change (invalid_argument); only in draft or scheduled state
  // (conflict otherwise); conflict if edition_size falls below a serial already
  // leased or claimed. list_drops: one page, sorted by slug: the drops whose
  // slug sorts after `after_slug` (from the first when empty), at most
  // min(count_max, limits::drops_page_count_max) of them.
  virtual Result<Drop> create_drop(const DropSpec& spec, int64_t now_ms) = 0;
  virtual Result<Drop> update_drop(std::string_view slug, const DropSpec& spec, int64_t now_ms) = 0;
  virtual Result<Drop> get_drop(std::string_view slug) = 0;
  virtual Result<Drop> get_drop_by_id(int64_t drop_id) = 0;
  virtual Result<std::vector<Drop>> list_drops(std::string_view after_slug, uint32_t count_max) = 0;
  // Compare-and-set: moves to `to` only from one of `from`; conflict otherwise.
  virtual Result<Drop> set_drop_state(std::string_view slug, std::vector<DropState> from,
                                      DropState to, int64_t now_ms) = 0;

  // --- Assets of the next manifest (draft content). put replaces an asset with
  // the same path; not_found for an unknown drop. delete: not_found for an
  // unknown path. list: empty for an unknown drop.
  virtual Status put_asset(int64_t drop_id, const AssetRecord& asset) = 0;
  virtual Status delete_asset(int64_t drop_id, std::string_view path) = 0;
  virtual Result<std::vector<AssetRecord>> list_assets(int64_t drop_id) = 0;  // sorted by path

  // --- Manifests. Stores a new version and sets drops.manifest_version;
  // conflict unless version == current + 1.
  virtual Status publish_manifest(int64_t drop_id, const ManifestRecord& manifest) = 0;
  // not_found before the first publish.
  virtual Result<ManifestRecord> current_manifest(int64_t drop_id) = 0;

  // --- Sellers and leases.
  // Registers (or refreshes) a seller. `instance` names the machine/process
  // slot: a seller of the same instance registered earlier is dead by definition.
  // conflict if the seller exists with another kind (an edge's leases must
  // never become reclaimable by timeout).
  virtual Status register_seller(std::string_view seller_id, SellerKind kind,
                                 std::string_view instance, int64_t now_ms) = 0;
  // not_found for an unknown seller; conflict once a later registration of its
  // instance superseded it (it must stop selling: its leases are reclaimable).
  // A heartbeat never moves the recorded time backwards.
  virtual Status heartbeat(std::string_view seller_id, int64_t now_ms) = 0;

  // Grants `seller_id` one contiguous run of up to `serial_count_max` unsold,
  // unleased serials of the drop: returned serials first (lowest first), then
  // fresh ones. Touches the drop's row once per lease, not once per sale.
  // A run of returned serials is not extended into fresh ones, so it may be
  // shorter than asked. conflict ("sold out") when no serial is left to lease;
  // not_found for an unknown drop or seller; conflict for a superseded seller;
  // invalid_argument unless 1 <= serial_count_max <= limits::lease_serials_max.
  virtual Result<Lease> issue_lease(int64_t drop_id, std::string_view seller_id,
                                    uint32_t serial_count_max, int64_t now_ms) = 0;

  // Serials of `drop_id` not yet leased (fresh + returned): for adaptive lease
  // sizing. not_found for an unknown drop.
  virtual Result<uint32_t> unleased_count(int64_t drop_id) = 0;

  // The leases a seller holds, with the serials in them that are neither
  // claimed nor held by an unexpired hold (what it may still sell). Sorted by
  // drop, then first serial; empty for an unknown seller.
  struct LeaseState {
    Lease lease;
    std::vector<uint32_t> available_serials;
  };
  virtual Result<std::vector<LeaseState>> seller_leases(std::string_view seller_id,
                                                        int64_t now_ms) = 0;

  // Returns to the pool the unsold serials (not claimed, not held by an
  // unexpired hold) of every lease of origin sellers that are dead: heartbeat
  // older than now - heartbeat_timeout_ms, or an older registration of
  // `instance`, and deletes those leases. A dead seller's lease that still
  // covers an unexpired hold is left alone until a later pass (holds are
  // short). Returns how many serials came back; invalid_argument for a
  // negative timeout.
  virtual Result<uint32_t> reclaim_dead_sellers(int64_t now_ms, int64_t heartbeat_timeout_ms) = 0;

  // Gives back a live seller's unsold serials (graceful shutdown, or a lease
  // it no longer needs). As in reclaim, a lease that covers an unexpired hold
  // is kept until the hold is confirmed or expires. Returns how many came
  // back; not_found for an unknown seller.
  virtual Result<uint32_t> release_leases(std::string_view seller_id, int64_t now_ms) = 0;

  // --- Edge leases given back (issue #13, sql_store_edgelost.cc).
  // Gives back the unsold serials of one lease of `seller_id`: the lease
  // (drop_id, first_serial, last_serial) exactly as granted. Serials claimed
  // stay sold; the rest return to the drop's pool and the lease is deleted,
  // so a claim reported later under this seller for a serial of it fails the
  // lease check (conflict). Returns how many serials went back; not_found when
  // the seller holds no such lease (already released: the caller may treat it
  // as done). As release_leases, a lease covering an unexpired hold is left.
  virtual Result<uint32_t> release_lease(std::string_view seller_id, int64_t drop_id,
                                         uint32_t first_serial, uint32_t last_serial,
                                         int64_t now_ms) = 0;

  // --- Holds. create: the serial must be in a lease of `seller_id` and free
  // (no claim, no unexpired hold); conflict otherwise. An expired hold on the
  // serial is replaced. invalid_argument unless expires_at_ms > now_ms.
  // Holds count toward the per-buyer limit: limit_exceeded when the account's
  // unrevoked claims plus its unexpired holds of the drop already reach
  // `per_buyer_limit`. Concurrent holds and claims of one account queue on its
  // counter row, so together they never pass the limit.
  // get: not_found when unknown (an expired, not yet deleted hold is returned).
  virtual Result<Hold> create_hold(int64_t drop_id, uint32_t serial, std::string_view account,
                                   std::string_view seller_id, int64_t expires_at_ms,
                                   int64_t now_ms, uint32_t per_buyer_limit) = 0;
  virtual Result<Hold> get_hold(int64_t hold_id) = 0;
  // Unexpired holds (expires_at_ms > now_ms) on serials of the drop: what a
  // buyer cannot have now, besides the claimed serials. 0 for an unknown drop.
  virtual Result<uint32_t> live_hold_count(int64_t drop_id, int64_t now_ms) = 0;
  // Deletes holds that expired at or before now_ms and returns them, so their
  // sellers can sell those serials again. `seller_id` empty: all sellers.
  virtual Result<std::vector<Hold>> expire_holds(std::string_view seller_id, int64_t now_ms) = 0;

  // --- Claims. Each insert commits or fails on its own (savepoints inside one
  // transaction; group commit): conflict when the serial is taken or a hold is
  // gone, limit_exceeded at the per-buyer limit, not_found for an unknown drop,
  // invalid_argument for a serial outside 1..edition_size. Results in input
  // order; a result is ok only once the batch committed. A batch beyond
  // limits::claims_batch_count_max is refused whole. unavailable for one insert means
  // a transient failure (e.g. a deadlock between two batches): retry it.
  virtual std::vector<Result<Claim>> record_claims(const std::vector<ClaimInsert>& inserts) = 0;
  // get: not_found when the serial is unclaimed. list (by serial) and counts:
  // empty / 0 for an unknown drop.
  virtual Result<Claim> get_claim(int64_t drop_id, uint32_t serial) = 0;
  virtual Result<std::vector<Claim>> list_claims(int64_t drop_id) = 0;
  virtual Result<uint32_t> claim_count(int64_t drop_id) = 0;  // revoked claims included
  // Unrevoked claims of the account: what the per-buyer limit counts.
  virtual Result<uint32_t> account_claim_count(int64_t drop_id, std::string_view account) = 0;

  // --- Revocation. Marks the claim revoked and puts its certificate on the
  // list; the serial stays taken. Idempotent: revoking again returns the first
  // revocation unchanged. not_found when there is no claim. list: oldest first.
  virtual Result<Revocation> revoke_claim(int64_t drop_id, uint32_t serial, std::string_view reason,
                                          int64_t now_ms) = 0;
  virtual Result<std::vector<Revocation>> list_revocations() = 0;

  // --- Idempotency. not_found when unknown; a key reserved and not yet
  // answered comes back with response_status 0 (in flight).
  virtual Result<IdempotencyRecord> get_idempotency(std::string_view scope,
                                                    std::string_view key) = 0;
  // Stores a record (for responses not written through record_claims);
  // conflict if (scope, key) exists.
  virtual Status put_idempotency(const IdempotencyRecord& record) = 0;

  // Reserving a key before its action runs, so that of concurrent requests
  // with one key exactly one runs the action (the others replay its answer or
  // wait). reserve: `marker` gives scope, key, request_sha256 and
  // created_at_ms (now); `owner` is a value unique to this request. Returns
  // reserved when the key was free (a row with response_status 0 now holds
  // it), answered with the stored record, or in_flight with the record of the
  // request that holds it. A reservation older than
  // limits::idempotency_in_flight_max (its request died) is taken over.
  enum class IdempotencyState { reserved, in_flight, answered };
  struct IdempotencyReservation {
    IdempotencyState state = IdempotencyState::reserved;
    IdempotencyRecord record;  // in_flight, answered: the stored row
  };
  virtual Result<IdempotencyReservation> reserve_idempotency(const IdempotencyRecord& marker,
                                                             std::string_view owner) = 0;
  // Stores the answer in the reservation; conflict if `owner` no longer holds it.
  virtual Status answer_idempotency(std::string_view scope, std::string_view key,
                                    std::string_view owner, unsigned response_status,
                                    std::string_view response_body) = 0;
  // Frees the key (its action failed: a retry may run it again); conflict if
  // `owner` no longer holds it.
  virtual Status release_idempotency(std::string_view scope, std::string_view key,
                                     std::string_view owner) = 0;

  // --- Edges. create: conflict if the key is enrolled already. In the same
  // transaction, pending enrolments created at or before `pending_expired_at_ms`
  // are deleted, and when `pending_max` still wait the oldest pending ones are
  // deleted to make room: anonymous enrolments never lock out a new one.
  // invalid_argument when pending_max is 0.
  virtual Result<EdgeRecord> create_edge(const EdgeRecord& edge, uint32_t pending_max,
                                         int64_t pending_expired_at_ms) = 0;
  virtual Result<EdgeRecord> get_edge(int64_t edge_id) = 0;
  virtual Result<EdgeRecord> get_edge_by_key_id(std::string_view key_id) = 0;
  virtual Result<std::vector<EdgeRecord>> list_edges() = 0;
  // Sets state, granted drops and grant token (approval, renewal, revocation).
  virtual Result<EdgeRecord> update_edge(int64_t edge_id, EdgeState state,
                                         const std::vector<std::string>& drops,
                                         std::string_view grant_token, int64_t now_ms) = 0;

  // --- Payment readers. create: conflict when the public key (or id) is
  // registered already. revoke: keeps the first revocation time; not_found
  // when unknown. list: by creation, at most limits::readers_max.
  virtual Result<ReaderRecord> create_reader(const ReaderRecord& reader) = 0;
  virtual Result<ReaderRecord> get_reader(std::string_view reader_id) = 0;
  virtual Result<ReaderRecord> get_reader_by_key_id(std::string_view key_id) = 0;
  virtual Result<std::vector<ReaderRecord>> list_readers() = 0;
  virtual Result<ReaderRecord> revoke_reader(std::string_view reader_id, int64_t now_ms) = 0;

  // --- Stall sales. record: stores a sale already made (its claim is
  // recorded, its serial set) as accepted — the origin after a receipt's or
  // cash claim committed, and the edge's reconciliation of its offline
  // sales; conflict when (reader_id, transaction) is recorded already,
  // whatever its state (read it with get). invalid_argument without a serial.
  virtual Result<ReceiptSale> record_receipt_sale(const ReceiptSale& sale) = 0;
  // not_found when (reader_id, transaction) has no sale.
  virtual Result<ReceiptSale> get_receipt_sale(std::string_view reader_id,
                                               std::string_view transaction) = 0;
  // Marks (reader_id, transaction) declined, creating it from `decline`
  // (drop_id, serial, account, amount... as known) when it is not recorded
  // yet, so that a receipt exchanged later is refused. On a recorded sale:
  // state declined, the first decline's time and reason kept, its serial
  // and account kept, or taken from `decline` when it had none. Returns the
  // row after the change.
  virtual Result<ReceiptSale> decline_receipt_sale(const ReceiptSale& decline,
                                                   int64_t declined_at_ms) = 0;
  // The drop's sales, oldest first, after id `after_id`, at most
  // min(count_max, limits::sales_page_count_max); `state` nullopt: every state.
  virtual Result<std::vector<ReceiptSale>> list_receipt_sales(int64_t drop_id,
                                                              std::optional<SaleState> state,
                                                              int64_t after_id,
                                                              uint32_t count_max) = 0;
  // --- Claim codes. create: reserves one unleased serial per hash (returned
  // serials first, lowest first, then fresh ones) for a new batch, all in one
  // transaction: conflict when the drop has fewer unleased serials than
  // codes; not_found for an unknown drop; invalid_argument unless 1 <= count
  // <= limits::code_batch_count_max and the label fits
  // limits::code_batch_label_bytes_max; conflict if a hash exists already.
  virtual Result<CodeBatch> create_code_batch(int64_t drop_id, std::string_view label,
                                              std::string_view redeemer,
                                              const std::vector<std::string>& code_sha256s,
                                              int64_t now_ms) = 0;
  // not_found when no code has this hash.
  virtual Result<ClaimCodeRecord> find_claim_code(std::string_view code_sha256) = 0;
  // The drop's batches with their counts, oldest first; empty for an unknown drop.
  virtual Result<std::vector<CodeBatch>> list_code_batches(int64_t drop_id) = 0;
  // Revokes the unused codes of a batch (`code_sha256` empty) or one code
  // (`batch_id` 0) of the drop and returns their serials to the pool; used
  // codes stay used, revoked ones stay revoked. A redemption that commits
  // first makes its code used; one that comes after finds the serial gone.
  // not_found when the batch or code is not the drop's.
  virtual Result<CodeRevocation> revoke_claim_codes(int64_t drop_id, int64_t batch_id,
                                                    std::string_view code_sha256,
                                                    int64_t now_ms) = 0;

  // A published manifest by version (download tokens name the version they were issued for).
  virtual Result<ManifestRecord> get_manifest(int64_t drop_id, int64_t version) = 0;

  // --- Events: append-only. Returns how many were new (dedup_key repeats are
  // skipped). At most limits::events_batch_count_max per call.
  virtual Result<uint32_t> append_events(const std::vector<Event>& events) = 0;
  // Oldest first, at most min(count_max, limits::events_list_count_max); `kind` empty:
  // every kind.
  virtual Result<std::vector<Event>> list_events(int64_t drop_id, std::string_view kind,
                                                 uint32_t count_max) = 0;
  virtual Result<uint32_t> count_events(int64_t drop_id, std::string_view kind) = 0;

  // --- Online checkout: orders, webhook events, the refund queue
  // (sql_store_checkout.cc). create_order: conflict if the id exists.
  // get_order*: not_found. change_order: compare-and-set (OrderChange);
  // not_found for an unknown id, conflict from another state.
  virtual Status create_order(const Order& order) = 0;
  virtual Result<Order> get_order(std::string_view order_id) = 0;
  virtual Result<Order> get_order_by_payment_intent(std::string_view payment_intent) = 0;
  virtual Result<Order> change_order(std::string_view order_id, const OrderChange& change) = 0;
  // Records a webhook event once: false when its id was recorded before.
  virtual Result<bool> record_webhook_event(const WebhookEventRecord& event) = 0;
  virtual Result<std::optional<WebhookEventRecord>> get_webhook_event(
      std::string_view event_id) = 0;
  // The recorded events of one payment intent, oldest first (an early refund
  // waits there for its completion).
  virtual Result<std::vector<WebhookEventRecord>> webhook_events_of_payment(
      std::string_view payment_intent) = 0;
  // Queues a refund and moves its order to refund_pending in one transaction.
  // One refund per order: queueing again returns the first, unchanged.
  virtual Result<Refund> queue_refund(const Refund& refund, int64_t now_ms) = 0;
  // Records an attempt's result. succeeded also moves the order from
  // refund_pending to refunded, in the same transaction. not_found.
  virtual Result<Refund> update_refund(int64_t refund_id, RefundState state, uint32_t attempts,
                                       int64_t next_attempt_at_ms, std::string_view provider_ref,
                                       std::string_view last_error, int64_t now_ms) = 0;
  virtual Result<Refund> get_refund(int64_t refund_id) = 0;
  // Refunds not yet succeeded whose next attempt is due (at or before now_ms),
  // oldest first, at most min(count_max, limits::refund_retry_batch_max).
  virtual Result<std::vector<Refund>> due_refunds(int64_t now_ms, uint32_t count_max) = 0;
  // Every refund, newest first, at most min(count_max, limits::refunds_list_count_max).
  virtual Result<std::vector<Refund>> list_refunds(uint32_t count_max) = 0;
  // Refunds not yet succeeded.
  virtual Result<uint32_t> queued_refund_count() = 0;
};

// None of the open functions touches the schema: call migrate() at start.
//
// Opens the embedded default: one SQLite file in WAL mode, synchronous=FULL.
// Writes go through one connection (one writer at a time is all SQLite
// allows); reads use a pool of `read_connections` (0: reads share the write
// connection), so reads never wait for a write's fsync.
Result<std::unique_ptr<Store>> open_sqlite(const std::string& path, uint32_t read_connections = 4);
// Opens a PostgreSQL database from a libpq connection string (postgresql://…);
// `connections` (1..limits::store_connections_max) is the size of the connection pool.
// A call waits at most limits::connection_wait_max for a connection (unavailable
// after); a broken connection is replaced on its next checkout.
Result<std::unique_ptr<Store>> open_postgres(const std::string& conninfo, uint32_t connections);
// Picks by scheme: "postgresql://" or "postgres://" → PostgreSQL, else a
// SQLite path, with `connections` read connections.
Result<std::unique_ptr<Store>> open_store(const std::string& location, uint32_t connections);

}  // namespace dg::store
