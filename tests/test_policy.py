from bot.actions import Action, ActionKind
from bot.policy import OwnerLimits, board_allowance, check, effective_quorum

LIMITS = OwnerLimits()


def add(seconds):
    return Action(kind=ActionKind.ADD_TIME, seconds=seconds)


def test_within_limits_reports_what_is_left():
    d = check(add(1800), source="direct", state="active", limits=LIMITS, added_last_24h=3600)
    assert d.allowed and d.left_today == 4 * 3600 - 3600 - 1800


def test_per_action_cap_names_limit_and_left():
    d = check(add(7200), source="vote", state="active", limits=LIMITS, added_last_24h=0)
    assert not d.allowed and d.limit == "max_add_per_action"
    assert "at most 1h per action" in d.reason and "Left today: 4h" in d.reason


def test_daily_cap():
    d = check(add(3600), source="direct", state="active", limits=LIMITS, added_last_24h=4 * 3600 - 600)
    assert not d.allowed and d.limit == "max_add_per_day" and "left today: 10m" in d.reason


def test_paused_link_refuses_everyone():
    for source in ("direct", "vote", "board"):
        d = check(add(60), source=source, state="paused", limits=LIMITS, added_last_24h=0)
        assert not d.allowed and "safeword" in d.reason


def test_kind_not_allowed_for_votes():
    limits = OwnerLimits(vote_allowed=frozenset({ActionKind.REMOVE_TIME}))
    d = check(add(60), source="vote", state="active", limits=limits, added_last_24h=0)
    assert not d.allowed and "does not allow votes to add time" in d.reason
    assert check(add(60), source="direct", state="active", limits=limits, added_last_24h=0).allowed


def test_freeze_and_pillory_caps():
    d = check(Action(kind=ActionKind.FREEZE, seconds=5 * 3600), source="direct", state="active",
              limits=LIMITS, added_last_24h=0)
    assert not d.allowed and d.limit == "max_freeze"
    d = check(Action(kind=ActionKind.PILLORY, seconds=7200), source="direct", state="active",
              limits=LIMITS, added_last_24h=0)
    assert not d.allowed and d.limit == "max_pillory"


def test_board_allowance_and_quorum():
    assert board_allowance(state="active", limits=LIMITS, added_last_24h=3 * 3600 + 1800) == (1800, 30 * 86400)
    assert board_allowance(state="paused", limits=LIMITS, added_last_24h=0) == (0, 0)
    assert effective_quorum(2, LIMITS) == 3 and effective_quorum(5, LIMITS) == 5
