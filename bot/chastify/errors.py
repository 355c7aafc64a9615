"""Errors raised by the Chastify client, and the one defensive parser of Chastify error bodies.

Every error carries ``status`` (HTTP status, ``None`` when nothing came back), ``code`` (Chastify's error code,
or a synthetic one) and ``message`` (short, server-provided or ours). None of them ever carries a token, a
header or an httpx exception: the client raises them with ``from None`` and outside of ``except`` blocks.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any

MESSAGE_MAX = 300
CODE_MAX = 64
_CODE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]{0,63}$")


class ChastifyError(Exception):
    """Base of every error the Chastify client raises."""

    default_code = "chastify_error"

    def __init__(self, message: str = "", *, status: int | None = None, code: str | None = None) -> None:
        self.status = status
        self.code = code or self.default_code
        self.message = message
        super().__init__(self._render())

    def _render(self) -> str:
        head = self.code if self.status is None else f"{self.code} (HTTP {self.status})"
        return f"{head}: {self.message}" if self.message else head

    def __str__(self) -> str:
        return self._render()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, message={self.message!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuild through the base constructor so pickling works for subclasses with other signatures.
        return (_rebuild, (type(self), self.__dict__.copy()))


def _rebuild(cls: type[ChastifyError], state: dict[str, Any]) -> ChastifyError:
    err = cls.__new__(cls)
    err.__dict__.update(state)
    Exception.__init__(err, err._render())
    return err


class InvalidParams(ChastifyError, ValueError):
    """Parameters were refused locally, before anything was sent."""

    default_code = "invalid_params"


class UnexpectedResponse(ChastifyError):
    """A 2xx response whose body the client cannot use (e.g. /session without a lock id)."""

    default_code = "unexpected_response"


# 401 ---------------------------------------------------------------------------------------------------
class TokenError(ChastifyError):
    """The credentials were refused (401). The link must be redone by its owner."""

    default_code = "unauthorized"


class MissingToken(TokenError):
    default_code = "missing_token"


class InvalidToken(TokenError):
    default_code = "invalid_token"


class RevokedToken(TokenError):
    default_code = "revoked_token"


# 403 ---------------------------------------------------------------------------------------------------
class PermissionDenied(ChastifyError):
    """403 with a code the client does not know more about."""

    default_code = "forbidden"


class InsufficientScope(PermissionDenied):
    default_code = "insufficient_scope"


class ExtensionNotEnabled(PermissionDenied):
    default_code = "extension_not_enabled"


# 409: the lock is over ----------------------------------------------------------------------------------
class LockGone(ChastifyError):
    """The linked lock is over: mark the link ended, cancel its votes, tell the owner."""

    default_code = "lock_gone"


class NoActiveLock(LockGone):
    default_code = "no_active_lock_session"


class LockEnded(LockGone):
    default_code = "lock_ended"


# Others -------------------------------------------------------------------------------------------------
class RateLimited(ChastifyError):
    """429 and the retries (or the wait allowed) ran out. ``retry_after`` is seconds to wait."""

    default_code = "rate_limited"

    def __init__(self, retry_after: float, message: str = "", *, status: int | None = 429,
                 code: str | None = None) -> None:
        self.retry_after = float(retry_after)
        super().__init__(message or f"retry after {self.retry_after:.1f}s", status=status, code=code)


class ActionRejected(ChastifyError):
    """Chastify refused the request (4xx validation, 409 pillory_not_active, tasks_not_enabled, ...).
    Nothing was applied."""

    default_code = "rejected"

    def __init__(self, code: str | None = None, message: str = "", *, status: int | None = None) -> None:
        super().__init__(message, status=status, code=code)


class ServerError(ChastifyError):
    """5xx on a read, after the retries ran out."""

    default_code = "server_error"


class OutcomeUnknown(ChastifyError):
    """A write may or may not have been applied (timeout, 5xx, dropped connection after sending).
    It was NOT sent again. Re-read ``/session`` and tell the owner."""

    default_code = "outcome_unknown"

    def __init__(self, method: str, path: str, reason: str, *, status: int | None = None) -> None:
        self.method = method
        self.path = path
        self.reason = reason
        super().__init__(f"{method} {path}: {reason}; it may or may not have been applied", status=status)


class ChastifyUnavailable(ChastifyError):
    """Chastify could not be reached after the retries (for writes: nothing was sent)."""

    default_code = "unavailable"

    def __init__(self, method: str, path: str, reason: str) -> None:
        self.method = method
        self.path = path
        self.reason = reason
        super().__init__(f"{method} {path}: {reason}")


class Withdrawn(ChastifyError):
    """The caller's guard said no right before the request would have left (the lock was paused meanwhile):
    nothing was sent."""

    default_code = "withdrawn"


class LockMismatch(ChastifyError):
    """The session's active lock is not the pinned one: never write to it."""

    default_code = "lock_mismatch"

    def __init__(self, expected: str, actual: str) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(f"the active lock is {actual}, not the linked lock {expected}")


_BY_CODE: dict[str, type[ChastifyError]] = {
    "missing_token": MissingToken,
    "invalid_token": InvalidToken,
    "revoked_token": RevokedToken,
    "insufficient_scope": InsufficientScope,
    "extension_not_enabled": ExtensionNotEnabled,
    "no_active_lock_session": NoActiveLock,
    "lock_ended": LockEnded,
}


