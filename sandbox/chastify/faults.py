"""Injectable faults: latency, errors before/after applying, dropped connections, forced 429s."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Faults:
    """Mutable at runtime from any thread (plain attributes, read once per request)."""

    latency: tuple[float, float] = (0.0, 0.0)  # uniform random delay (seconds) before handling
    error_rate: float = 0.0  # answer 500 BEFORE applying: nothing changes
    error_after_apply_rate: float = 0.0  # apply the write, then answer 502: outcome unknown to the client
    drop_after_apply_rate: float = 0.0  # apply the write, then drop the connection without a response
    force_429: int = 0  # the next N API requests get 429 with Retry-After: retry_after_429
    retry_after_429: int = 1
    seed: int | None = None  # for a reproducible random.Random

    def clear(self) -> None:
        """Back to no faults (keeps the seed)."""
        self.latency = (0.0, 0.0)
        self.error_rate = 0.0
        self.error_after_apply_rate = 0.0
        self.drop_after_apply_rate = 0.0
        self.force_429 = 0
        self.retry_after_429 = 1


@dataclass
class FaultDice:
    """The random source behind ``Faults``; reseeds when ``Faults.seed`` changes."""

    _rng: random.Random = field(default_factory=random.Random)
    _seed: Any = None

    def _sync(self, faults: Faults) -> random.Random:
        if faults.seed is not None and faults.seed != self._seed:
            self._rng = random.Random(faults.seed)
            self._seed = faults.seed
        return self._rng

    def roll(self, faults: Faults, probability: float) -> bool:
        if probability <= 0.0:
            return False
        rng = self._sync(faults)
        return probability >= 1.0 or rng.random() < probability

    def delay(self, faults: Faults) -> float:
        lo, hi = faults.latency
        if hi <= 0.0 and lo <= 0.0:
            return 0.0
        rng = self._sync(faults)
        return max(0.0, rng.uniform(lo, max(lo, hi)))
