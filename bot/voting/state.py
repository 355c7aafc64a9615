"""What a running vote is in memory, and what the Discord side draws from it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Literal

from bot.actions import Action
from bot.config import VOTE_WINDOW_MAX, VOTE_WINDOW_MIN
from bot.store.models import Link, Tally, Vote
from bot.voting.rules import FOR, Rules, board_net

DECISION_EMOJI = {"✅": FOR, "❌": -1}
BOARD_EMOJI = {"🔼": FOR, "🔽": -1}
MIN_WINDOW = VOTE_WINDOW_MIN
MAX_WINDOW = VOTE_WINDOW_MAX
QUEUED = ": queued: "
VETO_WAIT = ": applies "  # a passed vote's text while it waits for the veto window


@dataclass
class OpenVote:
    """An open vote as kept in memory while it runs."""

    id: int
    guild_id: int
    link_id: int
    kind: Literal["decision", "board"]
    channel_id: int
    message_id: int | None
    deadline: float
    rules: Rules
    action: Action | None
    add_per_vote: int = 0
    remove_per_vote: int = 0
    applied_net: int = 0
    last_flush: float = 0.0
    # voter id -> choice; None until first needed (loaded lazily, so a restart with a million stored ballots
    # does not read them all)
    voters: dict[int, int] | None = None
    # closing, cancelling and board applications: one at a time
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # reactions of one vote are handled one at a time, in the order they arrived: a removal must never
    # overtake the add it undoes while that add waits for the database
    ballot_order: asyncio.Lock = field(default_factory=asyncio.Lock)
    # set (under ballot_order) once the vote is being decided: later reactions no longer count
    closing: bool = False

    # the tally of ``voters``, kept up to date by the methods below (a reaction must not recount every ballot)
    _for: int = 0
    _against: int = 0

    def set_voters(self, voters: dict[int, int]) -> None:
        self.voters = voters
        t = Tally.of(voters.values())
        self._for, self._against = t.votes_for, t.votes_against

    def cast(self, voter_id: int, choice: int | None) -> None:
        """Set (or with None, retract) one member's ballot in the loaded ``voters``."""
        assert self.voters is not None
        old = self.voters.pop(voter_id, None)
        if old is not None:
            self._count(old, -1)
        if choice is not None:
            self.voters[voter_id] = choice
            self._count(choice, 1)

    def _count(self, choice: int, delta: int) -> None:
        if choice == FOR:
            self._for += delta
        else:
            self._against += delta

    @property
    def tally(self) -> Tally:
        return Tally(self._for, self._against)

    @property
    def net(self) -> int:
        t = self.tally
        return board_net(t.votes_for, t.votes_against, self.add_per_vote, self.remove_per_vote)


@dataclass(frozen=True)
class Snapshot:
    """Everything the Discord side needs to draw a vote message."""

    vote: Vote
    link: Link | None
    action: Action | None
    tally: Tally
    net: int
    closed: bool
    result: str | None = None
