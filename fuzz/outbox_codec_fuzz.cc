// The outbox's record codec (store/outbox_codec.h), as the edge meets it
// reading batches back from outbox.db, which a crash, a full disk or an older
// version may have left in any state. The first byte picks what the rest is:
//   'e'  events, id and body in turn, separated by NUL bytes, which are
//        encoded as the outbox encodes them and read back;
//   else a stored batch: one byte of its event count, one of the events
//        acknowledged, one of the events wanted at most, then the batch's
//        bytes (either form).
// Checks that a batch read in pieces (as a backlog is pushed) gives the
// events of one read, that splitting a delta-form batch loses nothing, and
// that any events encoded read back exactly.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/assert.h"
#include "store/outbox_codec.h"

namespace {

using namespace dg;
using namespace dg::store;
using namespace dg::store::outbox_codec;

bool same_events(const std::vector<OutboxEvent>& a, const std::vector<OutboxEvent>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].seq != b[i].seq || a[i].id != b[i].id || a[i].body_json != b[i].body_json)
      return false;
  }
  return true;
}

// Every event of a well-formed batch of `count`, numbered from 1.
std::vector<OutboxEvent> read_all(std::string_view batch, size_t count) {
  std::vector<OutboxEvent> events;
  Result<bool> whole = read_batch(1, static_cast<int64_t>(count), batch, 0, SIZE_MAX, events);
  DG_ASSERT(whole.has_value() && *whole);
  DG_ASSERT(events.size() == count);
  return events;
}

void read_stored(std::string_view input) {
  if (input.size() < 3) return;
  const size_t count = static_cast<uint8_t>(input[0]);
  const size_t acked = static_cast<uint8_t>(input[1]);
  const size_t count_max = static_cast<uint8_t>(input[2]);
  const std::string_view batch = input.substr(3);
  std::vector<OutboxEvent> events;
  Result<bool> whole = read_batch(1, static_cast<int64_t>(count), batch,
                                  static_cast<int64_t>(acked), count_max, events);
  if (!whole) {
    DG_ASSERT(whole.error().code() == Code::corruption);
    return;
  }
  DG_ASSERT(events.size() <= count_max);
  for (size_t i = 0; i < events.size(); ++i)
    DG_ASSERT(events[i].seq == static_cast<int64_t>(acked + 1 + i));
  if (!*whole) return;  // stopped at count_max
  DG_ASSERT(events.size() == (acked < count ? count - acked : 0));

  // The same events a piece at a time, each read starting after the last
  // one acknowledged, as the pusher reads a backlog.
  std::vector<OutboxEvent> pieces;
  for (auto read_to = static_cast<int64_t>(acked); read_to < static_cast<int64_t>(count);) {
    std::vector<OutboxEvent> piece;
    Result<bool> read = read_batch(1, static_cast<int64_t>(count), batch, read_to, 3, piece);
    DG_ASSERT(read.has_value() && !piece.empty());
    read_to = piece.back().seq;
    pieces.insert(pieces.end(), piece.begin(), piece.end());
  }
  DG_ASSERT(same_events(pieces, events));

  // A delta-form batch split anywhere is two batches holding the same events.
  if (batch.empty() || batch.front() != kDeltaMark || count < 2) return;
  const std::vector<OutboxEvent> all = read_all(batch, count);
  for (size_t keep = 1; keep < count; ++keep) {
    std::string first(batch);
    std::string rest = split_delta_batch(first, keep);
    std::vector<OutboxEvent> split = read_all(first, keep);
    Result<bool> second = read_batch(static_cast<int64_t>(keep + 1),
                                     static_cast<int64_t>(count - keep), rest, 0, SIZE_MAX, split);
    DG_ASSERT(second.has_value() && *second);
    DG_ASSERT(same_events(split, all));
  }
}

void encode_and_read(std::string_view input) {
  std::vector<OutboxEvent> events;
  while (!input.empty() && events.size() < 64) {
    size_t id_end = input.find('\0');
    std::string_view id = input.substr(0, id_end);
    input = id_end == std::string_view::npos ? std::string_view() : input.substr(id_end + 1);
    size_t body_end = input.find('\0');
    std::string_view body = input.substr(0, body_end);
    input = body_end == std::string_view::npos ? std::string_view() : input.substr(body_end + 1);
    events.push_back({static_cast<int64_t>(events.size()) + 1, std::string(id), std::string(body)});
  }
  if (events.empty()) return;
  // As Outbox::append builds its queue: the first record whole, each later
  // one from the one before.
  std::string delta(1, kDeltaMark), plain, previous;
  for (const OutboxEvent& event : events) {
    std::string record;
    append_netstring(record, event.id);
    append_netstring(record, event.body_json);
    append_delta(delta, previous, record);
    plain += record;
    previous = std::move(record);
  }
  DG_ASSERT(same_events(read_all(delta, events.size()), events));
  DG_ASSERT(same_events(read_all(plain, events.size()), events));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  if (input.empty()) return 0;
  const char mode = input.front();
  input.remove_prefix(1);
  if (mode == 'e') {
    encode_and_read(input);
  } else {
    read_stored(input);
  }
  return 0;
}
