"""Models: lenient lockData, validated Session, and parameters refused before anything is sent."""

from __future__ import annotations

from typing import Any

import pytest
from chastify_helpers import LOCK_ID
from pydantic import ValidationError

from bot.chastify import (
    ACTION_NAMES,
    CustomLog,
    CustomNotification,
    FreezeParams,
    HygieneParams,
    InvalidParams,
    LockData,
    PilloryParams,
    Session,
    TaskAssignParams,
    TaskCompleteParams,
    build_action,
    normalize_lock_id,
)

SEED_LOCK_DATA = {
    "frozen": False, "unlockable": False, "trusted": True, "taskAssigned": True, "timeLockedSeconds": 1420,
    "timeRemainingSeconds": 27800, "maxTimeRemainingSeconds": 86400, "taskPoints": 12, "taskPointsRequired": 20,
    "lockTitle": "Weekend Challenge", "wearerUsername": "alice", "keyholderUsername": "kh_bob",
    "wearerLastSeenTimestamp": 1739640505123, "keyholderLastSeenTimestamp": None,
}


def test_lock_data_from_seed() -> None:
    data = LockData.model_validate(SEED_LOCK_DATA)
    assert data.time_remaining_seconds == 27800 and data.task_assigned is True
    assert data.lock_title == "Weekend Challenge" and data.keyholder_last_seen_timestamp is None
    assert data.wearer_last_seen_timestamp == 1739640505123
    assert data.locked is None  # sometimes absent
    # snake_case names work too (populate_by_name) and the camelCase alias round-trips
    assert LockData(time_remaining_seconds=5).model_dump(by_alias=True, exclude_none=True) == {
        "timeRemainingSeconds": 5}


def test_lock_data_is_lenient() -> None:
    data = LockData.model_validate({
        "trusted": None, "frozen": "garbage", "timeRemainingSeconds": 12.7, "taskPoints": {"x": 1},
        "timeLockedSeconds": float("inf"), "newField": [1, 2], "locked": True,
    })
    assert data.trusted is None and data.frozen is None and data.task_points is None
    assert data.time_remaining_seconds == 13 and data.time_locked_seconds is None
    assert data.locked is True
    assert data.model_extra == {"newField": [1, 2]}
    assert LockData.model_validate({}) == LockData()


def test_session_from_api_shape() -> None:
    body: dict[str, Any] = {"lock": {"_id": LOCK_ID.upper()}, "role": "keyholder", "scopes": ["locks:read", 7],
                            "lockData": SEED_LOCK_DATA, "somethingNew": True}
    session = Session.model_validate(body)
    assert session.lock_id == LOCK_ID
    assert session.role == "keyholder" and session.scopes == ["locks:read"]
    assert session.lock_data.time_remaining_seconds == 27800
    assert session.raw["somethingNew"] is True
    assert "raw" not in repr(session)


@pytest.mark.parametrize("body", [
    {}, {"lock": {}}, {"lock": {"_id": "short"}}, {"lock": {"_id": "g" * 24}}, {"lock": {"_id": 123}},
    {"lock": {"_id": LOCK_ID + "0"}}, None, [], "x",
])
def test_session_requires_a_valid_lock_id(body: Any) -> None:
    with pytest.raises(ValidationError):
        Session.model_validate(body)


def test_session_tolerates_missing_optional_parts() -> None:
    session = Session.model_validate({"lock": {"_id": LOCK_ID}, "scopes": "nope", "lockData": "nope"})
    assert session.scopes == [] and session.lock_data == LockData() and session.role is None


def test_normalize_lock_id() -> None:
    assert normalize_lock_id(LOCK_ID.upper()) == LOCK_ID
    for bad in ("", "x" * 24, LOCK_ID[:-1], None, 5):
        with pytest.raises(InvalidParams):
            normalize_lock_id(bad)


def test_action_names_exclude_settings_and_devices() -> None:
    assert "settings.patch" not in ACTION_NAMES
    for name in ("settings.patch", "device.command", "shock.start", "vibration.start", "all.stop", "", "ADD_TIME"):
        with pytest.raises(InvalidParams):
            build_action(name, {})


