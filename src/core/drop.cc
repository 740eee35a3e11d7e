#include "core/drop.h"

#include <algorithm>
#include <array>
#include <string>
#include <utility>

#include "base/assert.h"
#include "base/problem_types.h"

namespace dg::core {
namespace {

// Frozen: these names are stored in the database.
constexpr std::array<std::pair<DropState, std::string_view>, 5> kDropStates = {{
    {DropState::draft, "draft"},
    {DropState::scheduled, "scheduled"},
    {DropState::live, "live"},
    {DropState::paused, "paused"},
    {DropState::closed, "closed"},
}};

std::string quoted(std::string_view slug) {
  return "drop \"" + std::string(slug) + "\"";
}

}  // namespace

std::string_view drop_state_name(DropState state) {
  for (const auto& [candidate, name] : kDropStates) {
    if (candidate == state) return name;
  }
  return "unknown";
}

std::optional<DropState> parse_drop_state(std::string_view name) {
  for (const auto& [state, candidate] : kDropStates) {
    if (candidate == name) return state;
  }
  return std::nullopt;
}

DropState effective_state(DropState stored, int64_t opens_at_ms, int64_t now_ms) {
  if (stored == DropState::scheduled && now_ms >= opens_at_ms) return DropState::live;
  return stored;
}

DropTransition transition_for(DropAction action) {
  switch (action) {
    case DropAction::publish:
      return {{DropState::draft}, DropState::scheduled};
    case DropAction::pause:
      return {{DropState::scheduled, DropState::live}, DropState::paused};
    case DropAction::resume:
      return {{DropState::paused}, DropState::scheduled};
    case DropAction::close:
      return {{DropState::scheduled, DropState::live, DropState::paused}, DropState::closed};
  }
  assert_fail("unknown DropAction", __FILE__, __LINE__);
}

Result<DropState> next_state(std::string_view slug, DropState current, DropAction action) {
  DropTransition transition = transition_for(action);
  if (std::find(transition.from.begin(), transition.from.end(), current) != transition.from.end()) {
    return transition.to;
  }
  if (action == DropAction::publish) {
    if (current == DropState::closed) {
      return error(problem::drop_closed, "a closed drop cannot be published again");
    }
    return current;  // a new version of a drop already on its way: the state stands
  }
  return error(problem::invalid_transition,
               transition_refused(slug, current, transition.from).message());
}

Status transition_refused(std::string_view slug, DropState current,
                          std::span<const DropState> from) {
  std::string expected;
  for (DropState state : from) {
    expected += (expected.empty() ? "" : ", ") + std::string(drop_state_name(state));
  }
  return Status(Code::conflict, quoted(slug) + " is " + std::string(drop_state_name(current)) +
                                    ", not " + (expected.empty() ? "-" : expected));
}

Status check_spec_editable(std::string_view slug, DropState current) {
  if (current == DropState::draft || current == DropState::scheduled) return Status();
  return Status(Code::conflict, quoted(slug) + " is " + std::string(drop_state_name(current)) +
                                    "; only draft or scheduled drops can be edited");
}

Status check_assets_changeable(DropState current, AssetChange change) {
  if (current != DropState::closed) return Status();
  return Status(problem::drop_closed, change == AssetChange::add
                                          ? "a closed drop takes no new files"
                                          : "a closed drop keeps its files");
}

}  // namespace dg::core
