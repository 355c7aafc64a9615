"""The extension-session API: developer key + main token, actions, metadata, temporary opening, state."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from sandbox.chastify import FakeLock, StandIn
from tests.support.clock import FakeClock

TOKEN = "dev-token-alice"  # the token the conftest fixtures use

EXT_KEY = "ext-dev-key"

ExtFactory = Callable[..., httpx.Client]


@pytest.fixture
def session(server: StandIn, alice_lock: FakeLock) -> tuple[str, str]:
    return server.open_extension_session(alice_lock.id)


@pytest.fixture
def ext_for(server: StandIn) -> Iterator[ExtFactory]:
    clients: list[httpx.Client] = []

    def make(session_id: str, main_token: str | None, key: str | None = EXT_KEY) -> httpx.Client:
        headers = {}
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        if main_token is not None:
            headers["x-chastify-main-token"] = main_token
        client = httpx.Client(base_url=f"{server.base_url}/api/extensions/sessions/{session_id}", headers=headers)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def ext(ext_for: ExtFactory, session: tuple[str, str]) -> httpx.Client:
    return ext_for(*session)


def test_session_context(ext: httpx.Client, alice_lock: FakeLock) -> None:
    response = ext.get("")

    assert response.status_code == 200
    body = response.json()
    assert body["role"] == "wearer"
    assert body["extensionConfig"] == {}
    assert body["lockData"]["lockTitle"] == alice_lock.title
    assert body["lockData"]["timeRemainingSeconds"] == 86400


@pytest.mark.parametrize(
    ("key", "main", "error"),
    [
        ("wrong-key", "MAIN", "invalid_token"),
        (EXT_KEY, "main-wrong", "invalid_token"),
        (EXT_KEY, None, "invalid_token"),
        (None, "MAIN", "missing_token"),
    ],
)
def test_extension_auth_errors(
    ext_for: ExtFactory, session: tuple[str, str], key: str | None, main: str | None, error: str
) -> None:
    session_id, main_token = session
    client = ext_for(session_id, main_token if main == "MAIN" else main, key)

    for response in (client.get(""), client.post("/action", json={"name": "add_time", "params": 60})):
        assert response.status_code == 401
        assert response.json()["error"] == error


def test_unknown_session_is_401(ext_for: ExtFactory, session: tuple[str, str]) -> None:
    response = ext_for("f" * 24, session[1]).get("")

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_launch_token_expires_after_ten_hours(ext: httpx.Client, fake_clock: FakeClock) -> None:
    fake_clock.advance(10 * 3600 - 1)
    assert ext.get("").status_code == 200

    fake_clock.advance(1)
    response = ext.get("")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_disabled_extension_is_403(server: StandIn, ext: httpx.Client, session: tuple[str, str]) -> None:
    server.set_extension_enabled(session[0], False)

    response = ext.get("")

    assert response.status_code == 403
    assert response.json()["error"] == "extension_not_enabled"


def test_ended_lock_is_409(server: StandIn, ext: httpx.Client, alice_lock: FakeLock) -> None:
    server.end_lock(alice_lock.id)

    response = ext.post("/action", json={"name": "add_time", "params": 60})

    assert response.status_code == 409
    assert response.json()["error"] == "lock_ended"


def test_actions_change_the_same_lock_the_dev_token_sees(
    ext: httpx.Client, api: httpx.Client, alice_lock: FakeLock, server: StandIn
) -> None:
    response = ext.post("/action", json={"name": "remove_time", "params": 300})

    assert response.status_code == 200
    assert api.get("/session").json()["lockData"]["timeRemainingSeconds"] == 86100
    assert ext.post("/action", json={"name": "freeze", "params": {}}).status_code == 200
    assert alice_lock.frozen
    assert ext.post("/action", json={"name": "bogus"}).json()["error"] == "validation_error"
    pillory_end = ext.post("/action", json={"name": "pillory.end", "params": {}})
    assert pillory_end.status_code == 409
    assert pillory_end.json()["error"] == "pillory_not_active"
    assert [r.path.rsplit("/", 1)[-1] for r in server.action_requests()] == ["action", "action"]


def test_metadata_unlock_blockers_block_unlocking(ext: httpx.Client, alice_lock: FakeLock) -> None:
    ext.post("/action", json={"name": "remove_time", "params": 86400})
    assert ext.get("").json()["lockData"]["unlockable"] is True

    response = ext.patch(
        "/metadata",
        json={
            "unlockBlockers": ["Finish extension task"],
            "homeActions": [{"slug": "tasks", "title": "Tasks", "intent": {"type": "open_panel"}}],
        },
    )

    assert response.status_code == 200
    assert response.json()["metadata"]["unlockBlockers"] == ["Finish extension task"]
    assert ext.get("").json()["lockData"]["unlockable"] is False

    assert ext.patch("/metadata", json={"unlockBlockers": []}).status_code == 200
    assert ext.get("").json()["lockData"]["unlockable"] is True


@pytest.mark.parametrize(
    "body",
    [
        {"unlockBlockers": [f"b{i}" for i in range(26)]},
        {"unlockBlockers": "one"},
        {"unlockBlockers": [1]},
        {"homeActions": [{"title": "no slug"}]},
        {"homeActions": "x"},
        [],
    ],
)
def test_metadata_validation(ext: httpx.Client, body: object) -> None:
    response = ext.patch("/metadata", json=body)

    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"


def test_metadata_allows_25_blockers(ext: httpx.Client) -> None:
    assert ext.patch("/metadata", json={"unlockBlockers": [f"b{i}" for i in range(25)]}).status_code == 200


@pytest.mark.parametrize("actor", ["wearer", "keyholder", "extension"])
def test_temporary_opening_is_201_without_body(ext: httpx.Client, alice_lock: FakeLock, actor: str) -> None:
    response = ext.post("/temporary-opening/open", json={"actor": actor})

    assert response.status_code == 201
    assert response.content == b""
    assert alice_lock.hygiene_until is not None
    entry = alice_lock.history[-1]
    assert (entry["type"], entry["actor"]) == ("temporary_opening", actor)

    again = ext.post("/temporary-opening/open", json={"actor": actor})
    assert again.status_code == 409
    assert again.json()["error"] == "hygienic_opening_in_progress"


@pytest.mark.parametrize("body", [{}, {"actor": "robot"}, None])
def test_temporary_opening_needs_an_actor(ext: httpx.Client, body: object) -> None:
    response = ext.post("/temporary-opening/open", json=body)

    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"


def test_temporary_opening_needs_hygiene_enabled(server: StandIn, ext_for: ExtFactory) -> None:
    lock = server.add_lock("dev-token-nohygiene", hygiene=False)
    client = ext_for(*server.open_extension_session(lock.id))

    response = client.post("/temporary-opening/open", json={"actor": "extension"})

    assert response.status_code == 409
    assert response.json()["error"] == "hygienic_opening_not_enabled"


def test_state_put_patch_get(ext: httpx.Client) -> None:
    assert ext.get("/state").json() == {"data": {}}

    put = ext.put("/state", json={"data": {"counter": 1, "notes": "first test", "nested": {"a": 1, "b": 2}}})
    assert put.status_code == 200

    patch = ext.patch("/state", json={"data": {"counter": 2, "notes": None, "nested": {"b": 3}}})
    assert patch.status_code == 200

    assert ext.get("/state").json() == {"data": {"counter": 2, "nested": {"a": 1, "b": 3}}}

    ext.put("/state", json={"data": {"fresh": True}})
    assert ext.get("/state").json() == {"data": {"fresh": True}}


@pytest.mark.parametrize(
    "body", [{"counter": 1}, {"data": {"$set": 1}}, {"data": {"a.b": 1}}, {"data": {"x": [{"$y": 1}]}}]
)
def test_state_validation(ext: httpx.Client, body: object) -> None:
    for response in (ext.put("/state", json=body), ext.patch("/state", json=body)):
        assert response.status_code == 400
        assert response.json()["error"] == "validation_error"
    assert ext.get("/state").json() == {"data": {}}


def test_state_is_size_limited(ext: httpx.Client) -> None:
    response = ext.put("/state", json={"data": {"blob": "x" * (64 * 1024)}})

    assert response.status_code == 413
    assert ext.get("/state").json() == {"data": {}}


def test_extension_notification_defaults(ext: httpx.Client, alice_lock: FakeLock) -> None:
    response = ext.post("/notifications/custom", json={"title": "Extension Reminder", "message": "Ready."})

    assert response.status_code in (200, 201)
    (note,) = alice_lock.notifications
    assert note["target"] == "wearer"
    assert note["showPageOverlay"] is False


def test_extension_actions_share_the_lock_action_rate_limit(
    make_standin: Callable[..., StandIn], fake_clock: FakeClock
) -> None:
    server = make_standin(clock=fake_clock, rate_limit_per_minute=2)
    lock = server.add_lock(TOKEN)
    session_id, main_token = server.open_extension_session(lock.id)
    with httpx.Client(
        base_url=f"{server.base_url}/api/extensions/sessions/{session_id}",
        headers={"Authorization": f"Bearer {EXT_KEY}", "x-chastify-main-token": main_token},
    ) as client:
        statuses = [client.post("/action", json={"name": "add_time", "params": 1}).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        assert client.put("/state", json={"data": {}}).status_code == 200  # a plain write, its own budget
