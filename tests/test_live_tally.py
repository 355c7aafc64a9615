"""The one tally flusher (``bot/voting/live.py``) on its own: a fake display that records when each vote is drawn,
real asyncio time (tens of milliseconds)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from bot.voting.live import LiveTally


class _Ballots:
    async def flush(self) -> None:
        pass


def _live(debounce: float, gate: asyncio.Event | None = None) -> tuple[LiveTally, list[tuple[int, float]]]:
    shown: list[tuple[int, float]] = []

    class Recording(LiveTally):
        async def show(self, vote_id: int, result: str | None = None) -> None:
            shown.append((vote_id, asyncio.get_running_loop().time()))
            if gate is not None:
                await gate.wait()

    ballots: Any = _Ballots()
    return Recording(None, None, ballots, None, debounce_seconds=debounce), shown  # type: ignore[arg-type]


def _vote(vote_id: int, channel_id: int, *, anonymous: bool = False) -> Any:
    return SimpleNamespace(id=vote_id, channel_id=channel_id, anonymous=anonymous)


async def test_nothing_is_redrawn_after_the_service_stopped():
    """A ballot arrives while the vote's redraw is under way; then the service stops: that redraw ending must not
    start another one (against a store that is closing)."""
    live, shown = _live(0.05, asyncio.Event())
    vote = _vote(1, 10)
    live.changed(vote)
    for _ in range(3):
        await asyncio.sleep(0)
    assert [v for v, _ in shown] == [1]  # its redraw is under way
    live.changed(vote)
    await asyncio.sleep(0.1)
    live.aclose()
    await asyncio.sleep(0.2)
    assert [v for v, _ in shown] == [1]
    assert live.tasks() == [] and not live.busy


async def test_a_first_change_is_drawn_at_once_whatever_else_changed_in_the_same_read():
    """V changes for the first time in a while (drawn at once), and in the same gateway read U, drawn recently,
    changes again (due a debounce after its last draw): V must not wait for U."""
    live, shown = _live(0.4)
    loop = asyncio.get_running_loop()
    u, w, v = _vote(1, 10), _vote(2, 20, anonymous=True), _vote(3, 30)
    live.changed(u)
    await asyncio.sleep(0.05)
    live.changed(w)  # anonymous: no leading edge, the flusher sleeps for it
    await asyncio.sleep(0.05)
    t = loop.time()
    live.changed(v)
    live.changed(u)
    await asyncio.sleep(0.1)
    drawn = [at for vote_id, at in shown if vote_id == 3]
    assert drawn and drawn[0] - t < 0.05


async def test_a_channels_edits_are_counted_until_they_end_so_late_edits_never_bunch_up():
    """Edits that take long (a busy bot, a slow Discord) still count against the channel's budget until they
    end: with 2 edits per window, never more than 2 end within one window, and every vote is drawn in the end."""
    ended: list[float] = []
    started: list[int] = []
    loop = asyncio.get_running_loop()

    class Slow(LiveTally):
        async def show(self, vote_id: int, result: str | None = None) -> None:
            # the first edits leave late (a backlog), the next ones at once: counted from their start, the next
            # ones would land together with the late ones
            await asyncio.sleep(0.3 if len(started) < 2 else 0.01)
            ended.append(loop.time())

        async def _draw(self, vote_id: int, channel: int) -> None:
            started.append(vote_id)
            await super()._draw(vote_id, channel)

    ballots: Any = _Ballots()
    live = Slow(None, None, ballots, None, debounce_seconds=0.05, channel_edits=2,  # type: ignore[arg-type]
                channel_window=0.2)
    for vote_id in range(1, 6):
        live.changed(_vote(vote_id, 10))
    for _ in range(100):
        await asyncio.sleep(0.05)
        if len(ended) == 5 and not live.busy:
            break
    assert len(ended) == 5
    assert all(b - a >= 0.2 - 0.01 for a, b in zip(ended, ended[2:], strict=False))  # 3 in a row span a window
