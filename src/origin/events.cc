#include "origin/events.h"

#include "base/log.h"

namespace dg::origin {

void note_events(store::Store& store, const std::vector<store::Event>& events) {
  auto written = store.append_events(events);
  if (written) return;
  std::string kinds;
  for (const store::Event& e : events) kinds += (kinds.empty() ? "" : ",") + e.kind;
  log::warn("events not recorded", {{"kinds", kinds}, {"error", written.error().to_string()}});
}

}  // namespace dg::origin
