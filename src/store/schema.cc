#include "store/schema.h"

#include <array>

#include "base/assert.h"

namespace dg::store {
namespace {

// Version 1 on SQLite. STRICT tables reject values of the wrong type, which
// SQLite would otherwise store silently. AUTOINCREMENT keeps ids from being
// reused after a row is deleted (leases and holds are deleted routinely).
constexpr std::string_view kSqliteV1 = R"sql(
CREATE TABLE api_keys (
  key_sha256 TEXT PRIMARY KEY,
  label TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE drops (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  slug TEXT NOT NULL UNIQUE,
  title TEXT NOT NULL,
  edition_size INTEGER NOT NULL CHECK (edition_size >= 1),
  opens_at_ms INTEGER NOT NULL,
  closes_at_ms INTEGER,
  per_buyer_limit INTEGER NOT NULL CHECK (per_buyer_limit >= 0),
  price_minor INTEGER NOT NULL CHECK (price_minor >= 0),
  currency TEXT NOT NULL,
  rights_json TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('draft', 'scheduled', 'live', 'paused', 'closed')),
  manifest_version INTEGER NOT NULL DEFAULT 0 CHECK (manifest_version >= 0),
  -- High-water mark: serials below it were leased at least once; the rest are fresh.
  next_serial INTEGER NOT NULL DEFAULT 1,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  CHECK (next_serial BETWEEN 1 AND edition_size + 1)
) STRICT;

CREATE TABLE assets (
  drop_id INTEGER NOT NULL REFERENCES drops (id),
  path TEXT NOT NULL,
  size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),
  sha256 TEXT NOT NULL,
  media_type TEXT NOT NULL,
  PRIMARY KEY (drop_id, path)
) STRICT, WITHOUT ROWID;

CREATE TABLE manifests (
  drop_id INTEGER NOT NULL REFERENCES drops (id),
  version INTEGER NOT NULL CHECK (version >= 1),
  json TEXT NOT NULL,
  minisig TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  published_at_ms INTEGER NOT NULL,
  PRIMARY KEY (drop_id, version)
) STRICT;

CREATE TABLE sellers (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('origin', 'edge')),
  instance TEXT NOT NULL,
  -- Registration order: a higher generation of the same instance supersedes a lower one.
  generation INTEGER NOT NULL,
  registered_at_ms INTEGER NOT NULL,
  heartbeat_at_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX sellers_by_instance ON sellers (instance, generation);

CREATE TABLE leases (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  drop_id INTEGER NOT NULL REFERENCES drops (id),
  seller_id TEXT NOT NULL REFERENCES sellers (id),
  first_serial INTEGER NOT NULL CHECK (first_serial >= 1),
  last_serial INTEGER NOT NULL,
  issued_at_ms INTEGER NOT NULL,
  CHECK (last_serial >= first_serial)
) STRICT;
CREATE INDEX leases_by_seller ON leases (seller_id, drop_id, first_serial);
CREATE INDEX leases_by_drop ON leases (drop_id, first_serial);

-- Serials below drops.next_serial that are in no lease and unclaimed.
CREATE TABLE returned_serials (
  drop_id INTEGER NOT NULL REFERENCES drops (id),
  serial INTEGER NOT NULL,
  returned_at_ms INTEGER NOT NULL,
  PRIMARY KEY (drop_id, serial)
) STRICT, WITHOUT ROWID;

CREATE TABLE holds (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  drop_id INTEGER NOT NULL REFERENCES drops (id),
  serial INTEGER NOT NULL,
  account TEXT NOT NULL,
  seller_id TEXT NOT NULL REFERENCES sellers (id),
  expires_at_ms INTEGER NOT NULL,
  created_at_ms INTEGER NOT NULL,
  UNIQUE (drop_id, serial)
) STRICT;
CREATE INDEX holds_by_expiry ON holds (expires_at_ms);

CREATE TABLE claims (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  drop_id INTEGER NOT NULL REFERENCES drops (id),
  serial INTEGER NOT NULL CHECK (serial >= 1),
  account TEXT NOT NULL,
  source TEXT NOT NULL CHECK (source IN ('free', 'payment', 'receipt', 'code', 'entitlement',
                                         'operator_grant')),
  payment_ref TEXT NOT NULL,
  cert_id TEXT NOT NULL,
  cert_token TEXT NOT NULL,
  claimed_at_ms INTEGER NOT NULL,
  revoked_at_ms INTEGER,
  UNIQUE (drop_id, serial)
) STRICT;
CREATE INDEX claims_by_account ON claims (drop_id, account);
CREATE UNIQUE INDEX claims_by_cert_id ON claims (cert_id) WHERE cert_id <> '';

-- Unrevoked claims per buyer: the per-buyer limit is checked against one row
-- (O(1), and the row lock serialises two claims of one buyer), not a COUNT.
CREATE TABLE buyer_claims (
  drop_id INTEGER NOT NULL REFERENCES drops (id),
  account TEXT NOT NULL,
  claim_count INTEGER NOT NULL CHECK (claim_count >= 0),
  PRIMARY KEY (drop_id, account)
) STRICT, WITHOUT ROWID;

CREATE TABLE revocations (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  claim_id INTEGER NOT NULL UNIQUE REFERENCES claims (id),
  cert_id TEXT NOT NULL,
  drop_id INTEGER NOT NULL,
  serial INTEGER NOT NULL,
  revoked_at_ms INTEGER NOT NULL,
  reason TEXT NOT NULL
) STRICT;

CREATE TABLE idempotency (
  scope TEXT NOT NULL,
  key TEXT NOT NULL,
  request_sha256 TEXT NOT NULL,
  response_status INTEGER NOT NULL,
  response_body TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  PRIMARY KEY (scope, key)
) STRICT;

-- drop_id is not a foreign key: events also describe things of no drop (0).
CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  drop_id INTEGER NOT NULL,
  serial INTEGER,
  account TEXT NOT NULL,
  detail_json TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  dedup_key TEXT NOT NULL
) STRICT;
CREATE INDEX events_by_drop_kind ON events (drop_id, kind, id);
CREATE UNIQUE INDEX events_by_dedup_key ON events (dedup_key) WHERE dedup_key <> '';
)sql";

