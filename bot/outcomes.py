"""How one action ended, as the outbox reports it to whoever asked (a command, a vote, a board)."""

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
