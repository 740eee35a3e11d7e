// Measurement events for actions that already happened.
#pragma once

#include <vector>

#include "store/store.h"

namespace dg::origin {

// Appends `events` to the store. The action they describe stands whether or
// not they are written, so a failure is logged (with the events' kinds), not
// returned.
void note_events(store::Store& store, const std::vector<store::Event>& events);

}  // namespace dg::origin