// Version 1 on PostgreSQL: the same tables. Paths and slugs sort bytewise
// (COLLATE "C") whatever the database's locale, as they do on SQLite.
// Unsigned 32-bit values that may exceed INTEGER (per_buyer_limit) are BIGINT.
constexpr std::string_view kPostgresV1 = R"sql(
CREATE TABLE api_keys (
  key_sha256 TEXT PRIMARY KEY,
  label TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL
);

CREATE TABLE drops (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  slug TEXT COLLATE "C" NOT NULL UNIQUE,
  title TEXT NOT NULL,
  edition_size INTEGER NOT NULL CHECK (edition_size >= 1),
  opens_at_ms BIGINT NOT NULL,
  closes_at_ms BIGINT,
  per_buyer_limit BIGINT NOT NULL CHECK (per_buyer_limit >= 0),
  price_minor BIGINT NOT NULL CHECK (price_minor >= 0),
  currency TEXT NOT NULL,
  rights_json TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('draft', 'scheduled', 'live', 'paused', 'closed')),
  manifest_version BIGINT NOT NULL DEFAULT 0 CHECK (manifest_version >= 0),
  -- High-water mark: serials below it were leased at least once; the rest are fresh.
  next_serial INTEGER NOT NULL DEFAULT 1,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  CHECK (next_serial BETWEEN 1 AND edition_size + 1)
);

