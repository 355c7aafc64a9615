"""The lock page's chart: drawn with ``bot.chart`` from what the stand-in applied, labelled by the custom logs."""

from __future__ import annotations

import io
import itertools

import httpx
from PIL import Image

from bot.chart import render, series, steps
from sandbox.chastify import FakeLock, StandIn
from sandbox.chastify.page import chart_data
from sandbox.demo import chart as demo
from tests.support.clock import FakeClock

H, M = 3600, 60


def log(api: httpx.Client, title: str) -> None:
    assert api.post("/logs/custom", json={"title": title, "role": "extension"}).status_code == 201


def value_at(points: list[tuple[float, float]], t: float) -> float:
    """The chart's remaining time at ``t`` (not at a step), joining the points with straight lines."""
    for (t0, v0), (t1, v1) in itertools.pairwise(points):
        if t0 <= t <= t1 and t0 < t1:
            return v0 + (v1 - v0) * (t - t0) / (t1 - t0)
    raise AssertionError(f"{t} is outside the chart")


def play(api: httpx.Client, lock: FakeLock, clock: FakeClock) -> tuple[list[tuple[float, int]], list[tuple]]:
    """A morning on the lock through the API. Returns the remaining time the stand-in reported at moments
    between changes, and each change as (time, before, after, label)."""
    samples: list[tuple[float, int]] = []
    changes: list[tuple] = []

    def sample() -> None:
        samples.append((clock.now, lock.remaining_seconds()))

    def change(request: dict, label: str, title: str | None = None, *, path: str = "/lock/apply-time") -> None:
        before = lock.remaining_seconds()
        assert api.post(path, json=request).status_code == 200
        changes.append((clock.now, before, lock.remaining_seconds(), label))
        if title is not None:
            clock.advance(2)  # the bot writes its log just after the change
            log(api, title)

    clock.advance(H)
    sample()
    change({"deltaSeconds": H}, "alice", "Discord: +1h by alice")
    clock.advance(30 * M)
    change({"name": "add_time", "params": 30 * M}, "API", "Discord: freeze 2h by fred", path="/action")
    clock.advance(H)
    assert api.post("/lock/freeze", json={"durationSeconds": 2 * H}).status_code == 200
    clock.advance(H)
    sample()  # frozen
    clock.advance(2 * H)  # the freeze ended an hour ago by itself
    sample()
    change({"deltaSeconds": -30 * M}, "vote 3–1", "Discord vote: -30m (3 for, 1 against)")
    clock.advance(H)
    assert api.post("/action", json={"name": "pillory", "params": {"durationSeconds": H}}).status_code == 200
    clock.advance(20 * M)
    change({"name": "remove_time", "params": 10 * M}, "board", "Discord board: -10m (2 up, 5 down)", path="/action")
    clock.advance(2 * H)
    change({"deltaSeconds": 2 * H}, "API")  # no log at all
    clock.advance(10 * M)
    log(api, "Discord: +2h by someone")  # too late to name it (and nothing is left to match)
    assert api.post("/lock/freeze", json={"durationSeconds": 24 * H}).status_code == 200
    clock.advance(30 * M)
    sample()
    assert api.post("/lock/unfreeze", json={}).status_code == 200
    clock.advance(H)
    change({"deltaSeconds": 45 * M}, "API", "Discord: +1h by mallory")  # another amount: not this change's log
    assert api.post("/lock/freeze", json={"durationSeconds": H}).status_code == 200
    clock.advance(10 * M)  # still frozen now
    sample()
    return samples, changes


def test_the_lock_page_shows_the_chart_drawn_from_what_was_applied(
    server: StandIn, api: httpx.Client, alice_lock: FakeLock, fake_clock: FakeClock
) -> None:
    samples, changes = play(api, alice_lock, fake_clock)

    page = httpx.get(f"{server.base_url}/sandbox/locks/{alice_lock.id}")
    assert f'<img class="chart" src="/sandbox/locks/{alice_lock.id}/chart.png" width="1200" height="600"' in page.text

    response = httpx.get(f"{server.base_url}/sandbox/locks/{alice_lock.id}/chart.png")
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "PNG" and image.size == (1200, 600)

    data = chart_data(alice_lock, fake_clock.now)
    assert response.content == render(data, title=alice_lock.title)  # the route draws exactly this data
    assert [(s.change.at, s.before, s.after, s.change.label) for s in steps(data)] == changes
    assert [c.seconds for c in data.changes] == [H, 30 * M, -30 * M, -10 * M, 2 * H, 45 * M]
    assert [(b.kind, b.end is None) for b in data.bands] == [
        ("freeze", False), ("pillory", False), ("freeze", False), ("freeze", True),
    ]
    points = series(data)
    assert points[-1] == (fake_clock.now, alice_lock.remaining_seconds())
    for at, remaining in samples:
        assert value_at(points, at) == remaining


def test_the_chart_takes_days_and_an_unknown_lock_is_404(server: StandIn, alice_lock: FakeLock) -> None:
    response = httpx.get(f"{server.base_url}/sandbox/locks/{alice_lock.id}/chart.png?days=2")
    assert Image.open(io.BytesIO(response.content)).size == (1200, 600)
    assert httpx.get(f"{server.base_url}/sandbox/locks/nope/chart.png").status_code == 404


def test_a_pillory_ended_early_and_an_ended_lock(
    server: StandIn, api: httpx.Client, alice_lock: FakeLock, fake_clock: FakeClock
) -> None:
    assert api.post("/action", json={"name": "pillory", "params": {"durationSeconds": 5 * H}}).status_code == 200
    fake_clock.advance(H)
    assert api.post("/action", json={"name": "pillory.end", "params": {}}).status_code == 200
    start = fake_clock.now - H
    fake_clock.advance(H)
    server.end_lock(alice_lock.id)
    ended_at = fake_clock.now
    fake_clock.advance(5 * H)

    data = chart_data(alice_lock, fake_clock.now)
    assert data.now == ended_at  # an ended lock's chart stops where it ended
    assert [(b.start, b.end, b.kind) for b in data.bands] == [(start, start + H, "pillory")]
    assert series(data)[-1] == (ended_at, alice_lock.remaining_seconds())


def test_the_demo_chart_story() -> None:
    """``docs/chart.png`` comes from this story: a dozen changes, every log matched, a freeze and a pillory."""
    clock = FakeClock()
    lock = demo.play(clock)
    data = chart_data(lock, clock.now, daily_cap=demo.DAILY_CAP)
    moves = [(what, title) for _, what, title in demo.STORY if isinstance(what, int) and what]
    assert len(data.changes) == len(moves) >= 12
    assert [c.seconds for c in data.changes] == [what for what, _ in moves]  # the lock never ran out
    assert [c.label == "API" for c in data.changes] == [title is None for _, title in moves]
    assert {b.kind for b in data.bands} == {"freeze", "pillory"}
    assert data.start >= lock.started_at  # the week starts no earlier than the lock
    assert Image.open(io.BytesIO(demo.sample_png())).size == (1200, 600)
