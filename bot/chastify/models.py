"""Typed Chastify data (session, lockData) and typed, validated action parameters.

Everything a write sends is validated here BEFORE anything goes on the wire: a refused parameter raises
``InvalidParams`` (a ``ValueError``) and no request is made.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from bot.chastify.errors import InvalidParams

LOCK_ID_RE = re.compile(r"^[0-9a-fA-F]{24}$")
FREEZE_MIN = 60
FREEZE_MAX = 86_400
FREEZE_DEFAULT = 3_600
PILLORY_MAX = 7 * 86_400
TIME_MAX = 10 * 365 * 86_400  # ten years: anything bigger is a typo, not a punishment

# The only action names the client will send. ``settings.patch`` and device commands are never exposed.
ACTION_NAMES: frozenset[str] = frozenset({
    "add_time", "remove_time", "freeze", "pillory", "unfreeze", "toggle_freeze",
    "task.assign", "task.start_timer", "task.complete", "hygienic_unlock.start", "pillory.end",
})


def normalize_lock_id(value: object) -> str:
    """A lock id is 24 hex characters (a Mongo ObjectId); returned in lower case."""
    if not isinstance(value, str) or not LOCK_ID_RE.match(value):
        raise InvalidParams("a lock id is 24 hexadecimal characters")
    return value.lower()


# Read models ---------------------------------------------------------------------------------------------
class LockData(BaseModel):
    """``lockData`` as Chastify returns it. Every field is optional (fields have been seen to disappear);
    a field of an unexpected type reads as ``None`` instead of failing the whole session. Unknown fields are
    kept (``model_extra``)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, alias_generator=to_camel, frozen=True)

    frozen: bool | None = None
    unlockable: bool | None = None
    trusted: bool | None = None
    task_assigned: bool | None = None
    locked: bool | None = None
    time_locked_seconds: int | None = None
    time_remaining_seconds: int | None = None
    max_time_remaining_seconds: int | None = None
    task_points: int | None = None
    task_points_required: int | None = None
    lock_title: str | None = None
    wearer_username: str | None = None
    keyholder_username: str | None = None
    wearer_last_seen_timestamp: int | None = None
    keyholder_last_seen_timestamp: int | None = None

    @field_validator("*", mode="wrap")
    @classmethod
    def _lenient(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        if isinstance(value, float) and not isinstance(value, bool):
            if not math.isfinite(value):
                return None
            value = round(value)
        try:
            return handler(value)
        except ValidationError:
            return None


def _dig(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


class Session(BaseModel):
    """``GET /api/apps/v1/session``: the active lock's id, the token owner's role, the scopes, lockData.

    ``Session.model_validate(body)`` takes the API's shape (``lock._id``, ``role``, ``scopes``,
    ``lockData``) as well as the field names."""

    model_config = ConfigDict(frozen=True)

    lock_id: str
    role: str | None = None
    scopes: list[str] = Field(default_factory=list)
    lock_data: LockData = Field(default_factory=LockData)
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)

    @model_validator(mode="before")
    @classmethod
    def _from_api(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "lock_id" in data:
            return data
        lock_id = (_dig(data, "lock", "_id") or _dig(data, "lock", "id") or data.get("lockId")
                   or _dig(data, "lockData", "lockId"))
        role = data.get("role")
        scopes = data.get("scopes")
        lock_data = data.get("lockData")
        if not isinstance(lock_data, dict):
            lock_data = _dig(data, "lock", "lockData")
        return {
            "lock_id": lock_id,
            "role": role if isinstance(role, str) else None,
            "scopes": [s for s in scopes if isinstance(s, str)] if isinstance(scopes, list) else [],
            "lock_data": lock_data if isinstance(lock_data, dict) else {},
            "raw": data,
        }

    @field_validator("lock_id", mode="before")
    @classmethod
    def _check_lock_id(cls, value: Any) -> str:
        if not isinstance(value, str) or not LOCK_ID_RE.match(value):
            raise ValueError("lock._id must be 24 hexadecimal characters")
        return value.lower()


_TEXT_FIELDS = ("reason", "task_text", "title", "message")


class _Params(BaseModel):
    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, alias_generator=to_camel, frozen=True, strict=True,
    )

    @field_validator(*_TEXT_FIELDS, mode="after", check_fields=False)
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank")
        return value

    def to_params(self) -> dict[str, Any]:
        """The JSON object sent as ``params`` (camelCase, unset optionals left out)."""
        return self.model_dump(by_alias=True, exclude_none=True)


class FreezeParams(_Params):
    duration_seconds: int = Field(FREEZE_DEFAULT, ge=FREEZE_MIN, le=FREEZE_MAX)


class PilloryParams(_Params):
    duration_seconds: int = Field(ge=1, le=PILLORY_MAX)
    reason: str | None = Field(None, min_length=1, max_length=500)



class TaskAssignParams(_Params):
    actor: Literal["extension", "wearer", "keyholder"] = "extension"
    task_text: str = Field(min_length=1, max_length=1000)
    points: int = Field(0, ge=0, le=1000)
    verification_required: bool = False
    duration_seconds: int = Field(0, ge=0, le=TIME_MAX)



class TaskCompleteParams(_Params):
    successful: bool
    reason: str | None = Field(None, min_length=1, max_length=500)



class HygieneParams(_Params):
    duration_seconds: int | None = Field(None, ge=1, le=FREEZE_MAX)


class EmptyParams(_Params):
    pass


class CustomLog(_Params):
    """``POST /logs/custom``. The bot writes with ``role="extension"``."""

    title: str = Field(min_length=1, max_length=180)
    description: str | None = Field(None, max_length=2000)
    role: Literal["extension", "wearer", "keyholder"] = "extension"
    icon: str | None = Field(None, min_length=1, max_length=64)
    color: str | None = Field(None, pattern=r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")



class CustomNotification(_Params):
    """``POST /notifications/custom``."""

    title: str = Field(min_length=1, max_length=100)
    message: str = Field(min_length=1, max_length=500)
    target: Literal["wearer", "keyholder", "both"] = "wearer"
    show_page_overlay: bool = False



def invalid(err: ValidationError, what: str) -> InvalidParams:
    """A readable InvalidParams from a pydantic ValidationError (field: problem; ...)."""
    parts = []
    for e in err.errors(include_url=False, include_input=False):
        loc = ".".join(str(p) for p in e["loc"]) or what
        parts.append(f"{loc}: {e['msg']}")
    return InvalidParams(f"{what}: " + "; ".join(parts))


def validate_params(model: type[_Params], params: Any, what: str) -> dict[str, Any]:
    if isinstance(params, model):
        params = params.model_dump()  # re-validated: an instance may come from model_construct()
    elif isinstance(params, _Params):
        raise InvalidParams(f"{what}: expected {model.__name__}, got {type(params).__name__}")
    elif params is None:
        params = {}
    if not isinstance(params, dict):
        raise InvalidParams(f"{what}: params must be an object")
    try:
        return model.model_validate(params).to_params()
    except ValidationError as e:
        raise invalid(e, what) from None


def positive_seconds(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParams(f"{what}: seconds must be a whole number")
    if value <= 0 or value > TIME_MAX:
        raise InvalidParams(f"{what}: seconds must be between 1 and {TIME_MAX}")
    return value


def nonzero_seconds(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParams(f"{what}: deltaSeconds must be a whole number")
    if value == 0 or abs(value) > TIME_MAX:
        raise InvalidParams(f"{what}: deltaSeconds must be non-zero and at most {TIME_MAX} in size")
    return value


_ACTION_MODELS: dict[str, type[_Params]] = {
    "freeze": FreezeParams,
    "toggle_freeze": FreezeParams,
    "pillory": PilloryParams,
    "unfreeze": EmptyParams,
    "task.assign": TaskAssignParams,
    "task.start_timer": EmptyParams,
    "task.complete": TaskCompleteParams,
    "hygienic_unlock.start": HygieneParams,
    "pillory.end": EmptyParams,
}


def build_action(name: str, params: Any = None) -> dict[str, Any]:
    """Validate an action and return the ``POST /action`` body ``{"name", "params"}``.

    ``params`` may be the typed model or the raw JSON shape (camelCase or snake_case keys);
    ``add_time``/``remove_time`` take a positive whole number of seconds."""
    if not isinstance(name, str) or name not in ACTION_NAMES:
        raise InvalidParams(f"unsupported action {name!r}" if isinstance(name, str) else "unsupported action")
    if name in ("add_time", "remove_time"):
        return {"name": name, "params": positive_seconds(params, name)}
    return {"name": name, "params": validate_params(_ACTION_MODELS[name], params, name)}