CREATE TABLE assets (
  drop_id BIGINT NOT NULL REFERENCES drops (id),
  path TEXT COLLATE "C" NOT NULL,
  size_bytes BIGINT NOT NULL CHECK (size_bytes >= 0),
  sha256 TEXT NOT NULL,
  media_type TEXT NOT NULL,
  PRIMARY KEY (drop_id, path)
);

CREATE TABLE manifests (
  drop_id BIGINT NOT NULL REFERENCES drops (id),
  version BIGINT NOT NULL CHECK (version >= 1),
  json TEXT NOT NULL,
  minisig TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  published_at_ms BIGINT NOT NULL,
  PRIMARY KEY (drop_id, version)
);

-- Registration order across processes: a sequence never hands out a number twice.
CREATE SEQUENCE seller_generation AS BIGINT;
CREATE TABLE sellers (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('origin', 'edge')),
  instance TEXT NOT NULL,
  generation BIGINT NOT NULL,
  registered_at_ms BIGINT NOT NULL,
  heartbeat_at_ms BIGINT NOT NULL
);
CREATE INDEX sellers_by_instance ON sellers (instance, generation);

CREATE TABLE leases (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  drop_id BIGINT NOT NULL REFERENCES drops (id),
  seller_id TEXT NOT NULL REFERENCES sellers (id),
  first_serial INTEGER NOT NULL CHECK (first_serial >= 1),
  last_serial INTEGER NOT NULL,
  issued_at_ms BIGINT NOT NULL,
  CHECK (last_serial >= first_serial)
);
CREATE INDEX leases_by_seller ON leases (seller_id, drop_id, first_serial);
CREATE INDEX leases_by_drop ON leases (drop_id, first_serial);

-- Serials below drops.next_serial that are in no lease and unclaimed.
CREATE TABLE returned_serials (
  drop_id BIGINT NOT NULL REFERENCES drops (id),
  serial INTEGER NOT NULL,
  returned_at_ms BIGINT NOT NULL,
  PRIMARY KEY (drop_id, serial)
);

CREATE TABLE holds (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  drop_id BIGINT NOT NULL REFERENCES drops (id),
  serial INTEGER NOT NULL,
  account TEXT NOT NULL,
  seller_id TEXT NOT NULL REFERENCES sellers (id),
  expires_at_ms BIGINT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  UNIQUE (drop_id, serial)
);
CREATE INDEX holds_by_expiry ON holds (expires_at_ms);

CREATE TABLE claims (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  drop_id BIGINT NOT NULL REFERENCES drops (id),
  serial INTEGER NOT NULL CHECK (serial >= 1),
  account TEXT NOT NULL,
  source TEXT NOT NULL CHECK (source IN ('free', 'payment', 'receipt', 'code', 'entitlement',
                                         'operator_grant')),
  payment_ref TEXT NOT NULL,
  cert_id TEXT NOT NULL,
  cert_token TEXT NOT NULL,
  claimed_at_ms BIGINT NOT NULL,
  revoked_at_ms BIGINT,
  UNIQUE (drop_id, serial)
);
CREATE INDEX claims_by_account ON claims (drop_id, account);
CREATE UNIQUE INDEX claims_by_cert_id ON claims (cert_id) WHERE cert_id <> '';

-- Unrevoked claims per buyer: the per-buyer limit is checked against one row
-- (O(1), and the row lock serialises two claims of one buyer), not a COUNT.
CREATE TABLE buyer_claims (
  drop_id BIGINT NOT NULL REFERENCES drops (id),
  account TEXT NOT NULL,
  claim_count BIGINT NOT NULL CHECK (claim_count >= 0),
  PRIMARY KEY (drop_id, account)
);

CREATE TABLE revocations (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  claim_id BIGINT NOT NULL UNIQUE REFERENCES claims (id),
  cert_id TEXT NOT NULL,
  drop_id BIGINT NOT NULL,
  serial INTEGER NOT NULL,
  revoked_at_ms BIGINT NOT NULL,
  reason TEXT NOT NULL
);

