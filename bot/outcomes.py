"""How things end, in words and values: one action (as the outbox reports it to whoever asked: a command, a vote,
a board), and a vote the bot cancels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.chastify import Session

Status = Literal["pending", "done", "failed", "uncertain", "cancelled", "refused"]


@dataclass(frozen=True)
class SendResult:
    entry_id: int
    status: Status
    message: str
    retry_after: float | None = None
    session: Session | None = None

    @property
    def applied(self) -> bool:
        return self.status == "done"


def cancelled_text(reason: str) -> str:
    """How a vote cancelled by the bot reads: ``Cancelled: this lock has ended on Chastify.`` (one sentence
    start, one full stop, whatever the reason's own casing and punctuation)."""
    why = reason.strip().rstrip(".")
    if why[:1].isupper() and not why[1:2].isupper():
        why = why[0].lower() + why[1:]
    return f"Cancelled: {why}."
