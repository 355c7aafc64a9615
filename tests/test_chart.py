"""The chart of a lock's time: the numbers it is drawn from (``series``, ``steps``, ``daily_totals``) and the PNG."""

from __future__ import annotations

import io
import itertools
from concurrent.futures import ThreadPoolExecutor

import matplotlib.image
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from bot.chart import (
    DAY,
    Band,
    Change,
    ChartData,
    change_text,
    daily_totals,
    render,
    series,
    steps,
)

H = 3600
NOW = 1_767_225_600.0 + 10 * DAY + 15 * H  # 2026-01-11 15:00 UTC


def data(*changes: Change, end: float | None = NOW + 10 * H, bands: tuple[Band, ...] = (), days: int = 1,
         cap: int | None = None) -> ChartData:
    return ChartData(now=NOW, end_date=end, changes=list(changes), bands=list(bands), days=days, daily_cap=cap)


def busy_lock() -> ChartData:
    """Twelve changes over a week, a freeze, a pillory and a cap of 4 h a day."""
    amounts = [H, -30 * 60, 2 * H, 15 * 60, -H, H, 90 * 60, -15 * 60, 3 * H, 30 * 60, -2 * H, H]
    who = ["Alice", "vote #3", "Bob", "vote #4", "Carol", "board", "Alice", "vote #5", "Dave", "Eve", "vote #6", "Bob"]
    changes = [Change(NOW - 6.5 * DAY + i * 13 * H, s, w) for i, (s, w) in enumerate(zip(amounts, who, strict=True))]
    bands = (Band(NOW - 89 * H, NOW - 83 * H, "freeze"), Band(NOW - 2 * DAY, NOW - 2 * DAY + 3 * H, "pillory"))
    return data(*changes, end=NOW + 30 * H, bands=bands, days=7, cap=4 * H)


def decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


# ----- the picture ---------------------------------------------------------------------------------------------
def test_a_busy_lock_renders_a_1200_by_600_png_from_the_right_numbers():
    chart = busy_lock()
    png = render(chart, title="Demo Weekend Lock")

    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert decode(png).size == (1200, 600)
    assert matplotlib.image.imread(io.BytesIO(png), format="png").shape[:2] == (600, 1200)
    assert decode(png).convert("RGB").getpixel((2, 2)) == (0x1E, 0x1F, 0x22)  # Discord's dark background

    points = series(chart)
    assert points[0][0] == chart.start and points[-1] == (NOW, 30 * H)
    drawn = steps(chart)
    assert [s.change for s in drawn] == chart.changes
    assert all(s.after - s.before == s.change.seconds for s in drawn)  # never near 0 here
    # the freeze kept the remaining time flat across its six hours
    freeze_start, freeze_end = NOW - 89 * H, NOW - 83 * H  # no change inside it
    at = {t: v for t, v in points}
    assert at[freeze_start] == at[freeze_end]
    # before the first change (6.5 days ago) the end date was the sum of every change earlier
    total = sum(c.seconds for c in chart.changes)
    assert drawn[0].before == (NOW + 30 * H - total - 6 * H) - chart.changes[0].at
    assert sum(d.added for d in daily_totals(chart)) == sum(c.seconds for c in chart.changes if c.seconds > 0)
    assert sum(d.removed for d in daily_totals(chart)) == -sum(c.seconds for c in chart.changes if c.seconds < 0)


@pytest.mark.parametrize("chart", [
    data(),  # nothing changed
    data(Change(NOW - H, 600, "Alice"), end=None, bands=(Band(NOW - 2 * H, None, "pillory"),), cap=H),  # no timer
    data(end=NOW - 100, days=3),  # time is up
    data(*(Change(NOW - 2 * DAY - i * 600, 60, "x" * 40) for i in range(60)), days=30, cap=1),  # crowded, long
])
def test_odd_locks_still_render_1200_by_600(chart):
    assert decode(render(chart, title="a lock with a rather long title " * 3)).size == (1200, 600)


def test_renders_in_threads_at_once_give_the_same_picture():
    chart = busy_lock()
    alone = render(chart, title="t")
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda _: render(chart, title="t"), range(8)))
    assert all(png == alone for png in together)


def test_change_labels():
    assert change_text(Change(NOW, H, "Alice")) == "+1h Alice"
    assert change_text(Change(NOW, -30 * 60, "vote #3")) == "−30m vote #3"
    assert change_text(Change(NOW, DAY + 2 * H + 3 * 60 + 4, "board")) == "+1d 2h board"
    assert change_text(Change(NOW, H, "a very long member name")) == "+1h a very long mem…"


