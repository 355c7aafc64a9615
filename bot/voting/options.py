"""The options of a wheel vote: what a member types, how each option reads, how the list is stored.

A wheel vote has 2 to 6 options (``MIN_OPTIONS``/``MAX_OPTIONS`` of :mod:`bot.voting.draw`). A member types them
in one text, separated by ``,`` or ``;`` or ``|``, e.g. ``+30m, +2h, freeze 1h, pillory 10m, nothing``. Each
option is one of (words case-insensitive, spaces around and between words ignored):

- ``+DURATION`` or ``add DURATION``: add time; ``-DURATION`` or ``remove DURATION``: remove time;
- ``freeze DURATION``, or ``freeze`` alone (Chastify's default, 1 h); ``unfreeze``;
- ``pillory DURATION``;
- ``nothing``, ``none`` or ``no change``: the wheel may land on no change at all (``WheelOption.action`` is None).

A duration is anything :func:`bot.durations.parse_duration` reads (``30m``, ``1h30m``, ``2d``...), within the
kind's hard bounds (:data:`bot.actions.DURATION_BOUNDS`); the owner's own limits are judged later, when the winner
is applied. Tasks and every other kind are not wheel options.

Refused, with a message naming the option and saying what is accepted: fewer than 2 or more than 6 options, an
empty option (``+1h,,+2h`` or a trailing separator), an unknown word, a missing, bad or out-of-bounds duration,
and the same option twice (compared by how they read: ``+1h`` and ``+60m`` are the same).

Stored as JSON (:func:`options_to_json`): a list with one entry per option, the action's JSON
(:meth:`bot.actions.Action.to_json`) or ``null`` for nothing. Reading it back (:func:`options_from_json`) checks
only the shape, never the wheel's rules: a stored vote is not refused by a rule newer than the vote.
No Discord here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from bot.actions import DURATION_BOUNDS, Action, ActionKind
from bot.durations import DurationError, parse_duration
from bot.errors import UserError
from bot.text import shown_text
from bot.voting.draw import MAX_OPTIONS, MIN_OPTIONS

ACCEPTED = (
    "Each option is one of `+30m`, `-1h`, `freeze 1h`, `freeze` (1h), `unfreeze`, `pillory 10m` or `nothing`; "
    f"give {MIN_OPTIONS} to {MAX_OPTIONS} options separated by commas."
)
MAX_INPUT = 400  # characters of the whole text: 6 options of 40-character durations, with room for spaces
_SHOWN_MAX = 40  # characters of an option echoed back in a refusal
_SEPARATORS = re.compile(r"[,;|]")
NOTHING_WORDS = frozenset({"nothing", "none", "no change"})
_WORD_KINDS = {
    "add": ActionKind.ADD_TIME,
    "remove": ActionKind.REMOVE_TIME,
    "freeze": ActionKind.FREEZE,
    "pillory": ActionKind.PILLORY,
}
_SIGN_KINDS = {"+": ActionKind.ADD_TIME, "-": ActionKind.REMOVE_TIME}
_STORED: TypeAdapter[list[Action | None]] = TypeAdapter(list[Action | None])


@dataclass(frozen=True)
class WheelOption:
    """One option of a wheel vote: a lock action, or None for "nothing" (the wheel landing there applies nothing)."""

    action: Action | None

    @property
    def label(self) -> str:
        """How the option reads on the vote message and in the log: ``+30m``, ``freeze (1h default)``, ``nothing``."""
        return self.action.summary() if self.action is not None else "nothing"

    @property
    def typed(self) -> str:
        """The option as a member would type it; :func:`parse_options` reads it back to the same option."""
        if self.action is not None and self.action.kind is ActionKind.FREEZE and self.action.seconds is None:
            return "freeze"
        return self.label

    def to_json_obj(self) -> dict[str, Any] | None:
        """The option as a JSON value: the action's fields (as :meth:`Action.to_json`) or None for nothing."""
        if self.action is None:
            return None
        data: dict[str, Any] = json.loads(self.action.to_json())
        return data

    @classmethod
    def from_json_obj(cls, data: dict[str, Any] | None) -> WheelOption:
        """The option :meth:`to_json_obj` made; ValueError (pydantic's ValidationError) on a malformed action."""
        return cls(None if data is None else Action.from_json(json.dumps(data)))


