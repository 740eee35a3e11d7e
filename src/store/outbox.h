// Outbox: a durable, bounded queue of events an edge must deliver to the
// origin at least once. Each event carries an id unique to this edge, so the
// origin stores it once however often it is pushed. Backed by one SQLite file
// (WAL, synchronous=FULL): an event appended is there after a crash.
//
// Thread safety: safe for concurrent use.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace dg::store {

struct OutboxEvent {
  int64_t seq = 0;        // local order
  std::string id;         // unique per edge; the origin de-duplicates on it
  std::string body_json;  // the event as pushed
};

class Outbox {
 public:
  virtual ~Outbox() = default;
  // Appends; limit_exceeded when `depth_max` events already wait (the caller
  // counts what it had to drop, loudly).
  virtual Status append(const std::string& id, const std::string& body_json) = 0;
  // The oldest events, at most `count_max`.
  virtual Result<std::vector<OutboxEvent>> peek(uint32_t count_max) = 0;
  // Removes events up to and including `seq`, after the origin acknowledged them.
  virtual Status acknowledge(int64_t seq) = 0;
  virtual Result<uint32_t> depth() = 0;
};

Result<std::unique_ptr<Outbox>> open_outbox(const std::string& path, uint32_t depth_max);

}  // namespace dg::store
