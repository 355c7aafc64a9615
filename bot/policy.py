"""The ONE policy gate every path goes through: direct commands, decision votes and time boards.

The lock owner's limits and safeword override everything: votes, trusted roles and admins.
A refusal names the limit and, for time, what is left today.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.actions import LABELS, Action, ActionKind
from bot.config import LimitsSettings
from bot.durations import format_duration

Source = Literal["direct", "vote", "board"]
# What the gate sees: the lock's consent and the link together. "paused": someone who linked the lock said the
# safeword (lock-wide); "away": only this server's link is held (its owner left the server).
LockState = Literal["active", "paused", "away", "ended", "broken"]
LinkState = LockState
DAY = 86400

ALL_KINDS = frozenset(ActionKind)
VOTE_DEFAULT = frozenset({
    ActionKind.ADD_TIME, ActionKind.REMOVE_TIME, ActionKind.FREEZE, ActionKind.UNFREEZE,
    ActionKind.PILLORY, ActionKind.TASK_ASSIGN,
})

_TIME = (ActionKind.ADD_TIME, ActionKind.REMOVE_TIME)
_FREEZE = (*_TIME, ActionKind.FREEZE, ActionKind.UNFREEZE)
# what `/chastify limits votes:` and `trusted:` offer, by name, in the order shown
KIND_PRESETS: dict[str, frozenset[ActionKind]] = {
    "time only": frozenset(_TIME),
    "time and freeze": frozenset(_FREEZE),
    "all but tasks": frozenset((*_FREEZE, ActionKind.PILLORY, ActionKind.END_PILLORY, ActionKind.HYGIENE)),
    "all": ALL_KINDS,
    "none": frozenset(),
}


_DEFAULTS = LimitsSettings()  # the config's `[limits]` defaults: the one place they are written


class OwnerLimits(BaseModel):
    """What a person who holds the lock allows (only the fields they chose are stored, see ``bot.consent``);
    the defaults are the config's ``[limits]`` defaults."""

    model_config = ConfigDict(extra="ignore")

    direct_allowed: frozenset[ActionKind] = Field(default=ALL_KINDS, description="kinds trusted people may use")
    vote_allowed: frozenset[ActionKind] = Field(default=VOTE_DEFAULT, description="kinds votes and boards may use")
    max_add_per_action: int = Field(default=_DEFAULTS.max_add_per_action, ge=0,
                                    description="most time one action may add (s)")
    max_add_per_day: int = Field(default=_DEFAULTS.max_add_per_day, ge=0,
                                 description="most time added per rolling 24 h (s)")
    max_freeze: int = Field(default=_DEFAULTS.max_freeze, ge=0, description="longest freeze (s)")
    max_pillory: int = Field(default=_DEFAULTS.max_pillory, ge=0, description="longest pillory (s)")
    min_vote_quorum: int = Field(default=_DEFAULTS.min_vote_quorum, ge=1,
                                 description="least quorum for votes on this lock")
    allow_owner_vote: bool = Field(default=False, description="whether the owner's own reactions count")
    allow_boards: bool = Field(default=True, description="whether time boards may be opened on the lock")
    allow_wheels: bool = Field(default=True, description="whether wheel votes (an option drawn by the votes) may "
                                                         "be opened on the lock")
    veto_minutes: int = Field(default=0, ge=0, le=60,
                              description="minutes a passed vote waits for a veto before it is applied (0 = off)")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""
    limit: str | None = None
    left_today: int | None = None

    @staticmethod
    def ok(left_today: int | None = None) -> Decision:
        return Decision(True, left_today=left_today)


_STATE_REFUSALS = {
    "paused": "The lock owner used the safeword: this lock is paused until they run `/chastify resume`.",
    "ended": "This lock has ended on Chastify. The owner can link their new lock with `/chastify link`.",
    "broken": "The owner's Chastify token no longer works. The owner must run `/chastify link` again.",
    "away": "The lock's owner is no longer a member of this server, so nobody here can act on the lock until "
            "they come back and run `/chastify resume` here.",
}


def strictest(defaults: OwnerLimits, people: Iterable[Mapping[str, Any]]) -> OwnerLimits:
    """The limits that apply to a lock: for each field, the strictest value among the people who hold it (fewest
    allowed kinds, lowest maximum, highest quorum, owner votes only if all allow them). Each mapping holds only the
    fields one person chose; a field they did not choose stands at the default for them, so nobody can loosen a
    limit past the default unless everyone who holds the lock chose to."""
    completed = [defaults.model_copy(update=_chosen(raw)) for raw in people]
    if not completed:
        return defaults
    return defaults.model_copy(update={
        name: _strictest_of(name, [getattr(one, name) for one in completed]) for name in OwnerLimits.model_fields})


