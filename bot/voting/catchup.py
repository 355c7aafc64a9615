"""After a restart: each open vote's ballots are caught up with its message's reactions (added or removed while
the bot was down) before that vote is decided or applies anything."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot.voting.display import CurrentReactions, Display, MessageGone
from bot.voting.registry import OpenVotes
from bot.voting.state import OpenVote

log = logging.getLogger("bot.voting")


class CatchUp:
    """Reads each loaded vote's reactions once. ``reconcile`` makes a vote's ballots match what was read;
    ``message_gone`` cancels a vote whose message was deleted meanwhile."""

    def __init__(self, open_votes: OpenVotes, display: Display, *,
                 reconcile: Callable[[int, CurrentReactions], Awaitable[None]],
                 message_gone: Callable[[OpenVote], Awaitable[object]]) -> None:
        self.open = open_votes
        self.display = display
        self.reconcile = reconcile
        self.message_gone = message_gone
        self._unreconciled: set[int] = set()
        self._catching: dict[int, asyncio.Task[None]] = {}
        self._all: asyncio.Task[int] | None = None

    def loaded(self, votes: list[OpenVote]) -> None:
        """These votes were loaded at start: each must be caught up before it is decided."""
        # a vote with buttons has its ballots in the database already; its message is still read (was it deleted?)
        self._unreconciled = {ov.id for ov in votes if ov.message_id is not None}

    def start(self) -> None:
        """In the background, catch every loaded vote up, soonest deadline first."""
        if self._unreconciled:
            self._all = asyncio.create_task(self.all(), name="vote-catch-up")

    def tasks(self) -> list[asyncio.Task[object]]:
        out: list[asyncio.Task[object]] = [*self._catching.values()]
        if self._all is not None:
            out.append(self._all)
        return out

    async def one(self, vote_id: int) -> None:
        """Before a vote is decided or applies anything: read its message's reactions once and reconcile its
        ballots with them. Returns at once for a vote already caught up (or not loaded at start). A vote whose
        message was deleted is cancelled; when the reactions cannot be read, the stored ballots stand."""
        if vote_id not in self._unreconciled:
            return
        task = self._catching.get(vote_id)
        if task is None:
            task = asyncio.create_task(self._one(vote_id), name=f"vote-catch-up-{vote_id}")
            self._catching[vote_id] = task
        await asyncio.shield(task)

    async def all(self) -> int:
        """Catch every loaded vote up, soonest deadline first. Returns how many votes were caught up."""
        waiting = self.open.soonest_first(self._unreconciled)
        for ov in waiting:
            await self.one(ov.id)
        return len(waiting)

    async def _one(self, vote_id: int) -> None:
        try:
            ov = self.open.get(vote_id)
            if ov is None:
                return
            try:
                current = await self.display.current_reactions(ov)
            except MessageGone:
                await self.message_gone(ov)
                return
            except Exception:
                log.exception("could not read the reactions of vote %s; its stored ballots stand", vote_id)
                return
            if current is not None:
                await self.reconcile(vote_id, current)
        finally:
            self._unreconciled.discard(vote_id)
            self._catching.pop(vote_id, None)
