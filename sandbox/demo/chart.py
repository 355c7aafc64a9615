"""``python -m sandbox.demo.chart [docs/chart.png]``: the lock page's chart for a scripted week of the demo lock.

A stand-in lock (not served: nothing listens) lives a week on a fake clock: Fred adds and removes time, votes
and a board pass, the keyholder adds some in the Chastify app (no log, so "API"), a freeze and a pillory run,
and the bot writes its custom log after each of its actions. The picture is what the stand-in's lock page shows
(``sandbox.chastify.page.chart_png``), with a daily cap of 4 h that the page itself does not know.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sandbox.chastify import FakeLock, StandIn, actions
from sandbox.chastify.page import chart_png
from sandbox.chastify.testing import FakeClock

DAILY_CAP = 4 * 3600
H, M = 3600, 60

# (hours since the previous step, what happens): +/- seconds with the bot's log title (None: no log), or a band
STORY: list[tuple[float, int | str, str | None]] = [
    (46, 2 * H, "Discord: +2h by friend_fred"),  # the week starts when the lock does
    (7, 3 * H, "Discord vote: +3h (4 for, 1 against)"),
    (10, -30 * M, "Discord: -30m by friend_fred"),
    (6, "freeze 8h", "Discord: freeze 8h by friend_fred"),
    (12, H, None),  # the keyholder, in the Chastify app
    (9, 75 * M, "Discord board: +1h 15m (9 up, 4 down)"),
    (10, -H, "Discord vote: -1h (3 for, 2 against)"),
    (8, "pillory 3h", "Discord vote: pillory 3h (5 for, 0 against)"),
    (5, 2 * H, "Discord vote: +2h (5 for, 1 against)"),
    (11, 30 * M, "Discord: +30m by friend_fred"),
    (9, -2 * H, None),
    (8, 3 * H, "Discord vote: +3h (6 for, 2 against)"),
    (10, 45 * M, "Discord board: +45m (12 up, 7 down)"),
    (6, -15 * M, "Discord: -15m by keyholder_kim"),
    (9, "freeze 3h", "Discord: freeze 3h by friend_fred"),
    (2, 0, None),  # now, during the freeze
]


def play(clock: FakeClock) -> FakeLock:
    """The demo lock after its week."""
    lock = StandIn(clock=clock).add_lock("dev-token-demo", title="Demo Weekend Lock", remaining=8 * 86400,
                                         wearer="wearer_wendy", keyholder="keyholder_kim")
    for hours, what, title in STORY:
        clock.advance(hours * H)
        if isinstance(what, str):
            kind, _, amount = what.partition(" ")
            seconds = int(amount.rstrip("h")) * H
            if kind == "freeze":
                actions.freeze(lock, {"durationSeconds": seconds}, source="dev")
            else:
                actions.run_action(lock, {"name": "pillory", "params": {"durationSeconds": seconds}}, source="dev")
        elif what:
            actions.apply_time(lock, {"deltaSeconds": what}, source="dev")
        if title is not None:
            clock.advance(1)
            actions.custom_log(lock, {"title": title, "role": "extension"}, source="dev")
    return lock


def sample_png() -> bytes:
    clock = FakeClock()
    lock = play(clock)
    return chart_png(lock, clock.now, daily_cap=DAILY_CAP)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.demo.chart", description=__doc__.split("\n\n")[1])
    parser.add_argument("out", type=Path, nargs="?", default=Path("docs/chart.png"))
    args = parser.parse_args(argv)
    args.out.write_bytes(sample_png())
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