def chosen_strictest(settings: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """One person's own choices merged from several rows (older data): the strictest value of each field any of
    them set; fields none of them set are left out."""
    values: dict[str, list[Any]] = {}
    for raw in settings:
        for name, value in _chosen(raw).items():
            values.setdefault(name, []).append(value)
    return {name: _strictest_of(name, vals) for name, vals in values.items()}


def _chosen(raw: Mapping[str, Any]) -> dict[str, Any]:
    one = OwnerLimits.model_validate(raw)
    return {name: getattr(one, name) for name in one.model_fields_set}


def _strictest_of(name: str, values: list[Any]) -> Any:
    if name in ("direct_allowed", "vote_allowed"):
        return frozenset.intersection(*values)
    if name in ("min_vote_quorum", "veto_minutes"):
        return max(values)  # more voters, a longer veto window: the stricter
    if name in ("allow_owner_vote", "allow_boards", "allow_wheels"):
        return all(values)
    return min(values)


def check(action: Action, *, source: Source, state: LinkState, limits: OwnerLimits,
          added_last_24h: int) -> Decision:
    """Judge one action. ``added_last_24h`` counts time added (not removed) by the bot in the last 24 h,
    uncertain sends included, so the daily cap can never be exceeded by an unknown outcome."""
    if state != "active":
        return Decision(False, _STATE_REFUSALS[state], limit="state")
    if source == "board" and not limits.allow_boards:
        return Decision(False, card_refusal(limits, source), limit="allowed")
    if action.kind not in (limits.direct_allowed if source == "direct" else limits.vote_allowed):
        return Decision(False, card_refusal(limits, source, action.kind), limit="allowed")
    left = max(0, limits.max_add_per_day - added_last_24h)
    if action.kind is ActionKind.ADD_TIME:
        seconds = action.seconds or 0
        if seconds > limits.max_add_per_action:
            return Decision(
                False,
                f"The owner allows at most {format_duration(limits.max_add_per_action)} per action "
                f"(asked: {format_duration(seconds)}). Left today: {format_duration(left)}.",
                limit="max_add_per_action", left_today=left)
        if seconds > left:
            return Decision(
                False,
                f"The owner allows at most {format_duration(limits.max_add_per_day)} added per 24 h; "
                f"left today: {format_duration(left)} (asked: {format_duration(seconds)}).",
                limit="max_add_per_day", left_today=left)
        return Decision.ok(left - seconds)
    if action.kind is ActionKind.FREEZE and action.freeze_seconds > limits.max_freeze:
        return Decision(False, f"The owner allows freezes of at most {format_duration(limits.max_freeze)}.",
                        limit="max_freeze")
    if action.kind is ActionKind.PILLORY and (action.seconds or 0) > limits.max_pillory:
        return Decision(False, f"The owner allows the pillory for at most {format_duration(limits.max_pillory)}.",
                        limit="max_pillory")
    return Decision.ok(left)


def board_allowance(*, state: LinkState, limits: OwnerLimits, added_last_24h: int) -> tuple[int, int]:
    """How far a time board's net change may go: (most it may add, most it may remove) in seconds.
    A board's net is clamped into this range, never refused whole; (0, 0) when boards are not allowed."""
    if state != "active" or not limits.allow_boards:
        return 0, 0
    add = 0
    if ActionKind.ADD_TIME in limits.vote_allowed:
        add = min(limits.max_add_per_action, max(0, limits.max_add_per_day - added_last_24h))
    remove = 30 * DAY if ActionKind.REMOVE_TIME in limits.vote_allowed else 0
    return add, remove


def effective_quorum(guild_quorum: int, limits: OwnerLimits) -> int:
    """The owner's least quorum wins over a smaller guild setting."""
    return max(guild_quorum, limits.min_vote_quorum)


# ---------------------------------------------------------------------------------------------- the consent card
# What the community may do to a lock, as the people who hold it set it (the strictest of them, see
# ``strictest``): `/chastify status` shows it, and a refusal of a kind it forbids quotes it.
CARD_KINDS: tuple[ActionKind, ...] = (
    ActionKind.ADD_TIME, ActionKind.REMOVE_TIME, ActionKind.FREEZE, ActionKind.UNFREEZE, ActionKind.PILLORY,
    ActionKind.END_PILLORY, ActionKind.TASK_ASSIGN, ActionKind.HYGIENE)


def kinds_text(kinds: frozenset[ActionKind]) -> str:
    """The kinds of the card a list allows, in the card's order ("nothing" when none)."""
    shown = [LABELS[k] for k in CARD_KINDS if k in kinds]
    return ", ".join(shown) if shown else "nothing"


WHEELS_REFUSED = ("This lock's consent card does not allow wheel votes (an option drawn by the votes); decision "
                  "votes are still open to what the card allows (`/chastify status` shows the card).")


def card_refusal(limits: OwnerLimits, source: Source, kind: ActionKind | None = None) -> str:
    """The card's words for a refused kind: what was asked, what the card allows instead, where to read it."""
    if source == "board" and kind is None:
        return ("This lock's consent card does not allow time boards. Votes may: "
                f"{kinds_text(limits.vote_allowed)} (`/chastify status` shows the card).")
    assert kind is not None
    if source == "direct":
        return (f"This lock's consent card does not allow trusted people to {LABELS[kind]}. Trusted people may: "
                f"{kinds_text(limits.direct_allowed)} (`/chastify status` shows the card).")
    return (f"This lock's consent card does not allow votes to {LABELS[kind]}. Votes may: "
            f"{kinds_text(limits.vote_allowed)} (`/chastify status` shows the card).")


@dataclass(frozen=True)
class ConsentCard:
    """One lock's card: who may do what, its limits, what is left of today's budget, whether it is paused."""

    state: LockState
    limits: OwnerLimits
    left_today: int

    def lines(self) -> list[tuple[str, str]]:
        """The card as (heading, text) pairs, in the order it is shown."""
        lim = self.limits
        out = [("By vote", kinds_text(lim.vote_allowed)),
               ("Time boards", "allowed" if lim.allow_boards and lim.vote_allowed & set(_TIME) else "not allowed"),
               ("Wheels", "allowed (each option within what votes may do)" if lim.allow_wheels else "not allowed"),
               ("By trusted people", kinds_text(lim.direct_allowed)),
               ("Limits", f"at most {format_duration(lim.max_add_per_action)} added per action, "
                          f"{format_duration(lim.max_add_per_day)} per 24 h; freezes up to "
                          f"{format_duration(lim.max_freeze)}, pillory up to {format_duration(lim.max_pillory)}; "
                          f"votes need at least {lim.min_vote_quorum} voter(s)"),
               ("Veto window", f"{lim.veto_minutes} min: a passed vote waits that long for the owner's veto"
                               if lim.veto_minutes else "off: a passed vote is applied at once"),
               ("Left today", f"{format_duration(self.left_today)} may still be added (rolling 24 h)")]
        if self.state == "paused":
            out.insert(0, ("Paused", "the safeword was used: nothing happens to this lock until it is lifted"))
        return out


# Each owner limit: the `/chastify limits` option that sets it and what it means. The README's table of limits
# and their defaults is generated from this and the defaults above (``limits_reference_markdown``).
LIMIT_OPTIONS: dict[str, tuple[str, str]] = {
    "max_add_per_action": ("max_add", "most time one action may add"),
    "max_add_per_day": ("max_add_per_day", "most time added per rolling 24 h"),
    "max_freeze": ("max_freeze", "longest freeze (a freeze with no duration counts as 1 h)"),
    "max_pillory": ("max_pillory", "longest pillory"),
    "min_vote_quorum": ("min_quorum", "least quorum of a decision vote on the lock"),
    "direct_allowed": ("trusted", "what trusted people (and the owner with `/lock`, `/task`) may do"),
    "vote_allowed": ("votes", "what votes and boards may do (a separate allow-list)"),
    "allow_owner_vote": ("owner_votes", "whether the owner's own reactions count"),
    "allow_boards": ("boards", "whether time boards may be opened on the lock"),
    "allow_wheels": ("wheels", "whether wheel votes (one option drawn by the votes) may be opened on the lock"),
    "veto_minutes": ("veto", "minutes a passed vote or board waits, so the owner may veto it, before it is applied"),
}


def limits_reference_markdown() -> str:
    """The README's table of the owner limits: what each means, its option and its default."""
    defaults = OwnerLimits()
    order = list(ActionKind)
    rows = ["| limit | option | default |", "|---|---|---|"]
    for name, (option, meaning) in LIMIT_OPTIONS.items():
        value = getattr(defaults, name)
        if isinstance(value, bool):
            shown = "yes" if value else "no"
        elif isinstance(value, frozenset):
            preset = next((p for p, kinds in KIND_PRESETS.items() if kinds == value), None)
            shown = preset or ", ".join(LABELS[k] for k in sorted(value, key=order.index))
        elif name == "min_vote_quorum":
            shown = f"{value} (`limits.{name}`)"
        elif name == "veto_minutes":
            shown = f"{value} (off)" if value == 0 else str(value)
        else:
            shown = f"{format_duration(value)} (`limits.{name}`)"
        rows.append(f"| {meaning} | `{option}` | {shown} |")
    return "\n".join(rows) + "\n"
