"""Pytest fixtures for the stand-in. Use from a conftest: ``from sandbox.chastify.testing import standin``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .server import StandIn

DEFAULT_START = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class FakeClock:
    """A mutable clock (epoch seconds) to pass as ``StandIn(clock=...)``."""

    def __init__(self, start: float = DEFAULT_START) -> None:
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def standin() -> Iterator[StandIn]:
    """A started stand-in on a free loopback port (real clock); stopped after the test."""
    with StandIn() as server:
        yield server


@pytest.fixture
def make_standin() -> Iterator[Callable[..., StandIn]]:
    """A factory: ``make_standin(clock=fake_clock, rate_limit_per_minute=5)`` -> a started stand-in."""
    started: list[StandIn] = []

    def make(**kwargs: Any) -> StandIn:
        server = StandIn(**kwargs)
        server.start()
        started.append(server)
        return server

    yield make
    for server in reversed(started):
        server.stop()
