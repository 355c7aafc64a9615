"""When a scheduled vote opens: a rule a member types, read in the server's time zone.

A rule is one of (words case-insensitive, ``on`` and ``at`` optional):

- ``daily 20:00`` / ``daily at 8:05``: every day at that local time;
- ``weekly sun 18:30`` / ``weekly on sunday at 18:30``: every week on that day (English names, 3 letters or full);
- ``once 2026-12-05 20:00`` / ``once on 2026-12-05 at 20:00``: one time, on that local date.

Times are 24-hour ``H:MM`` or ``HH:MM`` (0:00 to 23:59). :meth:`Rule.describe` writes a rule back in a form
:func:`parse_rule` reads (``weekly on Sunday at 18:30``).

The opening on a local date is the first instant at which the server's clock (IANA zone, ``UTC`` by default) shows
that date and time or later:

- a time that exists once opens then;
- a time that exists twice (the clocks go back) opens once, at its first occurrence;
- a time that does not exist (the clocks go forward over it) opens at the first instant after the gap: a rule for
  02:30 on the night of Europe's change to summer time opens at 03:00 local.

Days are local days, so a daily 20:00 opens at 20:00 local time on both sides of a clock change (23 or 25 hours
apart around it). :func:`next_opening` gives the first opening strictly after a given instant, or None when a
``once`` rule has passed. The zone name is checked where a member sets it (:func:`bot.notify.check_zone`); a
stored name the tz database no longer knows is read as UTC. Pure and stdlib only: no Discord, no storage.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import UserError
from bot.text import shown_text

RuleKind = Literal["once", "daily", "weekly"]
RULE_KINDS: tuple[RuleKind, ...] = get_args(RuleKind)

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_WEEKDAY_WORDS = {name.lower(): i for i, name in enumerate(WEEKDAYS)} | {
    name[:3].lower(): i for i, name in enumerate(WEEKDAYS)
}
ACCEPTED = (
    "A schedule is one of `daily 20:00`, `weekly sunday 18:30` or `once 2026-12-05 20:00` "
    "(24-hour time in the server's time zone)."
)
MAX_INPUT = 60
_SHOWN_MAX = 40
_TIME = re.compile(r"(\d{1,2}):(\d{2})", re.ASCII)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_SHAPES: dict[RuleKind, re.Pattern[str]] = {
    "daily": re.compile(r"daily (?:at )?(?P<time>\S+)"),
    "weekly": re.compile(r"weekly (?:on )?(?P<day>\S+) (?:at )?(?P<time>\S+)"),
    "once": re.compile(r"once (?:on )?(?P<date>\S+) (?:at )?(?P<time>\S+)"),
}
_SHAPE_HELP: dict[RuleKind, str] = {
    "daily": "After `daily` comes a time, e.g. `daily 20:00`.",
    "weekly": "After `weekly` come a day and a time, e.g. `weekly sunday 18:30`.",
    "once": "After `once` come a date and a time, e.g. `once 2026-12-05 20:00`.",
}


@dataclass(frozen=True)
class Rule:
    """When scheduled votes open: ``minute`` after local midnight (0..1439), on ``weekday`` (0 = Monday, weekly
    rules only) or on ``date`` (a local date, once rules only). ValueError on an inconsistent rule."""

    kind: RuleKind
    minute: int
    weekday: int | None = None
    date: dt.date | None = None

    def __post_init__(self) -> None:
        if self.kind not in RULE_KINDS:
            raise ValueError(f"a rule's kind is one of {', '.join(RULE_KINDS)}, not {self.kind!r}")
        if isinstance(self.minute, bool) or not isinstance(self.minute, int) or not 0 <= self.minute < 1440:
            raise ValueError(f"a rule's minute is a whole number from 0 to 1439, not {self.minute!r}")
        if (self.weekday is not None) != (self.kind == "weekly"):
            raise ValueError("a weekly rule, and only a weekly rule, has a weekday")
        if self.weekday is not None and (
            isinstance(self.weekday, bool) or not isinstance(self.weekday, int) or not 0 <= self.weekday <= 6
        ):
            raise ValueError(f"a weekday is a whole number from 0 (Monday) to 6 (Sunday), not {self.weekday!r}")
        if (self.date is not None) != (self.kind == "once"):
            raise ValueError("a once rule, and only a once rule, has a date")
        if self.date is not None and (isinstance(self.date, dt.datetime) or not isinstance(self.date, dt.date)):
            raise ValueError(f"a once rule's date is a date, not {self.date!r}")

    @property
    def clock(self) -> str:
        """The local time of day, ``HH:MM``."""
        return f"{self.minute // 60:02d}:{self.minute % 60:02d}"

    def describe(self) -> str:
        """``daily at 20:00``, ``weekly on Sunday at 18:30``, ``once on 2026-12-05 at 20:00``."""
        if self.kind == "weekly":
            return f"weekly on {WEEKDAYS[self.weekday or 0]} at {self.clock}"
        if self.kind == "once" and self.date is not None:
            return f"once on {self.date.isoformat()} at {self.clock}"
        return f"daily at {self.clock}"


def parse_rule(text: str) -> Rule:
    """The rule a member typed; UserError saying what was wrong and listing the accepted forms."""
    raw = " ".join(text.lower().split()) if isinstance(text, str) else ""
    if not raw:
        raise UserError(f"The schedule is empty. {ACCEPTED}")
    if len(raw) > MAX_INPUT:
        raise UserError(f"The schedule is too long ({len(raw)} characters, at most {MAX_INPUT}). {ACCEPTED}")
    word = raw.split(" ", 1)[0]
    if word not in RULE_KINDS:
        raise UserError(
            f'"{_shown(raw)}" is not a schedule I understand: it starts with daily, weekly or once. {ACCEPTED}'
        )
    kind: RuleKind = "daily" if word == "daily" else "weekly" if word == "weekly" else "once"
    match = _SHAPES[kind].fullmatch(raw)
    if match is None or any(value in ("at", "on") for value in match.groupdict().values()):
        raise UserError(f'"{_shown(raw)}" is not a schedule I understand. {_SHAPE_HELP[kind]} {ACCEPTED}')
    minute = _minute(match["time"])
    if kind == "weekly":
        return Rule("weekly", minute, weekday=_weekday(match["day"]))
    if kind == "once":
        return Rule("once", minute, date=_date(match["date"]))
    return Rule("daily", minute)


def _minute(text: str) -> int:
    match = _TIME.fullmatch(text)
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise UserError(f'"{_shown(text)}" is not a time of day: use 24-hour H:MM, from 0:00 to 23:59. {ACCEPTED}')
    return int(match[1]) * 60 + int(match[2])


def _weekday(text: str) -> int:
    day = _WEEKDAY_WORDS.get(text)
    if day is None:
        raise UserError(f'"{_shown(text)}" is not a day of the week: use Monday to Sunday, or mon to sun. {ACCEPTED}')
    return day


def _date(text: str) -> dt.date:
    try:
        if _DATE.fullmatch(text) is None:
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UserError(f'"{_shown(text)}" is not a date: use YYYY-MM-DD, e.g. 2026-12-05. {ACCEPTED}') from None


def _shown(text: str) -> str:
    """The member's text as it may be echoed in a refusal (``bot.text.shown_text``: one line, cut, escaped)."""
    return shown_text(text, _SHOWN_MAX)