# Parsing ------------------------------------------------------------------------------------------------
def _clean(value: object, limit: int, secrets: tuple[str, ...] = ()) -> str | None:
    """The value as one short printable line. Secrets are scrubbed FIRST, on the whole text: a token that the
    cut at ``limit`` (or a non-printable character) would split could otherwise survive in part."""
    if value is None or isinstance(value, (dict, list)):
        return None
    text = value if isinstance(value, str) else str(value)
    text = _scrub(text, secrets) or ""
    text = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    if not text:
        return None
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _as_code(value: object, secrets: tuple[str, ...] = ()) -> str | None:
    text = _clean(value, CODE_MAX + 1, secrets)
    if text is None or not _CODE_RE.match(text):
        return None
    return text.lower()


def _extract(body: object, depth: int = 0, secrets: tuple[str, ...] = ()) -> tuple[str | None, str | None]:
    """(code, message) from whatever JSON the server sent, with ``secrets`` scrubbed before any cut."""
    if depth > 3:
        return None, None
    if isinstance(body, dict):
        code: str | None = None
        message: str | None = None
        err = body.get("error")
        if isinstance(err, (dict, list)):
            code, message = _extract(err, depth + 1, secrets)
        elif err is not None:
            code = _as_code(err, secrets)
            if code is None:
                message = _clean(err, MESSAGE_MAX, secrets)
        for key in ("code", "errorCode", "error_code", "type"):
            if code is None and key in body:
                code = _as_code(body[key], secrets)
        for key in ("message", "error_description", "detail", "description", "msg"):
            if message is None and key in body:
                message = _clean(body[key], MESSAGE_MAX, secrets)
        if message is None and isinstance(body.get("errors"), list):
            _, message = _extract(body["errors"], depth + 1, secrets)
        return code, message
    if isinstance(body, list):
        for item in body[:5]:
            code, message = _extract(item, depth + 1, secrets)
            if code or message:
                return code, message
        return None, None
    if isinstance(body, str):
        code = _as_code(body, secrets)
        if code is not None and ("_" in code or code in _BY_CODE):
            return code, None
        return None, _clean(body, MESSAGE_MAX, secrets)
    if isinstance(body, (int, float)) and not isinstance(body, bool):
        return None, _clean(body, MESSAGE_MAX, secrets)
    return None, None


def _decode(body: bytes) -> object:
    if not body or not body.strip():
        return None
    text = body[:65536].decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


def _header(headers: Mapping[str, str] | Iterable[tuple[str, str]] | None, name: str) -> str | None:
    if headers is None:
        return None
    items = headers.items() if isinstance(headers, Mapping) else headers
    for key, value in items:
        if isinstance(key, str) and key.lower() == name:
            return value if isinstance(value, str) else None
    return None


def parse_retry_after(headers: Mapping[str, str] | Iterable[tuple[str, str]] | None,
                      now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds, possibly fractional, or an HTTP-date), or None."""
    raw = _header(headers, "retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
        seconds = max(seconds, 0.0)
    if math.isnan(seconds) or math.isinf(seconds) or seconds < 0:
        return None
    return seconds


def _scrub(text: str | None, secrets: Iterable[str]) -> str | None:
    """``text`` with every occurrence of each secret replaced by ``***``, whatever its letter case."""
    if text is None:
        return None
    for secret in secrets:
        if secret:
            text = re.sub(re.escape(secret), "***", text, flags=re.IGNORECASE)
    return text


def parse_error(status: int, body: bytes | str | None,
                headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
                *, secrets: Iterable[str] = (), now: float | None = None) -> ChastifyError:
    """Map a non-2xx response to the right ChastifyError. Never raises.

    ``secrets`` are scrubbed out of whatever text the server echoed back.
    """
    try:
        return _parse_error(status, body, headers, tuple(secrets), now)
    except Exception:  # pragma: no cover - last line of defence: an error parser must not fail
        return ChastifyError("unreadable error response", status=status if isinstance(status, int) else None)


def _parse_error(status: int, body: bytes | str | None,
                 headers: Mapping[str, str] | Iterable[tuple[str, str]] | None,
                 secrets: tuple[str, ...], now: float | None) -> ChastifyError:
    raw = body.encode("utf-8", errors="replace") if isinstance(body, str) else (body or b"")
    code, message = _extract(_decode(raw), secrets=secrets)
    code = _scrub(code, secrets)
    if code is not None and "***" in code:
        code = None
    message = _scrub(message, secrets) or ""

    if status == 429 or code == "rate_limited":
        retry_after = parse_retry_after(headers, now)
        return RateLimited(60.0 if retry_after is None else retry_after, message, status=status,
                           code=code or "rate_limited")
    if code is not None and code in _BY_CODE:
        return _BY_CODE[code](message, status=status, code=code)
    if status == 401:
        return TokenError(message, status=status, code=code)
    if status == 403:
        return PermissionDenied(message, status=status, code=code)
    if 400 <= status < 500:
        return ActionRejected(code or f"http_{status}", message, status=status)
    if 500 <= status < 600:
        return ServerError(message, status=status, code=code)
    return ChastifyError(message or "unexpected response", status=status, code=code or f"http_{status}")
