"""When each vote is due: one timer over a heap of (when, vote, what), for every vote of every server."""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Callable
from typing import Literal

from bot.clock import Clock

# a vote's close, a board's next application, a vote's reminder, the end of a passed vote's veto window
Due = Literal["deadline", "flush", "remind", "apply"]


class Deadlines:
    """Calls ``on_due(vote_id, what)`` when a vote's deadline or a board's next application comes. Entries of
    votes that closed meanwhile are passed on too: ``on_due`` ignores what is no longer open. Nothing fires
    before :meth:`start`, so a restart can load every vote before any is decided."""

    def __init__(self, clock: Clock, on_due: Callable[[int, Due], None]) -> None:
        self.clock = clock
        self.on_due = on_due
        self._heap: list[tuple[float, int, Due]] = []
        self._timer: asyncio.Task[None] | None = None
        self._timer_at: float | None = None
        self._running = False

    def schedule(self, when: float, vote_id: int, what: Due) -> None:
        heapq.heappush(self._heap, (when, vote_id, what))
        if self._running and (self._timer_at is None or when < self._timer_at):
            self._start_timer(when)

    def start(self) -> None:
        self._running = True
        if self._heap and self._timer is None:
            self._start_timer(self._heap[0][0])

    def stop(self) -> None:
        self._running = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer, self._timer_at = None, None

    def scheduled(self, what: Due) -> set[int]:
        """The votes with an entry of this kind waiting (entries of votes closed meanwhile included)."""
        return {vote_id for _, vote_id, w in self._heap if w == what}

    @property
    def armed(self) -> bool:
        """The timer runs: the next entry will fire."""
        return self._timer is not None

    def _start_timer(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = when
        self._timer = asyncio.create_task(self._timer_loop(), name="vote-deadlines")

    async def _timer_loop(self) -> None:
        while self._heap:
            when, vote_id, what = self._heap[0]
            delay = when - self.clock()
            if delay > 0:
                self._timer_at = when
                await asyncio.sleep(delay)
                continue
            heapq.heappop(self._heap)
            self.on_due(vote_id, what)
        self._timer_at = None
        self._timer = None
