"""A picture of a lock's time: the remaining time over the last days, each change, freezes, pillory and the
owner's daily cap, as a 1200×600 PNG for Discord's dark mode.

The data is plain (:class:`ChartData`, built by the caller from the audit log and the lock's history); the
numbers the picture is drawn from are pure functions (:func:`series`, :func:`daily_totals`) so tests check them
rather than pixels. :func:`render` draws with a ``matplotlib.figure.Figure`` on its own Agg canvas: no pyplot, no
global state, so it may run in a worker thread (``asyncio.to_thread``) while others draw.

The remaining-time model (:func:`series`)
-----------------------------------------
The lock has an *end date* ``end(t)``; the remaining time is ``remaining(t) = max(0, end(t) - t)``.

* Outside freezes the end date stands still, so the remaining time falls one second per second (to 0, where it
  stays).
* While a freeze runs the remaining time stands still, so the end date moves forward with the clock.
* A change of ``s`` seconds at ``c`` moves the end date by ``s`` at once: ``end(c⁻) = end(c⁺) - s`` (a vertical
  step of ``s`` in the remaining time, unless the step touches 0).

Only today's end date is known (``ChartData.end_date``), so the curve is rebuilt *backwards* from ``now``:
over a frozen stretch of length ``d`` the end date was ``d`` earlier, before a change of ``+s`` it was ``s``
earlier, otherwise it was the same. Changes before the window only shape times before the window, so they are
left out; changes after ``now`` do not exist yet and are ignored, as are the parts of bands after ``now``.
A lock that sat at 0 for a while before time was added is drawn as if it reached 0 just then: the history says
how much was added, not how long the lock had been at 0 (use the amounts actually applied, not the requested).

The points are the window start, each change twice at the same time (just before, just after: a vertical step;
several changes at one instant make several steps), each band edge inside the window, each moment the remaining
time reaches 0 between two of those, and ``now``. Between consecutive points the curve is a straight line, so
joining them draws it exactly.

The daily cap (:func:`daily_totals`)
------------------------------------
The owner's cap is an amount of *added time per 24 hours*, not a remaining time, so it is not drawn on the
remaining-time axis. A small panel under the chart shows, for each UTC day of the window, a bar of the time
added that day (up) and removed (down), with the cap as a dashed line across it: a bar touching the line
means the day's budget was used up.

The picture (:func:`render`)
----------------------------
1200×600 on Discord's dark background, text 12 pt or more. The title and the time left now on top, then the
legend. The main chart: the remaining time (minutes, hours or days, by its range) against UTC days, each change
a green ▲ (added) or red ▼ (removed) at the remaining time just after it, labelled ``+1h Alice`` /
``−30m vote #3`` (the 20 latest; a label is placed where it overlaps no other label nor marker, else left
out), freezes and pillories as translucent bands across both panels. Under it the per-day panel. With no
changes, no end date or nothing left it still draws, with a note saying so.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullFormatter
from matplotlib.transforms import Bbox

from bot.durations import format_duration

DAY = 86400
WIDTH, HEIGHT, DPI = 1200, 600, 100
MAX_LABELS = 20  # the most recent changes are labelled; every change is marked

BandKind = Literal["freeze", "pillory"]


@dataclass(frozen=True)
class Change:
    """The timer moved at ``at`` (epoch seconds) by ``seconds`` (+ added, - removed), by ``label`` ("Alice",
    "vote #12")."""

    at: float
    seconds: int
    label: str


@dataclass(frozen=True)
class Band:
    """A freeze or a pillory from ``start`` to ``end`` (epoch seconds; ``None``: still running)."""

    start: float
    end: float | None
    kind: BandKind

    def __post_init__(self) -> None:
        if self.end is not None and self.end < self.start:
            raise ValueError("a band cannot end before it starts")
        if self.kind not in ("freeze", "pillory"):
            raise ValueError(f"unknown band kind {self.kind!r}")


@dataclass(frozen=True)
class ChartData:
    """What a chart is drawn from. ``end_date``: the lock's end date now (epoch seconds), ``None`` when there is
    no timer or it is unknown. ``daily_cap``: the owner's most added time per 24 hours, in seconds."""

    now: float
    end_date: float | None
    changes: list[Change]
    bands: list[Band]
    days: int = 7
    daily_cap: int | None = None

    def __post_init__(self) -> None:
        if self.days < 1:
            raise ValueError("days must be at least 1")

    @property
    def start(self) -> float:
        """The window's first moment."""
        return self.now - self.days * DAY

    def window_changes(self) -> list[Change]:
        """The changes inside the window (``start <= at <= now``), oldest first (ties keep their order)."""
        return sorted((c for c in self.changes if self.start <= c.at <= self.now), key=lambda c: c.at)


