"""Fixtures for the stand-in's own tests: a stand-in on a fake clock and DEV-token clients for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from sandbox.chastify import FakeLock, StandIn
from tests.support.clock import FakeClock

TOKEN = "dev-token-alice"
API = "/api/apps/v1"

ClientFactory = Callable[..., httpx.Client]


@pytest.fixture
def server(fake_clock: FakeClock, make_standin: Callable[..., StandIn]) -> StandIn:
    """A started stand-in driven by ``fake_clock``."""
    return make_standin(clock=fake_clock)


@pytest.fixture
def client_for(server: StandIn) -> Iterator[ClientFactory]:
    """``client_for(token, lock_id=None)``: an httpx client on the DEV API (pinned when lock_id is given)."""
    clients: list[httpx.Client] = []

    def make(token: str | None = TOKEN, lock_id: str | None = None, *, timeout: float = 5.0) -> httpx.Client:
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if lock_id is not None:
            headers["x-chastify-lock-id"] = lock_id
        client = httpx.Client(base_url=server.base_url + API, headers=headers, timeout=timeout)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def api(server: StandIn, client_for: ClientFactory) -> httpx.Client:
    """A client for alice, who has one active lock (see the ``alice_lock`` fixture)."""
    return client_for(TOKEN)


@pytest.fixture
def alice_lock(server: StandIn) -> FakeLock:
    return server.add_lock(TOKEN, title="Alice's lock", wearer="alice", keyholder="kh_bob")
