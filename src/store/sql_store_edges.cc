// SqlStore: edge enrolments and grants, and manifests by version.
#include <boost/json.hpp>

#include "base/json.h"
#include "base/limits.h"
#include "store/sql_rows.h"
#include "store/sql_store.h"

namespace dg::store {
namespace {

constexpr std::string_view kEdgeColumns =
    "id, name, edge_key, key_id, secret_sha256, state, drops_json, grant_token, created_at_ms, "
    "updated_at_ms";

std::string drops_text(const std::vector<std::string>& drops) {
  return boost::json::serialize(boost::json::array(drops.begin(), drops.end()));
}

Result<EdgeRecord> read_edge(const sql::Rows& rows, size_t row) {
  sql::RowReader r(rows, row);
  EdgeRecord edge;
  edge.id = r.int64();
  edge.name = r.text();
  edge.edge_key = r.text();
  edge.key_id = r.text();
  edge.secret_sha256 = r.text();
  std::string state = r.text();
  std::string drops = r.text();
  edge.grant_token = r.text();
  edge.created_at_ms = r.int64();
  edge.updated_at_ms = r.int64();
  if (state == "pending") {
    edge.state = EdgeState::pending;
  } else if (state == "approved") {
    edge.state = EdgeState::approved;
  } else if (state == "revoked") {
    edge.state = EdgeState::revoked;
  } else {
    return error(Code::corruption, "edge row: unknown state \"" + state + "\"");
  }
  auto list = json::parse(drops, 64 * 1024);
  if (!list || !list->is_array()) return error(Code::corruption, "edge row: bad drops list");
  for (const auto& item : list->as_array()) {
    if (!item.is_string()) return error(Code::corruption, "edge row: bad drops list");
    edge.drops.emplace_back(item.as_string());
  }
  if (!r.status().ok()) return error(r.status().with_context("edge"));
  return edge;
}

}  // namespace

std::string_view edge_state_name(EdgeState state) {
  switch (state) {
    case EdgeState::pending:
      return "pending";
    case EdgeState::approved:
      return "approved";
    case EdgeState::revoked:
      return "revoked";
  }
  return "revoked";
}

Result<EdgeRecord> SqlStore::create_edge(const EdgeRecord& edge, uint32_t pending_max,
                                         int64_t pending_expired_at_ms) {
  if (pending_max == 0) return error(Code::invalid_argument, "pending_max must be at least 1");
  return transact(Tx::write, [&](sql::Connection& c) -> Result<EdgeRecord> {
    Result<sql::Rows> expired =
        c.query("DELETE FROM edges WHERE state = 'pending' AND created_at_ms <= $1",
                {pending_expired_at_ms});
    if (!expired) return error(expired.error());
    auto pending = first_count(c.query("SELECT COUNT(*) FROM edges WHERE state = 'pending'", {}));
    if (!pending) return error(pending.error());
    if (*pending >= pending_max) {
      // The oldest make room: refusing instead would let a flood of anonymous
      // enrolments lock the operator's own edge out.
      Result<sql::Rows> evicted = c.query(
          "DELETE FROM edges WHERE id IN (SELECT id FROM edges WHERE state = 'pending' "
          "ORDER BY id LIMIT $1)",
          {int64_t{*pending} - int64_t{pending_max} + 1});
      if (!evicted) return error(evicted.error());
    }
    Result<sql::Rows> rows = c.query(
        "INSERT INTO edges (name, edge_key, key_id, secret_sha256, state, drops_json, grant_token, "
        "created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, 'pending', '[]', '', $5, $5) "
        "RETURNING " +
            std::string(kEdgeColumns),
        {edge.name, edge.edge_key, edge.key_id, edge.secret_sha256, edge.created_at_ms});
    if (!rows)
      return error(reword(rows.error(), Code::conflict, "this edge key is already enrolled"));
    return read_one(*rows, read_edge, "edge");
  });
}

Result<EdgeRecord> SqlStore::get_edge(int64_t edge_id) {
  return transact(Tx::read_one, [&](sql::Connection& c) -> Result<EdgeRecord> {
    Result<sql::Rows> rows = c.query(select_from(kEdgeColumns, "edges WHERE id = $1"), {edge_id});
    if (!rows) return error(rows.error());
    return read_one(*rows, read_edge, "no edge " + std::to_string(edge_id));
  });
}

Result<EdgeRecord> SqlStore::get_edge_by_key_id(std::string_view key_id) {
  return transact(Tx::read_one, [&](sql::Connection& c) -> Result<EdgeRecord> {
    Result<sql::Rows> rows =
        c.query(select_from(kEdgeColumns, "edges WHERE key_id = $1"), {key_id});
    if (!rows) return error(rows.error());
    return read_one(*rows, read_edge, "no edge with key " + std::string(key_id));
  });
}

Result<std::vector<EdgeRecord>> SqlStore::list_edges() {
  return transact(Tx::read_one, [&](sql::Connection& c) -> Result<std::vector<EdgeRecord>> {
    Result<sql::Rows> rows = c.query(select_from(kEdgeColumns, "edges ORDER BY id"), {});
    if (!rows) return error(rows.error());
    return read_all(*rows, read_edge);
  });
}

Result<EdgeRecord> SqlStore::update_edge(int64_t edge_id, EdgeState state,
                                         const std::vector<std::string>& drops,
                                         std::string_view grant_token, int64_t now_ms) {
  if (drops.size() > limits::edge_drops_max)
    return error(Code::too_large, "too many drops for one edge");
  return transact(Tx::write, [&](sql::Connection& c) -> Result<EdgeRecord> {
    Result<sql::Rows> rows = c.query(
        "UPDATE edges SET state = $2, drops_json = $3, grant_token = $4, updated_at_ms = $5 "
        "WHERE id = $1 RETURNING " +
            std::string(kEdgeColumns),
        {edge_id, edge_state_name(state), drops_text(drops), grant_token, now_ms});
    if (!rows) return error(rows.error());
    return read_one(*rows, read_edge, "no edge " + std::to_string(edge_id));
  });
}

Result<ManifestRecord> SqlStore::get_manifest(int64_t drop_id, int64_t version) {
  return transact(Tx::read_one, [&](sql::Connection& c) -> Result<ManifestRecord> {
    Result<sql::Rows> rows =
        c.query(select_from(kManifestColumns, "manifests WHERE drop_id = $1 AND version = $2"),
                {drop_id, version});
    if (!rows) return error(rows.error());
    return read_one(
        *rows, read_manifest,
        "drop " + std::to_string(drop_id) + " has no manifest version " + std::to_string(version));
  });
}

}  // namespace dg::store
