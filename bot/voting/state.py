"""What a running vote is in memory, and what the Discord side draws from it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Literal

from bot.actions import Action
from bot.config import VOTE_WINDOW_MAX, VOTE_WINDOW_MIN
from bot.store.models import Link, Tally, Vote
from bot.text import escape_markdown
from bot.voting.options import WheelOption, options_from_json
from bot.voting.rules import FOR, Rules, board_net

DECISION_EMOJI = {"✅": FOR, "❌": -1}
BOARD_EMOJI = {"🔼": FOR, "🔽": -1}
WHEEL_EMOJI = {"1️⃣": 1, "2️⃣": 2, "3️⃣": 3, "4️⃣": 4, "5️⃣": 5, "6️⃣": 6}  # a wheel's option numbers


def emoji_choices(kind: str) -> dict[str, int]:
    """The reactions that are ballots on a vote of this kind, and the choice each is."""
    return DECISION_EMOJI if kind == "decision" else BOARD_EMOJI if kind == "board" else WHEEL_EMOJI


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
    kind: Literal["decision", "board", "wheel"]
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
    # reactions waiting in a task for their turn (VoteService.reaction_now): later ones queue behind them
    waiting_ballots: int = 0
    style: Literal["reactions", "buttons"] = "reactions"
    anonymous: bool = False
    options: tuple[WheelOption, ...] = ()  # a wheel's options, numbered from 1

    # how many ballots each choice has, kept up to date by the methods below (a reaction must not recount every
    # ballot)
    _counts: dict[int, int] = field(default_factory=dict)

    def set_voters(self, voters: dict[int, int]) -> None:
        self.voters = voters
        self._counts = {}
        for choice in voters.values():
            self._count(choice, 1)

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
        self._counts[choice] = self._counts.get(choice, 0) + delta

    def choices(self) -> frozenset[int]:
        """The choices a ballot of this vote can be: for/against (1, -1), or a wheel's option numbers."""
        return frozenset(range(1, len(self.options) + 1)) if self.kind == "wheel" else frozenset({FOR, -1})

    @property
    def tally(self) -> Tally:
        return Tally(self._counts.get(FOR, 0), self._counts.get(-1, 0))

    @property
    def option_counts(self) -> tuple[int, ...]:
        """A wheel's tally: the ballots of each option, in their order."""
        return tuple(self._counts.get(n, 0) for n in range(1, len(self.options) + 1))

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
    options: tuple[WheelOption, ...] = ()  # a wheel's options and their ballots
    counts: tuple[int, ...] = ()


def vote_what(vote: Vote) -> str:
    """What a vote is about, for the lock's people (markdown): ``**+1h**``, ``a time board``, ``a wheel (+30m,
    +1h, nothing)``, or once drawn ``a wheel: **option 2 (+1h)** drawn``."""
    if vote.kind == "wheel" and vote.options_json:
        options = options_from_json(vote.options_json)
        if vote.drawn_option is not None and 1 <= vote.drawn_option <= len(options):
            label = escape_markdown(options[vote.drawn_option - 1].label)
            return f"a wheel: **option {vote.drawn_option} ({label})** drawn"
        return "a wheel (" + ", ".join(escape_markdown(o.label) for o in options) + ")"
    if vote.action_json:
        return f"**{Action.from_json(vote.action_json).shown()}**"
    return "a time board"
