"""Read-only HTML views of the stand-in's locks (for the demo). Everything shown is html-escaped."""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any

from .state import FakeLock

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; margin-top: 1rem; }
th, td { border: 1px solid #ccc; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.on { color: #b00; font-weight: bold; } .off { color: #777; }
.swatch { display: inline-block; width: .8em; height: .8em; border: 1px solid #999; }
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
    body = (
        f'<p><a href="/sandbox/">all locks</a> · now {escape(format_time(now))}</p>\n'
        f"<h1>{escape(lock.title)}</h1>\n{facts_html}\n<h2>History</h2>\n{history}\n{notes_html}"
    )
    return _page(f"{lock.title} - Chastify stand-in", body, refresh)