@dataclass(frozen=True)
class Step:
    """One change as drawn: the remaining time just before and just after it."""

    change: Change
    before: float
    after: float


@dataclass(frozen=True)
class DayTotal:
    """The time added and removed (both >= 0) by the changes from ``start`` to ``end`` (one UTC day, clipped
    to the window)."""

    start: float
    end: float
    added: int
    removed: int


# ----- the numbers -------------------------------------------------------------------------------------------
def _clipped(bands: Iterable[Band], lo: float, hi: float) -> list[tuple[float, float]]:
    """The bands' stretches inside ``[lo, hi]`` (a running band runs to ``hi``), overlaps merged."""
    spans = sorted(
        (max(b.start, lo), min(hi if b.end is None else b.end, hi)) for b in bands
    )
    merged: list[tuple[float, float]] = []
    for a, b in spans:
        if b <= a:
            continue
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _covered(spans: list[tuple[float, float]], t: float) -> bool:
    return any(a <= t <= b for a, b in spans)


def _trace(data: ChartData) -> tuple[list[tuple[float, float]], list[Step]]:
    if data.end_date is None:
        return [], []
    start, now = data.start, data.now
    changes = data.window_changes()
    frozen = _clipped((b for b in data.bands if b.kind == "freeze"), start, now)
    times = {start, now} | {c.at for c in changes}
    times |= {edge for band in data.bands for edge in (band.start, band.end)
              if edge is not None and start < edge < now}
    at_time: dict[float, list[Change]] = {}
    for change in changes:
        at_time.setdefault(change.at, []).append(change)

    # backwards from now: the end date just after everything at t, then just before each change at t
    ends: dict[float, list[float]] = {}
    end, later = data.end_date, now
    for t in sorted(times, reverse=True):
        if t < later and _covered(frozen, (t + later) / 2):
            end -= later - t  # frozen: the end date moved with the clock
        values = [end]
        for change in reversed(at_time.get(t, [])):
            end -= change.seconds
            values.append(end)
        values.reverse()
        ends[t] = values
        later = t

    points: list[tuple[float, float]] = []
    steps: list[Step] = []
    ordered = sorted(times)
    for i, t in enumerate(ordered):
        values = ends[t]
        points.extend((t, max(0.0, e - t)) for e in values)
        for change, before, after in zip(at_time.get(t, []), values[:-1], values[1:], strict=True):
            steps.append(Step(change, max(0.0, before - t), max(0.0, after - t)))
        if i + 1 < len(ordered):
            following, last = ordered[i + 1], values[-1]
            if t < last < following and not _covered(frozen, (t + following) / 2):
                points.append((last, 0.0))  # the remaining time reaches 0 here
    return points, steps


def series(data: ChartData) -> list[tuple[float, float]]:
    """The remaining time (seconds, never below 0) at each point from ``data.start`` to ``data.now``, ordered
    by time; a change appears twice at the same time (before, after). Empty when the end date is unknown.
    The model is in the module's docstring."""
    return _trace(data)[0]


def steps(data: ChartData) -> list[Step]:
    """Each change in the window with the remaining time just before and just after it, oldest first."""
    return _trace(data)[1]


def daily_totals(data: ChartData) -> list[DayTotal]:
    """Time added and removed per UTC day of the window (the first and last days clipped to it)."""
    changes = data.window_changes()
    totals: list[DayTotal] = []
    day = math.floor(data.start / DAY) * DAY
    while day < data.now:
        lo, hi = max(day, data.start), min(day + DAY, data.now)
        last = hi == data.now
        inside = [c for c in changes if lo <= c.at < hi or (last and c.at == hi)]
        totals.append(DayTotal(
            start=lo, end=hi,
            added=sum(c.seconds for c in inside if c.seconds > 0),
            removed=-sum(c.seconds for c in inside if c.seconds < 0),
        ))
        day += DAY
    return totals


# ----- words -------------------------------------------------------------------------------------------------
def short_duration(seconds: float) -> str:
    """The two largest units of :func:`bot.durations.format_duration`: ``93784`` -> ``1d 2h``."""
    return " ".join(format_duration(abs(int(seconds))).split(" ")[:2])


