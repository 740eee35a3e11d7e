// The drop state machine, state by state and action by action: every pair of
// (stored state, action) has its expected outcome written out below, so a
// rule that changes shows up as one line of this table.
#include "core/drop.h"

#include <gtest/gtest.h>

#include "base/problem_types.h"

namespace dg::core {
namespace {

constexpr int64_t kOpensAt = 1'800'000'000'000;
constexpr DropState kAllStates[] = {DropState::draft, DropState::scheduled, DropState::live,
                                    DropState::paused, DropState::closed};

// Checks that the names are the frozen ones the database holds, and that
// each parses back to its state; anything else parses to nothing.
TEST(DropStateNames, AreTheFrozenStoredNamesAndParseBack) {
  EXPECT_EQ(drop_state_name(DropState::draft), "draft");
  EXPECT_EQ(drop_state_name(DropState::scheduled), "scheduled");
  EXPECT_EQ(drop_state_name(DropState::live), "live");
  EXPECT_EQ(drop_state_name(DropState::paused), "paused");
  EXPECT_EQ(drop_state_name(DropState::closed), "closed");
  for (DropState state : kAllStates) EXPECT_EQ(parse_drop_state(drop_state_name(state)), state);
  EXPECT_FALSE(parse_drop_state("Live").has_value());
  EXPECT_FALSE(parse_drop_state("").has_value());
  EXPECT_FALSE(parse_drop_state("rolled_back").has_value());
}

// Checks the one clock-driven change: scheduled becomes live exactly at
// opens_at (the window is [opens_at, closes_at)), not a millisecond before.
TEST(EffectiveState, ScheduledTurnsLiveExactlyAtOpensAt) {
  EXPECT_EQ(effective_state(DropState::scheduled, kOpensAt, kOpensAt - 1), DropState::scheduled);
  EXPECT_EQ(effective_state(DropState::scheduled, kOpensAt, kOpensAt), DropState::live);
  EXPECT_EQ(effective_state(DropState::scheduled, kOpensAt, kOpensAt + 1), DropState::live);
}

// Checks that every other stored state ignores the clock, before and after
// the window opens: a paused or closed drop does not go live on its own.
TEST(EffectiveState, EveryOtherStateStandsAsStored) {
  for (DropState state :
       {DropState::draft, DropState::live, DropState::paused, DropState::closed}) {
    EXPECT_EQ(effective_state(state, kOpensAt, kOpensAt - 1), state) << drop_state_name(state);
    EXPECT_EQ(effective_state(state, kOpensAt, kOpensAt), state) << drop_state_name(state);
    EXPECT_EQ(effective_state(state, kOpensAt, kOpensAt + 86'400'000), state);
  }
}

// Checks the from-sets and targets the store's compare-and-set is given.
TEST(TransitionFor, GivesEachActionsFromStatesAndTarget) {
  using S = DropState;
  auto publish = transition_for(DropAction::publish);
  EXPECT_EQ(publish.from, std::vector<S>{S::draft});
  EXPECT_EQ(publish.to, S::scheduled);
  auto pause = transition_for(DropAction::pause);
  EXPECT_EQ(pause.from, (std::vector<S>{S::scheduled, S::live}));
  EXPECT_EQ(pause.to, S::paused);
  auto resume = transition_for(DropAction::resume);
  EXPECT_EQ(resume.from, std::vector<S>{S::paused});
  EXPECT_EQ(resume.to, S::scheduled);
  auto close = transition_for(DropAction::close);
  EXPECT_EQ(close.from, (std::vector<S>{S::scheduled, S::live, S::paused}));
  EXPECT_EQ(close.to, S::closed);
}

struct Case {
  DropState from;
  DropAction action;
  std::optional<DropState> to;  // nullopt: refused
  const ProblemType* refusal;   // when refused
};

std::string_view action_name(DropAction action) {
  switch (action) {
    case DropAction::publish:
      return "publish";
    case DropAction::pause:
      return "pause";
    case DropAction::resume:
      return "resume";
    case DropAction::close:
      return "close";
  }
  return "?";
}

// Checks all twenty (state, action) pairs against the table: what is allowed
// lands in the right state, what is not is refused with the right type.
TEST(NextState, EveryStateAndActionPair) {
  using S = DropState;
  using A = DropAction;
  const ProblemType* const refused = &problem::invalid_transition;
  const Case cases[] = {
      {S::draft, A::publish, S::scheduled, nullptr},
      {S::scheduled, A::publish, S::scheduled, nullptr},
      {S::live, A::publish, S::live, nullptr},
      {S::paused, A::publish, S::paused, nullptr},
      {S::closed, A::publish, std::nullopt, &problem::drop_closed},

      {S::draft, A::pause, std::nullopt, refused},
      {S::scheduled, A::pause, S::paused, nullptr},
      {S::live, A::pause, S::paused, nullptr},
      {S::paused, A::pause, std::nullopt, refused},
      {S::closed, A::pause, std::nullopt, refused},

      {S::draft, A::resume, std::nullopt, refused},
      {S::scheduled, A::resume, std::nullopt, refused},
      {S::live, A::resume, std::nullopt, refused},
      {S::paused, A::resume, S::scheduled, nullptr},
      {S::closed, A::resume, std::nullopt, refused},

      {S::draft, A::close, std::nullopt, refused},
      {S::scheduled, A::close, S::closed, nullptr},
      {S::live, A::close, S::closed, nullptr},
      {S::paused, A::close, S::closed, nullptr},
      {S::closed, A::close, std::nullopt, refused},
  };
  for (const Case& c : cases) {
    auto next = next_state("summer-tape", c.from, c.action);
    std::string where =
        std::string(action_name(c.action)) + " from " + std::string(drop_state_name(c.from));
    if (c.to) {
      ASSERT_TRUE(next.has_value()) << where << ": " << next.error().to_string();
      EXPECT_EQ(*next, *c.to) << where;
    } else {
      ASSERT_FALSE(next.has_value()) << where;
      EXPECT_EQ(next.error().type(), c.refusal) << where;
      EXPECT_EQ(next.error().code(), Code::conflict) << where;
    }
  }
}

// Checks the details a refused change sends today, word for word.
// The defect this guards: resume used to store `live`, so a drop paused before
// its window opened went on sale at once when resumed. Resuming stores
// `scheduled`, and the clock decides: not live before opens_at, live after.
TEST(NextState, AResumedDropIsLiveOnlyOnceItsWindowOpened) {
  auto resumed = next_state("summer-tape", DropState::paused, DropAction::resume);
  ASSERT_TRUE(resumed.has_value());
  EXPECT_EQ(effective_state(*resumed, kOpensAt, kOpensAt - 1), DropState::scheduled);
  EXPECT_EQ(effective_state(*resumed, kOpensAt, kOpensAt), DropState::live);
}

TEST(NextState, RefusalsSayWhatTheDropIs) {
  auto closed = next_state("summer-tape", DropState::closed, DropAction::publish);
  ASSERT_FALSE(closed.has_value());
  EXPECT_EQ(closed.error().message(), "a closed drop cannot be published again");
  auto pause = next_state("summer-tape", DropState::draft, DropAction::pause);
  ASSERT_FALSE(pause.has_value());
  EXPECT_EQ(pause.error().message(), "drop \"summer-tape\" is draft, not scheduled, live");
  auto resume = next_state("summer-tape", DropState::live, DropAction::resume);
  ASSERT_FALSE(resume.has_value());
  EXPECT_EQ(resume.error().message(), "drop \"summer-tape\" is live, not paused");
}

// Checks the store's compare-and-set refusal: a plain conflict (the service
// names it), listing what was expected; an empty list still reads.
TEST(TransitionRefused, IsAConflictNamingStateAndExpectedStates) {
  const DropState from[] = {DropState::scheduled, DropState::live, DropState::paused};
  Status s = transition_refused("x", DropState::closed, from);
  EXPECT_EQ(s.code(), Code::conflict);
  EXPECT_EQ(s.type(), nullptr);
  EXPECT_EQ(s.message(), "drop \"x\" is closed, not scheduled, live, paused");
  EXPECT_EQ(transition_refused("x", DropState::live, {}).message(), "drop \"x\" is live, not -");
}

// Checks which states let the spec change: draft and scheduled only, with the
// store's message for the others.
TEST(CheckSpecEditable, OnlyDraftAndScheduled) {
  EXPECT_TRUE(check_spec_editable("x", DropState::draft).ok());
  EXPECT_TRUE(check_spec_editable("x", DropState::scheduled).ok());
  for (DropState state : {DropState::live, DropState::paused, DropState::closed}) {
    Status s = check_spec_editable("x", state);
    EXPECT_EQ(s.code(), Code::conflict) << drop_state_name(state);
    EXPECT_EQ(s.message(), "drop \"x\" is " + std::string(drop_state_name(state)) +
                               "; only draft or scheduled drops can be edited");
  }
}

// Checks that files may be added and removed in every state but closed
// (removing from a closed drop used to be allowed).
TEST(CheckAssetsChangeable, EveryStateButClosed) {
  for (AssetChange change : {AssetChange::add, AssetChange::remove}) {
    for (DropState state :
         {DropState::draft, DropState::scheduled, DropState::live, DropState::paused}) {
      EXPECT_TRUE(check_assets_changeable(state, change).ok()) << drop_state_name(state);
    }
  }
  Status add = check_assets_changeable(DropState::closed, AssetChange::add);
  EXPECT_EQ(add.type(), &problem::drop_closed);
  EXPECT_EQ(add.message(), "a closed drop takes no new files");
  Status remove = check_assets_changeable(DropState::closed, AssetChange::remove);
  EXPECT_EQ(remove.type(), &problem::drop_closed);
  EXPECT_EQ(remove.message(), "a closed drop keeps its files");
}

}  // namespace
}  // namespace dg::core