CREATE TABLE idempotency (
  scope TEXT NOT NULL,
  key TEXT NOT NULL,
  request_sha256 TEXT NOT NULL,
  response_status INTEGER NOT NULL,
  response_body TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  PRIMARY KEY (scope, key)
);

-- drop_id is not a foreign key: events also describe things of no drop (0).
CREATE TABLE events (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind TEXT NOT NULL,
  drop_id BIGINT NOT NULL,
  serial INTEGER,
  account TEXT NOT NULL,
  detail_json TEXT NOT NULL,
  at_ms BIGINT NOT NULL,
  dedup_key TEXT NOT NULL
);
CREATE INDEX events_by_drop_kind ON events (drop_id, kind, id);
CREATE UNIQUE INDEX events_by_dedup_key ON events (dedup_key) WHERE dedup_key <> '';
)sql";

// Version 2: edges that asked to carry drops, and their grants.
constexpr std::string_view kSqliteV2 = R"sql(
CREATE TABLE edges (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  edge_key TEXT NOT NULL UNIQUE,
  key_id TEXT NOT NULL UNIQUE,
  secret_sha256 TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'revoked')),
  drops_json TEXT NOT NULL,
  grant_token TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
) STRICT;
)sql";

constexpr std::string_view kPostgresV2 = R"sql(
CREATE TABLE edges (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name TEXT NOT NULL,
  edge_key TEXT NOT NULL UNIQUE,
  key_id TEXT NOT NULL UNIQUE,
  secret_sha256 TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'revoked')),
  drops_json TEXT NOT NULL,
  grant_token TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL
);
)sql";

// Version 3: holds count toward the per-buyer limit, and Idempotency-Keys are
// reserved before their action runs.
// - buyer_claims.holds_until_ms: the latest expiry of a hold the buyer took
//   (0: none). A claim counts the buyer's live holds only while it is in the
//   future, so a buyer who never held pays nothing for the hold check.
// - holds_by_account: that count, and the hold check of create_hold.
// - idempotency.owner: the request that reserved a key not yet answered
//   (response_status 0); empty once answered, or for records written whole.
constexpr std::string_view kSqliteV3 = R"sql(
ALTER TABLE buyer_claims ADD COLUMN holds_until_ms INTEGER NOT NULL DEFAULT 0;
CREATE INDEX holds_by_account ON holds (drop_id, account);
ALTER TABLE idempotency ADD COLUMN owner TEXT NOT NULL DEFAULT '';
)sql";

constexpr std::string_view kPostgresV3 = R"sql(
ALTER TABLE buyer_claims ADD COLUMN holds_until_ms BIGINT NOT NULL DEFAULT 0;
CREATE INDEX holds_by_account ON holds (drop_id, account);
ALTER TABLE idempotency ADD COLUMN owner TEXT NOT NULL DEFAULT '';
)sql";

// Version 4: claims and buyer_claims no longer check drop_id against drops.
// Drops are never deleted (nothing in the store deletes one), and every claim
// and buyer counter is written after the same transaction read its drop
// (check_claim_preconditions, add_claim_checks in sql_store_claims.cc, create_hold's lease
// check), so the foreign keys protected nothing at run time. On PostgreSQL
// each was a trigger per inserted row (an SPI `SELECT ... FOR KEY SHARE` on
// the hot drops row): about 21 us of a claim's ~75 us in the database.
// SQLite keeps them: there a check is one in-process primary-key lookup with
// no lock, and dropping one means rebuilding the table (SQLite has no DROP
// CONSTRAINT), a copy of every claim at start for nothing measurable. Its
// version 4 changes nothing, so the versions stay the same on both backends.
constexpr std::string_view kSqliteV4 = R"sql(
SELECT 1;
)sql";

constexpr std::string_view kPostgresV4 = R"sql(
ALTER TABLE claims DROP CONSTRAINT IF EXISTS claims_drop_id_fkey;
ALTER TABLE buyer_claims DROP CONSTRAINT IF EXISTS buyer_claims_drop_id_fkey;
)sql";

