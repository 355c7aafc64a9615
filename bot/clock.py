"""The one notion of "now" the core uses: epoch seconds from an injectable callable.

The real bot passes a clock that follows discord's (and so simcord's virtual) time; tests pass their own.
"""

from __future__ import annotations

from collections.abc import Callable

Clock = Callable[[], float]
