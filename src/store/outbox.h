// Outbox: a bounded queue of events an edge must deliver to the origin at
// least once. Each event carries an id unique to this edge (the caller makes
// it so), so the origin stores it once however often it is pushed; the outbox
// itself does not look at ids. Backed by one SQLite file (WAL,
// synchronous=FULL), a row per committed batch (docs/formats/sync.md).
//
// Appending is cheap because it does not touch the disk: append() queues the
// event in memory and returns, and one writer thread per outbox writes what is
// queued in batches, one transaction (one fsync) per batch, commits at least
// 100 ms apart: a batch holds whatever arrived since the previous commit
// (group commit; a full batch is written at once), and the fsyncs stay few:
// at most ten a second below 300,000 events a second.
//
// Durability: an event is on disk within about 100 ms plus one commit of its
// append. A crash (kill -9, power loss) can lose the events of that window
// (the downloads happened; their counts are lost), as it can lose the access
// log's last 100 ms. Appending with one fsync each had a window too, between
// a download's last byte and that fsync: group commit widens it, and never
// reports an event that did not happen. A clean shutdown loses nothing:
// the destructor writes everything queued before it returns, and flush() is
// there for callers that need a point in time (peek() uses it). When writing
// fails (disk full, I/O error), the events stay queued, in order and counted
// in depth(), and the writer retries after a back-off; the failure is logged
// once per streak, the recovery once.
//
// Thread safety: safe for concurrent use. append() and depth() never wait for
// the disk.
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
  // Queues the event for the writer and returns without waiting for the disk.
  // limit_exceeded when `depth_max` events already wait, queued or stored (the
  // caller counts what it had to drop, loudly).
  // Copies the event into the queue (encoded as stored).
  virtual Status append(std::string_view id, std::string_view body_json) = 0;
  // Returns once every event appended before the call is on disk. Returns the
  // write error instead, without waiting further, when the writer's latest
  // attempt failed: the events stay queued and the writer keeps retrying.
  virtual Status flush() = 0;
  // Flushes, then returns the oldest stored events, at most `count_max`. When
  // the flush fails, the events already stored are still returned (they are
  // older than anything queued, so the order holds).
  virtual Result<std::vector<OutboxEvent>> peek(uint32_t count_max) = 0;
  // Removes events up to and including `seq`, after the origin acknowledged them.
  virtual Status acknowledge(int64_t seq) = 0;
  // Events waiting: queued in memory plus stored. Does not touch the disk: the
  // stored count is taken once at open and kept in memory from then on.
  virtual Result<uint32_t> depth() = 0;
  // Of those, events still in memory (not yet on disk): what a crash now
  // would lose.
  virtual uint32_t unwritten() = 0;
};

// Opens (creating if needed) the outbox at `path` and starts its writer; the
// writer is stopped, after writing what is queued, when the outbox is destroyed.
Result<std::unique_ptr<Outbox>> open_outbox(const std::string& path, uint32_t depth_max);

}  // namespace dg::store
