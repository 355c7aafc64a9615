"""The lock's consent as pure rules: how the limits of the people who hold a lock merge, and the in-process pause."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bot.actions import ActionKind
from bot.config import LimitsSettings
from bot.consent import Consent
from bot.policy import OwnerLimits, strictest

DEFAULTS = OwnerLimits()
KINDS = st.frozensets(st.sampled_from(list(ActionKind)))
CHOICE = st.fixed_dictionaries({}, optional={
    "max_add_per_action": st.integers(0, 30 * 86400), "max_add_per_day": st.integers(0, 60 * 86400),
    "max_freeze": st.integers(0, 86400), "max_pillory": st.integers(0, 86400),
    "min_vote_quorum": st.integers(1, 50), "direct_allowed": KINDS, "vote_allowed": KINDS,
    "allow_owner_vote": st.booleans()})


def _as_json(choice: dict[str, Any]) -> dict[str, Any]:
    return {k: sorted(v) if isinstance(v, frozenset) else v for k, v in choice.items()}


@given(st.lists(CHOICE, min_size=1, max_size=4))
def test_the_merged_limits_are_never_looser_than_any_person_s_limits(people):
    merged = strictest(DEFAULTS, [_as_json(p) for p in people])
    for person in people:
        mine = DEFAULTS.model_copy(update=person)
        for name in ("max_add_per_action", "max_add_per_day", "max_freeze", "max_pillory"):
            assert getattr(merged, name) <= getattr(mine, name)
        assert merged.min_vote_quorum >= mine.min_vote_quorum
        assert merged.direct_allowed <= mine.direct_allowed and merged.vote_allowed <= mine.vote_allowed
        assert merged.allow_owner_vote <= mine.allow_owner_vote


@given(CHOICE, st.integers(1, 3))
def test_one_person_cannot_loosen_past_the_defaults_while_another_chose_nothing(choice, silent):
    merged = strictest(DEFAULTS, [_as_json(choice)] + [{}] * silent)
    assert merged.max_add_per_action <= DEFAULTS.max_add_per_action
    assert merged.max_add_per_day <= DEFAULTS.max_add_per_day
    assert merged.vote_allowed <= DEFAULTS.vote_allowed


@given(CHOICE)
def test_alone_a_person_s_choice_is_the_lock_s(choice):
    assert strictest(DEFAULTS, [_as_json(choice)]) == DEFAULTS.model_copy(update=choice)


async def test_a_pause_held_in_this_process_stays_until_its_own_person_lifts_it(tmp_path):
    from bot.store import Store

    lock = "c" * 24
    async with await Store.open(tmp_path / "bot.db") as store:
        consent = Consent(store, LimitsSettings(), clock=lambda: 0.0)
        assert consent.guard(lock) is None
        await consent.pause(lock, 1, None)
        consent.hold(lock, 2)  # the other person is saying it right now; their row is not written yet
        lifted, still = await consent.unpause(lock, 1)
        assert lifted and still and consent.guard(lock) is not None
        await store.consent.pause(lock, 2, None)
        assert (await consent.unpause(lock, 2)) == (True, False)
        assert consent.guard(lock) is None
