// A drop's life as a state machine (docs/DESIGN.md, "Data that matters"):
//
//   draft --publish--> scheduled --(opens_at passes)--> live
//   scheduled, live --pause--> paused --resume--> scheduled
//   scheduled, live, paused --close--> closed
//
// Pure rules: no store, no clock (the time is a parameter). The store keeps
// the state and applies a change as a compare-and-set, with the `from`
// states these rules give (Store::set_drop_state).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace dg::core {

// Frozen: stored as text in the database and sent in the API (drop_state_name).
// A scheduled drop is stored as scheduled after its window opened: the clock
// makes it live (effective_state), not a write.
enum class DropState { draft, scheduled, live, paused, closed };
std::string_view drop_state_name(DropState state);
std::optional<DropState> parse_drop_state(std::string_view name);

// What an operator does to a drop's state.
enum class DropAction { publish, pause, resume, close };

// The state a drop is in at `now_ms`: a scheduled drop whose window has opened
// (now_ms >= opens_at_ms) is live; every other stored state stands as stored.
DropState effective_state(DropState stored, int64_t opens_at_ms, int64_t now_ms);

// A change of stored state, from one of `from` to `to`.
struct DropTransition {
  std::vector<DropState> from;
  DropState to;
};
// The change `action` makes: publish draft → scheduled; pause scheduled or
// live → paused; resume paused → scheduled (live at once if its window has
// opened: effective_state; a drop paused before it opened must not go on sale
// early); close scheduled, live or paused → closed. (Publishing a
// scheduled, live or paused drop signs a new version and leaves its state
// alone: see next_state.)
DropTransition transition_for(DropAction action);

// The stored state after `action` on drop `slug`, now in `current`:
// drop-closed for publishing a closed drop; invalid-transition (with the
// detail of transition_refused) for a pause, resume or close from a state
// that does not allow it. Publishing a scheduled, live or paused drop keeps
// its state.
Result<DropState> next_state(std::string_view slug, DropState current, DropAction action);

// Why a change from one of `from` does not apply to drop `slug` in `current`:
// conflict, `drop "<slug>" is <current>, not <from, ...>`. What the store
// answers when its compare-and-set finds another state.
Status transition_refused(std::string_view slug, DropState current,
                          std::span<const DropState> from);

// A drop's spec (title, edition, window, limit, price, rights) may change only
// while it is draft or scheduled: conflict otherwise.
Status check_spec_editable(std::string_view slug, DropState current);

// Files may be added to or removed from every drop but a closed one
// (drop-closed): a closed drop's files are final.
enum class AssetChange { add, remove };
Status check_assets_changeable(DropState current, AssetChange change);

}  // namespace dg::core
