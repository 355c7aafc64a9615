"""The one notion of "now" the core uses: epoch seconds from an injectable callable.

The real bot passes a clock that follows discord's (and so simcord's virtual) time; tests pass their own.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]


def system_clock() -> float:
    return time.time()
