"""A rolling-window rate limiter driven by the stand-in's clock."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Hashable

WINDOW_SECONDS = 60.0


class RollingWindow:
    """At most ``limit`` hits per key in any rolling ``window`` seconds."""

    def __init__(self, window: float = WINDOW_SECONDS) -> None:
        self.window = window
        self._hits: dict[Hashable, deque[float]] = {}

    def hit(self, key: Hashable, limit: int, now: float) -> int | None:
        """Count one hit. Returns None when allowed, else the whole seconds to wait (>= 1), not counting it."""
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= limit:
            return max(1, math.ceil(hits[0] + self.window - now))
        hits.append(now)
        return None

    def reset(self) -> None:
        self._hits.clear()
