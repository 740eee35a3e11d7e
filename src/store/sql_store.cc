// SqlStore: transactions, migrations, and the catalog (API keys, drops,
// assets, manifests, idempotency records, events). Sales — sellers, leases,
// holds, claims, revocations — are in sql_store_sales.cc.
#include "store/sql_store.h"

#include <algorithm>
#include <limits>

#include "base/assert.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/time.h"
#include "store/sql_rows.h"

namespace dg::store {
namespace {

Status check_drop_spec(const DropSpec& spec) {
  if (spec.slug.empty()) return Status(Code::invalid_argument, "a drop needs a slug");
  if (spec.edition_size < 1 || spec.edition_size > limits::edition_size_max) {
    return Status(Code::invalid_argument,
                  "edition size must be 1.." + std::to_string(limits::edition_size_max));
  }
  return Status();
}

}  // namespace

SqlStore::SqlStore(const Dialect& dialect, std::unique_ptr<sql::ConnectionPool> write_pool,
                   std::unique_ptr<sql::ConnectionPool> read_pool)
    : dialect_(dialect), write_pool_(std::move(write_pool)), read_pool_(std::move(read_pool)) {
  DG_ASSERT(write_pool_ != nullptr);
}

// --- Transactions.

Result<sql::ConnectionPool::Handle> SqlStore::checkout(Tx tx) {
  if (tx == Tx::write && writes_failed_.load(std::memory_order_acquire)) {
    std::lock_guard lock(writes_failed_mutex_);
    return error(writes_failed_status_);
  }
  bool use_writer = tx == Tx::write || read_pool_ == nullptr;
  return use_writer ? write_pool_->checkout() : read_pool_->checkout();
}

Result<sql::ConnectionPool::Handle> SqlStore::begin(Tx tx) {
  Result<sql::ConnectionPool::Handle> connection = checkout(tx);
  if (!connection) return connection;
  std::string_view statement = tx == Tx::write  ? dialect_.begin_write
                               : tx == Tx::read ? dialect_.begin_read
                                                : std::string_view();
  if (!statement.empty()) {
    Status begun = (*connection)->exec(statement);
    if (!begun.ok()) return error(begun.with_context("beginning a transaction"));
  }
  return connection;
}

Status SqlStore::end(sql::Connection& connection, Tx tx, bool commit) {
  if (tx == Tx::read_one) return Status();
  if (!commit) {
    // If even ROLLBACK fails, the connection reports itself not reusable and
    // the pool replaces it: nothing else is left to do here.
    static_cast<void>(connection.exec("ROLLBACK"));
    return Status();
  }
  Status committed = connection.exec("COMMIT");
  if (committed.ok()) return committed;
  // SQLite leaves the transaction open after some failed commits (a deferred
  // constraint); end it so the connection can be reused.
  static_cast<void>(connection.exec("ROLLBACK"));
  if (tx == Tx::read) return Status(Code::unavailable, "ending a read: " + committed.message());
  return fail_writes(committed);
}

// A failed COMMIT leaves the outcome unknown (did the WAL reach the disk? did
// the server commit before the connection dropped?). Guessing could
// acknowledge a lost sale or sell a serial twice, so — like LevelDB's sticky
// background error — this store takes no more writes; a restart re-reads the
// truth from the database.
Status SqlStore::fail_writes(const Status& cause) {
  std::lock_guard lock(writes_failed_mutex_);
  if (!writes_failed_.load(std::memory_order_relaxed)) {
    writes_failed_status_ =
        Status(Code::unavailable, "an earlier commit failed (" + cause.to_string() +
                                      "); the store refuses writes until restarted");
    writes_failed_.store(true, std::memory_order_release);
    log::error("store: commit failed; refusing further writes",
               {{"backend", dialect_.name}, {"cause", cause.to_string()}});
  }
  return Status(Code::unavailable, "commit failed, outcome unknown: " + cause.message());
}

std::string SqlStore::locked(std::string_view select) const {
  return std::string(select) + std::string(dialect_.for_update);
}

std::string SqlStore::shared(std::string_view select) const {
  return std::string(select) + std::string(dialect_.for_share);
}

// --- Schema.

Status SqlStore::migrate() {
  return transact(Tx::write, [&](sql::Connection& c) -> Status {
    if (!dialect_.migration_lock.empty()) DG_RETURN_IF_ERROR(c.exec(dialect_.migration_lock));
    DG_RETURN_IF_ERROR(c.exec(dialect_.create_migrations_table));
    Result<int64_t> current =
        first_int(c.query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
    if (!current) return current.error();
    if (*current > latest_schema_version()) {
      return Status(Code::conflict, "the database schema is version " + std::to_string(*current) +
                                        ", newer than this dropgate's " +
                                        std::to_string(latest_schema_version()));
    }
    for (const Migration& migration : dialect_.migrations) {
      if (migration.version <= *current) continue;
      std::string context = "migration " + std::to_string(migration.version);
      DG_RETURN_IF_ERROR(c.exec(migration.sql).with_context(context));
      Result<sql::Rows> recorded =
          c.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                  {int64_t{migration.version}, migration.name});
      if (!recorded) return recorded.error().with_context(context);
      log::info(
          "store: schema migrated",
          {{"backend", dialect_.name}, {"version", migration.version}, {"name", migration.name}});
    }
    return Status();
  });
}

Result<int> SqlStore::schema_version() {
  return transact(Tx::read, [&](sql::Connection& c) -> Result<int> {
    Result<int64_t> exists = first_int(c.query(dialect_.migrations_table_exists));
    if (!exists) return error(exists.error());
    if (*exists == 0) return 0;
    Result<int64_t> version =
        first_int(c.query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
    if (!version) return error(version.error());
    return static_cast<int>(*version);
  });
}

// --- Operator API keys.

Status SqlStore::add_api_key(std::string_view key_sha256, std::string_view label, int64_t now_ms) {
  return transact(Tx::write, [&](sql::Connection& c) -> Status {
    Result<sql::Rows> rows =
        c.query("INSERT INTO api_keys (key_sha256, label, created_at_ms) VALUES ($1, $2, $3)",
                {key_sha256, label, now_ms});
    if (!rows) return reword(rows.error(), Code::conflict, "this API key is already registered");
    return Status();
  });
}

Result<bool> SqlStore::api_key_exists(std::string_view key_sha256) {
  return transact(Tx::read_one, [&](sql::Connection& c) -> Result<bool> {
    Result<sql::Rows> rows = c.query("SELECT 1 FROM api_keys WHERE key_sha256 = $1", {key_sha256});
    if (!rows) return error(rows.error());
    return !rows->empty();
  });
}

Result<std::vector<std::string>> SqlStore::list_api_keys(uint32_t count_max) {
  return transact(Tx::read_one, [&](sql::Connection& c) -> Result<std::vector<std::string>> {
    Result<sql::Rows> rows = c.query("SELECT key_sha256 FROM api_keys ORDER BY key_sha256 LIMIT $1",
                                     {int64_t{count_max} + 1});
    if (!rows) return error(rows.error());
    if (rows->size() > count_max) {
      return error(Code::limit_exceeded,
                   "more than " + std::to_string(count_max) + " operator API keys");
    }
    std::vector<std::string> hashes;
    for (size_t i = 0; i < rows->size(); ++i) {
      sql::RowReader r(*rows, i);
      hashes.push_back(r.text());
      if (!r.status().ok()) return error(r.status().with_context("api key"));
    }
    return hashes;
  });
}

Status SqlStore::delete_api_key(std::string_view key_sha256) {
  return transact(Tx::write, [&](sql::Connection& c) -> Status {
    Result<sql::Rows> rows =
        c.query("DELETE FROM api_keys WHERE key_sha256 = $1 RETURNING key_sha256", {key_sha256});
    if (!rows) return rows.error();
    if (rows->empty()) return Status(Code::not_found, "no such API key");
    return Status();
  });
}

// --- Drops.

Result<Drop> SqlStore::create_drop(const DropSpec& spec, int64_t now_ms) {
  DG_RETURN_IF_ERROR_RESULT(check_drop_spec(spec));
  std::string rights = rights_text(spec.rights);
  return transact(Tx::write, [&](sql::Connection& c) -> Result<Drop> {
    Result<sql::Rows> rows = c.query(
        "INSERT INTO drops (slug, title, edition_size, opens_at_ms, closes_at_ms, "
        "per_buyer_limit, price_minor, currency, rights_json, state, manifest_version, "
        "next_serial, created_at_ms, updated_at_ms) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'draft', 0, 1, $10, $10) RETURNING " +
            std::string(kDropColumns),
        {spec.slug, spec.title, int64_t{spec.edition_size}, spec.opens_at_ms,
         sql::nullable(spec.closes_at_ms), int64_t{spec.per_buyer_limit}, spec.price_minor,
         spec.currency, rights, now_ms});
    if (!rows) {
      return error(reword(rows.error(), Code::conflict,
                          "a drop with the slug \"" + spec.slug + "\" already exists"));
    }
    return read_one(*rows, read_drop, "drop");
  });
}

Result<Drop> SqlStore::lock_drop_by_slug(sql::Connection& c, std::string_view slug) {
  Result<sql::Rows> rows =
      c.query(locked(select_from(kDropColumns, "drops WHERE slug = $1")), {slug});
  if (!rows) return error(rows.error());
  return read_one(*rows, read_drop, "no drop \"" + std::string(slug) + "\"");
}

Result<Drop> SqlStore::read_drop_by_slug(sql::Connection& c, std::string_view slug) {
  Result<sql::Rows> rows = c.query(select_from(kDropColumns, "drops WHERE slug = $1"), {slug});
  if (!rows) return error(rows.error());
  return read_one(*rows, read_drop, "no drop \"" + std::string(slug) + "\"");
}

Result<Drop> SqlStore::update_drop(std::string_view slug, const DropSpec& spec, int64_t now_ms) {
  DG_RETURN_IF_ERROR_RESULT(check_drop_spec(spec));
  if (spec.slug != slug) return error(Code::invalid_argument, "a drop's slug cannot change");
  std::string rights = rights_text(spec.rights);
  return transact(Tx::write, [&](sql::Connection& c) -> Result<Drop> {
    Result<Drop> drop = lock_drop_by_slug(c, slug);
    if (!drop) return drop;
    DG_RETURN_IF_ERROR_RESULT(core::check_spec_editable(spec.slug, drop->state));
    // Serials up to the larger of the lease high-water mark and the highest
    // claim exist in the world (in leases, holds, certificates): keep them.
    Result<int64_t> floor = first_int(
        c.query("SELECT MAX(used) FROM (SELECT next_serial - 1 AS used FROM drops WHERE id = $1 "
                "UNION ALL SELECT COALESCE(MAX(serial), 0) FROM claims WHERE drop_id = $1) AS u",
                {drop->id}));
    if (!floor) return error(floor.error());
    if (spec.edition_size < *floor) {
      return error(Code::conflict, "edition size " + std::to_string(spec.edition_size) +
                                       " is below serial " + std::to_string(*floor) +
                                       ", already leased or claimed");
    }
    Result<sql::Rows> rows = c.query(
        "UPDATE drops SET title = $2, edition_size = $3, opens_at_ms = $4, closes_at_ms = $5, "
        "per_buyer_limit = $6, price_minor = $7, currency = $8, rights_json = $9, "
        "updated_at_ms = $10 WHERE id = $1 RETURNING " +
            std::string(kDropColumns),
        {drop->id, spec.title, int64_t{spec.edition_size}, spec.opens_at_ms,
         sql::nullable(spec.closes_at_ms), int64_t{spec.per_buyer_limit}, spec.price_minor,
         spec.currency, rights, now_ms});
    if (!rows) return error(rows.error());
    return read_one(*rows, read_drop, "drop");
  });
}

Result<Drop> SqlStore::get_drop(std::string_view slug) {
  return transact(Tx::read_one,
                  [&](sql::Connection& c) -> Result<Drop> { return read_drop_by_slug(c, slug); });
}

Result<Drop> SqlStore::get_drop_by_id(int64_t drop_id) {
  return transact(Tx::read_one, [&](sql::Connection& c) -> Result<Drop> {
    Result<sql::Rows> rows = c.query(select_from(kDropColumns, "drops WHERE id = $1"), {drop_id});
    if (!rows) return error(rows.error());
    return read_one(*rows, read_drop, "no drop with id " + std::to_string(drop_id));
  });
}

Result<std::vector<Drop>> SqlStore::list_drops(std::string_view after_slug, uint32_t count_max) {
  int64_t limit = std::min(count_max, limits::drops_page_count_max);
  return transact(Tx::read_one, [&](sql::Connection& c) -> Result<std::vector<Drop>> {
    Result<sql::Rows> rows =
        c.query(select_from(kDropColumns, "drops WHERE slug > $1 ORDER BY slug LIMIT $2"),
                {after_slug, limit});
    if (!rows) return error(rows.error());
    return read_all(*rows, read_drop);
  });
}

Result<Drop> SqlStore::set_drop_state(std::string_view slug, std::vector<DropState> from,
                                      DropState to, int64_t now_ms) {
  return transact(Tx::write, [&](sql::Connection& c) -> Result<Drop> {
    Result<Drop> drop = lock_drop_by_slug(c, slug);
    if (!drop) return drop;
    if (std::find(from.begin(), from.end(), drop->state) == from.end()) {
      return error(core::transition_refused(slug, drop->state, from));
    }
    Result<sql::Rows> rows =
        c.query("UPDATE drops SET state = $2, updated_at_ms = $3 WHERE id = $1 RETURNING " +
                    std::string(kDropColumns),
                {drop->id, drop_state_name(to), now_ms});
    if (!rows) return error(rows.error());
    return read_one(*rows, read_drop, "drop");
  });
}

// --- Assets.

Status SqlStore::put_asset(int64_t drop_id, const AssetRecord& asset) {
  if (asset.size_bytes > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return Status(Code::invalid_argument, "asset size out of range");
  }
  return transact(Tx::write, [&](sql::Connection& c) -> Status {
    Result<sql::Rows> rows = c.query(
        "INSERT INTO assets (drop_id, path, size_bytes, sha256, media_type) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (drop_id, path) DO UPDATE SET "
        "size_bytes = excluded.size_bytes, sha256 = excluded.sha256, "
        "media_type = excluded.media_type",
        {drop_id, asset.path, static_cast<int64_t>(asset.size_bytes), asset.sha256,
         asset.media_type});
    if (!rows) {
      return reword(rows.error(), Code::not_found, "no drop with id " + std::to_string(drop_id));
    }
    return Status();
  });
}

Status SqlStore::delete_asset(int64_t drop_id, std::string_view path) {
  return transact(Tx::write, [&](sql::Connection& c) -> Status {
    Result<sql::Rows> rows =
        c.query("DELETE FROM assets WHERE drop_id = $1 AND path = $2", {drop_id, path});
    if (!rows) return rows.error();
    if (rows->affected_rows() == 0) {
      return Status(Code::not_found,
                    "no asset \"" + std::string(path) + "\" in drop " + std::to_string(drop_id));
    }
    return Status();
  });
}

Result<std::vector<AssetRecord>> SqlStore::list_assets(int64_t drop_id) {
  return transact(Tx::read_one, [&](sql::Connection& c) -> Result<std::vector<AssetRecord>> {
    Result<sql::Rows> rows =
        c.query(select_from(kAssetColumns, "assets WHERE drop_id = $1 ORDER BY path"), {drop_id});
    if (!rows) return error(rows.error());
    return read_all(*rows, read_asset);
  });
}

// --- Manifests.

Status SqlStore::publish_manifest(int64_t drop_id, const ManifestRecord& manifest) {
  if (manifest.version < 1) return Status(Code::invalid_argument, "manifest versions start at 1");
  return transact(Tx::write, [&](sql::Connection& c) -> Status {
    // Compare-and-set on the drop row: of two concurrent publishers of the
    // same version, the second finds the version already moved.
    Result<sql::Rows> moved = c.query(
        "UPDATE drops SET manifest_version = $2, updated_at_ms = $3 "
        "WHERE id = $1 AND manifest_version = $4",
        {drop_id, manifest.version, manifest.published_at_ms, manifest.version - 1});
    if (!moved) return moved.error();
    if (moved->affected_rows() == 0) {
      Result<sql::Rows> rows =
          c.query("SELECT manifest_version FROM drops WHERE id = $1", {drop_id});
      if (!rows) return rows.error();
      if (rows->empty())
        return Status(Code::not_found, "no drop with id " + std::to_string(drop_id));
      Result<int64_t> current = first_int(rows);
      if (!current) return current.error();
      return Status(Code::conflict, "manifest version " + std::to_string(manifest.version) +
                                        " does not follow the current version " +
                                        std::to_string(*current));
    }
    Result<sql::Rows> inserted = c.query(
        "INSERT INTO manifests (drop_id, version, json, minisig, sha256, published_at_ms) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        {drop_id, manifest.version, manifest.json, manifest.minisig, manifest.sha256,
         manifest.published_at_ms});
    if (!inserted) return inserted.error();
    return Status();
  });
}

Result<ManifestRecord> SqlStore::current_manifest(int64_t drop_id) {
  return transact(Tx::read_one, [&](sql::Connection& c) -> Result<ManifestRecord> {
    Result<sql::Rows> rows =
        c.query(select_from(kManifestColumns,
                            "manifests m JOIN drops d ON d.id = m.drop_id "
                            "AND d.manifest_version = m.version WHERE d.id = $1"),
                {drop_id});
    if (!rows) return error(rows.error());
    return read_one(*rows, read_manifest,
                    "drop " + std::to_string(drop_id) + " has no published manifest");
  });
}

// --- Idempotency records.

Status SqlStore::insert_idempotency(sql::Connection& c, const IdempotencyRecord& record) {
  Result<sql::Rows> rows = c.query(
      "INSERT INTO idempotency (scope, key, request_sha256, response_status, response_body, "
      "created_at_ms) VALUES ($1, $2, $3, $4, $5, $6)",
      {record.scope, record.key, record.request_sha256, int64_t{record.response_status},
       record.response_body, record.created_at_ms});
  if (!rows) {
    return reword(rows.error(), Code::conflict,
                  "idempotency key \"" + record.key + "\" was already used");
  }
  return Status();
}

Result<IdempotencyRecord> SqlStore::get_idempotency(std::string_view scope, std::string_view key) {
  return transact(Tx::read_one, [&](sql::Connection& c) -> Result<IdempotencyRecord> {
    Result<sql::Rows> rows =
        c.query(select_from(kIdempotencyColumns, "idempotency WHERE scope = $1 AND key = $2"),
                {scope, key});
    if (!rows) return error(rows.error());
    return read_one(*rows, read_idempotency, "no idempotency record for this key");
  });
}

Status SqlStore::put_idempotency(const IdempotencyRecord& record) {
  return transact(Tx::write,
                  [&](sql::Connection& c) -> Status { return insert_idempotency(c, record); });
}

Result<Store::IdempotencyReservation> SqlStore::reserve_idempotency(const IdempotencyRecord& marker,
                                                                    std::string_view owner) {
  if (owner.empty() || marker.key.empty()) {
    return error(Code::invalid_argument, "a reservation needs a key and an owner");
  }
  return transact(Tx::write, [&](sql::Connection& c) -> Result<IdempotencyReservation> {
    // Twice at most: a reservation released between our INSERT and SELECT
    // leaves the key free for the second INSERT.
    for (int attempt = 0; attempt < 2; ++attempt) {
      // On PostgreSQL an INSERT that meets another transaction's uncommitted
      // row waits for it, so of concurrent requests exactly one inserts.
      Result<sql::Rows> inserted = c.query(
          "INSERT INTO idempotency (scope, key, request_sha256, response_status, response_body, "
          "created_at_ms, owner) VALUES ($1, $2, $3, 0, '', $4, $5) "
          "ON CONFLICT (scope, key) DO NOTHING",
          {marker.scope, marker.key, marker.request_sha256, marker.created_at_ms, owner});
      if (!inserted) return error(inserted.error());
      if (inserted->affected_rows() == 1) {
        return IdempotencyReservation{IdempotencyState::reserved, marker};
      }
      Result<sql::Rows> rows = c.query(
          locked(select_from(kIdempotencyColumns, "idempotency WHERE scope = $1 AND key = $2")),
          {marker.scope, marker.key});
      if (!rows) return error(rows.error());
      if (rows->empty()) continue;
      Result<IdempotencyRecord> existing = read_idempotency(*rows, 0);
      if (!existing) return error(existing.error());
      if (existing->response_status != 0) {
        return IdempotencyReservation{IdempotencyState::answered, std::move(*existing)};
      }
      if (existing->created_at_ms >
          marker.created_at_ms - to_ms(limits::idempotency_in_flight_max)) {
        return IdempotencyReservation{IdempotencyState::in_flight, std::move(*existing)};
      }
      // The request that reserved the key died without answering: take over.
      Result<sql::Rows> taken = c.query(
          "UPDATE idempotency SET request_sha256 = $3, created_at_ms = $4, owner = $5 "
          "WHERE scope = $1 AND key = $2 AND response_status = 0",
          {marker.scope, marker.key, marker.request_sha256, marker.created_at_ms, owner});
      if (!taken) return error(taken.error());
      if (taken->affected_rows() != 1) {
        return error(Code::corruption, "a locked idempotency reservation changed");
      }
      log::warn("store: took over a stale idempotency reservation",
                {{"key", marker.key}, {"reserved_at_ms", existing->created_at_ms}});
      return IdempotencyReservation{IdempotencyState::reserved, marker};
    }
    return error(Code::unavailable, "idempotency key \"" + marker.key + "\" keeps changing");
  });
}

Status SqlStore::answer_idempotency(std::string_view scope, std::string_view key,
                                    std::string_view owner, unsigned response_status,
                                    std::string_view response_body) {
  if (response_status < 100 || response_status > 599) {
    return Status(Code::invalid_argument, "an answer needs an HTTP status");
  }
  return transact(Tx::write, [&](sql::Connection& c) -> Status {
    Result<sql::Rows> rows = c.query(
        "UPDATE idempotency SET response_status = $4, response_body = $5, owner = '' "
        "WHERE scope = $1 AND key = $2 AND owner = $3 AND response_status = 0",
        {scope, key, owner, int64_t{response_status}, response_body});
    if (!rows) return rows.error();
    if (rows->affected_rows() == 0) {
      return Status(Code::conflict, "idempotency key \"" + std::string(key) +
                                        "\" is no longer reserved by this request");
    }
    return Status();
  });
}

Status SqlStore::release_idempotency(std::string_view scope, std::string_view key,
                                     std::string_view owner) {
  return transact(Tx::write, [&](sql::Connection& c) -> Status {
    Result<sql::Rows> rows = c.query(
        "DELETE FROM idempotency WHERE scope = $1 AND key = $2 AND owner = $3 "
        "AND response_status = 0",
        {scope, key, owner});
    if (!rows) return rows.error();
    if (rows->affected_rows() == 0) {
      return Status(Code::conflict, "idempotency key \"" + std::string(key) +
                                        "\" is no longer reserved by this request");
    }
    return Status();
  });
}

// --- Events.

Result<uint32_t> SqlStore::insert_events(sql::Connection& c, std::span<const Event> events) {
  uint32_t inserted = 0;
  for (const Event& event : events) {
    // ON CONFLICT DO NOTHING: the only unique index an event can meet is its
    // dedup_key, and a repeat is what at-least-once delivery sends.
    Result<sql::Rows> rows = c.query(
        "INSERT INTO events (kind, drop_id, serial, account, detail_json, at_ms, dedup_key) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        {event.kind, event.drop_id,
         event.serial ? sql::Value(int64_t{*event.serial}) : sql::Value(nullptr), event.account,
         event.detail_json, event.at_ms, event.dedup_key});
    if (!rows) return error(rows.error());
    inserted += static_cast<uint32_t>(rows->affected_rows());
  }
  return inserted;
}

