"""The port the Discord side fills for the vote service (``cogs/votes.py``): draw a vote, name its place, read its
reactions back after a restart. The defaults do nothing, for tests of the core."""

from __future__ import annotations

from dataclasses import dataclass

from bot.members import Member, Place
from bot.voting.state import OpenVote, Snapshot


@dataclass(frozen=True)
class CurrentReactions:
    """A vote message's reactions as Discord shows them now (read at start, to catch up on the downtime)."""

    # voter id -> the choices they react with now (bots already left out)
    choices: dict[int, set[int]]
    # who they are, for the eligibility rules; a voter missing here has left the server
    members: dict[int, Member]


class MessageGone(Exception):
    """The vote's message no longer exists (deleted while the bot was down)."""


class Display:
    """What the Discord side provides (``cogs/votes.py``). Defaults do nothing, for tests of the core."""

    async def show(self, snapshot: Snapshot) -> None:
        return None

    async def remind(self, snapshot: Snapshot, role_id: int | None) -> None:
        """The vote closes soon: say so on its message and in one short reply (mentioning ``role_id`` only)."""
        return None

    async def post(self, snapshot: Snapshot) -> int | None:
        """Post a new vote's message in its channel (with its reactions or buttons); the message's id, or None
        when it could not be posted. Used for votes nobody proposed at the keyboard (schedules)."""
        return None

    async def note(self, guild_id: int, channel_id: int, text: str) -> None:
        """A short line in a channel (a scheduled vote was skipped, and why)."""
        return None

    def place(self, guild_id: int, channel_id: int) -> Place:
        return Place(guild_id=guild_id, guild_name=f"server {guild_id}", channel_id=channel_id)

    def potential_voters(self, guild_id: int) -> int | None:
        """How many members the server has (an upper bound on who could still vote), None when unknown."""
        return None

    async def current_reactions(self, ov: OpenVote) -> CurrentReactions | None:
        """The vote message's reactions now; None when they cannot be read (the stored ballots then stand).
        Raises :class:`MessageGone` when the message was deleted."""
        return None
