"""Validation and application of lock actions, custom logs and notifications.

Each function validates first (raising ``ApiError`` 400/409 with nothing changed) and only then mutates
the lock, so a rejected call never leaves a half-applied change behind.
"""

from __future__ import annotations

import re
from typing import Any

from .state import ApiError, FakeLock

FREEZE_MIN, FREEZE_MAX, FREEZE_DEFAULT = 60, 86400, 3600
PILLORY_MIN, PILLORY_MAX = 60, 7 * 86400
HYGIENE_MIN, HYGIENE_MAX = 60, 86400
TASK_POINTS_MIN, TASK_POINTS_MAX = 0, 100
TASK_TEXT_MAX = 1000
REASON_MAX = 500
ACTORS = ("wearer", "keyholder", "extension")
LOG_ROLES = ("extension", "wearer", "keyholder")
NOTIFY_TARGETS = ("wearer", "keyholder", "both")
COLOR_RE = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")

ACTION_NAMES = (
    "add_time",
    "remove_time",
    "freeze",
    "pillory",
    "unfreeze",
    "toggle_freeze",
    "settings.patch",
    "task.assign",
    "task.start_timer",
    "task.complete",
    "hygienic_unlock.start",
    "pillory.end",
)


def invalid(message: str) -> ApiError:
    return ApiError(400, "validation_error", message)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def int_field(
    params: dict[str, Any],
    key: str,
    *,
    lo: int,
    hi: int,
    default: int | None = None,
    required: bool = False,
) -> int | None:
    value = params.get(key)
    if value is None:
        if required:
            raise invalid(f"{key} is required")
        return default
    if not is_int(value):
        raise invalid(f"{key} must be an integer")
    if not lo <= value <= hi:
        raise invalid(f"{key} must be between {lo} and {hi}")
    return int(value)


def str_field(params: dict[str, Any], key: str, *, lo: int = 0, hi: int, required: bool = False) -> str | None:
    value = params.get(key)
    if value is None:
        if required:
            raise invalid(f"{key} is required")
        return None
    if not isinstance(value, str):
        raise invalid(f"{key} must be a string")
    if len(value) > hi or len(value.strip()) < lo:
        raise invalid(f"{key} must be {lo}..{hi} characters")
    return value


def bool_field(params: dict[str, Any], key: str, *, default: bool | None = None, required: bool = False) -> bool:
    value = params.get(key)
    if value is None:
        if required or default is None:
            raise invalid(f"{key} is required")
        return default
    if not isinstance(value, bool):
        raise invalid(f"{key} must be a boolean")
    return value


def dict_params(params: Any) -> dict[str, Any]:
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise invalid("params must be an object")
    return params


def positive_seconds(params: Any) -> int:
    if not is_int(params) or params <= 0:
        raise invalid("params must be a positive integer number of seconds")
    return int(params)


def run_action(lock: FakeLock, body: Any, *, source: str) -> dict[str, Any]:
    """``POST /action``: returns a short description of what changed (merged into the answer)."""
    if not isinstance(body, dict):
        raise invalid("body must be an object {name, params}")
    name = body.get("name")
    if not isinstance(name, str) or name not in ACTION_NAMES:
        raise invalid(f"unknown action name {name!r}")
    raw = body.get("params")

    if name in ("add_time", "remove_time"):
        seconds = positive_seconds(raw)
        applied = lock.change_time(seconds if name == "add_time" else -seconds, source=source)
        return {"appliedSeconds": applied}

    if name == "freeze":
        params = dict_params(raw)
        duration = int_field(params, "durationSeconds", lo=FREEZE_MIN, hi=FREEZE_MAX, default=FREEZE_DEFAULT)
        assert duration is not None
        lock.freeze(duration, source=source)
        return {"frozen": True}

    if name == "unfreeze":
        dict_params(raw)
        changed = lock.unfreeze(source=source)
        return {"frozen": False, "changed": changed}

    if name == "toggle_freeze":
        params = dict_params(raw)
        duration = int_field(params, "durationSeconds", lo=FREEZE_MIN, hi=FREEZE_MAX, default=FREEZE_DEFAULT)
        assert duration is not None
        if lock.frozen:
            lock.unfreeze(source=source)
            return {"frozen": False}
        lock.freeze(duration, source=source)
        return {"frozen": True}

    if name == "pillory":
        params = dict_params(raw)
        duration = int_field(params, "durationSeconds", lo=PILLORY_MIN, hi=PILLORY_MAX, required=True)
        reason = str_field(params, "reason", hi=REASON_MAX)
        assert duration is not None
        if not lock.pillory_enabled:
            raise ApiError(409, "pillory_not_enabled", "Pillory is not enabled in the session configuration.")
        lock.start_pillory(duration, reason, source=source)
        return {"pillory": True}

    if name == "pillory.end":
        dict_params(raw)
        if not lock.in_pillory:
            raise ApiError(409, "pillory_not_active", "The lock is not currently in pillory.")
        lock.end_pillory(source=source)
        return {"pillory": False}

    if name == "task.assign":
        params = dict_params(raw)
        actor = params.get("actor")
        if actor is not None and actor not in ACTORS:
            raise invalid("actor must be wearer, keyholder or extension")
        text = str_field(params, "taskText", lo=1, hi=TASK_TEXT_MAX, required=True)
        points = params.get("points", 0)
        if points is None:
            points = 0
        if not is_int(points):
            raise invalid("points must be an integer")
        verification = bool_field(params, "verificationRequired", default=False)
        duration = int_field(params, "durationSeconds", lo=0, hi=30 * 86400, default=0)
        if not lock.tasks_enabled:
            raise ApiError(409, "tasks_not_enabled", "The Tasks module is not enabled on this lock.")
        task = {
            "taskText": text,
            "points": max(TASK_POINTS_MIN, min(TASK_POINTS_MAX, points)),  # clamped server-side
            "verificationRequired": verification,
            "durationSeconds": duration,
            "actor": actor or "extension",
        }
        lock.assign_task(task, source=source)
        return {"task": dict(lock.task or {})}

    if name == "task.start_timer":
        dict_params(raw)
        if not lock.tasks_enabled:
            raise ApiError(409, "tasks_not_enabled", "The Tasks module is not enabled on this lock.")
        if not lock.task_assigned:
            raise ApiError(409, "no_active_task", "There is no active task run.")
        assert lock.task is not None
        if not lock.task.get("durationSeconds"):
            raise ApiError(409, "task_has_no_duration", "The current task has no duration configured.")
        lock.start_task_timer(source=source)
        return {"task": dict(lock.task)}

    if name == "task.complete":
        params = dict_params(raw)
        successful = bool_field(params, "successful", required=True)
        reason = str_field(params, "reason", hi=REASON_MAX)
        if not lock.tasks_enabled:
            raise ApiError(409, "tasks_not_enabled", "The Tasks module is not enabled on this lock.")
        if not lock.task_assigned:
            raise ApiError(409, "no_active_task", "There is no active task run.")
        lock.complete_task(successful, reason, source=source)
        return {"task": dict(lock.task or {})}

    if name == "hygienic_unlock.start":
        params = dict_params(raw)
        duration = int_field(params, "durationSeconds", lo=HYGIENE_MIN, hi=HYGIENE_MAX)
        return open_hygiene(lock, duration, actor="extension" if source == "extension" else lock.role, source=source)

    assert name == "settings.patch"
    dict_params(raw)
    return {"changed": False}