Result<uint32_t> SqlStore::append_events(const std::vector<Event>& events) {
  if (events.size() > limits::events_batch_count_max) {
    return error(Code::invalid_argument,
                 "at most " + std::to_string(limits::events_batch_count_max) + " events per call");
  }
  if (events.empty()) return 0;
  return transact(Tx::write,
                  [&](sql::Connection& c) -> Result<uint32_t> { return insert_events(c, events); });
}

Result<std::vector<Event>> SqlStore::list_events(int64_t drop_id, std::string_view kind,
                                                 uint32_t count_max) {
  int64_t limit = std::min(count_max, limits::events_list_count_max);
  return transact(Tx::read_one, [&](sql::Connection& c) -> Result<std::vector<Event>> {
    Result<sql::Rows> rows =
        kind.empty()
            ? c.query(select_from(kEventColumns, "events WHERE drop_id = $1 ORDER BY id LIMIT $2"),
                      {drop_id, limit})
            : c.query(select_from(kEventColumns,
                                  "events WHERE drop_id = $1 AND kind = $2 ORDER BY id LIMIT $3"),
                      {drop_id, kind, limit});
    if (!rows) return error(rows.error());
    return read_all(*rows, read_event);
  });
}

Result<uint32_t> SqlStore::count_events(int64_t drop_id, std::string_view kind) {
  return transact(Tx::read_one, [&](sql::Connection& c) -> Result<uint32_t> {
    return kind.empty()
               ? first_count(c.query("SELECT COUNT(*) FROM events WHERE drop_id = $1", {drop_id}))
               : first_count(c.query("SELECT COUNT(*) FROM events WHERE drop_id = $1 AND kind = $2",
                                     {drop_id, kind}));
  });
}

}  // namespace dg::store
