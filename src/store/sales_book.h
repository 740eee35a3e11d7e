// SalesBook: the edge's durable record of its offline sales (DIR/sales.db,
// docs/formats/sync.md "Offline sales"). A sale is written and fsynced
// (SQLite, WAL, synchronous=FULL) before the edge answers the buyer, so a
// kill -9 or a power cut loses no acknowledged sale; it stays until the
// origin acknowledged it at reconciliation.
//
// Exactly once: UNIQUE(sale_key) — one sale per (reader, transaction) or per
// cash Idempotency-Key — and UNIQUE(drop, serial): a serial is sold once.
//
// Thread safety: all methods are safe to call concurrently (one connection,
// one mutex).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace dg::store {

struct EdgeSale {
  std::string id;        // unique per edge; the origin counts a sale id once
  std::string sale_key;  // "cash:<Idempotency-Key>" or "receipt:<reader>:<txn>"
  std::string drop;
  uint32_t serial = 0;
  std::string channel;  // "cash" or "receipt"
  std::string account;
  int64_t amount_minor = 0;
  std::string currency;
  std::string reference;
  std::string cert_token;   // signed by the edge key
  std::string grant_token;  // the grant it sold under
  std::string answer_json;  // what the buyer was answered (a repeat gets it again)
  int64_t sold_at_ms = 0;
};

class SalesBook {
 public:
  // Opens (creating if needed) the file; schema version 1.
  static Result<std::unique_ptr<SalesBook>> open(const std::string& path);
  virtual ~SalesBook() = default;

  // The sale recorded under `sale_key`, if any.
  virtual Result<std::optional<EdgeSale>> find(const std::string& sale_key) = 0;
  // Durable when it returns ok; conflict when the key or (drop, serial) exists.
  virtual Status record(const EdgeSale& sale) = 0;
  // Every serial this edge sold of `drop` (reported or not).
  virtual Result<std::vector<uint32_t>> sold_serials(const std::string& drop) = 0;
  // Sales the origin has not acknowledged, oldest first, at most `count_max`.
  virtual Result<std::vector<EdgeSale>> unreported(uint32_t count_max) = 0;
  // The origin acknowledged these sale ids (accepted or refused and recorded).
  virtual Status mark_reported(const std::vector<std::string>& ids) = 0;
  // Sales not yet acknowledged, and their total value: what the risk caps count.
  struct Pending {
    uint32_t sales = 0;
    int64_t value_minor = 0;
  };
  virtual Result<Pending> pending() = 0;
};

}  // namespace dg::store
