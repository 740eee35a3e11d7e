// SqlStore: an edge's lease given back (issue #13; docs/formats/sync.md
// "Offline sales", releases and lost edges).
#include "store/sql_rows.h"
#include "store/sql_store.h"

namespace dg::store {

Result<uint32_t> SqlStore::release_lease(std::string_view seller_id, int64_t drop_id,
                                         uint32_t first_serial, uint32_t last_serial,
                                         int64_t now_ms) {
  return transact(Tx::write, [&](sql::Connection& c) -> Result<uint32_t> {
    // Locked as in release_leases: a claim checked against this lease either
    // commits first (and stays sold) or waits and then finds the lease gone.
    Result<sql::Rows> leases = c.query(
        "SELECT l.id, l.drop_id, l.seller_id, l.first_serial, l.last_serial FROM leases l "
        "WHERE l.seller_id = $1 AND l.drop_id = $2 AND l.first_serial = $3 "
        "AND l.last_serial = $4" +
            std::string(dialect_.for_update_of_leases),
        {seller_id, drop_id, int64_t{first_serial}, int64_t{last_serial}});
    if (!leases) return error(leases.error());
    if (leases->empty()) {
      return error(Code::not_found,
                   "seller \"" + std::string(seller_id) + "\" holds no lease of serials " +
                       std::to_string(first_serial) + "-" + std::to_string(last_serial) +
                       " of drop " + std::to_string(drop_id));
    }
    return return_leases(c, *leases, now_ms);
  });
}

}  // namespace dg::store
