#include "store/outbox_codec.h"

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstring>
#include <optional>

namespace dg::store::outbox_codec {
namespace {

// Shorter common stretches are cheaper to store as new bytes.
constexpr size_t kCopyBytesMin = 6;
// How far (in bytes, either way) from where the two records line up a copy
// is looked for: a counter or an account gaining a digit shifts the rest.
constexpr ptrdiff_t kShiftMax = 3;

void append_varint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out += static_cast<char>((value & 0x7f) | 0x80);
    value >>= 7;
  }
  out += static_cast<char>(value);
}

std::optional<uint64_t> read_varint(std::string_view text, size_t& at) {
  uint64_t value = 0;
  for (int shift = 0; shift < 64 && at < text.size(); shift += 7) {
    auto byte = static_cast<uint8_t>(text[at++]);
    value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return value;
  }
  return std::nullopt;
}

// Bytes `a` and `b` share at their starts, compared eight at a time.
size_t common_prefix(std::string_view a, std::string_view b) {
  size_t limit = std::min(a.size(), b.size()), i = 0;
  for (; i + 8 <= limit; i += 8) {
    uint64_t x, y;
    std::memcpy(&x, a.data() + i, 8);
    std::memcpy(&y, b.data() + i, 8);
    if (x != y) return i + static_cast<size_t>(__builtin_ctzll(x ^ y) / 8);  // little-endian
  }
  while (i < limit && a[i] == b[i]) ++i;
  return i;
}

}  // namespace

void append_netstring(std::string& out, std::string_view bytes) {
  char digits[24];
  auto end = std::to_chars(digits, digits + sizeof digits, bytes.size()).ptr;
  out.append(digits, static_cast<size_t>(end - digits));
  out += ':';
  out += bytes;
  out += ',';
}

namespace {

// Reads one netstring at `at`, moving past it; nullopt when malformed.
std::optional<std::string_view> read_netstring(std::string_view text, size_t& at) {
  size_t colon = text.find(':', at);
  if (colon == std::string_view::npos || colon == at || colon - at > 10) return std::nullopt;
  size_t length = 0;
  for (size_t i = at; i < colon; ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    length = length * 10 + static_cast<size_t>(text[i] - '0');
  }
  if (length > text.size() - colon - 1 || text.size() - colon - 1 - length < 1 ||
      text[colon + 1 + length] != ',') {
    return std::nullopt;
  }
  at = colon + 1 + length + 1;
  return text.substr(colon + 1, length);
}

// Reads the delta-form records of `text` (after its mark) in order, from
// `at`, rebuilding each into `record` and calling visit(record, end), where
// `end` is where the next one starts; stops when visit returns false. False
// when a piece does not fit (a copy outside the record before, a length past
// the record's or the text's end) or the text ends inside a record.
template <typename Visit>
bool for_each_delta_record(std::string_view text, size_t at, std::string& record, Visit visit) {
  std::string previous;
  record.clear();
  while (at < text.size()) {
    auto size = read_varint(text, at);
    if (!size || *size > text.size() * 64)
      return false;  // no record grows that much from its pieces
    record.clear();
    do {
      auto run = read_varint(text, at);
      if (!run || *run > *size - record.size() || *run > text.size() - at) return false;
      record.append(text.substr(at, *run));
      at += *run;
      if (record.size() == *size) break;
      auto from = read_varint(text, at);
      auto bytes = from ? read_varint(text, at) : std::nullopt;
      if (!bytes || *bytes == 0 || *from > previous.size() || *bytes > previous.size() - *from ||
          *bytes > *size - record.size()) {
        return false;
      }
      record.append(previous, *from, *bytes);
    } while (record.size() < *size);
    if (!visit(std::string_view(record), at)) return true;
    previous.swap(record);
  }
  return true;
}

}  // namespace

// Appends `record` to a delta-form batch, built from `previous`: walking
// both together, a stretch of at least kCopyBytesMin bytes that matches
// where the walk stands in `previous` (give or take kShiftMax) is copied;
// anything else is new bytes.
void append_delta(std::string& out, std::string_view previous, std::string_view record) {
  append_varint(out, record.size());
  size_t at = 0, run_start = 0;
  ptrdiff_t in_previous = 0;  // where the walk stands in `previous`
  const auto previous_size = static_cast<ptrdiff_t>(previous.size());
  while (at < record.size()) {
    size_t copy_bytes = 0, copy_from = 0;
    for (ptrdiff_t shift : {0, 1, -1, 2, -2, 3, -3}) {
      ptrdiff_t from = in_previous + shift;
      if (from < 0 || from >= previous_size || previous[static_cast<size_t>(from)] != record[at])
        continue;
      size_t bytes = common_prefix(previous.substr(static_cast<size_t>(from)), record.substr(at));
      if (bytes > copy_bytes) {
        copy_bytes = bytes;
        copy_from = static_cast<size_t>(from);
      }
    }
    static_assert(kShiftMax == 3, "the shifts tried above");
    if (copy_bytes < kCopyBytesMin) {
      ++at;
      ++in_previous;
      continue;
    }
    append_varint(out, at - run_start);
    out.append(record.substr(run_start, at - run_start));
    append_varint(out, copy_from);
    append_varint(out, copy_bytes);
    at += copy_bytes;
    in_previous = static_cast<ptrdiff_t>(copy_from + copy_bytes);
    run_start = at;
  }
  if (run_start < record.size() || record.empty()) {
    append_varint(out, record.size() - run_start);
    out.append(record.substr(run_start));
  }
}

std::string split_delta_batch(std::string& batch, size_t count) {
  std::string record, rest;
  size_t seen = 0, kept_end = batch.size();
  for_each_delta_record(batch, 1, record, [&](std::string_view current, size_t end) {
    if (++seen <= count) {
      kept_end = end;
      return true;
    }
    rest += kDeltaMark;
    append_delta(rest, {}, current);
    rest.append(std::string_view(batch).substr(end));
    return false;
  });
  batch.resize(kept_end);
  return rest;
}

Result<bool> read_batch(int64_t first_seq, int64_t count, std::string_view text, int64_t acked,
                        size_t count_max, std::vector<OutboxEvent>& out) {
  int64_t seq = first_seq;
  bool malformed = false, full = false;
  auto take = [&](std::string_view record) {
    size_t at = 0;
    auto id = read_netstring(record, at);
    auto body = id ? read_netstring(record, at) : std::nullopt;
    if (!body || at != record.size()) {
      malformed = true;
      return false;
    }
    if (seq > acked) {
      if (out.size() >= count_max) {
        full = true;
        return false;
      }
      out.push_back({seq, std::string(*id), std::string(*body)});
    }
    ++seq;
    return true;
  };
  if (!text.empty() && text.front() == kDeltaMark) {
    std::string record;
    if (!for_each_delta_record(text, 1, record,
                               [&](std::string_view r, size_t) { return take(r); })) {
      malformed = true;
    }
  } else {
    size_t at = 0;
    while (!malformed && !full && at < text.size()) {
      size_t start = at;
      auto id = read_netstring(text, at);
      auto body = id ? read_netstring(text, at) : std::nullopt;
      if (!body) {
        malformed = true;
      } else {
        take(text.substr(start, at - start));
      }
    }
  }
  if (malformed || (!full && seq - first_seq != count)) {
    return error(Code::corruption,
                 "outbox: the batch at seq " + std::to_string(first_seq) + " is malformed");
  }
  return !full;
}

}  // namespace dg::store::outbox_codec
