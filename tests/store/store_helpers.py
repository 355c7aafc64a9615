"""Shared helpers for the store tests (imported by conftest.py and the test modules)."""

from __future__ import annotations

LOCK_A = "0123456789abcdef01234567"
LOCK_B = "fedcba9876543210fedcba98"


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
