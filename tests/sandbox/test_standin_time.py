"""Time on the stand-in's injected clock: falling remaining time, freezes, and the rolling rate limits."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.chastify import FakeLock, StandIn
from tests.support.clock import FakeClock

TOKEN = "dev-token-alice"  # the token the conftest fixtures use
OTHER_TOKEN = "dev-token-bob"
ClientFactory = Callable[..., httpx.Client]


def remaining(client: httpx.Client) -> int:
    response = client.get("/session")
    assert response.status_code == 200
    return int(response.json()["lockData"]["timeRemainingSeconds"])


def add_time(client: httpx.Client, seconds: int = 60) -> httpx.Response:
    return client.post("/action", json={"name": "add_time", "params": seconds})


# ----- remaining time ----------------------------------------------------------------------------------
def test_time_falls_with_the_clock(api: httpx.Client, alice_lock: FakeLock, fake_clock: FakeClock) -> None:
    assert remaining(api) == 86400

    fake_clock.advance(3600)

    assert remaining(api) == 82800
    assert alice_lock.remaining_seconds() == 82800
    assert api.get("/session").json()["lockData"]["timeLockedSeconds"] == 3600


def test_time_never_goes_below_zero_and_lock_becomes_unlockable(
    api: httpx.Client, alice_lock: FakeLock, fake_clock: FakeClock
) -> None:
    fake_clock.advance(86400 + 5000)

    data = api.get("/session").json()["lockData"]
    assert data["timeRemainingSeconds"] == 0
    assert data["unlockable"] is True

    # added time after reaching zero counts from zero, not from a negative balance
    add_time(api, 600)
    assert remaining(api) == 600


def test_freeze_stops_time_until_unfreeze(api: httpx.Client, alice_lock: FakeLock, fake_clock: FakeClock) -> None:
    fake_clock.advance(400)
    assert api.post("/lock/freeze", json={"durationSeconds": 86400}).status_code == 200

    fake_clock.advance(10_000)
    assert remaining(api) == 86000

    api.post("/lock/unfreeze", json={})
    fake_clock.advance(1000)
    assert remaining(api) == 85000


def test_freeze_expires_by_itself(api: httpx.Client, alice_lock: FakeLock, fake_clock: FakeClock) -> None:
    api.post("/action", json={"name": "freeze", "params": {"durationSeconds": 600}})

    fake_clock.advance(599)
    assert api.get("/session").json()["lockData"]["frozen"] is True
    assert remaining(api) == 86400

    fake_clock.advance(1 + 300)  # thawed at 600 s, then 300 s of falling time
    assert api.get("/session").json()["lockData"]["frozen"] is False
    assert alice_lock.frozen_until is None
    assert remaining(api) == 86100


def test_frozen_lock_at_zero_is_not_unlockable(api: httpx.Client, alice_lock: FakeLock) -> None:
    api.post("/action", json={"name": "remove_time", "params": 86400})
    api.post("/lock/freeze", json={})

    assert api.get("/session").json()["lockData"]["unlockable"] is False


def test_time_added_while_frozen_is_kept(api: httpx.Client, alice_lock: FakeLock, fake_clock: FakeClock) -> None:
    api.post("/lock/freeze", json={"durationSeconds": 3600})
    add_time(api, 600)
    fake_clock.advance(1800)

    assert remaining(api) == 87000


def test_pillory_and_hygiene_end_by_themselves(api: httpx.Client, alice_lock: FakeLock, fake_clock: FakeClock) -> None:
    api.post("/action", json={"name": "pillory", "params": {"durationSeconds": 600}})
    api.post("/action", json={"name": "hygienic_unlock.start", "params": {"durationSeconds": 900}})

    fake_clock.advance(901)

    data = api.get("/session").json()["lockData"]
    assert data["pillory"] is False
    assert data["hygieneOpen"] is False
    assert api.post("/action", json={"name": "pillory.end", "params": {}}).json()["error"] == "pillory_not_active"
    assert api.post("/action", json={"name": "hygienic_unlock.start", "params": {}}).status_code == 200


def test_max_remaining_caps_added_time(server: StandIn, client_for: ClientFactory) -> None:
    lock = server.add_lock("dev-token-capped", remaining=3600, max_remaining=7200)
    client = client_for("dev-token-capped")

    response = add_time(client, 86400)

    assert response.status_code == 200
    assert lock.remaining_seconds() == 7200
    assert response.json()["lockData"]["maxTimeRemainingSeconds"] == 7200
    assert lock.history[-1]["seconds"] == 3600


def test_ended_lock_keeps_its_remaining_time(server: StandIn, alice_lock: FakeLock, fake_clock: FakeClock) -> None:
    fake_clock.advance(100)
    server.end_lock(alice_lock.id)
    fake_clock.advance(5000)

    assert alice_lock.ended
    assert alice_lock.remaining_seconds() == 86300


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 50_000), st.integers(-100_000, 100_000).filter(lambda d: d != 0)),
        min_size=1,
        max_size=8,
    )
)
def test_remaining_time_follows_the_model(steps: list[tuple[int, int]]) -> None:
    """Whatever mix of waiting and apply-time, remaining == max(0, ...) applied step by step."""
    clock = FakeClock()
    with StandIn(clock=clock, rate_limit_per_minute=1000) as server:
        server.add_lock(TOKEN, remaining=3600)
        expected = 3600
        with httpx.Client(base_url=server.base_url + "/api/apps/v1", headers={"Authorization": f"Bearer {TOKEN}"}) as c:
            for wait, delta in steps:
                clock.advance(wait)
                expected = max(0, expected - wait)
                response = c.post("/lock/apply-time", json={"deltaSeconds": delta})
                assert response.status_code == 200
                expected = max(0, expected + delta)
                assert response.json()["lockData"]["timeRemainingSeconds"] == expected


# ----- rate limits --------------------------------------------------------------------------------------
def test_lock_actions_are_rate_limited_with_retry_after(
    make_standin: Callable[..., StandIn], fake_clock: FakeClock
) -> None:
    server = make_standin(clock=fake_clock, rate_limit_per_minute=3)
    lock = server.add_lock(TOKEN)
    client = httpx.Client(base_url=server.base_url + "/api/apps/v1", headers={"Authorization": f"Bearer {TOKEN}"})

    assert add_time(client).status_code == 200
    fake_clock.advance(20)
    assert client.post("/logs/custom", json={"title": "log counts", "role": "extension"}).status_code == 201
    assert client.post("/notifications/custom", json={"title": "t", "message": "m"}).status_code == 201

    limited = add_time(client)

    assert limited.status_code == 429
    assert limited.json()["error"] == "rate_limited"
    assert limited.headers["Retry-After"] == "40"
    assert server.rate_limited_count == 1
    assert lock.remaining_seconds() == 86400 + 60 - 20
    # reads have their own budget
    assert client.get("/session").status_code == 200

    fake_clock.advance(39)
    retry = add_time(client)
    assert retry.status_code == 429
    assert int(retry.headers["Retry-After"]) >= 1
    assert server.rate_limited_count == 2

    fake_clock.advance(1)  # the first action leaves the rolling window
    assert add_time(client).status_code == 200
    assert add_time(client).status_code == 429
    fake_clock.advance(20)  # log and notification leave the window
    assert add_time(client).status_code == 200
    assert add_time(client).status_code == 200
    client.close()


def test_rate_limit_is_per_token_and_lock(make_standin: Callable[..., StandIn], fake_clock: FakeClock) -> None:
    server = make_standin(clock=fake_clock, rate_limit_per_minute=2)
    first = server.add_lock(TOKEN)
    second = server.add_lock(TOKEN)
    server.add_lock(OTHER_TOKEN)
    base = server.base_url + "/api/apps/v1"

    def client(token: str, lock_id: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"}
        if lock_id:
            headers["x-chastify-lock-id"] = lock_id
        return httpx.Client(base_url=base, headers=headers)

    with client(TOKEN, first.id) as a1, client(TOKEN, second.id) as a2, client(OTHER_TOKEN) as b:
        assert [add_time(a1).status_code for _ in range(3)] == [200, 200, 429]
        assert [add_time(a2).status_code for _ in range(3)] == [200, 200, 429]
        assert [add_time(b).status_code for _ in range(3)] == [200, 200, 429]
    assert server.rate_limited_count == 3


def test_reads_are_limited_to_120_per_minute(api: httpx.Client, alice_lock: FakeLock, server: StandIn) -> None:
    statuses = [api.get("/session").status_code for _ in range(121)]

    assert statuses[:120] == [200] * 120
    assert statuses[120] == 429
    # lock actions are not affected by the read budget
    assert add_time(api).status_code == 200


def test_rejected_requests_do_not_use_up_the_window(
    make_standin: Callable[..., StandIn], fake_clock: FakeClock
) -> None:
    server = make_standin(clock=fake_clock, rate_limit_per_minute=1)
    server.add_lock(TOKEN)
    with httpx.Client(base_url=server.base_url + "/api/apps/v1", headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        assert add_time(c).status_code == 200
        for _ in range(5):
            fake_clock.advance(10)
            assert add_time(c).status_code == 429
        fake_clock.advance(10.5)  # 60.5 s after the only counted action
        assert add_time(c).status_code == 200
