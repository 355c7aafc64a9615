"""The vote message, kept up to date: a snapshot of the vote drawn by the display, at most once per debounce
period while reactions come in."""

from __future__ import annotations

import asyncio
import logging

from bot.actions import Action
from bot.store import Store
from bot.voting.ballots import Ballots
from bot.voting.display import Display
from bot.voting.options import WheelOption, options_from_json
from bot.voting.registry import OpenVotes
from bot.voting.rules import board_net
from bot.voting.state import OpenVote, Snapshot

log = logging.getLogger("bot.voting")


class LiveTally:
    """Draws votes through the ``display``: :meth:`changed` after a ballot changed (debounced, leading edge),
    :meth:`show` for an outcome (at once)."""

    def __init__(self, store: Store, open_votes: OpenVotes, ballots: Ballots, display: Display, *,
                 debounce_seconds: float) -> None:
        self.store = store
        self.open = open_votes
        self.ballots = ballots
        self.display = display
        self.debounce_seconds = debounce_seconds
        self._dirty: set[int] = set()
        self._refreshers: dict[int, asyncio.Task[None]] = {}

    def changed(self, ov: OpenVote) -> None:
        self._dirty.add(ov.id)
        if ov.id not in self._refreshers:
            self._refreshers[ov.id] = asyncio.create_task(self._refresh_loop(ov.id), name=f"vote-refresh-{ov.id}")

    def forget(self, vote_id: int) -> None:
        """The vote closed: no more debounced redraws (its outcome is shown with :meth:`show`)."""
        self._dirty.discard(vote_id)
        task = self._refreshers.pop(vote_id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    @property
    def busy(self) -> bool:
        return bool(self._refreshers)

    def tasks(self) -> list[asyncio.Task[None]]:
        return list(self._refreshers.values())

    async def _refresh_loop(self, vote_id: int) -> None:
        """Leading edge: show at once; then at most one edit per debounce period while reactions come in. An
        anonymous vote has no leading edge: a redraw right after one click would tell watchers who just voted
        what, so its tally moves only once per period (at least a second)."""
        try:
            ov = self.open.get(vote_id)
            if ov is not None and ov.anonymous:
                await asyncio.sleep(max(1.0, self.debounce_seconds))
            while vote_id in self._dirty:
                self._dirty.discard(vote_id)
                await self.ballots.flush()
                await self.show(vote_id)
                await asyncio.sleep(self.debounce_seconds)
        finally:
            if self._refreshers.get(vote_id) is asyncio.current_task():
                del self._refreshers[vote_id]

    async def show(self, vote_id: int, result: str | None = None) -> None:
        snap = await self.snapshot(vote_id, result)
        if snap is not None:
            try:
                await self.display.show(snap)
            except Exception:
                log.exception("could not update the vote message", extra={"vote": vote_id})

    async def snapshot(self, vote_id: int, result: str | None = None) -> Snapshot | None:
        vote = await self.store.votes.get(vote_id)
        if vote is None:
            return None
        link = await self.store.links.get_by_id(vote.link_id)
        ov = self.open.get(vote_id)
        if ov is not None and ov.voters is not None:
            tally, net = ov.tally, ov.net
        else:
            tally = await self.store.ballots.tally(vote_id)
            net = board_net(tally.votes_for, tally.votes_against, vote.add_per_vote or 0, vote.remove_per_vote or 0)
        action = Action.from_json(vote.action_json) if vote.action_json else None
        options: tuple[WheelOption, ...] = ()
        counts: tuple[int, ...] = ()
        if vote.kind == "wheel" and vote.options_json:
            if ov is not None and ov.voters is not None:
                options, counts = ov.options, ov.option_counts
            else:
                options = tuple(options_from_json(vote.options_json))
                stored = await self.store.ballots.counts(vote_id)
                counts = tuple(stored.get(n, 0) for n in range(1, len(options) + 1))
        return Snapshot(vote, link, action, tally, net, closed=vote.status not in ("open", "applying"),
                        result=result or vote.outcome_reason, options=options, counts=counts)