def _zone(name: str) -> dt.tzinfo:
    if not name or name.upper() in ("UTC", "Z", "GMT"):
        return dt.UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # was valid when chosen; the tz database changed since
        return dt.UTC


def opening_on(rule: Rule, day: dt.date, zone: str) -> float:
    """When ``rule``'s time opens on the local date ``day`` (POSIX seconds): the first instant the clock in
    ``zone`` shows that date and time or later (see the module docstring for clock changes). Ignores the rule's
    weekday and date."""
    return _opening(day, rule.minute, _zone(zone))


def _opening(day: dt.date, minute: int, tz: dt.tzinfo) -> float:
    wall = dt.datetime.combine(day, dt.time(minute // 60, minute % 60))
    first = wall.replace(tzinfo=tz, fold=0).timestamp()  # an ambiguous time: its first occurrence
    if _wall(first, tz) == wall:
        return first
    # The time falls in a gap: fold 0 and fold 1 map it to instants on either side of the change. The opening is
    # the change itself, the first whole second whose wall time is past the gap.
    other = wall.replace(tzinfo=tz, fold=1).timestamp()
    low, high = int(min(first, other)), int(max(first, other)) + 1
    if _wall(low, tz) >= wall or _wall(high, tz) < wall:
        return first  # not a gap as expected (cannot happen with the tz database); keep fold 0's answer
    while high - low > 1:  # invariant: wall(low) < wall <= wall(high)
        middle = (low + high) // 2
        if _wall(middle, tz) >= wall:
            high = middle
        else:
            low = middle
    return float(high)


def _wall(instant: float, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.fromtimestamp(instant, tz).replace(tzinfo=None)


def next_opening(rule: Rule, after: float, zone: str) -> float | None:
    """The first opening of ``rule`` strictly after ``after`` (POSIX seconds), in POSIX seconds; None when a
    ``once`` rule's opening is not after ``after``. Wall times are read in the IANA ``zone``."""
    tz = _zone(zone)
    if rule.kind == "once":
        assert rule.date is not None
        opening = _opening(rule.date, rule.minute, tz)
        return opening if opening > after else None
    today = dt.datetime.fromtimestamp(after, tz).date()
    # Openings grow with the date, and the one on the day before today's local date may still lie after
    # ``after`` (a day longer than 24 hours); a week and two days always hold the next one.
    for offset in range(-1, 9):
        day = today + dt.timedelta(days=offset)
        if rule.kind == "weekly" and day.weekday() != rule.weekday:
            continue
        opening = _opening(day, rule.minute, tz)
        if opening > after:
            return opening
    raise AssertionError("no opening within nine days")  # pragma: no cover - every rule opens weekly at least