def change_text(change: Change, *, max_label: int = 16) -> str:
    """The label drawn by a change: ``+1h Alice``, ``−30m vote #3`` (a true minus sign)."""
    sign = "+" if change.seconds > 0 else ("−" if change.seconds < 0 else "±")
    who = change.label.strip()
    if len(who) > max_label:
        who = who[: max_label - 1] + "…"
    return f"{sign}{short_duration(change.seconds)} {who}".rstrip()


# ----- the picture -------------------------------------------------------------------------------------------
BG = "#1e1f22"
PANEL = "#2b2d31"
TEXT = "#dbdee1"
MUTED = "#949ba4"
GRID = "#3f4147"
LINE = "#e3e5e8"
ADDED = "#23a55a"
REMOVED = "#f23f43"
FREEZE = "#00a8fc"
PILLORY = "#f0b232"
CAP = "#eb459e"
BAND_COLOURS: dict[BandKind, str] = {"freeze": FREEZE, "pillory": PILLORY}
BAND_NAMES: dict[BandKind, str] = {"freeze": "frozen", "pillory": "pillory"}

_NOTE_BOX = {"boxstyle": "round,pad=0.4", "facecolor": PANEL, "edgecolor": GRID}
TICK_PT, LABEL_PT, CHANGE_PT, TITLE_PT, NOTE_PT = 14, 14, 13, 19, 16

_UNITS = ((3600, 60, "m", "minutes"), (3 * DAY + 1, 3600, "h", "hours"), (math.inf, DAY, "d", "days"))


def _unit(top: float) -> tuple[int, str, str]:
    """The y unit for values up to ``top`` seconds: minutes, hours or days."""
    for limit, size, suffix, name in _UNITS:
        if top < limit:
            return size, suffix, name
    raise AssertionError("unreachable")


def _tick(suffix: str) -> FuncFormatter:
    return FuncFormatter(lambda v, _pos: f"{v:g}{suffix}".replace("-", "−") if v else "0")


def _when(pattern: str) -> FuncFormatter:
    """Tick labels for the x axis (days since the epoch) as UTC dates."""
    return FuncFormatter(lambda v, _pos: dt.datetime.fromtimestamp(v * DAY, dt.UTC).strftime(pattern))


def _style(ax: Axes) -> None:
    ax.set_facecolor(PANEL)
    for spine in ax.spines.values():
        spine.set_color(GRID)
    ax.tick_params(colors=TEXT, labelsize=TICK_PT, length=4)
    ax.grid(True, color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)