// Version 5: online checkout (docs/formats/orders.md).
// - orders: one per checkout; its id is the buyer's unguessable handle.
// - webhook_events: every processed provider event, by id, so a redelivery
//   is answered without acting twice (written after the event's effects,
//   which are themselves idempotent: origin/checkout.cc says why).
// - refunds: the refund queue, one per order, retried until it succeeds.
constexpr std::string_view kSqliteV5 = R"sql(
CREATE TABLE orders (
  id TEXT PRIMARY KEY,
  drop_id INTEGER NOT NULL REFERENCES drops (id),
  account TEXT NOT NULL,
  territory TEXT NOT NULL,
  hold_id INTEGER NOT NULL,
  amount_minor INTEGER NOT NULL CHECK (amount_minor >= 0),
  currency TEXT NOT NULL,
  session_id TEXT NOT NULL,
  checkout_url TEXT NOT NULL,
  payment_intent TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'paid', 'claimed', 'review', 'refund_pending',
                                       'refunded', 'disputed')),
  serial INTEGER,
  note TEXT NOT NULL,
  expires_at_ms INTEGER NOT NULL,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX orders_by_payment_intent ON orders (payment_intent) WHERE payment_intent <> '';

CREATE TABLE webhook_events (
  event_id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  payment_intent TEXT NOT NULL,
  order_id TEXT NOT NULL,
  outcome TEXT NOT NULL,
  received_at_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX webhook_events_by_payment ON webhook_events (payment_intent)
  WHERE payment_intent <> '';

CREATE TABLE refunds (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  order_id TEXT NOT NULL UNIQUE REFERENCES orders (id),
  payment_intent TEXT NOT NULL,
  amount_minor INTEGER NOT NULL CHECK (amount_minor >= 0),
  currency TEXT NOT NULL,
  reason TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('requested', 'succeeded', 'failed')),
  attempts INTEGER NOT NULL CHECK (attempts >= 0),
  next_attempt_at_ms INTEGER NOT NULL,
  provider_ref TEXT NOT NULL,
  last_error TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX refunds_due ON refunds (next_attempt_at_ms) WHERE state <> 'succeeded';
)sql";

constexpr std::string_view kPostgresV5 = R"sql(
CREATE TABLE orders (
  id TEXT COLLATE "C" PRIMARY KEY,
  drop_id BIGINT NOT NULL REFERENCES drops (id),
  account TEXT NOT NULL,
  territory TEXT NOT NULL,
  hold_id BIGINT NOT NULL,
  amount_minor BIGINT NOT NULL CHECK (amount_minor >= 0),
  currency TEXT NOT NULL,
  session_id TEXT NOT NULL,
  checkout_url TEXT NOT NULL,
  payment_intent TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'paid', 'claimed', 'review', 'refund_pending',
                                       'refunded', 'disputed')),
  serial BIGINT,
  note TEXT NOT NULL,
  expires_at_ms BIGINT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL
);
CREATE INDEX orders_by_payment_intent ON orders (payment_intent) WHERE payment_intent <> '';

CREATE TABLE webhook_events (
  event_id TEXT COLLATE "C" PRIMARY KEY,
  type TEXT NOT NULL,
  payment_intent TEXT NOT NULL,
  order_id TEXT NOT NULL,
  outcome TEXT NOT NULL,
  received_at_ms BIGINT NOT NULL
);
CREATE INDEX webhook_events_by_payment ON webhook_events (payment_intent)
  WHERE payment_intent <> '';

