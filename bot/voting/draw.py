"""The verifiable draw that closes a wheel vote: a committed seed, a tally, one winner anyone can recompute.

How it is used. When a wheel vote opens, the bot makes a secret seed (``new_seed``: 64 lowercase hex characters)
and shows only its commitment on the vote message: ``commitment(seed)``, the SHA-256 (hex) of the seed's 64 ASCII
characters. At the close it reveals the seed; the lock log records the winner, the tally and the seed
(``format_draw``). Anyone can then check that the seed matches the commitment shown while the vote was open, and
recompute the winner from the seed and the tally: ``python -m bot verify-draw SEED TALLY [--mode wheel|plurality]
[--commitment HASH]``, or by hand with the algorithm below.

Numbering. Options are indexed from 0 in their listed order (``Draw.winner``, ``Draw.candidates``); the text a
member reads numbers them from 1, as on the vote message. Tickets are numbered from 0: "ticket 7 of 9" is one of
0, 1, ..., 8.

The algorithm (``uniform(seed, n)``: a whole number in ``[0, n)``, deterministic, without modulo bias)::

    key = seed.encode("ascii")                       # the 64 hex characters themselves, not the 32 bytes
    limit = 2**64 - (2**64 % n)                      # the largest multiple of n that is <= 2**64
    for counter in 0, 1, 2, ...:
        block = hmac.new(key, b"draw" + counter.to_bytes(8, "big"), hashlib.sha256).digest()
        x = int.from_bytes(block[:8], "big")         # the first 8 bytes, big-endian: 0 <= x < 2**64
        if x < limit:                                # otherwise rejected: try the next counter
            return x % n

A rejection happens with probability ``(2**64 % n) / 2**64``, below 1e-17 for any real tally, so in practice the
first block (counter 0) decides.

The two modes (``draw(seed, tally, mode)``):

- ``wheel``: each ballot is a ticket. ``n`` is the total number of ballots, ``ticket = uniform(seed, n)``, and the
  winner is the option whose slice of the cumulative tally holds the ticket: the first ``i`` with
  ``ticket < tally[0] + ... + tally[i]``. With tally 5,3,1, tickets 0-4 pick option 1, 5-7 option 2, 8 option 3:
  each option wins with probability proportional to its votes. The candidates are the options with a vote.
- ``plurality``: the candidates are the options with the most votes. One candidate wins without a draw (no
  ticket). With several (a tie), ``n`` is their number, ``ticket = uniform(seed, n)``, and the winner is
  ``candidates[ticket]`` (candidates in their listed order).

Nobody voted (every count 0, in either mode): there is nothing to draw and no winner (``Draw.winner`` is None,
no ticket): nothing is applied and the caller says "nobody voted".

A tally has 2 to 6 options, each a whole number of votes >= 0. Pure and stdlib only: no Discord, no storage.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

Mode = Literal["plurality", "wheel"]
MODES: tuple[Mode, ...] = get_args(Mode)

MIN_OPTIONS = 2
MAX_OPTIONS = 6
SEED_BYTES = 32
_SEED_RE = re.compile(r"[0-9a-f]{64}")
_BLOCK_RANGE = 2**64


@dataclass(frozen=True)
class Draw:
    """What a draw decided. ``winner`` is an option index (0-based) or None when nobody voted; ``candidates`` are
    the indexes that could win; ``ticket`` is the number drawn in ``[0, out_of)``, both None when there was no draw
    (a single plurality leader, or nobody voted)."""

    winner: int | None
    mode: Mode
    seed: str
    tally: tuple[int, ...]
    candidates: tuple[int, ...]
    ticket: int | None = None
    out_of: int | None = None


def new_seed() -> str:
    """A fresh secret seed: 32 random bytes as 64 lowercase hex characters."""
    return secrets.token_hex(SEED_BYTES)


def check_seed(seed: object) -> str:
    """The seed as the draw uses it: surrounding spaces dropped, hex letters lowered; ValueError unless it is then
    exactly 64 hex characters."""
    if not isinstance(seed, str):
        raise ValueError(f"the seed must be text (64 hex characters), not {type(seed).__name__}")
    text = seed.strip().lower()
    if not _SEED_RE.fullmatch(text):
        problem = f"it has {len(text)} characters" if len(text) != 64 else "it has characters other than 0-9, a-f"
        raise ValueError(f"the seed must be exactly 64 hex characters (0-9, a-f): {problem}")
    return text


def commitment(seed: str) -> str:
    """The SHA-256 (64 lowercase hex characters) of the seed's ASCII text: what the vote message shows while the
    vote is open, before the seed is revealed."""
    return hashlib.sha256(check_seed(seed).encode("ascii")).hexdigest()


def uniform(seed: str, n: int) -> int:
    """A whole number in ``[0, n)`` from the seed, every value equally likely (rejection sampling over 64-bit
    blocks of HMAC-SHA256; the module docstring has the exact steps). ``n`` is 1 to 2**64."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= _BLOCK_RANGE:
        raise ValueError(f"a draw needs a range of 1 to 2**64 values, not {n!r}")
    key = check_seed(seed).encode("ascii")
    limit = _BLOCK_RANGE - _BLOCK_RANGE % n
    counter = 0
    while True:
        block = hmac.new(key, b"draw" + counter.to_bytes(8, "big"), hashlib.sha256).digest()
        x = int.from_bytes(block[:8], "big")
        if x < limit:
            return x % n
        counter += 1