def render(data: ChartData, *, title: str) -> bytes:
    """The chart as PNG bytes of exactly 1200×600 pixels (12×6 inches at 100 dpi). See the module docstring for
    what is drawn. Thread-safe: every call draws on its own figure and canvas."""
    fig = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI, facecolor=BG)
    FigureCanvasAgg(fig)  # this figure's own canvas: no pyplot, no global backend
    grid = fig.add_gridspec(2, 1, height_ratios=[3.3, 1], hspace=0.1, left=0.085, right=0.975, top=0.83,
                            bottom=0.085)
    main: Axes = fig.add_subplot(grid[0])
    panel: Axes = fig.add_subplot(grid[1], sharex=main)
    for ax in (main, panel):
        _style(ax)

    def x(t: float) -> float:  # the x axis counts days since the epoch
        return t / DAY

    points, drawn = _trace(data)
    changes = data.window_changes()
    start, now = data.start, data.now
    margin = (now - start) * 0.015
    main.set_xlim(x(start - margin), x(now + margin))

    # bands, on both axes
    legend: list[Line2D | Patch] = []
    for kind in ("freeze", "pillory"):
        spans = _clipped((b for b in data.bands if b.kind == kind), start, now)
        for a, b in spans:
            for ax in (main, panel):
                ax.axvspan(x(a), x(b), color=BAND_COLOURS[kind], alpha=0.22, linewidth=0)
        if spans:
            legend.append(Patch(facecolor=BAND_COLOURS[kind], alpha=0.45, label=BAND_NAMES[kind]))

    # the remaining time
    top = max((v for _, v in points), default=0.0)
    size, suffix, unit_name = _unit(top)
    if points:
        xs = [x(t) for t, _ in points]
        ys = [v / size for _, v in points]
        main.fill_between(xs, ys, 0, color=LINE, alpha=0.07, linewidth=0)
        main.plot(xs, ys, color=LINE, linewidth=2.6, solid_joinstyle="miter")
        legend.insert(0, Line2D([], [], color=LINE, linewidth=2.6, label="remaining"))
    main.set_ylim(0, max(top / size, 1.0) * 1.32)
    if points:
        main.yaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 3, 5, 6, 10]))
        main.yaxis.set_major_formatter(_tick(suffix))
        main.set_ylabel(f"remaining ({unit_name})", color=TEXT, fontsize=LABEL_PT)
    else:
        main.set_yticks([])
    main.tick_params(axis="x", which="both", labelbottom=False)

    markers = [(s.change, s.after) for s in drawn if s.change.seconds]
    for sign, colour, shape, name in ((1, ADDED, "^", "added"), (-1, REMOVED, "v", "removed")):
        mine = [(c, v) for c, v in markers if (c.seconds > 0) == (sign > 0)]
        if mine:
            main.scatter([x(c.at) for c, _ in mine], [v / size for _, v in mine], s=90, marker=shape,
                         color=colour, edgecolors=BG, linewidths=1.2, zorder=5)
            legend.append(Line2D([], [], linestyle="none", marker=shape, markersize=10, color=colour, label=name))

    corner = None
    if points:  # the time left now, at the top right, where no label can cover it
        left = points[-1][1]
        corner = fig.text(0.975, 0.955, f"{short_duration(left)} left" if left else "time is up", ha="right",
                          va="center", fontsize=TITLE_PT - 1, color=LINE, fontweight="bold")
    # the labels keep off the markers
    taken = [Bbox.from_bounds(px - 9, py - 9, 18, 18)
             for px, py in (main.transData.transform((x(c.at), v / size)) for c, v in markers)]
    if not changes:
        main.text(0.5, 0.9, f"nothing changed in these {data.days} day{'s' if data.days != 1 else ''}",
                  transform=main.transAxes, ha="center", va="center", fontsize=NOTE_PT, color=MUTED, bbox=_NOTE_BOX)
    if data.end_date is None:
        main.text(0.5, 0.5, "no end date known (no timer on this lock)", transform=main.transAxes,
                  ha="center", va="center", fontsize=NOTE_PT, color=MUTED, bbox=_NOTE_BOX)
    if len(markers) > MAX_LABELS:
        note = main.text(0.005, 0.985, f"labels: the {MAX_LABELS} latest of {len(markers)} changes",
                         transform=main.transAxes, ha="left", va="top", fontsize=12, color=MUTED)
        taken.append(note.get_window_extent())
    _label_changes(main, [(x(c.at), v / size, c) for c, v in markers][-MAX_LABELS:], taken)

    _day_panel(panel, data, x)
    if data.daily_cap:
        legend.append(Line2D([], [], color=CAP, linestyle="--", linewidth=2, label="daily cap"))

    # time axis: UTC days
    if data.days <= 2:
        quarters = range(math.ceil(start / (DAY / 4)) * DAY // 4, int(now) + 1, DAY // 4)
        panel.xaxis.set_major_locator(FixedLocator([x(t) for t in quarters]))
        panel.xaxis.set_major_formatter(_when("%a %H:%M"))
    else:  # a grid line at each midnight, the day's name under its middle (where its bar is)
        every = max(1, math.ceil(data.days / 10))
        midnights = [float(d) for d in range(math.ceil(start / DAY) * DAY, int(now) + 1, DAY * every)]
        panel.xaxis.set_major_locator(FixedLocator([x(t) for t in midnights]))
        panel.xaxis.set_major_formatter(NullFormatter())
        noons = [t + DAY / 2 for t in [midnights[0] - DAY, *midnights] if start <= t + DAY / 2 <= now]
        panel.xaxis.set_minor_locator(FixedLocator([x(t) for t in noons]))
        panel.xaxis.set_minor_formatter(_when("%a %d"))
        panel.tick_params(axis="x", which="minor", length=0, labelsize=TICK_PT, colors=TEXT)

    # member text (names, the lock's title) is drawn as it is: a "$" must not start matplotlib's math markup
    heading = fig.text(0.085, 0.955, title, ha="left", va="center", fontsize=TITLE_PT, color=TEXT,
                       fontweight="bold", parse_math=False)
    room = (corner.get_window_extent().x0 - 24) if corner is not None else WIDTH * 0.975
    shown = title
    while shown and heading.get_window_extent().x1 > room:  # too long for the line: cut, with an ellipsis
        shown = shown[:-1]
        heading.set_text(shown.rstrip() + "…")
    span = f"the last {data.days} day{'s' if data.days != 1 else ''}"
    fig.text(0.085, 0.895, f"time remaining over {span} (UTC)", ha="left", va="center", fontsize=LABEL_PT, color=MUTED)
    if legend:
        fig.legend(handles=legend, loc="lower right", bbox_to_anchor=(0.975, 0.835), ncols=len(legend),
                   fontsize=13, frameon=False, labelcolor=TEXT, handlelength=1.6, columnspacing=1.2,
                   borderaxespad=0)

    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI, facecolor=BG, metadata={"Software": None})
    return out.getvalue()