def open_hygiene(lock: FakeLock, duration: int | None, *, actor: str, source: str) -> dict[str, Any]:
    if not lock.hygiene_enabled:
        raise ApiError(
            409, "hygienic_opening_not_enabled", "The Hygiene Opening extension is not enabled on this lock."
        )
    if lock.hygiene_open:
        raise ApiError(409, "hygienic_opening_in_progress", "A hygiene opening is already in progress.")
    lock.open_hygiene(duration or lock.hygiene_default_seconds, actor, source=source)
    return {"hygieneOpen": True}


def apply_time(lock: FakeLock, body: Any, *, source: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid("body must be an object {deltaSeconds}")
    delta = body.get("deltaSeconds")
    if not isinstance(delta, int) or isinstance(delta, bool) or delta == 0:
        raise invalid("deltaSeconds must be a nonzero integer")
    if abs(delta) > 10 * 365 * 86400:
        raise invalid("deltaSeconds is out of range")
    applied = lock.change_time(int(delta), source=source)
    return {"appliedSeconds": applied}


def freeze(lock: FakeLock, body: Any, *, source: str) -> dict[str, Any]:
    params = dict_params(body)
    duration = int_field(params, "durationSeconds", lo=FREEZE_MIN, hi=FREEZE_MAX, default=FREEZE_DEFAULT)
    assert duration is not None
    lock.freeze(duration, source=source)
    return {"frozen": True}


def unfreeze(lock: FakeLock, body: Any, *, source: str) -> dict[str, Any]:
    dict_params(body)
    changed = lock.unfreeze(source=source)
    return {"frozen": False, "changed": changed}


def custom_log(lock: FakeLock, body: Any, *, source: str) -> dict[str, Any]:
    """``POST /logs/custom``. Its validation errors use ``{"code": ...}`` like the real one sometimes does."""
    try:
        if not isinstance(body, dict):
            raise invalid("body must be an object")
        title = str_field(body, "title", lo=1, hi=180, required=True)
        description = str_field(body, "description", hi=2000)
        role = body.get("role")
        if role not in LOG_ROLES:
            raise invalid("role must be extension, wearer or keyholder")
        icon = str_field(body, "icon", hi=64)
        color = body.get("color")
        if color is not None and (not isinstance(color, str) or not COLOR_RE.match(color)):
            raise invalid("color must be #RGB or #RRGGBB")
    except ApiError as exc:
        exc.key = "code"
        raise
    entry = lock.record(
        "custom", title=title, description=description, role=role, icon=icon, color=color, source=source
    )
    return {"log": {k: v for k, v in entry.items() if k != "source"}}


def notification(lock: FakeLock, body: Any, *, source: str, now: float) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid("body must be an object")
    title = str_field(body, "title", lo=1, hi=100, required=True)
    message = str_field(body, "message", lo=1, hi=500, required=True)
    target = body.get("target", "wearer")
    if target not in NOTIFY_TARGETS:
        raise invalid("target must be wearer, keyholder or both")
    overlay = bool_field(body, "showPageOverlay", default=False)
    item = {
        "type": "extension_app_message",
        "title": title,
        "message": message,
        "target": target,
        "showPageOverlay": overlay,
        "at": now,
        "source": source,
    }
    lock.notifications.append(item)
    return {"notification": {k: v for k, v in item.items() if k != "source"}}
