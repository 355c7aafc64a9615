"""The tests' clocks: one fake clock for everything that takes a clock, and the clock the stand-in shares with
simcord in the ``world`` tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from sandbox.chastify.testing import DEFAULT_START
from sandbox.chastify.testing import FakeClock as StandInClock


class FakeClock(StandInClock):
    """A mutable clock (epoch seconds, from 2026-01-01) for the stand-in, the store, the Chastify client and its
    limiter alike. ``sleep`` moves it forward instead of waiting and records each delay (``sleeps``), calling
    ``on_sleep`` when set."""

    def __init__(self, start: float = DEFAULT_START) -> None:
        super().__init__(start)
        self.sleeps: list[float] = []
        self.on_sleep: Callable[[float], None] | None = None

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep(seconds)
        await asyncio.sleep(0)


class SharedClock:
    """The stand-in's clock in the simcord tests: real time until the simcord env runs, then the env's virtual
    time (read from the stand-in's own thread, where discord.utils.utcnow is not virtualised)."""

    def __init__(self) -> None:
        self.env: Any = None

    def __call__(self) -> float:
        return self.env.now().timestamp() if self.env is not None else time.time()


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def shared_clock() -> SharedClock:
    return SharedClock()
