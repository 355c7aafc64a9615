"""Fixtures for the Chastify client tests: fake time and a client factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from chastify_helpers import ClientFactory

from bot.chastify import ActionLimiter, ChastifyClient
from tests.support.clock import FakeClock


@pytest.fixture
def ft(fake_clock: FakeClock) -> FakeClock:
    """The Chastify tests' name for the fake clock (the stand-in, the client and its limiter share it)."""
    return fake_clock



@pytest.fixture
async def make_client(ft: FakeClock) -> AsyncIterator[ClientFactory]:
    """``make_client(base_url="http://chastify.test", transport=None, **kwargs)``; fake time and a
    deterministic jitter (1.0 -> the full backoff) unless overridden. Closed after the test."""
    clients: list[ChastifyClient] = []

    def make(base_url: str = "http://chastify.test", **kwargs: Any) -> ChastifyClient:
        kwargs.setdefault("sleep", ft.sleep)
        kwargs.setdefault("clock", ft)
        kwargs.setdefault("wall_clock", ft)
        kwargs.setdefault("jitter", lambda: 1.0)
        if "limiter" not in kwargs:
            kwargs["limiter"] = ActionLimiter(clock=ft, sleep=ft.sleep)
        client = ChastifyClient(base_url, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()
