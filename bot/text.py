"""Validation of free text members type (reasons, task texts, proposal texts): refuse, never silently rewrite.

:func:`clean_text` is the one gate for such text (the cogs call it on every option a member types, and
:class:`bot.actions.Action` calls :func:`check_visible` on the reason and task text of every action it is built
with). :func:`invisible_character` is what both use to find characters that hide or fake text.
"""

from __future__ import annotations

import re
import unicodedata

from bot.errors import UserError

# Characters that can hide or reorder text: bidi overrides/isolates and zero-width marks (all category Cf).
_HIDDEN = {
    "\u200b": "zero-width space", "\u200c": "zero-width non-joiner", "\u200d": "zero-width joiner",
    "\u2060": "word joiner", "\ufeff": "zero-width no-break space",
    "\u202a": "bidi embedding", "\u202b": "bidi embedding", "\u202c": "bidi pop",
    "\u202d": "bidi override", "\u202e": "bidi override", "\u2066": "bidi isolate",
    "\u2067": "bidi isolate", "\u2068": "bidi isolate", "\u2069": "bidi isolate",
    "\u200e": "direction mark", "\u200f": "direction mark", "\u061c": "direction mark",
    "\u00ad": "soft hyphen",
    # Not category Cf, yet blank or invisible where Discord and Chastify show them: a text made of them looks
    # empty, and one inside a word hides a difference.
    "\u2028": "line separator", "\u2029": "paragraph separator",
    "\u3164": "Hangul filler", "\uffa0": "halfwidth Hangul filler", "\u115f": "Hangul choseong filler",
    "\u1160": "Hangul jungseong filler", "\u2800": "braille blank", "\u034f": "combining grapheme joiner",
}
# Categories refused anywhere: format characters (Cf), line and paragraph separators (Zl, Zp).
_INVISIBLE_CATEGORIES = ("Cf", "Zl", "Zp")

REASON_MAX = 300
TASK_MAX = 1000

_ACCEPTED = "letters, digits, punctuation, spaces{} and emoji"

_MARKDOWN = set("\\*_~|`[]()")  # meaningful anywhere
_LINE_MARKS = set(">#-")  # quotes, headings, list items: meaningful only at a line's start
_LINE_START = re.compile(r"^([ \t]*)([>#-])", re.M)


def escape_markdown(text: str, *, everywhere: bool = False) -> str:
    """Backslash every character Discord's markdown gives a meaning: what a member typed shows as typed, never
    bold, spoilers, code, headings, quotes, list items or masked links (``[text](url)``: brackets and parentheses
    are escaped). The one markdown escaper of the bot (the cogs use it too). ``>``, ``#`` and ``-`` mean something
    only at a line's start, so elsewhere they stay as typed (a mention ``<@id>`` keeps its ``>``), unless
    ``everywhere``."""
    escaped = "".join("\\" + c if c in _MARKDOWN or (everywhere and c in _LINE_MARKS) else c for c in text)
    return escaped if everywhere else _LINE_START.sub(lambda m: f"{m.group(1)}\\{m.group(2)}", escaped)


def shown_text(text: str, limit: int) -> str:
    """Stored text (a member's reason or task, a server's message) for one line of a Discord message: invisible
    and control characters dropped, line breaks and runs of spaces made one space, cut to ``limit`` characters
    and THEN markdown-escaped, so a cut never splits an escape and nothing renders as markdown or a link."""
    plain = "".join(" " if ch.isspace() else ch for ch in text
                    if ch.isspace() or not (is_invisible(ch) or unicodedata.category(ch) in ("Cc", "Cs", "Co")))
    plain = " ".join(plain.split())
    if len(plain) > limit:
        plain = plain[:max(0, limit - 1)].rstrip() + "…"
    return escape_markdown(plain, everywhere=True)  # a line cut or joined from several: escape every mark


class TextError(UserError):
    """Raised with a message fit to show a member. A UserError, not a ValueError: raised inside a pydantic
    validator (``bot.actions.Action``) it reaches the member as it is, not wrapped in a ValidationError."""