# ----- the series, by hand ---------------------------------------------------------------------------------------
def test_one_change_hand_computed():
    # ends in 10 h; 3 h ago someone added 2 h: just after it 13 h were left, just before 11 h, a day ago 32 h
    assert series(data(Change(NOW - 3 * H, 2 * H, "Alice"))) == [
        (NOW - DAY, 32 * H), (NOW - 3 * H, 11 * H), (NOW - 3 * H, 13 * H), (NOW, 10 * H),
    ]


def test_a_removal_steps_down():
    assert series(data(Change(NOW - 2 * H, -H, "vote #3"))) == [
        (NOW - DAY, 35 * H), (NOW - 2 * H, 13 * H), (NOW - 2 * H, 12 * H), (NOW, 10 * H),
    ]


def test_a_freeze_keeps_the_remaining_time_flat():
    frozen = Band(NOW - 5 * H, NOW - 4 * H, "freeze")
    assert series(data(bands=(frozen,))) == [
        (NOW - DAY, 33 * H), (NOW - 5 * H, 14 * H), (NOW - 4 * H, 14 * H), (NOW, 10 * H),
    ]


def test_a_freeze_still_running_is_flat_up_to_now_and_a_change_inside_it_steps():
    frozen = Band(NOW - 4 * H, None, "freeze")
    assert series(data(Change(NOW - 2 * H, H, "Alice"), bands=(frozen,))) == [
        (NOW - DAY, 29 * H), (NOW - 4 * H, 9 * H), (NOW - 2 * H, 9 * H), (NOW - 2 * H, 10 * H), (NOW, 10 * H),
    ]


def test_a_freeze_ending_after_now_counts_only_up_to_now():
    frozen = Band(NOW - 2 * H, NOW + 5 * H, "freeze")
    assert series(data(bands=(frozen,))) == [(NOW - DAY, 32 * H), (NOW - 2 * H, 10 * H), (NOW, 10 * H)]


def test_overlapping_freezes_do_not_count_twice():
    bands = (Band(NOW - 5 * H, NOW - 3 * H, "freeze"), Band(NOW - 4 * H, NOW - 2 * H, "freeze"))
    points = series(data(bands=bands))
    assert points[0] == (NOW - DAY, 31 * H)  # 3 frozen hours, not 4
    assert {v for t, v in points if NOW - 5 * H <= t <= NOW - 2 * H} == {12 * H}


def test_a_pillory_does_not_change_the_time_but_its_edges_are_points():
    pillory = Band(NOW - 5 * H, NOW - 4 * H, "pillory")
    assert series(data(bands=(pillory,))) == [
        (NOW - DAY, 34 * H), (NOW - 5 * H, 15 * H), (NOW - 4 * H, 14 * H), (NOW, 10 * H),
    ]


def test_changes_outside_the_window_are_ignored():
    inside = Change(NOW - 3 * H, 2 * H, "Alice")
    before = Change(NOW - DAY - H, 5 * H, "long ago")  # only moved times before the window
    later = Change(NOW + H, 7 * H, "the future")  # does not exist yet
    assert series(data(before, inside, later)) == series(data(inside))
    assert steps(data(before, inside, later)) == steps(data(inside))


def test_the_remaining_time_reaches_zero_and_stays_there():
    # ended 1 h ago; 2 h ago 30 m were added: it was at 30 m, then 1 h, then 0 from an hour ago
    points = series(data(Change(NOW - 2 * H, 30 * 60, "vote #3"), end=NOW - H))
    assert points == [
        (NOW - DAY, 22.5 * H), (NOW - 2 * H, 0.5 * H), (NOW - 2 * H, H), (NOW - H, 0.0), (NOW, 0.0),
    ]


def test_time_added_to_a_lock_at_zero_steps_up_from_zero():
    # the end date was 2 h ago (0 left) when 3 h were added an hour ago: 0 -> 2 h, then down to 1 h now
    points = series(data(Change(NOW - H, 3 * H, "Alice"), end=NOW + H))
    assert points == [(NOW - DAY, 22 * H), (NOW - 2 * H, 0.0), (NOW - H, 0.0), (NOW - H, 2 * H), (NOW, H)]


