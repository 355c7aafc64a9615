"""Read-only HTML views of the stand-in's locks (for the demo). Everything shown is html-escaped."""

from __future__ import annotations

import datetime as dt
import re
from html import escape
from typing import Any

from bot.chart import Band, BandKind, Change, ChartData, render
from bot.durations import format_signed

from .state import FakeLock

CHART_DAYS = 7
LOG_MATCH_SECONDS = 300  # a custom log names who moved the time when it follows the change within this long
_AMOUNT = r"(?P<amount>[+-]\d+[wdhms](?: \d+[wdhms])*)"
_LOG_TITLES = (  # the titles the bot writes (bot/actions.py log_title), each giving a short label
    (re.compile(rf"Discord: {_AMOUNT} by (?P<who>.+)"), "{who}"),
    (re.compile(rf"Discord vote: {_AMOUNT} \((?P<yes>\d+) for, (?P<no>\d+) against\)"), "vote {yes}–{no}"),
    (re.compile(rf"Discord board: {_AMOUNT} \((?P<up>\d+) up, (?P<down>\d+) down\)"), "board"),
)

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; margin-top: 1rem; }
th, td { border: 1px solid #ccc; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.on { color: #b00; font-weight: bold; } .off { color: #777; }
.swatch { display: inline-block; width: .8em; height: .8em; border: 1px solid #999; }
.chart { display: block; max-width: 100%; height: auto; margin-top: 1rem; border-radius: 6px; }
"""

_DETAIL_SKIP = frozenset({"type", "at", "source", "title", "description", "role", "icon", "color"})


def format_duration(seconds: float) -> str:
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}d {clock}" if days else clock


def format_time(at: float | None) -> str:
    if at is None:
        return "-"
    return dt.datetime.fromtimestamp(at, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _page(title: str, body: str, refresh: int | None) -> str:
    meta = f'<meta http-equiv="refresh" content="{refresh}">' if refresh else ""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"{meta}<title>{escape(title)}</title><style>{_STYLE}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )


def _flag(on: bool, text: str) -> str:
    return f'<span class="{"on" if on else "off"}">{escape(text)}</span>'


def render_index(locks: list[FakeLock], *, refresh: int | None = None) -> str:
    rows = []
    for lock in locks:
        status = "ended" if lock.ended else ("frozen" if lock.frozen else "running")
        rows.append(
            "<tr>"
            f'<td><a href="/sandbox/locks/{escape(lock.id)}">{escape(lock.id)}</a></td>'
            f"<td>{escape(lock.title)}</td><td>{escape(lock.role)}</td>"
            f"<td>{escape(lock.wearer)}</td><td>{escape(lock.keyholder or '-')}</td>"
            f"<td>{escape(format_duration(lock.remaining_seconds()))}</td><td>{escape(status)}</td>"
            "</tr>"
        )
    table = (
        "<table><tr><th>lock</th><th>title</th><th>role</th><th>wearer</th><th>keyholder</th>"
        "<th>remaining</th><th>status</th></tr>" + "".join(rows) + "</table>"
        if rows
        else "<p>No locks yet.</p>"
    )
    return _page("Chastify stand-in", "<h1>Chastify stand-in: locks</h1>\n" + table, refresh)


def _details(entry: dict[str, Any]) -> str:
    parts = [f"{k}={v}" for k, v in entry.items() if k not in _DETAIL_SKIP and v is not None]
    return ", ".join(parts)


def _log_label(title: str, amount: str) -> str | None:
    """The short label a custom log's title gives a time change of ``amount`` (``+1h``), or None."""
    for pattern, label in _LOG_TITLES:
        match = pattern.fullmatch(title)
        if match and match["amount"] == amount:
            return label.format(**match.groupdict())
    return None


def chart_data(lock: FakeLock, now: float, *, days: int = CHART_DAYS, daily_cap: int | None = None) -> ChartData:
    """What the lock page's chart is drawn from, taken from the stand-in's own record of what was applied: each
    time change with the amount actually applied, labelled by the custom log that followed it (the bot writes
    one per action, e.g. ``Discord: +1h by alice`` -> ``alice``, ``Discord vote: ...`` -> ``vote 7–2``), else
    "API"; freezes and pillories from their start to their end, unfreeze, replacement or now. Call it with the
    world's guard held (the server does), so the history and the remaining time are read together."""
    history = [dict(entry) for entry in lock.history]
    if lock.ended_at is not None:
        now = min(now, lock.ended_at)
    end_date = now + lock.remaining_seconds()
    used: set[int] = set()
    changes: list[Change] = []
    open_bands: dict[BandKind, tuple[float, float | None]] = {}
    bands: list[Band] = []

    def close(kind: BandKind, at: float) -> None:
        if kind in open_bands:
            start, until = open_bands.pop(kind)
            bands.append(Band(start, min(at, until) if until is not None else at, kind))

    for index, entry in enumerate(history):
        kind, at = entry["type"], float(entry["at"])
        if kind in ("time_added", "time_removed"):
            sign = 1 if kind == "time_added" else -1
            applied, requested = sign * int(entry["seconds"]), sign * int(entry["requested"])
            if applied == 0:
                continue
            label = "API"
            for later, log in enumerate(history[index + 1:], start=index + 1):
                if log["type"] != "custom" or later in used or float(log["at"]) - at > LOG_MATCH_SECONDS:
                    continue
                found = _log_label(str(log.get("title") or ""), format_signed(requested))
                if found is not None:
                    used.add(later)
                    label = found
                    break
            changes.append(Change(at, applied, label))
        elif kind in ("frozen", "pillory_started"):
            band: BandKind = "freeze" if kind == "frozen" else "pillory"
            close(band, at)  # a new one replaces the one running
            open_bands[band] = (at, entry.get("until"))
        elif kind == "unfrozen":
            close("freeze", at)
        elif kind == "pillory_ended":
            close("pillory", at)
    for band_kind, (start, until) in open_bands.items():
        bands.append(Band(start, until if until is not None and until <= now else None, band_kind))
    bands.sort(key=lambda band: band.start)
    return ChartData(now=now, end_date=end_date, changes=changes, bands=bands, days=days, daily_cap=daily_cap)


def chart_png(lock: FakeLock, now: float, *, days: int = CHART_DAYS, daily_cap: int | None = None) -> bytes:
    """The lock page's chart: ``bot.chart.render`` of :func:`chart_data`."""
    return render(chart_data(lock, now, days=days, daily_cap=daily_cap), title=lock.title)


def render_lock(lock: FakeLock, now: float, *, refresh: int | None = None) -> str:
    frozen_until = lock.frozen_until
    pillory_until = lock.pillory_until
    hygiene_until = lock.hygiene_until
    task = lock.task
    facts = [
        ("Lock id", escape(lock.id)),
        ("Role of the DEV token", escape(lock.role)),
        ("Wearer", escape(lock.wearer)),
        ("Keyholder", escape(lock.keyholder or "-")),
        ("Remaining", escape(format_duration(lock.remaining_seconds()))),
        ("Unlockable", _flag(lock.unlockable, "yes" if lock.unlockable else "no")),
        (
            "Frozen",
            _flag(
                lock.frozen,
                f"yes, until {format_time(frozen_until)}" if lock.frozen else "no",
            ),
        ),
        (
            "Pillory",
            _flag(
                pillory_until is not None,
                f"yes, until {format_time(pillory_until)}: {lock.pillory_reason or 'no reason given'}"
                if pillory_until is not None
                else "no",
            ),
        ),
        (
            "Hygiene opening",
            _flag(hygiene_until is not None, f"open until {format_time(hygiene_until)}" if hygiene_until else "no"),
        ),
        (
            "Task",
            escape(
                f"{task['taskText']} ({task['status']}, {task['points']} points"
                + (f", {task['durationSeconds']} s" if task.get("durationSeconds") else "")
                + ")"
            )
            if task
            else "-",
        ),
        ("Task points", escape(f"{lock.task_points} / {lock.task_points_required}")),
        ("Ended", _flag(lock.ended, "yes" if lock.ended else "no")),
    ]
    blockers = [b for items in lock.unlock_blockers.values() for b in items]
    if blockers:
        facts.append(("Unlock blockers", "<br>".join(escape(b) for b in blockers)))
    facts_html = "<table>" + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts) + "</table>"

    rows = []
    for entry in reversed(lock.history):
        color = entry.get("color")
        swatch = f'<span class="swatch" style="background:{escape(color)}"></span> ' if color else ""
        rows.append(
            "<tr>"
            f"<td>{escape(format_time(entry['at']))}</td>"
            f"<td>{escape(entry['type'])}</td>"
            f"<td>{escape(str(entry.get('role') or entry.get('source') or ''))}</td>"
            f"<td>{swatch}{escape(str(entry.get('title') or ''))}</td>"
            f"<td>{escape(str(entry.get('description') or ''))}</td>"
            f"<td>{escape(_details(entry))}</td>"
            "</tr>"
        )
    history = (
        "<table><tr><th>when</th><th>type</th><th>by</th><th>title</th><th>description</th><th>details</th></tr>"
        + "".join(rows)
        + "</table>"
        if rows
        else "<p>No history yet.</p>"
    )
    notes = [
        f"<li>{escape(format_time(n['at']))} to {escape(n['target'])}: <b>{escape(n['title'])}</b> "
        f"{escape(n['message'])}</li>"
        for n in reversed(lock.notifications)
    ]
    notes_html = f"<h2>Notifications</h2><ul>{''.join(notes)}</ul>" if notes else ""
    chart = (
        f"<h2>Time, the last {CHART_DAYS} days</h2>\n"
        f'<img class="chart" src="/sandbox/locks/{escape(lock.id)}/chart.png" width="1200" height="600" '
        f'alt="{escape(lock.title)}: time remaining over the last {CHART_DAYS} days">'
    )
    body = (
        f'<p><a href="/sandbox/">all locks</a> · now {escape(format_time(now))}</p>\n'
        f"<h1>{escape(lock.title)}</h1>\n{facts_html}\n{chart}\n<h2>History</h2>\n{history}\n{notes_html}"
    )
    return _page(f"{lock.title} - Chastify stand-in", body, refresh)
