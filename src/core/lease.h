// Serial leases as pure rules (docs/DESIGN.md, "Scarcity: serial leases"):
// how many serials a seller asks for, which fresh serials a lease gets, and
// which of a seller's leases covers a serial. The store grants and keeps
// leases; these functions decide nothing it has not been told.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

namespace dg::core {

// A lease's serials: one contiguous run first..last, both inclusive.
struct SerialRun {
  uint32_t first_serial = 0;
  uint32_t last_serial = 0;

  bool contains(uint32_t serial) const { return first_serial <= serial && serial <= last_serial; }
  bool operator==(const SerialRun&) const = default;
};

// How many serials a seller asks for in its next lease: a 1/`share_divisor`
// share of the drop's `unleased_count`, so stock is not stranded in one seller
// near sell-out — large while stock is plentiful, shrinking toward 1 — and
// never more than `serials_max`. Always at least 1 (a divisor or a maximum of
// 0 counts as 1).
uint32_t lease_size(uint32_t unleased_count, uint32_t share_divisor, uint32_t serials_max);

// The run of never-leased serials a lease of up to `serial_count_max` gets
// when the drop's next fresh serial is `next_serial`: from there, never past
// `edition_size`. nullopt when every serial has been leased before.
// `serial_count_max` must be at least 1.
std::optional<SerialRun> fresh_lease_run(uint32_t next_serial, uint32_t edition_size,
                                         uint32_t serial_count_max);

// Of one seller's leases of one drop — which never overlap — sorted by
// first_serial, the one that covers `serial`, or null. Only the lease that
// starts last at or before the serial can.
const SerialRun* lease_covering(std::span<const SerialRun> leases_by_first, uint32_t serial);

}  // namespace dg::core
