"""A real PostgreSQL for the tests that run on both stores: started once per test session
(``sandbox.postgres``: the ``pgserver`` wheel, else the system's PostgreSQL), one fresh database per test, never
a mock.

A test module runs on both stores with ``pytestmark = ON_BOTH_STORES``: the ``database`` fixture is then
``"sqlite"`` or the URL of a fresh PostgreSQL database, and while the test runs every bot or rig it builds with
``make_settings`` uses it (``current_database``). Without that mark everything runs on SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.postgres import fresh_database, shared_postgres

__all__ = ["ON_BOTH_STORES", "STORES", "current_database", "fresh_database"]

STORES = ["sqlite", "postgres"]
# a test module runs on both stores with ``pytestmark = ON_BOTH_STORES`` (or inside its list of marks)
ON_BOTH_STORES = [pytest.mark.parametrize("database", STORES, indirect=True), pytest.mark.usefixtures("database")]


@pytest.fixture(scope="session")
def pg_server() -> Any:
    """The process's PostgreSQL (``sandbox.postgres.shared_postgres``), stopped when the test process exits."""
    return shared_postgres()


_current: list[str] = []


def current_database() -> str | None:
    """The PostgreSQL URL the running test asked for through ``database``, None for SQLite."""
    return _current[-1] if _current else None


@pytest.fixture
def database(request: pytest.FixtureRequest) -> Iterator[str]:
    """``"sqlite"``, or the URL of a fresh PostgreSQL database (parametrized indirectly with ``STORES``)."""
    kind = getattr(request, "param", "sqlite")
    if kind == "sqlite":
        yield "sqlite"
        return
    url = fresh_database(request.getfixturevalue("pg_server"))
    _current.append(url)
    try:
        yield url
    finally:
        _current.remove(url)