CREATE TABLE refunds (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  order_id TEXT COLLATE "C" NOT NULL UNIQUE REFERENCES orders (id),
  payment_intent TEXT NOT NULL,
  amount_minor BIGINT NOT NULL CHECK (amount_minor >= 0),
  currency TEXT NOT NULL,
  reason TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('requested', 'succeeded', 'failed')),
  attempts BIGINT NOT NULL CHECK (attempts >= 0),
  next_attempt_at_ms BIGINT NOT NULL,
  provider_ref TEXT NOT NULL,
  last_error TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL
);
CREATE INDEX refunds_due ON refunds (next_attempt_at_ms) WHERE state <> 'succeeded';
)sql";

// Version 6: payment readers and stall sales (issue #13, readers).
// - readers: registered payment readers, each with its own Ed25519 key.
// - receipt_sales: one row per (reader, transaction) exchanged or declined,
//   and per cash sale (reader_id '', txn the sale's Idempotency-Key): the
//   durable record of a stall sale, which a decline marks. drop_id is 0 for
//   a decline that arrived before its receipt and named no drop; serial is
//   NULL until a serial was sold.
// - claims.source may be 'cash'. SQLite cannot alter a CHECK constraint, and
//   rebuilding claims would copy every claim (and fight the foreign key from
//   revocations): the constraint's text is edited in sqlite_schema instead,
//   the documented way for a change that only loosens a CHECK
//   (sqlite.org/lang_altertable.html, "otheralter"). The CREATE TABLEs after
//   it bump the schema cookie, so every connection reloads the new text.
constexpr std::string_view kSqliteV6 = R"sql(
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
  SET sql = replace(sql, '''operator_grant'')', '''operator_grant'', ''cash'')')
  WHERE type = 'table' AND name = 'claims';
PRAGMA writable_schema = RESET;

CREATE TABLE readers (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  public_key TEXT NOT NULL UNIQUE,
  key_id TEXT NOT NULL UNIQUE,
  created_at_ms INTEGER NOT NULL,
  revoked_at_ms INTEGER
) STRICT;

CREATE TABLE receipt_sales (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  reader_id TEXT NOT NULL,
  txn TEXT NOT NULL,
  channel TEXT NOT NULL CHECK (channel IN ('receipt', 'cash')),
  drop_id INTEGER NOT NULL,
  serial INTEGER,
  amount_minor INTEGER NOT NULL,
  currency TEXT NOT NULL,
  account TEXT NOT NULL,
  reference TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('accepted', 'declined')),
  sold_at_ms INTEGER NOT NULL,
  declined_at_ms INTEGER,
  decline_reason TEXT NOT NULL,
  UNIQUE (reader_id, txn)
) STRICT;
CREATE INDEX receipt_sales_by_drop ON receipt_sales (drop_id, state, id);
)sql";

constexpr std::string_view kPostgresV6 = R"sql(
ALTER TABLE claims DROP CONSTRAINT claims_source_check;
ALTER TABLE claims ADD CONSTRAINT claims_source_check CHECK (source IN ('free', 'payment',
  'receipt', 'code', 'entitlement', 'operator_grant', 'cash'));

CREATE TABLE readers (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  public_key TEXT NOT NULL UNIQUE,
  key_id TEXT NOT NULL UNIQUE,
  created_at_ms BIGINT NOT NULL,
  revoked_at_ms BIGINT
);

CREATE TABLE receipt_sales (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  reader_id TEXT NOT NULL,
  txn TEXT NOT NULL,
  channel TEXT NOT NULL CHECK (channel IN ('receipt', 'cash')),
  drop_id BIGINT NOT NULL,
  serial INTEGER,
  amount_minor BIGINT NOT NULL,
  currency TEXT NOT NULL,
  account TEXT NOT NULL,
  reference TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('accepted', 'declined')),
  sold_at_ms BIGINT NOT NULL,
  declined_at_ms BIGINT,
  decline_reason TEXT NOT NULL,
  UNIQUE (reader_id, txn)
);
CREATE INDEX receipt_sales_by_drop ON receipt_sales (drop_id, state, id);
)sql";

