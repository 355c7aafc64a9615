"""The one duration parser used by every command and option.

Accepted forms: ``90`` (seconds), ``90s``, ``15m``, ``1h30m``, ``2d``, ``1w``, combinations such as
``1d 2h``, and clock form ``1:30:00`` (hours:minutes:seconds). Only ASCII digits are read.
"""

from __future__ import annotations

import re

from bot.text import invisible_character

ACCEPTED_FORMS = "`90` (seconds), `90s`, `15m`, `1h30m`, `2d`, `1w` or `1:30:00`"

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_UNIT_WORDS = {
    "sec": "s", "secs": "s", "second": "s", "seconds": "s",
    "min": "m", "mins": "m", "minute": "m", "minutes": "m",
    "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
    "day": "d", "days": "d", "week": "w", "weeks": "w",
}
_PART = re.compile(r"(\d{1,9})\s*([a-z]+)", re.ASCII)
_CLOCK = re.compile(r"(\d{1,4}):([0-5]\d):([0-5]\d)", re.ASCII)
_PLAIN = re.compile(r"\d{1,9}", re.ASCII)
MAX_INPUT = 40


class DurationError(ValueError):
    """Raised with a message fit to show a member: what was wrong and what is accepted."""


_SHOWN_MAX = 40  # characters of the member's input echoed back in a refusal


def _fail(why: str) -> DurationError:
    return DurationError(f"{why} Use a duration like {ACCEPTED_FORMS}.")


# the words that mean "none" where a duration may be zero (a limit that allows none, a cooldown that is off)
ZERO_WORDS = frozenset({"0", "none", "off"})


def parse_duration_or_zero(text: str | None, *, maximum: int | None = None, minimum: int = 1,
                           empty_is_zero: bool = False) -> int:
    """Like :func:`parse_duration`, but one of :data:`ZERO_WORDS` (or, with ``empty_is_zero``, nothing) is 0."""
    raw = (text or "").strip().lower()
    if raw in ZERO_WORDS or (empty_is_zero and not raw):
        return 0
    return parse_duration(raw, maximum=maximum, minimum=minimum)


def parse_duration(text: str, *, maximum: int | None = None, minimum: int = 1) -> int:
    """Parse ``text`` into whole seconds, refusing zero, negatives, garbage and values out of range."""
    raw = text.strip().lower() if isinstance(text, str) else ""
    if not raw:
        raise _fail("The duration is empty.")
    if len(raw) > MAX_INPUT:
        raise _fail(f"The duration is too long ({len(raw)} characters).")
    if raw.startswith("-"):
        raise _fail("The duration cannot be negative.")
    seconds = _parse(raw)
    if seconds is None:
        raise _fail(f"`{_shown(raw)}` is not a duration I understand.")
    if seconds <= 0:
        raise _fail("The duration must be more than zero.")
    if seconds < minimum:
        raise DurationError(f"The duration must be at least {format_duration(minimum)}.")
    if maximum is not None and seconds > maximum:
        raise DurationError(
            f"{format_duration(seconds)} is more than the most this action allows ({format_duration(maximum)})."
        )
    return seconds


def _shown(raw: str) -> str:
    """The input as it may be echoed inside a code span: invisible characters spelled out, no backtick that
    could close the span (so no markdown or mention renders)."""
    visible = raw.isprintable() and invisible_character(raw, allow_emoji_joiner=False) is None
    shown = raw if visible else raw.encode("unicode_escape").decode("ascii")
    shown = shown.replace("`", "'")
    return shown if len(shown) <= _SHOWN_MAX else shown[:_SHOWN_MAX - 1] + "…"  # spelled out, it can grow 10x


def _parse(raw: str) -> int | None:
    if _PLAIN.fullmatch(raw):
        return int(raw)
    clock = _CLOCK.fullmatch(raw)
    if clock:
        h, m, s = (int(g) for g in clock.groups())
        return h * 3600 + m * 60 + s
    total = 0
    pos = 0
    seen: set[str] = set()
    compact = raw.replace(",", " ")
    while pos < len(compact):
        if compact[pos] == " ":
            pos += 1
            continue
        match = _PART.match(compact, pos)
        if not match:
            return None
        number, unit = match.groups()
        unit = _UNIT_WORDS.get(unit, unit)
        if unit not in _UNITS or unit in seen:
            return None
        seen.add(unit)
        total += int(number) * _UNITS[unit]
        pos = match.end()
    return total if seen else None


def format_duration(seconds: int | float) -> str:
    """``5400`` -> ``1h 30m``; ``0`` -> ``0s``. Negative values get a leading minus."""
    value = int(seconds)
    sign = "-" if value < 0 else ""
    value = abs(value)
    parts = []
    for name, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if value >= size:
            count, value = divmod(value, size)
            parts.append(f"{count}{name}")
    return sign + (" ".join(parts) if parts else "0s")


def format_signed(seconds: int) -> str:
    """``3600`` -> ``+1h``; ``-900`` -> ``-15m``; ``0`` -> ``0s`` (no change has no sign)."""
    return ("+" if seconds > 0 else "") + format_duration(seconds)


SHARE_MAX = 90  # a reminder at 90 % of the window left is the earliest that still means "closing soon"
_SHARE = re.compile(r"(\d{1,2})\s*%?", re.ASCII)


def parse_share(text: str) -> float:
    """A share of a vote's window, as a member types it: ``10%`` or ``10`` (percent), or one of
    :data:`ZERO_WORDS` for none. Returns a fraction (0.1); raises :class:`DurationError` saying what is accepted."""
    raw = text.strip().lower() if isinstance(text, str) else ""
    if raw in ZERO_WORDS:
        return 0.0
    match = _SHARE.fullmatch(raw)
    if match is None or not 1 <= int(match[1]) <= SHARE_MAX:
        raise DurationError(f"`{_shown(raw)}` is not a share of the window. Use a percentage from 1% to {SHARE_MAX}%, "
                            "e.g. `10%` (the last tenth of the window), or `off`.")
    return int(match[1]) / 100
