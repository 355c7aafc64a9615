"""Typed rows returned by the repositories. Frozen: change rows through the repositories."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any, Literal, NamedTuple, TypeVar, get_args

from .db import Row

__all__ = [
    "LINK_STATES",
    "OUTBOX_STATUSES",
    "VOTE_STATUSES",
    "AuditEntry",
    "Ballot",
    "BallotChange",
    "BallotStyle",
    "GuildSettings",
    "LimitsRow",
    "Link",
    "LinkState",
    "LockPause",
    "LockPerson",
    "OutboxEntry",
    "OutboxSource",
    "OutboxStatus",
    "Tally",
    "TrustEntry",
    "TrustKind",
    "Vote",
    "VoteKind",
    "VoteSchedule",
    "VoteStatus",
]

LinkState = Literal["active", "paused", "ended", "broken"]
TrustKind = Literal["role", "member"]
VoteKind = Literal["decision", "board", "wheel"]
BallotStyle = Literal["reactions", "buttons"]
VoteStatus = Literal["open", "applying", "passed", "failed", "cancelled", "refused"]
OutboxSource = Literal["direct", "vote", "board"]
OutboxStatus = Literal["pending", "sent", "done", "failed", "uncertain", "cancelled"]

LINK_STATES: frozenset[str] = frozenset(get_args(LinkState))
TRUST_KINDS: frozenset[str] = frozenset(get_args(TrustKind))
VOTE_KINDS: frozenset[str] = frozenset(get_args(VoteKind))
VOTE_STATUSES: frozenset[str] = frozenset(get_args(VoteStatus))
OUTBOX_SOURCES: frozenset[str] = frozenset(get_args(OutboxSource))
OUTBOX_STATUSES: frozenset[str] = frozenset(get_args(OutboxStatus))

_T = TypeVar("_T")


def from_row(cls: type[_T], row: Row) -> _T:
    """Build a dataclass from a row whose column names are the field names."""
    keys = set(row.keys())
    return cls(**{f.name: row[f.name] for f in fields(cls) if f.name in keys})  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class GuildSettings:
    """Per-server settings. ``None`` means "use the config default"."""

    guild_id: int
    vote_channel_id: int | None = None
    voter_role_id: int | None = None
    window_seconds: int | None = None
    quorum: int | None = None
    majority: float | None = None
    instant_pass: int | None = None
    proposal_cooldown_seconds: int | None = None
    max_open_per_lock: int | None = None
    min_account_age_days: int | None = None
    reminder_fraction: float | None = None
    reminder_role_id: int | None = None
    ballot_style: str | None = None
    time_zone: str | None = None
    updated_at: float | None = None

    @classmethod
    def from_row(cls, row: Row) -> GuildSettings:
        return cls(**{f.name: row[f.name] for f in fields(cls)})


@dataclass(frozen=True, slots=True)
class Link:
    """A lock linked by its owner in one server. ``token_ciphertext`` is Fernet-encrypted (bot/vault.py)."""

    id: int
    guild_id: int
    owner_id: int
    token_ciphertext: bytes = field(repr=False)
    lock_id: str
    role: str
    title: str | None
    state: LinkState
    created_at: float
    updated_at: float
    owner_name: str | None = None


@dataclass(frozen=True, slots=True)
class TrustEntry:
    link_id: int
    kind: TrustKind
    target_id: int


@dataclass(frozen=True, slots=True)
class Vote:
    id: int
    guild_id: int
    link_id: int
    kind: VoteKind
    action_json: str | None
    proposer_id: int
    channel_id: int
    message_id: int | None
    created_at: float
    deadline: float
    status: VoteStatus
    outcome_reason: str | None
    quorum: int
    majority: float
    instant_pass: int
    add_per_vote: int | None
    remove_per_vote: int | None
    last_flush_at: float | None
    applied_net_seconds: int
    apply_at: float | None = None  # a passed vote waiting for the lock's veto window ends then (status 'applying')
    remind_at: float | None = None
    reminded_at: float | None = None
    style: BallotStyle = "reactions"  # how members vote: reactions, or buttons (the only style that can be anonymous)
    anonymous: bool = False  # buttons only: who voted what is stored but never shown
    mode: str | None = None  # a wheel's: 'plurality' or 'wheel' (bot.voting.draw)
    options_json: str | None = None  # a wheel's options (bot.voting.options)
    seed: str | None = None  # a wheel's draw seed: secret until the vote closed (only ``commitment`` is shown)
    commitment: str | None = None
    drawn_option: int | None = None  # the wheel's winning option number (1-based), once drawn
    schedule_id: int | None = None  # the schedule that opened the vote

    @property
    def is_open(self) -> bool:
        return self.status == "open"


@dataclass(frozen=True, slots=True)
class VoteSchedule:
    """A vote that opens by itself: ``plan_json`` says what it opens (``bot.voting.schedules.Plan``), the rule
    when (in the server's time zone)."""

    id: int
    guild_id: int
    link_id: int
    lock_id: str
    channel_id: int
    creator_id: int
    plan_json: str
    rule: str
    minute: int
    weekday: int | None
    once_date: str | None
    next_at: float | None
    last_at: float | None
    last_result: str | None
    created_at: float


@dataclass(frozen=True, slots=True)
class Ballot:
    vote_id: int
    voter_id: int
    choice: int  # 1 = for / up, -1 = against / down; a wheel's option number 1..6
    updated_at: float


class BallotChange(NamedTuple):
    """One reaction event for :meth:`BallotRepo.apply_many`: ``choice`` 1 / -1 sets, ``None`` removes."""

    vote_id: int
    voter_id: int
    choice: int | None


@dataclass(frozen=True)
class Tally:
    """Counts of one vote's ballots: ``votes_for`` (choice 1: ✅ or 🔼) and ``votes_against`` (choice -1). The one
    tally type: the ballots repository returns it, the vote rules judge it."""

    votes_for: int = 0
    votes_against: int = 0

    @property
    def total(self) -> int:
        return self.votes_for + self.votes_against

    @property
    def net(self) -> int:
        return self.votes_for - self.votes_against

    @staticmethod
    def of(choices: Iterable[int]) -> Tally:
        """The tally of some ballots' choices (1 for, -1 against; anything else is not a ballot)."""
        f = a = 0
        for choice in choices:
            if choice == 1:
                f += 1
            elif choice == -1:
                a += 1
        return Tally(f, a)


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    id: int
    link_id: int | None  # None once the link was removed: the row stays, it counts in the lock's 24 h budget
    lock_id: str
    guild_id: int
    source: OutboxSource
    source_id: int | None
    actor_id: int | None
    action_json: str
    reason: str | None
    status: OutboxStatus
    attempts: int
    error_code: str | None
    error_message: str | None
    created_at: float
    updated_at: float
    idempotency_key: str
    log_state: str | None = None


@dataclass(frozen=True, slots=True)
class LockPause:
    """One person's safeword on a lock: the lock stays paused while any of these stands."""

    lock_id: str
    user_id: int
    guild_id: int | None
    created_at: float


@dataclass(frozen=True, slots=True)
class LockPerson:
    """Someone who proved with their own DEV token that they hold the lock (wearer or keyholder)."""

    lock_id: str
    user_id: int
    role: str
    created_at: float


@dataclass(frozen=True, slots=True)
class LimitsRow:
    """The owner limits one person set on a lock: only the fields they set."""

    lock_id: str
    setter_id: int
    limits_json: str
    updated_at: float

    def fields(self) -> dict[str, Any]:
        value = json.loads(self.limits_json)
        return value if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    guild_id: int
    link_id: int | None
    actor_id: int | None
    source: str
    action_summary: str
    outcome: str
    detail: str | None
    created_at: float
