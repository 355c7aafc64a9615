"""Client-side limiter for Chastify lock actions: a rolling window per (token fingerprint, lock).

Chastify allows 20 lock actions (actions, custom logs, notifications) per minute per API key and lock. The
limiter keeps the bot under that so the server's 429 is the exception, not the rule. Keys never contain a
token: use :func:`limiter_key`, which keeps only a sha256 prefix.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

_EPSILON = 1e-6


def token_fingerprint(token: str) -> str:
    """First 16 hex characters of the token's sha256: stable, not reversible, safe to keep in memory."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:16]


def limiter_key(token: str, lock_id: str | None) -> tuple[str, str]:
    return token_fingerprint(token), lock_id or "active"


class ActionLimiter:
    """At most ``per_minute`` acquisitions per key in any ``window`` seconds, plus server-imposed blocks
    (:meth:`note_rate_limited`). ``clock`` is monotonic seconds; ``sleep`` must advance it consistently."""

    def __init__(self, per_minute: int = 20, window: float = 60.0, clock: Clock = time.monotonic,
                 sleep: Sleep = asyncio.sleep) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        if window <= 0:
            raise ValueError("window must be positive")
        self.per_minute = per_minute
        self.window = float(window)
        self._clock = clock
        self._sleep = sleep
        self._events: dict[Hashable, deque[float]] = {}
        self._blocked_until: dict[Hashable, float] = {}

    def __repr__(self) -> str:
        return f"ActionLimiter(per_minute={self.per_minute}, window={self.window}, keys={len(self._events)})"

    def _prune(self, key: Hashable, now: float) -> deque[float] | None:
        events = self._events.get(key)
        if events is not None:
            horizon = now - self.window
            while events and events[0] <= horizon + _EPSILON:
                events.popleft()
            if not events:
                del self._events[key]
                events = None
        until = self._blocked_until.get(key)
        if until is not None and until <= now + _EPSILON:
            del self._blocked_until[key]
        return events

    def wait_time(self, key: Hashable, slots: int = 1) -> float:
        """Seconds until ``key`` has ``slots`` free slots (at most ``per_minute``); 0.0 when it has them now."""
        slots = max(1, min(slots, self.per_minute))
        now = self._clock()
        events = self._prune(key, now)
        wait = 0.0
        if events is not None and len(events) > self.per_minute - slots:
            wait = events[len(events) - self.per_minute + slots - 1] + self.window - now
        until = self._blocked_until.get(key)
        if until is not None:
            wait = max(wait, until - now)
        return wait if wait > _EPSILON else 0.0

    def remaining(self, key: Hashable) -> int:
        """Slots left in the current window (0 while a server block is in force)."""
        now = self._clock()
        events = self._prune(key, now)
        if key in self._blocked_until:
            return 0
        return max(0, self.per_minute - (len(events) if events is not None else 0))

    def try_acquire(self, key: Hashable) -> bool:
        """Take a slot now if one is free."""
        if self.wait_time(key) > 0:
            return False
        self._events.setdefault(key, deque()).append(self._clock())
        return True

    async def acquire(self, key: Hashable) -> None:
        """Wait until a slot is free, then take it."""
        while True:
            wait = self.wait_time(key)
            if wait <= 0:
                self._events.setdefault(key, deque()).append(self._clock())
                return
            await self._sleep(wait)

    def release(self, key: Hashable) -> None:
        """Give back the newest slot of ``key`` (a request that was never sent)."""
        events = self._events.get(key)
        if events:
            events.pop()
            if not events:
                del self._events[key]

    def note_rate_limited(self, key: Hashable, retry_after: float) -> None:
        """The server said 429: block ``key`` for ``retry_after`` seconds."""
        until = self._clock() + max(0.0, float(retry_after))
        self._blocked_until[key] = max(until, self._blocked_until.get(key, until))

    def purge(self) -> None:
        """Forget keys with no recent activity (call now and then in a long-running bot)."""
        now = self._clock()
        for key in list(self._events) + list(self._blocked_until):
            self._prune(key, now)