def check_tally(tally: Sequence[int]) -> tuple[int, ...]:
    """The tally as a tuple; ValueError unless it has 2 to 6 options, each a whole number of votes >= 0."""
    if isinstance(tally, str | bytes) or not isinstance(tally, Sequence):
        raise ValueError(f"a tally is a list of {MIN_OPTIONS} to {MAX_OPTIONS} vote counts, not {tally!r}")
    if not MIN_OPTIONS <= len(tally) <= MAX_OPTIONS:
        raise ValueError(f"a tally has {MIN_OPTIONS} to {MAX_OPTIONS} options, not {len(tally)}")
    for i, count in enumerate(tally):
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"option {i + 1}'s count must be a whole number of votes >= 0, not {count!r}")
    return tuple(tally)


def draw(seed: str, tally: Sequence[int], mode: Mode) -> Draw:
    """The winner of a wheel vote (see the module docstring for the rules); deterministic in seed, tally, mode."""
    seed = check_seed(seed)
    counts = check_tally(tally)
    if mode not in MODES:
        raise ValueError(f"the mode is one of {', '.join(MODES)}, not {mode!r}")
    total = sum(counts)
    if total == 0:
        return Draw(None, mode, seed, counts, ())
    if mode == "wheel":
        ticket = uniform(seed, total)
        candidates = tuple(i for i, c in enumerate(counts) if c > 0)
        upper = 0
        for i, count in enumerate(counts):
            upper += count
            if ticket < upper:
                return Draw(i, mode, seed, counts, candidates, ticket, total)
        raise AssertionError("unreachable: the ticket is below the total")  # pragma: no cover
    top = max(counts)
    leaders = tuple(i for i, c in enumerate(counts) if c == top)
    if len(leaders) == 1:
        return Draw(leaders[0], mode, seed, counts, leaders)
    ticket = uniform(seed, len(leaders))
    return Draw(leaders[ticket], mode, seed, counts, leaders, ticket, len(leaders))


def parse_tally(text: str) -> list[int]:
    """A tally as the CLI and the lock log write it: counts separated by commas and/or spaces ("5,3,0",
    "5 3 0", "5, 3, 0"); ValueError saying what is wrong and what is accepted."""
    accepted = f'{MIN_OPTIONS} to {MAX_OPTIONS} vote counts separated by commas or spaces, e.g. "5,3,0"'
    stripped = text.strip()
    if not stripped:
        raise ValueError(f"the tally is empty: write {accepted}")
    parts = [p.strip() for p in re.split(r"\s*,\s*|\s+", stripped)]
    counts: list[int] = []
    for part in parts:
        if not part:
            raise ValueError(f"the tally {text!r} has an empty count (two commas in a row?): write {accepted}")
        if not part.isascii() or not part.isdigit():
            raise ValueError(f"{part!r} in the tally is not a whole number of votes >= 0: write {accepted}")
        counts.append(int(part))
    check_tally(counts)
    return counts


def format_tally(tally: Sequence[int]) -> str:
    return ",".join(str(c) for c in tally)


def _options(indexes: Sequence[int]) -> str:
    return ", ".join(str(i + 1) for i in indexes)


def format_draw(d: Draw) -> str:
    """One line for the lock log and the vote message, options numbered from 1, e.g.
    ``wheel draw: ticket 7 of 9 → option 2 (tally 5,3,1; seed <hex>)``."""
    tail = f"(tally {format_tally(d.tally)}; seed {d.seed})"
    if d.winner is None:
        return f"{d.mode}: nobody voted, nothing applied {tail}"
    if d.ticket is None:
        return f"plurality: option {d.winner + 1} has the most votes, no draw {tail}"
    if d.mode == "wheel":
        return f"wheel draw: ticket {d.ticket} of {d.out_of} → option {d.winner + 1} {tail}"
    return (f"plurality tie between options {_options(d.candidates)} drawn: ticket {d.ticket} of {d.out_of} "
            f"→ option {d.winner + 1} {tail}")


def verify_command(d: Draw) -> str:
    """The command anyone can run to recompute the draw."""
    return f"python -m bot verify-draw {d.seed} {format_tally(d.tally)} --mode {d.mode}"
