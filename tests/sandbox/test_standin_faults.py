"""Injected faults: errors before and after applying, dropped connections, forced 429s, latency."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from sandbox.chastify import FakeLock, Faults, StandIn

TOKEN = "dev-token-alice"  # the token the conftest fixtures use
ClientFactory = Callable[..., httpx.Client]


def add_time(client: httpx.Client, seconds: int = 600) -> httpx.Response:
    return client.post("/action", json={"name": "add_time", "params": seconds})


def test_error_rate_answers_500_and_changes_nothing(api: httpx.Client, alice_lock: FakeLock, server: StandIn) -> None:
    server.faults.error_rate = 1.0

    responses = [
        add_time(api),
        api.post("/lock/apply-time", json={"deltaSeconds": 60}),
        api.post("/logs/custom", json={"title": "t", "role": "extension"}),
        api.get("/session"),
    ]

    assert [r.status_code for r in responses] == [500] * 4
    assert alice_lock.remaining_seconds() == 86400
    assert alice_lock.history == []
    assert server.action_requests() == []
    assert all(r.fault == "error" and not r.applied for r in server.requests)


def test_error_after_apply_applies_then_answers_5xx(api: httpx.Client, alice_lock: FakeLock, server: StandIn) -> None:
    server.faults.error_after_apply_rate = 1.0

    response = add_time(api)

    assert response.status_code >= 500
    assert alice_lock.remaining_seconds() == 87000
    assert [h["type"] for h in alice_lock.history] == ["time_added"]
    (recorded,) = server.action_requests()
    assert recorded.status == response.status_code
    assert recorded.fault == "error_after_apply"


def test_error_after_apply_spares_reads_and_rejected_writes(
    api: httpx.Client, alice_lock: FakeLock, server: StandIn
) -> None:
    server.faults.error_after_apply_rate = 1.0

    assert api.get("/session").status_code == 200
    assert add_time(api, -5).status_code == 400


def test_drop_after_apply_applies_then_drops_the_connection(
    api: httpx.Client, alice_lock: FakeLock, server: StandIn
) -> None:
    server.faults.drop_after_apply_rate = 1.0

    with pytest.raises(httpx.TransportError):  # RemoteProtocolError: disconnected without a response
        add_time(api)

    assert alice_lock.remaining_seconds() == 87000
    (recorded,) = server.action_requests()
    assert recorded.status == 0
    assert recorded.fault == "drop_after_apply"

    server.faults.drop_after_apply_rate = 0.0
    assert api.get("/session").status_code == 200  # the client recovers on a new connection


def test_force_429_answers_the_next_n_requests(api: httpx.Client, alice_lock: FakeLock, server: StandIn) -> None:
    server.faults.force_429 = 2

    first, second = add_time(api), api.get("/session")
    third = add_time(api)

    for response in (first, second):
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "1"
        assert response.json()["error"] == "rate_limited"
    assert third.status_code == 200
    assert server.faults.force_429 == 0
    assert server.rate_limited_count == 0  # forced ones are not real rate limiting
    assert alice_lock.remaining_seconds() == 87000


def test_latency_delays_answers(api: httpx.Client, alice_lock: FakeLock, server: StandIn) -> None:
    server.faults.latency = (0.2, 0.2)

    started = time.monotonic()
    assert api.get("/session").status_code == 200
    assert time.monotonic() - started >= 0.19


def test_latency_beyond_the_client_timeout_is_a_timeout(
    client_for: ClientFactory, alice_lock: FakeLock, server: StandIn
) -> None:
    server.faults.latency = (1.0, 1.0)
    client = client_for(TOKEN, timeout=0.1)

    with pytest.raises(httpx.TimeoutException):
        client.get("/session")


def test_seeded_faults_are_reproducible(make_standin: Callable[..., StandIn]) -> None:
    def run() -> list[int]:
        server = make_standin()
        server.add_lock(TOKEN)
        server.faults = Faults(error_rate=0.5, seed=1234)
        with httpx.Client(base_url=server.base_url + "/api/apps/v1", headers={"Authorization": f"Bearer {TOKEN}"}) as c:
            return [c.get("/session").status_code for _ in range(20)]

    first, second = run(), run()

    assert first == second
    assert set(first) == {200, 500}


def test_faults_clear(server: StandIn) -> None:
    server.faults = Faults(latency=(1, 2), error_rate=1, error_after_apply_rate=1, drop_after_apply_rate=1, force_429=3)

    server.faults.clear()

    assert server.faults == Faults()
