#include "core/lease.h"

#include <algorithm>
#include <iterator>

#include "base/assert.h"

namespace dg::core {

uint32_t lease_size(uint32_t unleased_count, uint32_t share_divisor, uint32_t serials_max) {
  uint32_t share = unleased_count / std::max<uint32_t>(1, share_divisor);
  return std::clamp<uint32_t>(share, 1, std::max<uint32_t>(1, serials_max));
}

std::optional<SerialRun> fresh_lease_run(uint32_t next_serial, uint32_t edition_size,
                                         uint32_t serial_count_max) {
  DG_ASSERT(serial_count_max >= 1);  // the store refuses 0 before it reads the drop
  if (next_serial > edition_size) return std::nullopt;
  // 64 bits: next_serial + serial_count_max may pass UINT32_MAX.
  uint64_t last = std::min<uint64_t>(edition_size, uint64_t{next_serial} + serial_count_max - 1);
  return SerialRun{next_serial, static_cast<uint32_t>(last)};
}

const SerialRun* lease_covering(std::span<const SerialRun> leases_by_first, uint32_t serial) {
  auto after =
      std::upper_bound(leases_by_first.begin(), leases_by_first.end(), serial,
                       [](uint32_t s, const SerialRun& lease) { return s < lease.first_serial; });
  if (after == leases_by_first.begin()) return nullptr;
  const SerialRun& candidate = *std::prev(after);
  return candidate.contains(serial) ? &candidate : nullptr;
}

}  // namespace dg::core
