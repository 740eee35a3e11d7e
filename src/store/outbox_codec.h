// The outbox's record codec: how the events of one committed batch are laid
// out in its row (docs/formats/sync.md). Pure functions over bytes, apart
// from the database and the writer thread, so that a batch read back from a
// damaged or hostile file can be checked, tested and fuzzed on its own
// (fuzz/outbox_codec_fuzz.cc).
//
// Frozen: files written by earlier versions must keep reading.
//
// A batch's records come in one of two forms:
//  - plain: the records one after another (the form of files from before
//    the delta form; it starts with a digit);
//  - delta: kDeltaMark, then each record as its length and the pieces that
//    build it from the record before it (the first from nothing): runs of
//    new bytes, each followed by a stretch copied from the record before.
//    All numbers are LEB128: the record's length, then until it is whole,
//    a run's length and bytes, then (unless whole) the copy's start in the
//    record before and its length.
// Consecutive events differ in a few places (an id's counter, the account,
// the second): a typical download event stores ~30 bytes instead of ~200,
// and the writer's work (SQLite's copies, the WAL, the checkpoint) shrinks
// with it. The outbox's queue in memory holds a delta-form batch.
//
// Thread safety: pure functions, safe to call concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "store/outbox.h"

namespace dg::store::outbox_codec {

// The first byte of a delta-form batch.
inline constexpr char kDeltaMark = 'd';

// An event as it is stored: its "record", the id then the body, each as a
// netstring ("<length>:<bytes>,"), so any bytes round-trip. Appends one.
void append_netstring(std::string& out, std::string_view bytes);

// Appends `record` to a delta-form batch, built from `previous` (the record
// appended before it, or empty for a batch's first): walking both together,
// a stretch of at least a few bytes that matches where the walk stands in
// `previous` (give or take 3) is copied; anything else is new bytes.
void append_delta(std::string& out, std::string_view previous, std::string_view record);

// Splits a well-formed delta-form batch of more than `count` records after
// the first `count`: `batch` keeps them; the rest is returned as a batch of
// its own, its first record written whole (it no longer follows the one
// before it).
std::string split_delta_batch(std::string& batch, size_t count);

// Reads a stored batch (either form; `text` is untrusted), its events
// numbered from `first_seq`, and appends to `out` those after `acked` until
// `out` holds `count_max`: the ones before are only stepped over (a
// delta-form record needs the one before it), and nothing after the last one
// taken is read. True when the batch was read to its end; then it must hold
// `count` events. Corruption when the batch is malformed or holds another
// number of events. (Pushing a backlog peeks a few hundred events at a time
// out of batches of up to tens of thousands.)
Result<bool> read_batch(int64_t first_seq, int64_t count, std::string_view text, int64_t acked,
                        size_t count_max, std::vector<OutboxEvent>& out);

}  // namespace dg::store::outbox_codec
