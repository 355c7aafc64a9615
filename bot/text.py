"""Validation of free text members type (reasons, task texts): refuse, never silently rewrite."""

from __future__ import annotations

import unicodedata

# Characters that can hide or reorder text: bidi overrides/isolates and zero-width marks.
_HIDDEN = {
    "\u200b": "zero-width space", "\u200c": "zero-width non-joiner", "\u200d": "zero-width joiner",
    "\u2060": "word joiner", "\ufeff": "zero-width no-break space",
    "\u202a": "bidi embedding", "\u202b": "bidi embedding", "\u202c": "bidi pop",
    "\u202d": "bidi override", "\u202e": "bidi override", "\u2066": "bidi isolate",
    "\u2067": "bidi isolate", "\u2068": "bidi isolate", "\u2069": "bidi isolate",
    "\u200e": "direction mark", "\u200f": "direction mark", "\u061c": "direction mark",
}

REASON_MAX = 300
TASK_MAX = 1000


_MARKDOWN = set("\\*_~|`>#-[]()")


def escape_markdown(text: str) -> str:
    """Backslash every character Discord's markdown gives a meaning (like ``discord.utils.escape_markdown``,
    which ``bot/`` cannot import): what a member typed shows as typed, never bold, spoilers or links."""
    return "".join("\\" + c if c in _MARKDOWN else c for c in text)


class TextError(ValueError):
    """Raised with a message fit to show a member."""


def clean_text(value: str | None, *, field: str, max_len: int, required: bool = False,
               multiline: bool = False) -> str | None:
    """Return the stripped text, or None when empty and not required; raise TextError otherwise."""
    text = unicodedata.normalize("NFC", value or "").strip()
    if not text:
        if required:
            raise TextError(f"The {field} is empty. Write 1 to {max_len} characters.")
        return None
    if len(text) > max_len:
        raise TextError(f"The {field} is {len(text)} characters long; at most {max_len} are accepted.")
    for i, ch in enumerate(text):
        if ch == "\n" and multiline:
            continue
        if ch == "\u200d" and _joins_emoji(text, i):
            continue  # the zero-width joiner inside an emoji sequence such as a family or a flag
        category = unicodedata.category(ch)
        if ch in _HIDDEN or category == "Cf":
            what = _HIDDEN.get(ch, "an invisible formatting character")
            raise TextError(
                f"The {field} contains an invisible character ({what}, U+{ord(ch):04X}); remove it and try again."
            )
        if category in ("Cc", "Cs", "Co", "Cn"):
            raise TextError(
                f"The {field} contains a control or unassigned character (U+{ord(ch):04X}); "
                "only printable text is accepted."
            )
    return text


def _joins_emoji(text: str, i: int) -> bool:
    """True when the character at ``i`` sits between two emoji (pictographs, modifiers or the emoji selector)."""
    if i == 0 or i == len(text) - 1:
        return False

    def emoji_like(ch: str) -> bool:
        return unicodedata.category(ch) in ("So", "Sk") or ch == "\ufe0f"

    return emoji_like(text[i - 1]) and emoji_like(text[i + 1])