def _label_changes(ax: Axes, marks: list[tuple[float, float, Change]], taken: list[Bbox]) -> None:
    """Label each mark where its text overlaps no other label and stays inside the axes: tried above and below
    at growing distances (and a little to either side), the most recent first. A label that finds no room is
    left out (its marker stays)."""
    area = ax.get_window_extent()
    offsets = [(dx, dy) for dist in (14, 34, 56, 80, 106) for dy in (dist, -dist - 6) for dx in (0, -36, 36)]
    for px, py, change in reversed(marks):
        colour = ADDED if change.seconds > 0 else REMOVED
        text = change_text(change)
        for dx, dy in offsets:
            probe = ax.annotate(text, (px, py), xytext=(dx, dy), textcoords="offset points", ha="center",
                                va="bottom" if dy > 0 else "top", fontsize=CHANGE_PT, parse_math=False)
            box = probe.get_window_extent()
            probe.remove()
            fits = (area.x0 + 2 <= box.x0 and box.x1 <= area.x1 - 2
                    and area.y0 + 2 <= box.y0 and box.y1 <= area.y1 - 2)
            padded = box.expanded(1.04, 1.1)
            if not fits or any(padded.overlaps(other) for other in taken):
                continue
            far = abs(dy) > 20 or dx != 0
            ax.annotate(
                text, (px, py), xytext=(dx, dy), textcoords="offset points", ha="center",
                va="bottom" if dy > 0 else "top", fontsize=CHANGE_PT, color=TEXT, zorder=7, parse_math=False,
                bbox={"boxstyle": "round,pad=0.18", "facecolor": PANEL, "edgecolor": colour, "linewidth": 1.1,
                      "alpha": 0.92},
                arrowprops={"arrowstyle": "-", "color": colour, "linewidth": 1, "alpha": 0.7,
                            "shrinkA": 0, "shrinkB": 5} if far else None,
            )
            taken.append(padded)
            break


def _day_panel(ax: Axes, data: ChartData, x: Callable[[float], float]) -> None:
    """Bars of time added (up) and removed (down) per UTC day, and the daily cap as a dashed line."""
    totals = daily_totals(data)
    top = max([t.added for t in totals] + [t.removed for t in totals] + [data.daily_cap or 0, 3600])
    size, suffix, _ = _unit(top)
    for total in totals:
        width = (total.end - total.start) / DAY * 0.8
        centre = x((total.start + total.end) / 2)
        if total.added:
            ax.bar(centre, total.added / size, width=width, color=ADDED, alpha=0.85)
        if total.removed:
            ax.bar(centre, -total.removed / size, width=width, color=REMOVED, alpha=0.85)
    low = -max([t.removed for t in totals] + [0]) / size
    high = max([t.added for t in totals] + [data.daily_cap or 0]) / size
    ax.set_ylim(min(low * 1.25, 0), max(high * 1.3, 1.0))
    ax.axhline(0, color=MUTED, linewidth=0.8)
    if data.daily_cap:
        cap = data.daily_cap / size
        ax.axhline(cap, color=CAP, linestyle="--", linewidth=2)
        ax.text(0.995, cap, f"daily cap: +{short_duration(data.daily_cap)}", transform=ax.get_yaxis_transform(),
                ha="right", va="bottom", fontsize=13, color=CAP, fontweight="bold")
    ax.yaxis.set_major_locator(MaxNLocator(nbins=3, steps=[1, 2, 3, 5, 6, 10]))
    ax.yaxis.set_major_formatter(_tick(suffix))
    ax.set_ylabel("per day", color=TEXT, fontsize=LABEL_PT)
