"""The one small typed dispatcher between services, and the events they tell each other.

A service that has news publishes an event; whoever cares subscribes to its type (and unsubscribes when it goes
away: ``subscribe`` returns the function that does it). Handlers run in the order they subscribed, one after the
other; one handler failing is logged and never stops the others or the publisher. Nothing is assigned into another
object's attributes to be told something.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from bot.outcomes import SendResult
from bot.store.models import Link, OutboxEntry

log = logging.getLogger("bot.events")

E = TypeVar("E")
Handler = Callable[[E], Awaitable[None]]


@dataclass(frozen=True)
class OwnerNotice:
    """Tell the lock's owner something important (an uncertain action, a broken token, an ended lock)."""

    link: Link
    message: str


@dataclass(frozen=True)
class VotesCancelled:
    """These votes and boards of the link were cancelled in the database (safeword, unlink, lock gone, owner gone):
    their messages should say so."""

    link: Link
    vote_ids: list[int]
    reason: str


@dataclass(frozen=True)
class ActionFinished:
    """An outbox entry reached its end (or was queued again): ``result`` says how."""

    link: Link
    entry: OutboxEntry
    result: SendResult


@dataclass(frozen=True)
class LinkGone:
    """Chastify says the link's token no longer works ("broken") or its lock has ended ("ended")."""

    link: Link
    state: Literal["ended", "broken"]
    message: str


@dataclass(frozen=True)
class SettingsChanged:
    """A server's vote settings changed (its scheduled votes follow a new time zone: ``time_zone``)."""

    guild_id: int
    time_zone: bool = False


NewsKind = Literal["vote_opened", "vote_closed", "direct_action", "paused", "resumed", "veto_window"]


@dataclass(frozen=True)
class LockNews:
    """Something happened to a lock that the people who hold it may want to hear (``bot.notify`` decides who
    hears what, when and how). ``urgent`` news is never held for quiet hours."""

    lock_id: str
    guild_id: int
    kind: NewsKind
    text: str  # one or two sentences, markdown, already escaped where it quotes members
    url: str | None = None  # a link to the message it is about
    urgent: bool = False
    actor_id: int | None = None  # who did it (they are not told about their own doing)


class Events:
    def __init__(self) -> None:
        self._handlers: dict[type[Any], list[Handler[Any]]] = {}

    def subscribe(self, kind: type[E], handler: Handler[E]) -> Callable[[], None]:
        """Call ``handler`` with every event of type ``kind`` from now on. Returns the unsubscribe function."""
        self._handlers.setdefault(kind, []).append(handler)
        return lambda: self.unsubscribe(kind, handler)

    def unsubscribe(self, kind: type[E], handler: Handler[E]) -> None:
        handlers = self._handlers.get(kind, [])
        if handler in handlers:
            handlers.remove(handler)

    def subscribers(self, kind: type[Any]) -> int:
        return len(self._handlers.get(kind, []))

    async def publish(self, event: object) -> None:
        for handler in list(self._handlers.get(type(event), [])):
            try:
                await handler(event)
            except Exception:
                log.exception("a %s handler failed", type(event).__name__)
