"""The DEV-token API of the stand-in, endpoint by endpoint, against the seed pages (black-box over HTTP)."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest

from sandbox.chastify import FakeLock, StandIn

TOKEN = "dev-token-alice"  # the token the conftest fixtures use
OTHER_TOKEN = "dev-token-bob"
ClientFactory = Callable[..., httpx.Client]

LOCK_DATA_KEYS = {
    "frozen",
    "unlockable",
    "trusted",
    "taskAssigned",
    "timeLockedSeconds",
    "timeRemainingSeconds",
    "taskPoints",
    "taskPointsRequired",
    "lockTitle",
    "wearerUsername",
    "keyholderUsername",
    "wearerLastSeenTimestamp",
    "keyholderLastSeenTimestamp",
}


def error_of(response: httpx.Response) -> str:
    body = response.json()
    return str(body.get("error", body.get("code")))


def action(client: httpx.Client, name: str, params: object = None) -> httpx.Response:
    body: dict[str, object] = {"name": name}
    if params is not None:
        body["params"] = params
    return client.post("/action", json=body)


# ----- GET /session ----------------------------------------------------------------------------------
def test_session_returns_lock_role_scopes_and_lock_data(api: httpx.Client, alice_lock: FakeLock) -> None:
    response = api.get("/session")

    assert response.status_code == 200
    body = response.json()
    assert body["lock"]["_id"] == alice_lock.id
    assert re.fullmatch(r"[0-9a-f]{24}", body["lock"]["_id"])
    assert body["role"] == "wearer"
    assert body["scopes"] == ["locks:read", "locks:write"]
    data = body["lockData"]
    assert LOCK_DATA_KEYS <= set(data)
    assert data["timeRemainingSeconds"] == 86400
    assert data["lockTitle"] == "Alice's lock"
    assert data["wearerUsername"] == "alice"
    assert data["keyholderUsername"] == "kh_bob"
    assert data["keyholderLastSeenTimestamp"] is None
    assert data["frozen"] is False
    assert data["unlockable"] is False
    assert data["taskAssigned"] is False
    assert data["pillory"] is False
    assert data["hygieneOpen"] is False
    assert "maxTimeRemainingSeconds" not in data


def test_session_reports_max_remaining_and_keyholder_role(server: StandIn, client_for: ClientFactory) -> None:
    server.add_lock("dev-token-kh", role="keyholder", max_remaining=172800, keyholder=None)

    body = client_for("dev-token-kh").get("/session").json()

    assert body["role"] == "keyholder"
    assert body["lockData"]["maxTimeRemainingSeconds"] == 172800
    assert body["lockData"]["keyholderUsername"] is None


# ----- auth --------------------------------------------------------------------------------------------
def test_missing_token_is_401_missing_token(client_for: ClientFactory, alice_lock: FakeLock) -> None:
    response = client_for(None).get("/session")

    assert response.status_code == 401
    assert response.json()["error"] == "missing_token"
    assert response.json()["message"]


def test_non_bearer_authorization_counts_as_missing(server: StandIn, alice_lock: FakeLock) -> None:
    response = httpx.get(server.base_url + "/api/apps/v1/session", headers={"Authorization": f"Token {TOKEN}"})

    assert response.status_code == 401
    assert error_of(response) == "missing_token"


def test_unknown_token_is_401_invalid_token(client_for: ClientFactory, alice_lock: FakeLock) -> None:
    response = client_for("dev-token-nobody").get("/session")

    assert response.status_code == 401
    assert error_of(response) == "invalid_token"


def test_revoked_token_is_401_revoked_token(server: StandIn, api: httpx.Client, alice_lock: FakeLock) -> None:
    assert api.get("/session").status_code == 200

    server.revoke(TOKEN)

    for response in (api.get("/session"), action(api, "add_time", 60)):
        assert response.status_code == 401
        assert error_of(response) == "revoked_token"
    assert alice_lock.remaining_seconds() == 86400


def test_write_without_write_scope_is_403(server: StandIn, client_for: ClientFactory) -> None:
    lock = server.add_lock("dev-token-reader", scopes=["locks:read"])
    client = client_for("dev-token-reader")

    assert client.get("/session").status_code == 200
    for response in (
        action(client, "add_time", 60),
        client.post("/lock/apply-time", json={"deltaSeconds": 60}),
        client.post("/logs/custom", json={"title": "x", "role": "extension"}),
    ):
        assert response.status_code == 403
        assert error_of(response) == "insufficient_scope"
    assert lock.remaining_seconds() == 86400
    assert lock.history == []


def test_read_without_read_scope_is_403(server: StandIn, client_for: ClientFactory) -> None:
    server.add_lock("dev-token-noscope", scopes=[])

    response = client_for("dev-token-noscope").get("/session")

    assert response.status_code == 403
    assert error_of(response) == "insufficient_scope"


# ----- lock resolution and pinning -------------------------------------------------------------------
def test_newest_active_lock_is_the_active_lock(server: StandIn, api: httpx.Client) -> None:
    old = server.add_lock(TOKEN, title="old")
    new = server.add_lock(TOKEN, title="new")

    assert api.get("/session").json()["lock"]["_id"] == new.id

    server.end_lock(new.id)
    assert api.get("/session").json()["lock"]["_id"] == old.id

    server.end_lock(old.id)
    response = api.get("/session")
    assert response.status_code == 409
    assert error_of(response) == "no_active_lock_session"


def test_pinned_call_acts_on_the_pinned_lock(server: StandIn, client_for: ClientFactory) -> None:
    old = server.add_lock(TOKEN, title="old")
    new = server.add_lock(TOKEN, title="new")
    pinned = client_for(TOKEN, old.id)

    assert pinned.get("/session").json()["lock"]["_id"] == old.id
    assert action(pinned, "add_time", 600).status_code == 200

    assert old.remaining_seconds() == 87000
    assert new.remaining_seconds() == 86400


def test_pinned_to_an_ended_lock_is_409_lock_ended(server: StandIn, client_for: ClientFactory) -> None:
    old = server.add_lock(TOKEN)
    server.add_lock(TOKEN)
    pinned = client_for(TOKEN, old.id)

    server.end_lock(old.id)

    for response in (pinned.get("/session"), action(pinned, "add_time", 60)):
        assert response.status_code == 409
        assert error_of(response) == "lock_ended"
    assert old.ended


def test_pinned_to_another_owners_lock_is_409(server: StandIn, client_for: ClientFactory) -> None:
    server.add_lock(TOKEN)
    bobs = server.add_lock(OTHER_TOKEN)

    for lock_id in (bobs.id, "0" * 24, "not-a-lock-id"):
        response = action(client_for(TOKEN, lock_id), "add_time", 60)
        assert response.status_code == 409
        assert error_of(response) == "no_active_lock_session"
    assert bobs.remaining_seconds() == 86400


def test_token_without_active_lock_is_409(server: StandIn, api: httpx.Client) -> None:
    lock = server.add_lock(TOKEN)
    server.end_lock(lock.id)

    response = action(api, "add_time", 60)

    assert response.status_code == 409
    assert error_of(response) == "no_active_lock_session"


# ----- POST /action: time -----------------------------------------------------------------------------
def test_add_and_remove_time(api: httpx.Client, alice_lock: FakeLock) -> None:
    added = action(api, "add_time", 600)
    assert added.status_code == 200
    assert added.json()["lockData"]["timeRemainingSeconds"] == 87000

    removed = action(api, "remove_time", 900)
    assert removed.status_code == 200
    assert removed.json()["lockData"]["timeRemainingSeconds"] == 86100

    assert alice_lock.remaining_seconds() == 86100
    assert [(h["type"], h["seconds"]) for h in alice_lock.history] == [("time_added", 600), ("time_removed", 900)]


def test_remove_time_clamps_at_zero_and_makes_unlockable(api: httpx.Client, alice_lock: FakeLock) -> None:
    response = action(api, "remove_time", 10 * 86400)

    assert response.status_code == 200
    data = response.json()["lockData"]
    assert data["timeRemainingSeconds"] == 0
    assert data["unlockable"] is True
    assert alice_lock.remaining_seconds() == 0


@pytest.mark.parametrize("params", [0, -60, "600", 60.5, True, None, {"seconds": 60}])
@pytest.mark.parametrize("name", ["add_time", "remove_time"])
def test_time_actions_need_positive_integer_seconds(
    api: httpx.Client, alice_lock: FakeLock, name: str, params: object
) -> None:
    response = api.post("/action", json={"name": name, "params": params})

    assert response.status_code == 400
    assert error_of(response) == "validation_error"
    assert response.json()["message"]
    assert alice_lock.remaining_seconds() == 86400


@pytest.mark.parametrize("body", [{"name": "shock.start", "params": {}}, {"params": 60}, {"name": 5}, [1, 2], "x"])
def test_unknown_action_or_bad_body_is_400(api: httpx.Client, alice_lock: FakeLock, body: object) -> None:
    response = api.post("/action", json=body)

    assert response.status_code == 400
    assert error_of(response) == "validation_error"


def test_invalid_json_body_is_400(api: httpx.Client, alice_lock: FakeLock) -> None:
    response = api.post("/action", content=b"{not json", headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert error_of(response) == "validation_error"


# ----- freeze -------------------------------------------------------------------------------------------
def test_freeze_action_defaults_to_one_hour(api: httpx.Client, alice_lock: FakeLock, server: StandIn) -> None:
    response = action(api, "freeze", {})

    assert response.status_code == 200
    assert response.json()["lockData"]["frozen"] is True
    assert alice_lock.frozen
    assert alice_lock.frozen_until == pytest.approx(server.clock() + 3600)


def test_freeze_action_with_duration_and_unfreeze(api: httpx.Client, alice_lock: FakeLock, server: StandIn) -> None:
    assert action(api, "freeze", {"durationSeconds": 300}).status_code == 200
    assert alice_lock.frozen_until == pytest.approx(server.clock() + 300)

    response = action(api, "unfreeze", {})

    assert response.status_code == 200
    assert response.json()["lockData"]["frozen"] is False
    assert [h["type"] for h in alice_lock.history] == ["frozen", "unfrozen"]


@pytest.mark.parametrize("duration", [59, 86401, 0, "300", 300.5])
def test_freeze_duration_must_be_60_to_86400(api: httpx.Client, alice_lock: FakeLock, duration: object) -> None:
    for response in (
        action(api, "freeze", {"durationSeconds": duration}),
        action(api, "toggle_freeze", {"durationSeconds": duration}),
        api.post("/lock/freeze", json={"durationSeconds": duration}),
    ):
        assert response.status_code == 400
        assert error_of(response) == "validation_error"
    assert not alice_lock.frozen


@pytest.mark.parametrize("duration", [60, 86400])
def test_freeze_duration_bounds_are_inclusive(api: httpx.Client, alice_lock: FakeLock, duration: int) -> None:
    assert api.post("/lock/freeze", json={"durationSeconds": duration}).status_code == 200


def test_toggle_freeze_flips(api: httpx.Client, alice_lock: FakeLock) -> None:
    assert action(api, "toggle_freeze", {"durationSeconds": 300}).json()["lockData"]["frozen"] is True
    assert action(api, "toggle_freeze", {"durationSeconds": 300}).json()["lockData"]["frozen"] is False
    assert action(api, "toggle_freeze", {}).json()["lockData"]["frozen"] is True


def test_lock_freeze_and_unfreeze_endpoints(api: httpx.Client, alice_lock: FakeLock, server: StandIn) -> None:
    response = api.post("/lock/freeze", json={"durationSeconds": 1800})
    assert response.status_code == 200
    assert alice_lock.frozen_until == pytest.approx(server.clock() + 1800)

    assert api.post("/lock/unfreeze", json={}).status_code == 200
    assert not alice_lock.frozen

    api.post("/lock/freeze", json={})
    assert alice_lock.frozen_until == pytest.approx(server.clock() + 3600)
    # the seed's curl sends no body at all
    assert api.post("/lock/unfreeze").status_code == 200
    assert not alice_lock.frozen


# ----- POST /lock/apply-time ----------------------------------------------------------------------------
def test_apply_time_adds_and_removes(api: httpx.Client, alice_lock: FakeLock) -> None:
    added = api.post("/lock/apply-time", json={"deltaSeconds": 600})
    assert added.status_code == 200
    assert added.json()["lockData"]["timeRemainingSeconds"] == 87000

    removed = api.post("/lock/apply-time", json={"deltaSeconds": -300})
    assert removed.status_code == 200
    assert alice_lock.remaining_seconds() == 86700


@pytest.mark.parametrize("body", [{"deltaSeconds": 0}, {}, {"deltaSeconds": "600"}, {"deltaSeconds": 1.5}, None])
def test_apply_time_needs_nonzero_integer(api: httpx.Client, alice_lock: FakeLock, body: object) -> None:
    response = api.post("/lock/apply-time", json=body)

    assert response.status_code == 400
    assert error_of(response) == "validation_error"
    assert alice_lock.history == []


# ----- pillory ----------------------------------------------------------------------------------------
def test_pillory_starts_and_ends(api: httpx.Client, alice_lock: FakeLock, server: StandIn) -> None:
    response = action(api, "pillory", {"durationSeconds": 600, "reason": "Missed check-in"})

    assert response.status_code == 200
    assert response.json()["lockData"]["pillory"] is True
    assert alice_lock.pillory_until == pytest.approx(server.clock() + 600)
    assert alice_lock.pillory_reason == "Missed check-in"

    assert action(api, "pillory.end", {}).status_code == 200
    assert alice_lock.pillory_until is None

    again = action(api, "pillory.end", {})
    assert again.status_code == 409
    assert error_of(again) == "pillory_not_active"
    assert [h["type"] for h in alice_lock.history] == ["pillory_started", "pillory_ended"]


@pytest.mark.parametrize("params", [{}, {"reason": "x"}, {"durationSeconds": "600"}, {"durationSeconds": 0}])
def test_pillory_needs_a_duration(api: httpx.Client, alice_lock: FakeLock, params: object) -> None:
    response = action(api, "pillory", params)

    assert response.status_code == 400
    assert error_of(response) == "validation_error"


def test_pillory_not_enabled(server: StandIn, client_for: ClientFactory) -> None:
    server.add_lock("dev-token-nopillory", pillory=False)

    response = action(client_for("dev-token-nopillory"), "pillory", {"durationSeconds": 600})

    assert response.status_code == 409
    assert error_of(response) == "pillory_not_enabled"


# ----- tasks -------------------------------------------------------------------------------------------
TASK = {"actor": "extension", "taskText": "Drink water", "points": 5, "verificationRequired": False}


def test_task_assign_start_and_complete(api: httpx.Client, alice_lock: FakeLock) -> None:
    assigned = action(api, "task.assign", {**TASK, "durationSeconds": 900})
    assert assigned.status_code == 200
    assert assigned.json()["lockData"]["taskAssigned"] is True
    assert alice_lock.task is not None
    assert alice_lock.task["taskText"] == "Drink water"
    assert alice_lock.task["status"] == "open"
    assert alice_lock.task["timerStartedAt"] is None

    assert action(api, "task.start_timer", {}).status_code == 200
    assert alice_lock.task["timerStartedAt"] is not None

    completed = action(api, "task.complete", {"successful": True})
    assert completed.status_code == 200
    data = completed.json()["lockData"]
    assert data["taskAssigned"] is False
    assert data["taskPoints"] == 5
    assert alice_lock.task["status"] == "completed"
    assert [h["type"] for h in alice_lock.history] == ["task_assigned", "task_timer_started", "task_completed"]


def test_failed_task_gives_no_points(api: httpx.Client, alice_lock: FakeLock) -> None:
    action(api, "task.assign", TASK)

    response = action(api, "task.complete", {"successful": False, "reason": "Did not finish in time"})

    assert response.status_code == 200
    assert response.json()["lockData"]["taskPoints"] == 0
    assert alice_lock.task is not None
    assert alice_lock.task["status"] == "failed"
    assert alice_lock.history[-1]["reason"] == "Did not finish in time"


def test_task_assign_replaces_an_open_task(api: httpx.Client, alice_lock: FakeLock) -> None:
    action(api, "task.assign", TASK)
    action(api, "task.assign", {**TASK, "taskText": "Clean your room"})

    assert alice_lock.task is not None
    assert alice_lock.task["taskText"] == "Clean your room"
    assert alice_lock.history[-1]["replaced"] == "Drink water"


def test_task_points_are_clamped(api: httpx.Client, alice_lock: FakeLock) -> None:
    action(api, "task.assign", {**TASK, "points": 10_000})

    assert alice_lock.task is not None
    assert alice_lock.task["points"] == 100


def test_task_start_timer_without_task_or_duration_is_409(api: httpx.Client, alice_lock: FakeLock) -> None:
    no_task = action(api, "task.start_timer", {})
    assert no_task.status_code == 409
    assert error_of(no_task) == "no_active_task"

    action(api, "task.assign", TASK)
    no_duration = action(api, "task.start_timer", {})
    assert no_duration.status_code == 409
    assert error_of(no_duration) == "task_has_no_duration"


def test_task_complete_without_task_is_409(api: httpx.Client, alice_lock: FakeLock) -> None:
    response = action(api, "task.complete", {"successful": True})

    assert response.status_code == 409
    assert error_of(response) == "no_active_task"


@pytest.mark.parametrize(
    "params",
    [{}, {"taskText": ""}, {"taskText": 5}, {**TASK, "actor": "robot"}, {**TASK, "verificationRequired": "no"}],
)
def test_task_assign_validation(api: httpx.Client, alice_lock: FakeLock, params: object) -> None:
    response = action(api, "task.assign", params)

    assert response.status_code == 400
    assert error_of(response) == "validation_error"
    assert alice_lock.task is None


def test_task_complete_needs_successful(api: httpx.Client, alice_lock: FakeLock) -> None:
    action(api, "task.assign", TASK)

    response = action(api, "task.complete", {})

    assert response.status_code == 400
    assert error_of(response) == "validation_error"


def test_tasks_not_enabled(server: StandIn, client_for: ClientFactory) -> None:
    server.add_lock("dev-token-notasks", tasks=False)
    client = client_for("dev-token-notasks")

    for name, params in (("task.assign", TASK), ("task.start_timer", {}), ("task.complete", {"successful": True})):
        response = action(client, name, params)
        assert response.status_code == 409
        assert error_of(response) == "tasks_not_enabled"


# ----- hygienic opening, settings ------------------------------------------------------------------------
def test_hygienic_unlock_start(api: httpx.Client, alice_lock: FakeLock, server: StandIn) -> None:
    response = action(api, "hygienic_unlock.start", {"durationSeconds": 900})

    assert response.status_code == 200
    assert response.json()["lockData"]["hygieneOpen"] is True
    assert alice_lock.hygiene_until == pytest.approx(server.clock() + 900)
    assert alice_lock.history[-1]["type"] == "temporary_opening"

    again = action(api, "hygienic_unlock.start", {})
    assert again.status_code == 409
    assert error_of(again) == "hygienic_opening_in_progress"


def test_hygienic_unlock_not_enabled(server: StandIn, client_for: ClientFactory) -> None:
    server.add_lock("dev-token-nohygiene", hygiene=False)

    response = action(client_for("dev-token-nohygiene"), "hygienic_unlock.start", {})

    assert response.status_code == 409
    assert error_of(response) == "hygienic_opening_not_enabled"


def test_settings_patch_is_accepted(api: httpx.Client, alice_lock: FakeLock) -> None:
    response = action(api, "settings.patch", {"anything": True})

    assert response.status_code == 200
    assert alice_lock.remaining_seconds() == 86400


# ----- POST /logs/custom ---------------------------------------------------------------------------------
def test_custom_log_is_added_to_history(api: httpx.Client, alice_lock: FakeLock) -> None:
    body = {
        "title": "Program check completed",
        "description": "The external rule script ran successfully.",
        "role": "extension",
        "icon": "check",
        "color": "#ffcc00",
    }

    response = api.post("/logs/custom", json=body)

    assert response.status_code in (200, 201)
    (log,) = alice_lock.custom_logs()
    assert {k: log[k] for k in body} == body
    assert log["type"] == "custom"


@pytest.mark.parametrize("color", ["#fc0", "#FFCC00", None])
def test_custom_log_accepts_short_and_long_colors(api: httpx.Client, alice_lock: FakeLock, color: object) -> None:
    body = {"title": "t", "role": "keyholder", "color": color}

    assert api.post("/logs/custom", json=body).status_code in (200, 201)


@pytest.mark.parametrize(
    "body",
    [
        {"role": "extension"},
        {"title": "", "role": "extension"},
        {"title": "   ", "role": "extension"},
        {"title": "x" * 181, "role": "extension"},
        {"title": "t", "description": "d" * 2001, "role": "extension"},
        {"title": "t", "role": "bot"},
        {"title": "t"},
        {"title": "t", "role": "extension", "color": "ffcc00"},
        {"title": "t", "role": "extension", "color": "#ggg"},
        {"title": "t", "role": "extension", "color": "#ffcc0"},
        [{"title": "t"}],
    ],
)
def test_custom_log_validation_uses_code_key(api: httpx.Client, alice_lock: FakeLock, body: object) -> None:
    response = api.post("/logs/custom", json=body)

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "error" not in response.json()
    assert alice_lock.custom_logs() == []


def test_custom_log_bounds_are_inclusive(api: httpx.Client, alice_lock: FakeLock) -> None:
    body = {"title": "x" * 180, "description": "d" * 2000, "role": "wearer"}

    assert api.post("/logs/custom", json=body).status_code in (200, 201)


# ----- POST /notifications/custom ------------------------------------------------------------------------
def test_notification_is_recorded(api: httpx.Client, alice_lock: FakeLock) -> None:
    body = {
        "title": "Vote closed",
        "message": "The server added 10 minutes.",
        "target": "both",
        "showPageOverlay": True,
    }

    response = api.post("/notifications/custom", json=body)

    assert response.status_code in (200, 201)
    (note,) = alice_lock.notifications
    assert {k: note[k] for k in body} == body


@pytest.mark.parametrize(
    "body",
    [
        {"message": "m", "target": "wearer"},
        {"title": "x" * 101, "message": "m", "target": "wearer"},
        {"title": "t", "message": "", "target": "wearer"},
        {"title": "t", "message": "m" * 501, "target": "wearer"},
        {"title": "t", "message": "m", "target": "everyone"},
        {"title": "t", "message": "m", "target": "wearer", "showPageOverlay": "yes"},
    ],
)
def test_notification_validation(api: httpx.Client, alice_lock: FakeLock, body: object) -> None:
    response = api.post("/notifications/custom", json=body)

    assert response.status_code == 400
    assert error_of(response) == "validation_error"
    assert alice_lock.notifications == []


# ----- odd answers and the record -------------------------------------------------------------------------
def test_unknown_route_is_plain_text_404(api: httpx.Client, alice_lock: FakeLock) -> None:
    response = api.get("/no/such/route")

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/plain")
    with pytest.raises(ValueError):
        response.json()


def test_requests_are_recorded_without_tokens(api: httpx.Client, alice_lock: FakeLock, server: StandIn) -> None:
    api.get("/session")
    action(api, "add_time", 60)
    action(api, "add_time", -1)
    api.post("/logs/custom", json={"title": "Vote passed", "role": "extension"})

    assert [(r.method, r.path, r.status) for r in server.requests] == [
        ("GET", "/api/apps/v1/session", 200),
        ("POST", "/api/apps/v1/action", 200),
        ("POST", "/api/apps/v1/action", 400),
        ("POST", "/api/apps/v1/logs/custom", 201),
    ]
    assert server.requests[1].json == {"name": "add_time", "params": 60}
    assert server.requests[1].response_json["ok"] is True
    assert server.requests[2].response_json["error"] == "validation_error"
    assert all(r.token_fingerprint == "dev-…" for r in server.requests)
    assert TOKEN not in repr(server.requests)
    applied = server.action_requests()
    assert [r.path for r in applied] == ["/api/apps/v1/action", "/api/apps/v1/logs/custom"]
    assert all(r.lock_id == alice_lock.id for r in applied)


def test_lock_id_header_is_recorded(server: StandIn, client_for: ClientFactory, alice_lock: FakeLock) -> None:
    client_for(TOKEN, alice_lock.id).get("/session")

    assert server.requests[-1].lock_id_header == alice_lock.id
