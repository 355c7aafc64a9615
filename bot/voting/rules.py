"""Vote counting and closing rules, free of Discord and storage.

Decision votes: a vote passes when at least ``quorum`` ballots were cast and the share of ✅ among them
is MORE than ``majority`` (so with the default 0.5 a tie fails: the status quo wins). It closes at its
deadline, or early when the result can no longer change, or when ``instant_pass`` ✅ are reached while the
majority holds.

Time boards: each 🔼 adds ``add_per_vote``, each 🔽 removes ``remove_per_vote``; the net is applied once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.store.models import Tally

FOR = 1
AGAINST = -1


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"


@dataclass(frozen=True)
class Rules:
    quorum: int
    majority: float
    instant_pass: int = 0


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reason: str
    early: bool = False


def _passes(t: Tally, rules: Rules) -> bool:
    return t.total >= rules.quorum and t.votes_for > rules.majority * t.total


def at_deadline(t: Tally, rules: Rules) -> Verdict:
    if t.total < rules.quorum:
        return Verdict(Outcome.FAILED, f"quorum not reached ({t.total} of {rules.quorum} votes)")
    if t.votes_for > rules.majority * t.total:
        return Verdict(Outcome.PASSED, f"{t.votes_for} for, {t.votes_against} against")
    if t.votes_for == t.votes_against:
        return Verdict(Outcome.FAILED, f"tie ({t.votes_for} for, {t.votes_against} against): a tie fails")
    return Verdict(Outcome.FAILED, f"majority not reached ({t.votes_for} for, {t.votes_against} against)")


def early(t: Tally, rules: Rules, *, max_more_voters: int | None) -> Verdict | None:
    """A verdict before the deadline, or None to keep the vote open.

    ``max_more_voters`` is an upper bound on how many more eligible members could still vote
    (None when unknown: then only ``instant_pass`` can close early).
    """
    if rules.instant_pass > 0 and t.votes_for >= rules.instant_pass and _passes(t, rules):
        return Verdict(Outcome.PASSED, f"instant pass at {t.votes_for} for, {t.votes_against} against", True)
    if max_more_voters is None:
        return None
    worst = Tally(t.votes_for, t.votes_against + max_more_voters)
    best = Tally(t.votes_for + max_more_voters, t.votes_against)
    if _passes(worst, rules):
        return Verdict(Outcome.PASSED, f"decided early: {t.votes_for} for, {t.votes_against} against", True)
    if not _passes(best, rules):
        verdict = at_deadline(best, rules)
        return Verdict(Outcome.FAILED, f"cannot pass any more ({verdict.reason} at best)", True)
    return None


def board_net(ups: int, downs: int, add_per_vote: int, remove_per_vote: int) -> int:
    return ups * add_per_vote - downs * remove_per_vote


def progress_bar(part: float, whole: float, width: int = 12) -> str:
    """A text progress bar, e.g. ``▰▰▰▱▱▱▱▱▱▱▱▱``; empty when ``whole`` is not positive."""
    if whole <= 0:
        return "▱" * width
    filled = max(0, min(width, round(width * part / whole)))
    return "▰" * filled + "▱" * (width - filled)