def invisible_character(text: str, *, allow_emoji_joiner: bool = True) -> tuple[int, str] | None:
    """The first character of ``text`` that is invisible or format-only, as ``(index, description)``, else None.

    Invisible: Unicode categories Cf (zero-width and bidi marks, tags, the soft hyphen...), Zl and Zp (line and
    paragraph separators), and blank fillers that print as nothing (U+3164 Hangul filler and its kin, U+2800
    braille blank, U+034F). The zero-width joiner inside an emoji sequence (a family, a flag) is allowed."""
    for i, ch in enumerate(text):
        if ch in _HIDDEN or unicodedata.category(ch) in _INVISIBLE_CATEGORIES:
            if ch == "\u200d" and allow_emoji_joiner and _joins_emoji(text, i):
                continue
            return i, _HIDDEN.get(ch) or _category_name(ch)
    return None


def is_invisible(ch: str) -> bool:
    """True for one character :func:`invisible_character` refuses (the emoji joiner included)."""
    return ch in _HIDDEN or unicodedata.category(ch) in _INVISIBLE_CATEGORIES


def _category_name(ch: str) -> str:
    category = unicodedata.category(ch)
    if category == "Zl":
        return "a line separator"
    if category == "Zp":
        return "a paragraph separator"
    return "an invisible formatting character"


def check_visible(text: str, *, field: str, multiline: bool = False) -> None:
    """Raise TextError when ``text`` has an invisible, control or unassigned character; the message names the
    character and says what is accepted. Nothing is stripped or rewritten."""
    _refuse_invisible(text, field=field, multiline=multiline)
    for ch in text:
        if ch == "\n" and multiline:
            continue
        if unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn"):
            raise TextError(
                f"The {field} contains a control or unassigned character (U+{ord(ch):04X}). Only printable text "
                f"is accepted: {_accepted(multiline)}. Remove it and try again; nothing was changed."
            )


def _refuse_invisible(text: str, *, field: str, multiline: bool) -> None:
    found = invisible_character(text)
    if found is not None:
        i, what = found
        raise TextError(
            f"The {field} contains an invisible character ({what}, U+{ord(text[i]):04X}). Only visible text is "
            f"accepted: {_accepted(multiline)}. Remove it and try again; nothing was changed."
        )


def _accepted(multiline: bool) -> str:
    return _ACCEPTED.format(", line breaks" if multiline else "")


def clean_text(value: str | None, *, field: str, max_len: int, required: bool = False,
               multiline: bool = False) -> str | None:
    """Return the text with its surrounding whitespace stripped, or None when empty and not required; raise
    TextError otherwise.

    Refused, with a message that says what was wrong and what is accepted: text longer than ``max_len``, text
    with an invisible character anywhere (see :func:`invisible_character`; never stripped silently), text with a
    control character, and text made of nothing but invisible characters and spaces, which is empty."""
    text = unicodedata.normalize("NFC", value or "")
    if all(ch.isspace() or is_invisible(ch) for ch in text):
        first = next((ch for ch in text if is_invisible(ch)), None)
        if first is not None:
            what = _HIDDEN.get(first) or _category_name(first)
            raise TextError(
                f"The {field} is empty: it has only invisible characters ({what}, U+{ord(first):04X}). "
                f"Write 1 to {max_len} visible characters" + ("" if required else ", or leave it out") + "."
            )
        if required:
            raise TextError(f"The {field} is empty. Write 1 to {max_len} characters.")
        return None
    stripped = text.strip()
    if len(stripped) > max_len:
        raise TextError(f"The {field} is {len(stripped)} characters long; at most {max_len} are accepted.")
    _refuse_invisible(text, field=field, multiline=multiline)  # also at either end: never stripped silently
    check_visible(stripped, field=field, multiline=multiline)
    return stripped


def _joins_emoji(text: str, i: int) -> bool:
    """True when the character at ``i`` sits between two emoji (pictographs, modifiers or the emoji selector)."""
    if i == 0 or i == len(text) - 1:
        return False

    def emoji_like(ch: str) -> bool:
        return unicodedata.category(ch) in ("So", "Sk") or ch == "\ufe0f"

    return emoji_like(text[i - 1]) and emoji_like(text[i + 1])


def message_url(guild_id: int, channel_id: int, message_id: int) -> str:
    """The link that opens a Discord message (the same as ``discord.Message.jump_url``)."""
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"
