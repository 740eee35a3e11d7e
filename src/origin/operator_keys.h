// OperatorKeys: the hashes of the operator API keys, held in memory so that
// checking a bearer value never touches the store. The router's authenticator
// runs on an I/O thread for every request that carries one; a store query
// there (a network round trip on PostgreSQL, up to limits::connection_wait_max for
// a pooled connection) would stall every connection on that thread, and
// anyone can send junk bearer values.
//
// Keys are created by `dropgate init` (possibly another process) and revoked
// in the store, so the set is refreshed from the store off the I/O thread:
// at start and every limits::operator_keys_refresh (the origin's ticker).
// A key created or revoked elsewhere takes effect within that period.
//
// Thread safety: accepts() from any thread, concurrently with refresh().
#pragma once

#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_set>

#include "base/status.h"
#include "store/store.h"

namespace dg::origin {

class OperatorKeys {
 public:
  explicit OperatorKeys(store::Store& store) : store_(store) {}

  // Replaces the set with the store's hashes (at most limits::operator_keys_max;
  // more is an error and keeps the previous set). Blocks on the store: never
  // call it on an I/O thread.
  Status refresh();
  // Whether `key_untrusted` is an operator key as of the last refresh: a hash
  // and a lookup in memory, never the store.
  bool accepts(std::string_view key_untrusted) const;
  size_t size() const;

 private:
  store::Store& store_;
  mutable std::shared_mutex mutex_;
  std::unordered_set<std::string> hashes_;
};

}  // namespace dg::origin
