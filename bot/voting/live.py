"""The vote messages, kept up to date by one flusher for every open vote: it writes the buffered ballots in one
transaction, then redraws each vote whose tally changed, at most once per debounce period per vote and within the
edits Discord allows per channel."""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from bot.actions import Action
from bot.store import Store
from bot.voting.ballots import Ballots
from bot.voting.display import Display
from bot.voting.options import WheelOption, options_from_json
from bot.voting.registry import OpenVotes
from bot.voting.rules import board_net
from bot.voting.state import OpenVote, Snapshot

log = logging.getLogger("bot.voting")

# Discord lets a bot edit the messages of one channel about 5 times in 5 s; beyond that its edits wait on 429s.
# The flusher stays within it: in a channel with many busy votes, each is redrawn in turn.
CHANNEL_EDITS = 5
CHANNEL_WINDOW = 5.0


class LiveTally:
    """Draws votes through the ``display``: :meth:`changed` after a ballot changed (debounced, leading edge: the
    first change after a quiet period is shown at once), :meth:`show` for an outcome (at once)."""

    def __init__(self, store: Store, open_votes: OpenVotes, ballots: Ballots, display: Display, *,
                 debounce_seconds: float, channel_edits: int = CHANNEL_EDITS,
                 channel_window: float = CHANNEL_WINDOW) -> None:
        self.store = store
        self.open = open_votes
        self.ballots = ballots
        self.display = display
        self.debounce_seconds = debounce_seconds
        self.channel_edits = channel_edits
        self.channel_window = channel_window
        self._dirty: dict[int, float] = {}  # vote id -> when its tally first changed since it was last drawn
        self._drawn: dict[int, float] = {}  # vote id -> when it was last drawn (kept for one debounce period)
        self._channel_of: dict[int, int] = {}
        self._anonymous: set[int] = set()
        self._channel_draws: dict[int, deque[float]] = {}  # channel id -> when its recent redraws ended
        self._inflight: dict[int, int] = {}  # channel id -> its redraws under way
        self._blocked: set[int] = set()  # channels where a due vote waits for the edit budget
        self._drawing: dict[int, asyncio.Task[None]] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False
        self._sleeping = False
        self._next_at = float("inf")  # when the sleeping flusher looks again by itself
        self._pruned_at = float("-inf")

    def changed(self, ov: OpenVote) -> None:
        if ov.id in self._dirty or self._closed:
            return  # already waiting for its next redraw, which will show this change too
        self._dirty[ov.id] = self._now()
        self._channel_of[ov.id] = ov.channel_id
        if ov.anonymous:
            self._anonymous.add(ov.id)
        self._poke(ov.id)

    def _poke(self, vote_id: int) -> None:
        """Make sure the flusher looks at this dirty vote by its due time: started when it is not running,
        replaced when it would look later than that (it only ever sleeps; its redraws are tasks of their own).
        ``_next_at`` is always the earliest look asked for, also while a replacement has not started yet."""
        self._look_at(self._due_at(vote_id, self._dirty[vote_id]))

    def _look_at(self, due: float, now: float | None = None) -> None:
        """The flusher looks again by ``due``: a sleeping one whose next look is later is replaced (due now: a
        round at once; due later: the same sleep, only shorter)."""
        if self._closed:
            return
        flusher = self._flusher
        now = self._now() if now is None else now
        if flusher is None or flusher.done():
            self._start_flusher(None if due <= now else due, now)
        elif self._sleeping and due < self._next_at:
            flusher.cancel()
            self._start_flusher(None if due <= now else due, now)

    def _start_flusher(self, wake_at: float | None, now: float) -> None:
        self._flusher = asyncio.create_task(self._flush_loop(wake_at), name="vote-tally-flusher")
        self._next_at, self._sleeping = (now if wake_at is None else wake_at), True

    def aclose(self) -> None:
        """The service stops: no more redraws (a redraw ending or a late ballot starts no flusher either)."""
        self._closed = True
        self._dirty.clear()
        for task in self.tasks():
            task.cancel()

    def forget(self, vote_id: int) -> None:
        """The vote closed: no more debounced redraws (its outcome is shown with :meth:`show`); a redraw of its
        tally under way is cancelled, so it cannot land after the outcome."""
        self._dirty.pop(vote_id, None)
        self._drawn.pop(vote_id, None)
        self._channel_of.pop(vote_id, None)
        self._anonymous.discard(vote_id)
        task = self._drawing.pop(vote_id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    @property
    def busy(self) -> bool:
        return bool(self._dirty) or bool(self._drawing)

    def tasks(self) -> list[asyncio.Task[None]]:
        out = list(self._drawing.values())
        if self._flusher is not None and not self._flusher.done():
            out.append(self._flusher)
        return out

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    def _due_at(self, vote_id: int, since: float) -> float:
        debounce = self.debounce_seconds
        due = self._drawn.get(vote_id, float("-inf")) + debounce
        if vote_id in self._anonymous:
            # no leading edge: a redraw right after one click would tell watchers who just voted what
            due = max(due, since + max(1.0, debounce))
        return max(due, since)

    def _channel_used(self, channel_id: int, now: float) -> int:
        """Edits of the channel that count against its budget now: those under way and those that ended in the
        last window. Counted from when they end, not when they begin: under load an edit may leave late, and
        Discord counts them when they arrive."""
        draws = self._channel_draws.get(channel_id)
        if draws is not None:
            while draws and draws[0] <= now - self.channel_window:
                draws.popleft()
            if not draws:
                del self._channel_draws[channel_id]
                draws = None
        return (len(draws) if draws else 0) + self._inflight.get(channel_id, 0)

    def _channel_free_at(self, channel_id: int, now: float) -> float:
        """When the channel may take one more edit: now, when its oldest ended edit leaves the window, or (every
        edit still under way) a window after they end, when the ending redraw looks again."""
        if self._channel_used(channel_id, now) < self.channel_edits:
            return now
        draws = self._channel_draws.get(channel_id)
        return draws[0] + self.channel_window if draws else float("inf")

    async def _flush_loop(self, wake_at: float | None = None) -> None:
        """The one flusher: each round takes every vote due now (longest waiting first, within each channel's
        edit budget) and starts its redraw; then sleeps until the next one is due. It ends when no tally waits
        (a redraw that ends with its vote changed again pokes it)."""
        if wake_at is not None:
            await self._sleep_until(wake_at)
        while True:
            now = self._now()
            full: set[int] = set()  # channels with a vote due now that this round's budget could not take
            next_at = float("inf")
            # oldest change first: entries are added when a tally changes and removed when it is drawn
            for vote_id, since in list(self._dirty.items()):
                if vote_id in self._drawing:
                    continue  # its redraw under way pokes the flusher when it ends
                channel = self._channel_of.get(vote_id, 0)
                at = self._due_at(vote_id, since)
                if at <= now and self._channel_used(channel, now) < self.channel_edits:
                    self._start_draw(vote_id, channel, now)
                elif at <= now:
                    full.add(channel)
                else:
                    next_at = min(next_at, at)
            if now - self._pruned_at > max(1.0, self.debounce_seconds):
                self._forget_old_draws(now)
                self._pruned_at = now
            for channel in full:  # when the channel's oldest edit in the window leaves it
                next_at = min(next_at, self._channel_free_at(channel, now))
            self._blocked = full
            if next_at == float("inf"):
                return
            # rounds no closer than a fraction of the debounce period (a tally changing for the first time in a
            # while still pokes the flusher at once): under load one round serves many votes
            next_at = max(next_at, now + min(0.25, self.debounce_seconds / 4))
            await self._sleep_until(next_at)

    async def _sleep_until(self, at: float) -> None:
        self._next_at, self._sleeping = at, True
        try:
            await asyncio.sleep(max(0.0, at - self._now()))
        finally:
            if self._flusher is asyncio.current_task():  # not a flusher replaced while it slept
                self._sleeping = False

    def _start_draw(self, vote_id: int, channel: int, now: float) -> None:
        del self._dirty[vote_id]
        self._drawn[vote_id] = now
        self._inflight[channel] = self._inflight.get(channel, 0) + 1
        self._drawing[vote_id] = asyncio.create_task(self._draw(vote_id, channel), name=f"vote-refresh-{vote_id}")

    async def _draw(self, vote_id: int, channel: int) -> None:
        try:
            await self.ballots.flush()  # one transaction for every change buffered so far (group commit)
            await self.show(vote_id)
        finally:
            ended = self._now()
            self._inflight[channel] -= 1
            if not self._inflight[channel]:
                del self._inflight[channel]
            self._channel_draws.setdefault(channel, deque()).append(ended)
            if self._drawing.get(vote_id) is asyncio.current_task():
                del self._drawing[vote_id]
                if vote_id in self._dirty:
                    self._poke(vote_id)  # it changed again meanwhile
            if channel in self._blocked:  # votes wait for this channel: look again when this edit leaves the window
                self._look_at(ended + self.channel_window)

    def _forget_old_draws(self, now: float) -> None:
        for vote_id in [v for v, at in self._drawn.items() if at + self.debounce_seconds < now
                        and v not in self._dirty and v not in self._drawing]:
            del self._drawn[vote_id]
            if vote_id not in self._dirty:
                self._channel_of.pop(vote_id, None)
                self._anonymous.discard(vote_id)

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