def test_changes_at_the_same_moment_step_one_after_the_other():
    a, b = Change(NOW - H, H, "Alice"), Change(NOW - H, -30 * 60, "vote #3")
    assert series(data(a, b)) == [
        (NOW - DAY, 33.5 * H), (NOW - H, 10.5 * H), (NOW - H, 11.5 * H), (NOW - H, 11 * H), (NOW, 10 * H),
    ]
    assert [(s.before, s.after) for s in steps(data(a, b))] == [(10.5 * H, 11.5 * H), (11.5 * H, 11 * H)]


def test_no_end_date_no_series():
    assert series(data(Change(NOW - H, H, "Alice"), end=None)) == []
    assert steps(data(Change(NOW - H, H, "Alice"), end=None)) == []


def test_days_must_be_positive_and_bands_ordered():
    with pytest.raises(ValueError, match="days"):
        data(days=0)
    with pytest.raises(ValueError, match="end before"):
        Band(NOW, NOW - 1, "freeze")


def test_daily_totals_per_utc_day():
    # NOW is 15:00 UTC: two days back covers 15:00-24:00, a whole day, and 00:00-15:00 today
    chart = data(Change(NOW - 16 * H, H, "a"), Change(NOW - 14 * H, 2 * H, "b"), Change(NOW - 14 * H, -H, "c"),
                 Change(NOW, 30 * 60, "d"), days=2)
    totals = daily_totals(chart)
    assert [(t.start, t.end) for t in totals] == [
        (NOW - 2 * DAY, NOW - 15 * H - DAY), (NOW - 15 * H - DAY, NOW - 15 * H), (NOW - 15 * H, NOW),
    ]
    assert [(t.added, t.removed) for t in totals] == [(0, 0), (H, 0), (2 * H + 30 * 60, H)]


# ----- the series, by property --------------------------------------------------------------------------------
_changes = st.lists(
    st.builds(Change, st.integers(-9 * DAY, 0).map(lambda d: NOW + d), st.integers(-3 * DAY, 3 * DAY),
              st.just("x")),
    max_size=25,
)
_bands = st.lists(
    st.builds(lambda a, n, kind: Band(NOW + a, None if n is None else NOW + a + n, kind),
              st.integers(-9 * DAY, 0), st.none() | st.integers(0, 2 * DAY), st.sampled_from(["freeze", "pillory"])),
    max_size=4,
)


@given(_changes, _bands, st.integers(-2 * DAY, 20 * DAY), st.integers(1, 8))
def test_series_properties(changes, bands, end_in, days):
    chart = ChartData(now=NOW, end_date=NOW + end_in, changes=changes, bands=bands, days=days)
    points = series(chart)
    times = [t for t, _ in points]
    assert times == sorted(times)
    assert points[0][0] == chart.start and points[-1] == (NOW, max(0, end_in))
    assert all(v >= 0 for _, v in points)
    drawn = steps(chart)
    assert [s.change for s in drawn] == chart.window_changes()
    for step in drawn:
        if step.before > 0 and step.after > 0:
            assert step.after - step.before == step.change.seconds
        assert (step.change.at, step.before) in points and (step.change.at, step.after) in points
    # between consecutive points the time steps, stands still (frozen), stays at 0, or falls one second per second
    # all the way (a straight line between the points draws the curve exactly: a point where it reaches 0)
    frozen = [(b.start, NOW if b.end is None else b.end) for b in bands if b.kind == "freeze"]
    for (t0, v0), (t1, v1) in itertools.pairwise(points):
        if t1 == t0:
            continue
        if any(a <= t0 and t1 <= b for a, b in frozen):
            assert v1 == v0
        else:
            assert v0 == v1 == 0 or v1 == pytest.approx(v0 - (t1 - t0))
    totals = daily_totals(chart)
    assert sum(t.added for t in totals) == sum(c.seconds for c in chart.window_changes() if c.seconds > 0)


def test_member_text_with_dollar_signs_is_drawn_as_it_is():
    """A name or title with "$" (matplotlib's math markup) still renders: member text is never parsed."""
    data = ChartData(now=DAY * 10, end_date=DAY * 12, days=2,
                     changes=[Change(at=DAY * 9, seconds=3600, label="$\\frac{a$"),
                              Change(at=DAY * 9.5, seconds=-60, label="$x$")],
                     bands=[])
    png = render(data, title="$\\frac{ lock $")
    assert png.startswith(b"\x89PNG")
