from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.store import Store
from tests.support.clock import FakeClock
from tests.support.postgres import STORES, fresh_database


@pytest.fixture
def clock(fake_clock: FakeClock) -> FakeClock:
    """The store tests' name for the fake clock."""
    return fake_clock


@pytest.fixture(params=STORES)
async def store(clock: FakeClock, request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """Every repository test runs on both stores: SQLite in memory and a fresh database on a real PostgreSQL."""
    target = ":memory:" if request.param == "sqlite" else fresh_database(request.getfixturevalue("pg_server"))
    s = await Store.open(target, clock=clock)
    try:
        yield s
    finally:
        await s.close()