// Version 7: claim codes (docs/formats/claim-codes.md). A batch's serials
// are reserved when its codes are made: each code's serial is a one-serial
// lease of the batch's own seller, "code-batch:<id>", of kind edge (its
// leases are never reclaimed by timeout; they come back only when codes are
// revoked). A code is used once its serial has a claim (the claim is the
// redemption, written in one transaction), so no column says so.
// - code_batches.redeemer: the seller that redeems the batch's codes:
//   'origin' (any origin process); a later change may hand a batch to one edge.
// - claim_codes.code_sha256: the code itself is never stored.
constexpr std::string_view kSqliteV7 = R"sql(
CREATE TABLE code_batches (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  drop_id INTEGER NOT NULL REFERENCES drops (id),
  label TEXT NOT NULL,
  redeemer TEXT NOT NULL,
  code_count INTEGER NOT NULL CHECK (code_count >= 1),
  created_at_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX code_batches_by_drop ON code_batches (drop_id, id);
CREATE TABLE claim_codes (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  batch_id INTEGER NOT NULL REFERENCES code_batches (id),
  drop_id INTEGER NOT NULL REFERENCES drops (id),
  code_sha256 TEXT NOT NULL UNIQUE,
  serial INTEGER NOT NULL CHECK (serial >= 1),
  revoked_at_ms INTEGER
) STRICT;
CREATE INDEX claim_codes_by_batch ON claim_codes (batch_id, serial);
)sql";

constexpr std::string_view kPostgresV7 = R"sql(
CREATE TABLE code_batches (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  drop_id BIGINT NOT NULL REFERENCES drops (id),
  label TEXT NOT NULL,
  redeemer TEXT NOT NULL,
  code_count BIGINT NOT NULL CHECK (code_count >= 1),
  created_at_ms BIGINT NOT NULL
);
CREATE INDEX code_batches_by_drop ON code_batches (drop_id, id);
CREATE TABLE claim_codes (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  batch_id BIGINT NOT NULL REFERENCES code_batches (id),
  drop_id BIGINT NOT NULL REFERENCES drops (id),
  code_sha256 TEXT NOT NULL UNIQUE,
  serial BIGINT NOT NULL CHECK (serial >= 1),
  revoked_at_ms BIGINT
);
CREATE INDEX claim_codes_by_batch ON claim_codes (batch_id, serial);
)sql";

constexpr std::array kSqliteMigrations = {
    Migration{1, "initial schema", kSqliteV1},
    Migration{2, "edges", kSqliteV2},
    Migration{3, "holds count toward the buyer limit; idempotency reservations", kSqliteV3},
    Migration{4, "claims without a foreign key to drops (PostgreSQL)", kSqliteV4},
    Migration{5, "online checkout: orders, webhook events, refunds", kSqliteV5},
    Migration{6, "payment readers and stall sales", kSqliteV6},
    Migration{7, "claim codes", kSqliteV7},
};
constexpr std::array kPostgresMigrations = {
    Migration{1, "initial schema", kPostgresV1},
    Migration{2, "edges", kPostgresV2},
    Migration{3, "holds count toward the buyer limit; idempotency reservations", kPostgresV3},
    Migration{4, "claims without a foreign key to drops (PostgreSQL)", kPostgresV4},
    Migration{5, "online checkout: orders, webhook events, refunds", kPostgresV5},
    Migration{6, "payment readers and stall sales", kPostgresV6},
    Migration{7, "claim codes", kPostgresV7},
};
static_assert(kSqliteMigrations.size() == kPostgresMigrations.size());

}  // namespace

std::span<const Migration> sqlite_migrations() {
  return kSqliteMigrations;
}
std::span<const Migration> postgres_migrations() {
  return kPostgresMigrations;
}

int latest_schema_version() {
  DG_ASSERT(kSqliteMigrations.back().version == kPostgresMigrations.back().version);
  return kSqliteMigrations.back().version;
}

}  // namespace dg::store