def parse_options(text: str) -> list[WheelOption]:
    """The options a member typed, in order; UserError saying what was wrong and what is accepted."""
    raw = text.strip() if isinstance(text, str) else ""
    if not raw:
        raise UserError(f"No options were given. {ACCEPTED}")
    if len(raw) > MAX_INPUT:
        raise UserError(f"The options are too long ({len(raw)} characters, at most {MAX_INPUT}). {ACCEPTED}")
    parts = _SEPARATORS.split(raw)
    if not MIN_OPTIONS <= len(parts) <= MAX_OPTIONS:
        raise UserError(f"A wheel needs {MIN_OPTIONS} to {MAX_OPTIONS} options, not {len(parts)}. {ACCEPTED}")
    options = [WheelOption(_parse_one(part, number)) for number, part in enumerate(parts, start=1)]
    seen: dict[str, int] = {}
    for number, (option, part) in enumerate(zip(options, parts, strict=True), start=1):
        first = seen.setdefault(option.label, number)
        if first != number:
            raise UserError(
                f"Option {number} ({_shown(part)}) is the same as option {first} ({option.label}). "
                "Each option must be different."
            )
    return options


def parse_option(part: str, number: int = 1) -> Action | None:
    """One option as a member typed it: its action, or None for "nothing"; UserError naming it as option
    ``number``."""
    return _parse_one(part, number)


def _parse_one(part: str, number: int) -> Action | None:
    text = " ".join(part.lower().split())
    if not text:
        raise UserError(f"Option {number} is empty (two separators in a row, or one at the end). {ACCEPTED}")
    if text in NOTHING_WORDS:
        return None
    if text == "unfreeze":
        return Action(kind=ActionKind.UNFREEZE)
    if text == "freeze":
        return Action(kind=ActionKind.FREEZE)
    if text[0] in _SIGN_KINDS:
        kind, rest = _SIGN_KINDS[text[0]], text[1:]
    else:
        word, _, rest = text.partition(" ")
        if word not in _WORD_KINDS:
            if word in ("unfreeze", *NOTHING_WORDS) or text.startswith("no change "):
                raise UserError(f"Option {number} ({_shown(part)}) takes no duration. {ACCEPTED}")
            raise UserError(f"Option {number} ({_shown(part)}) is not something a wheel can do. {ACCEPTED}")
        kind = _WORD_KINDS[word]
    if not rest.strip():
        raise UserError(f"Option {number} ({_shown(part)}) needs a duration, e.g. `{_example(kind)}`. {ACCEPTED}")
    low, high = DURATION_BOUNDS[kind]
    try:
        seconds = parse_duration(rest, minimum=low, maximum=high)
    except DurationError as err:
        raise UserError(f"Option {number} ({_shown(part)}): {err}") from None
    return Action(kind=kind, seconds=seconds)


def _example(kind: ActionKind) -> str:
    return {ActionKind.ADD_TIME: "+30m", ActionKind.REMOVE_TIME: "-1h", ActionKind.FREEZE: "freeze 1h"}.get(
        kind, "pillory 10m"
    )


def _shown(text: str) -> str:
    """The member's text as it may be echoed in a refusal (``bot.text.shown_text``: one line, cut, escaped)."""
    return shown_text(text, _SHOWN_MAX)


def format_options(options: Sequence[WheelOption]) -> str:
    """One line for the vote message, numbered from 1: ``1. +30m · 2. +2h · 3. nothing``."""
    return " · ".join(f"{number}. {option.label}" for number, option in enumerate(options, start=1))


def options_text(options: Sequence[WheelOption]) -> str:
    """The options as a member would type them (``+30m, freeze, nothing``); :func:`parse_options` reads it back."""
    return ", ".join(option.typed for option in options)


def options_to_json(options: Sequence[WheelOption]) -> str:
    """The options as stored: a JSON list of actions (``null`` for nothing)."""
    return "[" + ",".join("null" if o.action is None else o.action.to_json() for o in options) + "]"


def options_from_json(text: str) -> list[WheelOption]:
    """The options :func:`options_to_json` stored; ValueError (pydantic's ValidationError) when malformed."""
    return [WheelOption(action) for action in _STORED.validate_json(text)]
