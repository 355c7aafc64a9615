"""The browser demo: simcord's local preview of the demo server, with simulated time kept in step with the wall
clock, until Ctrl-C (SIGINT), SIGTERM or "End preview session" in the page."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import webbrowser
from typing import Any

from simcord import SetupError

from .world import DEMO_TOKEN, QUORUM, VOTE_WINDOW_SECONDS, DemoWorld, demo_world

log = logging.getLogger("sandbox.demo")

TICK_SECONDS = 1.0


class Pacer:
    """Moves simcord's virtual time forward one second per wall-clock second and republishes the preview
    when the bot changed something, so vote tallies, deadlines and outcomes show up on the page by themselves.

    simcord allows one driver operation at a time, so browser actions and ticks take turns through one lock.
    The preview is republished only when Discord-side state changed (its transcript grew): every republish
    bumps the page's revision, and an action sent against an older revision is refused as stale.
    """

    def __init__(self, env: Any, preview: Any, *, tick: float = TICK_SECONDS) -> None:
        self.env = env
        self.preview = preview
        self.tick = tick
        self.turn = asyncio.Lock()
        self.stopping = asyncio.Event()
        self._seen = 0
        self.ticks = 0
        self.refreshes = 0
        self._last_error = ""

    def _changes(self) -> int:
        return len(self.env.backend.transcript)

    def install(self) -> None:
        """Make the preview's browser actions take their turn with the ticks."""
        action = self.preview._action  # the preview server calls this for every POST /api/action

        async def in_turn(context_id: Any, body: Any) -> Any:
            async with self.turn:
                result = await action(context_id, body)
                self._seen = self._changes()  # an action publishes its own result
                return result

        self.preview._action = in_turn
        self._seen = self._changes()

    async def advance(self, seconds: float) -> None:
        """Move simulated time on by ``seconds`` (in turn with browser actions) and republish on changes."""
        async with self.turn:
            if self.preview._closed:
                return
            try:
                await self.env.advance_time(seconds)
                self.ticks += 1
                if self._changes() != self._seen:
                    await self.preview.refresh()
                    self.refreshes += 1
                    self._seen = self._changes()
            except SetupError as err:  # e.g. the preview closed between the check and the call
                log.debug("tick skipped: %s", err)
            except Exception as err:  # e.g. the bot did not settle in time: keep the demo going
                if str(err) != self._last_error:
                    log.warning("moving simulated time on failed (the demo goes on): %r", err, exc_info=True)
                self._last_error = str(err)

    async def run(self) -> None:
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), self.tick)
            if not self.stopping.is_set():
                await self.advance(self.tick)


def banner(world: DemoWorld, preview_url: str) -> str:
    names = ", ".join(m.name for m in world.members)
    return f"""
Chastify bot demo: everything runs on this computer (simulated Discord, stand-in Chastify on 127.0.0.1).

  Discord preview (open in a browser):  {preview_url}
  The demo lock on the stand-in:        {world.lock_page_url}

  DEV token to paste in the link modal: {DEMO_TOKEN}

Try this, switching member with "Viewing as" at the top of the preview (type / in the message box for commands):
  1. as Wendy (wears the lock): /chastify link, then paste the token above into the form and Submit
  2. as Wendy: /chastify status
  3. as Wendy: /chastify trust (who: type Fred, pick him); then as Fred: /lock add-time with duration 30m
  4. as Fred: /vote add-time with duration 1h (+ options: reason)
  5. as Vic, then as Val: click the ✅ under the vote (❌ is against; click again to take it back)
  6. {VOTE_WINDOW_SECONDS // 60} minutes after it opened the vote closes (quorum {QUORUM}): the outcome appears on it
     and the hour lands on the lock page
  7. /vote board: members click 🔼 / 🔽; the net time is applied when it closes
  ("Refresh preview" re-reads everything; the page also updates by itself when the bot changes something.)

Members: {names} (in "Viewing as" by their display names)
Simulated time runs with the wall clock. Press Ctrl-C to stop.
"""


def _can_open_browser() -> bool:
    if not sys.stdout.isatty():
        return False
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


async def run_live(*, open_browser: bool, preview_port: int, standin_port: int, log_level: str) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with demo_world(standin_port=standin_port, check_errors=False, log_level=log_level) as world:
            async with world.env.preview(world.channel, viewers=world.members, layout="channel",
                                         port=preview_port or None, width=1100, height=800) as preview:
                pacer = Pacer(world.env, preview)
                pacer.install()
                print(banner(world, preview.url), flush=True)
                if open_browser and _can_open_browser():
                    with contextlib.suppress(Exception):
                        webbrowser.open(preview.url)
                ticking = asyncio.create_task(pacer.run(), name="demo-pacer")
                closed = asyncio.create_task(preview.wait_closed(), name="demo-preview-closed")
                stopped = asyncio.create_task(stop.wait(), name="demo-stop")
                await asyncio.wait({ticking, closed, stopped}, return_when=asyncio.FIRST_COMPLETED)
                pacer.stopping.set()
                await ticking  # finishes its current tick, never cancelled mid-operation
                for task in (closed, stopped):
                    task.cancel()
                print("\nStopping the demo...", flush=True)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    print("Demo stopped; its temporary database and key were deleted.", flush=True)
    return 0
