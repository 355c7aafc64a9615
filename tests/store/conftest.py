from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.store import Store
from tests.support.clock import FakeClock


@pytest.fixture
def clock(fake_clock: FakeClock) -> FakeClock:
    """The store tests' name for the fake clock."""
    return fake_clock


@pytest.fixture
async def store(clock: FakeClock) -> AsyncIterator[Store]:
    s = await Store.open(":memory:", clock=clock)
    try:
        yield s
    finally:
        await s.close()