@pytest.mark.parametrize(("name", "params", "sent"), [
    ("add_time", 600, 600),
    ("remove_time", 900, 900),
    ("freeze", None, {"durationSeconds": 3600}),
    ("freeze", {"durationSeconds": 60}, {"durationSeconds": 60}),
    ("freeze", FreezeParams(duration_seconds=86400), {"durationSeconds": 86400}),
    ("toggle_freeze", {"duration_seconds": 300}, {"durationSeconds": 300}),
    ("unfreeze", {}, {}),
    ("pillory", {"durationSeconds": 600, "reason": "Missed check-in"},
     {"durationSeconds": 600, "reason": "Missed check-in"}),
    ("pillory", PilloryParams(duration_seconds=60), {"durationSeconds": 60}),
    ("pillory.end", None, {}),
    ("task.assign", TaskAssignParams(task_text="Drink water", points=5, duration_seconds=900),
     {"actor": "extension", "taskText": "Drink water", "points": 5, "verificationRequired": False,
      "durationSeconds": 900}),
    ("task.start_timer", {}, {}),
    ("task.complete", TaskCompleteParams(successful=False, reason="Late"), {"successful": False, "reason": "Late"}),
    ("task.complete", {"successful": True}, {"successful": True}),
    ("hygienic_unlock.start", HygieneParams(), {}),
    ("hygienic_unlock.start", {"durationSeconds": 900}, {"durationSeconds": 900}),
])
def test_build_action_valid(name: str, params: Any, sent: Any) -> None:
    assert build_action(name, params) == {"name": name, "params": sent}


@pytest.mark.parametrize(("name", "params"), [
    ("add_time", 0), ("add_time", -5), ("add_time", True), ("add_time", 1.5), ("add_time", "60"),
    ("add_time", None), ("remove_time", 10**12),
    ("freeze", {"durationSeconds": 59}), ("freeze", {"durationSeconds": 86401}), ("freeze", {"durationSeconds": "60"}),
    ("freeze", {"durationSeconds": 600.0}), ("freeze", {"durationSeconds": 600, "extra": 1}), ("freeze", 600),
    ("toggle_freeze", {"durationSeconds": 0}),
    ("pillory", {}), ("pillory", {"durationSeconds": 0}), ("pillory", {"durationSeconds": 7 * 86400 + 1}),
    ("pillory", {"durationSeconds": 60, "reason": ""}), ("pillory", {"durationSeconds": 60, "reason": "  "}),
    ("pillory", {"durationSeconds": 60, "reason": "x" * 501}),
    ("task.assign", {}), ("task.assign", {"taskText": ""}), ("task.assign", {"taskText": "x" * 1001}),
    ("task.assign", {"taskText": "x", "points": -1}), ("task.assign", {"taskText": "x", "points": 1001}),
    ("task.assign", {"taskText": "x", "actor": "server"}), ("task.assign", {"taskText": "x", "durationSeconds": -1}),
    ("task.assign", {"taskText": "x", "verificationRequired": "yes"}),
    ("task.complete", {}), ("task.complete", {"successful": 1}),
    ("hygienic_unlock.start", {"durationSeconds": 0}),
    ("unfreeze", {"durationSeconds": 60}), ("pillory.end", []),
    ("freeze", CustomLog(title="wrong model")),
])
def test_build_action_invalid(name: str, params: Any) -> None:
    with pytest.raises(InvalidParams) as info:
        build_action(name, params)
    assert isinstance(info.value, ValueError)
    assert name.split(".")[0] in str(info.value) or "params" in str(info.value)


def test_typed_params_raise_validation_errors_directly() -> None:
    with pytest.raises(ValidationError):
        FreezeParams(duration_seconds=59)
    with pytest.raises(ValidationError):
        TaskAssignParams(task_text="")


def test_custom_log() -> None:
    log = CustomLog(title="Discord vote: +1h", description="On the Discord server X.", color="#ffcc00")
    assert log.to_params() == {"title": "Discord vote: +1h", "description": "On the Discord server X.",
                               "role": "extension", "color": "#ffcc00"}
    assert CustomLog(title="t", color="#abc", icon="lock").to_params()["icon"] == "lock"
    for bad in ({"title": ""}, {"title": " "}, {"title": "x" * 181}, {"title": "t", "description": "x" * 2001},
                {"title": "t", "role": "admin"}, {"title": "t", "color": "ffcc00"}, {"title": "t", "color": "#ffcc0"},
                {"title": "t", "color": "#ggg"}):
        with pytest.raises(ValidationError):
            CustomLog.model_validate(bad)
    assert CustomLog(title="x" * 180, description="y" * 2000).title == "x" * 180


def test_custom_notification() -> None:
    note = CustomNotification(title="Vote passed", message="1 hour was added.", target="both")
    assert note.to_params() == {"title": "Vote passed", "message": "1 hour was added.", "target": "both",
                                "showPageOverlay": False}
    assert CustomNotification(title="t", message="m").target == "wearer"
    for bad in ({"title": "", "message": "m"}, {"title": "t" * 101, "message": "m"}, {"title": "t", "message": ""},
                {"title": "t", "message": "m" * 501}, {"title": "t", "message": "m", "target": "all"}):
        with pytest.raises(ValidationError):
            CustomNotification.model_validate(bad)
