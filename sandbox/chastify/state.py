"""The stand-in's world: locks, tokens and extension sessions, all computed from an injectable clock.

Every piece of mutable state is guarded by one ``threading.RLock`` (``World.guard``): the aiohttp handlers
mutate it on the server's own thread while tests call ``add_lock``/``revoke``/``FakeLock.remaining_seconds``
from theirs. Nothing here awaits while holding the guard.
"""

from __future__ import annotations

import math
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Clock = Callable[[], float]

DEFAULT_SCOPES: tuple[str, ...] = ("locks:read", "locks:write")
HISTORY_TYPES = frozenset(
    {
        "time_added",
        "time_removed",
        "frozen",
        "unfrozen",
        "pillory_started",
        "pillory_ended",
        "task_assigned",
        "task_timer_started",
        "task_completed",
        "temporary_opening",
        "custom",
    }
)


class ApiError(Exception):
    """An error answer: ``{key: code, "message": message}`` with ``status`` (and optional headers)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        key: str = "error",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.key = key
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {self.key: self.code, "message": self.message}


def new_lock_id() -> str:
    """24 lowercase hex characters, like a Mongo ObjectId."""
    return secrets.token_hex(12)


class FakeLock:
    """One lock's live state. Time-dependent values are computed from the clock when read.

    Remaining time is kept as ``_base`` seconds at clock time ``_anchor``; it falls one second per second
    unless the lock is frozen (a freeze with an end time thaws by itself) and never goes below 0.
    """

    def __init__(
        self,
        *,
        lock_id: str,
        token: str,
        clock: Clock,
        guard: threading.RLock,
        role: str,
        remaining: int,
        title: str,
        wearer: str,
        keyholder: str | None,
        tasks: bool,
        pillory: bool,
        hygiene: bool,
        max_remaining: int | None,
        scopes: list[str],
    ) -> None:
        now = clock()
        self.id = lock_id
        self.token = token
        self._clock = clock
        self._guard = guard
        self.title = title
        self.role = role
        self.wearer = wearer
        self.keyholder = keyholder
        self.tasks_enabled = tasks
        self.pillory_enabled = pillory
        self.hygiene_enabled = hygiene
        self.max_remaining = max_remaining
        self.scopes = list(scopes)
        self.trusted = True
        self.task_points = 0
        self.task_points_required = 0
        self.hygiene_default_seconds = 900
        self.started_at = now
        self.ended = False
        self.ended_at: float | None = None
        self._base = float(max(0, remaining))
        self._anchor = now
        self._frozen = False
        self._frozen_until: float | None = None
        self._pillory_until: float | None = None
        self._pillory_reason: str | None = None
        self._hygiene_until: float | None = None
        self.task: dict[str, Any] | None = None
        self.history: list[dict[str, Any]] = []
        self.notifications: list[dict[str, Any]] = []
        # extension session id -> that extension's unlock blockers / home actions
        self.unlock_blockers: dict[str, list[str]] = {}
        self.home_actions: dict[str, list[dict[str, Any]]] = {}

    # ----- time -------------------------------------------------------------------------------------
    def _now(self) -> float:
        now = self._clock()
        if self.ended_at is not None:
            now = min(now, self.ended_at)
        return now

    def _settle(self, now: float) -> None:
        """Thaw a timed freeze whose end has passed: time resumes falling from that moment."""
        if self._frozen and self._frozen_until is not None and now >= self._frozen_until:
            self._frozen = False
            self._anchor = self._frozen_until
            self._frozen_until = None

    def _remaining_at(self, now: float) -> float:
        self._settle(now)
        if self._frozen:
            return max(0.0, self._base)
        return max(0.0, self._base - max(0.0, now - self._anchor))

    def remaining_seconds(self) -> int:
        with self._guard:
            value = self._remaining_at(self._now())
        return max(0, math.ceil(value - 1e-9))

    def time_locked_seconds(self) -> int:
        with self._guard:
            return max(0, int(self._now() - self.started_at))

    @property
    def frozen(self) -> bool:
        with self._guard:
            self._settle(self._now())
            return self._frozen

    @property
    def frozen_until(self) -> float | None:
        with self._guard:
            self._settle(self._now())
            return self._frozen_until if self._frozen else None

    @property
    def pillory_until(self) -> float | None:
        with self._guard:
            until = self._pillory_until
            return until if until is not None and self._now() < until else None

    @property
    def pillory_reason(self) -> str | None:
        with self._guard:
            return self._pillory_reason if self.pillory_until is not None else None

    @property
    def in_pillory(self) -> bool:
        return self.pillory_until is not None

    @property
    def hygiene_until(self) -> float | None:
        with self._guard:
            until = self._hygiene_until
            return until if until is not None and self._now() < until else None

    @property
    def hygiene_open(self) -> bool:
        return self.hygiene_until is not None

    @property
    def task_assigned(self) -> bool:
        with self._guard:
            return self.task is not None and self.task.get("status") == "open"

    @property
    def unlockable(self) -> bool:
        with self._guard:
            blocked = any(self.unlock_blockers.values())
            return self.remaining_seconds() == 0 and not self.frozen and not blocked

    def custom_logs(self) -> list[dict[str, Any]]:
        with self._guard:
            return [dict(entry) for entry in self.history if entry["type"] == "custom"]

    # ----- mutations (callers validate first; all take the guard) ----------------------------------
    def record(self, kind: str, **fields: Any) -> dict[str, Any]:
        assert kind in HISTORY_TYPES, kind
        entry: dict[str, Any] = {"type": kind, "at": self._clock(), **fields}
        with self._guard:
            self.history.append(entry)
        return entry

    def change_time(self, delta: int, *, source: str) -> int:
        """Add (delta > 0) or remove (delta < 0) time; returns the change actually applied."""
        with self._guard:
            now = self._now()
            current = self._remaining_at(now)
            target = max(0.0, current + delta)
            if delta > 0 and self.max_remaining is not None:
                target = min(target, max(current, float(self.max_remaining)))
            self._base = target
            self._anchor = now
            applied = round(target - current)
            if delta > 0:
                self.record("time_added", seconds=applied, requested=delta, source=source)
            else:
                self.record("time_removed", seconds=-applied, requested=-delta, source=source)
            return applied

    def freeze(self, duration: int, *, source: str) -> None:
        with self._guard:
            now = self._now()
            self._base = self._remaining_at(now)
            self._anchor = now
            self._frozen = True
            self._frozen_until = now + duration
            self.record("frozen", durationSeconds=duration, until=self._frozen_until, source=source)

    def unfreeze(self, *, source: str) -> bool:
        """Returns False (and changes nothing) when the lock was not frozen."""
        with self._guard:
            now = self._now()
            self._settle(now)
            if not self._frozen:
                return False
            self._frozen = False
            self._frozen_until = None
            self._anchor = now
            self.record("unfrozen", source=source)
            return True

    def start_pillory(self, duration: int, reason: str | None, *, source: str) -> None:
        with self._guard:
            now = self._now()
            self._pillory_until = now + duration
            self._pillory_reason = reason
            self.record("pillory_started", durationSeconds=duration, reason=reason, until=now + duration, source=source)

    def end_pillory(self, *, source: str) -> None:
        with self._guard:
            self._pillory_until = None
            self._pillory_reason = None
            self.record("pillory_ended", source=source)

    def assign_task(self, task: dict[str, Any], *, source: str) -> None:
        with self._guard:
            replaced = None
            if self.task is not None and self.task.get("status") == "open":
                self.task["status"] = "cancelled"
                replaced = self.task.get("taskText")
            self.task = {**task, "timerStartedAt": None, "status": "open", "assignedAt": self._clock()}
            self.record("task_assigned", **task, replaced=replaced, source=source)

    def start_task_timer(self, *, source: str) -> None:
        with self._guard:
            assert self.task is not None
            self.task["timerStartedAt"] = self._clock()
            self.record("task_timer_started", taskText=self.task["taskText"], source=source)

    def complete_task(self, successful: bool, reason: str | None, *, source: str) -> None:
        with self._guard:
            assert self.task is not None
            self.task["status"] = "completed" if successful else "failed"
            points = int(self.task.get("points") or 0)
            if successful:
                self.task_points += points
            self.record(
                "task_completed",
                taskText=self.task["taskText"],
                successful=successful,
                reason=reason,
                points=points if successful else 0,
                source=source,
            )

    def open_hygiene(self, duration: int, actor: str, *, source: str) -> None:
        with self._guard:
            now = self._now()
            self._hygiene_until = now + duration
            self.record("temporary_opening", durationSeconds=duration, actor=actor, until=now + duration, source=source)

    def end(self) -> None:
        with self._guard:
            if not self.ended:
                now = self._clock()
                self._base = self._remaining_at(now)
                self._anchor = now
                self.ended = True
                self.ended_at = now

    # ----- the API's view ---------------------------------------------------------------------------
    def lock_data(self) -> dict[str, Any]:
        with self._guard:
            data: dict[str, Any] = {
                "frozen": self.frozen,
                "unlockable": self.unlockable,
                "trusted": self.trusted,
                "taskAssigned": self.task_assigned,
                "timeLockedSeconds": self.time_locked_seconds(),
                "timeRemainingSeconds": self.remaining_seconds(),
                "taskPoints": self.task_points,
                "taskPointsRequired": self.task_points_required,
                "lockTitle": self.title,
                "wearerUsername": self.wearer,
                "keyholderUsername": self.keyholder,
                "wearerLastSeenTimestamp": int(self._clock() * 1000),
                "keyholderLastSeenTimestamp": None,
                "pillory": self.in_pillory,
                "hygieneOpen": self.hygiene_open,
            }
            if self.max_remaining is not None:
                data["maxTimeRemainingSeconds"] = self.max_remaining
            return data

    def __repr__(self) -> str:
        return f"FakeLock(id={self.id!r}, title={self.title!r}, role={self.role!r}, ended={self.ended})"


@dataclass
class ExtensionSession:
    session_id: str
    main_token: str
    lock_id: str
    opened_at: float
    ttl_seconds: float | None
    enabled: bool = True
    state: Any = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def expired(self, now: float) -> bool:
        return self.ttl_seconds is not None and now >= self.opened_at + self.ttl_seconds


class World:
    """Tokens, locks and extension sessions. All public methods take ``guard``."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.guard = threading.RLock()
        self.locks: dict[str, FakeLock] = {}
        self.token_locks: dict[str, list[str]] = {}
        # a second person's token on a lock (the keyholder's beside the wearer's): (token, lock id) -> role
        self.token_roles: dict[tuple[str, str], str] = {}
        self.revoked: set[str] = set()
        self.sessions: dict[str, ExtensionSession] = {}

    def add_lock(self, token: str, **kwargs: Any) -> FakeLock:
        with self.guard:
            lock_id = new_lock_id()
            while lock_id in self.locks:
                lock_id = new_lock_id()
            lock = FakeLock(lock_id=lock_id, token=token, clock=self.clock, guard=self.guard, **kwargs)
            self.locks[lock_id] = lock
            self.token_locks.setdefault(token, []).append(lock_id)
            return lock

    def share(self, lock_id: str, token: str, role: str) -> None:
        """Give ``token`` (another person's DEV token) access to the lock, with that person's role."""
        with self.guard:
            self.lock(lock_id)
            self.token_locks.setdefault(token, []).append(lock_id)
            self.token_roles[(token, lock_id)] = role

    def role_of(self, token: str | None, lock: FakeLock) -> str:
        with self.guard:
            return self.token_roles.get((token or "", lock.id), lock.role)

    def lock(self, lock_id: str) -> FakeLock:
        with self.guard:
            try:
                return self.locks[lock_id]
            except KeyError:
                raise KeyError(f"no lock {lock_id!r} in the stand-in") from None

    def all_locks(self) -> list[FakeLock]:
        with self.guard:
            return list(self.locks.values())

    def resolve_dev(self, token: str | None, lock_header: str | None) -> FakeLock:
        """The lock a DEV-token call acts on, or the documented 401/409 error."""
        with self.guard:
            if not token:
                raise ApiError(401, "missing_token", "Send Authorization: Bearer <DEV token>.")
            if token in self.revoked:
                raise ApiError(401, "revoked_token", "This DEV key was revoked.")
            if token not in self.token_locks:
                raise ApiError(401, "invalid_token", "The token is wrong or was copied incorrectly.")
            owned = self.token_locks[token]
            if lock_header is not None and lock_header != "":
                if lock_header not in owned:
                    raise ApiError(409, "no_active_lock_session", "No active lock session with that lock id.")
                lock = self.locks[lock_header]
                if lock.ended:
                    raise ApiError(409, "lock_ended", "The resolved lock is no longer active.")
                return lock
            for lock_id in reversed(owned):
                if not self.locks[lock_id].ended:
                    return self.locks[lock_id]
            raise ApiError(409, "no_active_lock_session", "The user does not currently have an active lock.")

    def open_session(self, lock_id: str, ttl_seconds: float | None) -> ExtensionSession:
        with self.guard:
            self.lock(lock_id)
            session = ExtensionSession(
                session_id=secrets.token_hex(12),
                main_token="main-" + secrets.token_hex(16),
                lock_id=lock_id,
                opened_at=self.clock(),
                ttl_seconds=ttl_seconds,
            )
            self.sessions[session.session_id] = session
            return session

    def resolve_extension(
        self, session_id: str, key: str | None, expected_key: str, main_token: str | None
    ) -> tuple[ExtensionSession, FakeLock]:
        with self.guard:
            if not key:
                raise ApiError(401, "missing_token", "Send Authorization: Bearer <developer key>.")
            if not secrets.compare_digest(key.encode(), expected_key.encode()):
                raise ApiError(401, "invalid_token", "Unknown developer key.")
            session = self.sessions.get(session_id)
            if (
                session is None
                or not main_token
                or not secrets.compare_digest(main_token.encode(), session.main_token.encode())
            ):
                raise ApiError(401, "invalid_token", "Unknown session or main token.")
            if session.expired(self.clock()):
                raise ApiError(401, "invalid_token", "The launch token has expired.")
            if not session.enabled:
                raise ApiError(403, "extension_not_enabled", "The extension is not enabled on this lock.")
            lock = self.locks[session.lock_id]
            if lock.ended:
                raise ApiError(409, "lock_ended", "The resolved lock is no longer active.")
            return session, lock
