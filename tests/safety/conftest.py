"""Fixtures for the safety suite."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from sandbox.chastify import StandIn
from tests.safety.rig import Rig, make_rig
from tests.support.clock import FakeClock


@pytest.fixture
async def rigs(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Rig]]]:
    """A factory for core-level rigs; every rig is closed after the test, whatever happened."""
    made: list[Rig] = []

    async def factory(chastify: StandIn, clock: FakeClock, **kwargs: Any) -> Rig:
        rig = await make_rig(tmp_path / f"rig{len(made)}", chastify, clock, **kwargs)
        made.append(rig)
        return rig

    yield factory
    for rig in made:
        await rig.close()
