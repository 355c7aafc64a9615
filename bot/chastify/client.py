"""Async Chastify client on one ``httpx.AsyncClient``.

The way in: :meth:`ChastifyClient.dev` -> :class:`DevApi`, a lock owner's DEV token on ``/api/apps/v1``, pinned
to one lock (``x-chastify-lock-id``). (Chastify's extension API, an app-scoped developer key plus a session's main
token, is not used by the bot; the stand-in still serves it, see ``sandbox/chastify``.)

Retry rules (the heart of "never apply a vote twice"):

* 429 on any call: wait Retry-After (or backoff) and retry, up to ``max_retries``; then :class:`RateLimited`.
* Nothing sent (connect error/timeout, pool timeout): retry with capped exponential backoff and jitter;
  then :class:`ChastifyUnavailable`.
* Reads (GET): read timeouts, dropped connections and 5xx are retried too.
* Writes (POST/PUT/PATCH): a timeout, a dropped connection or a 5xx after sending raises
  :class:`OutcomeUnknown` at once. The write is NEVER sent again.
* Guarded writes (``client.dev(..., guard=...)``, the outbox's lock actions) never wait at all: no limiter
  wait, no 429 wait, no backoff. They raise at once (RateLimited, ChastifyUnavailable) so the caller can queue
  them where a safeword can cancel them, and the guard is asked synchronously right before the request is handed
  to httpx (:class:`Withdrawn` when it says no). What follows, waiting for a pooled connection and connecting,
  can take up to the connect timeout: a request handed over cannot be called back.

No token ever reaches a repr, a log line or an exception: tokens live in :class:`_Secret`, logs carry method,
path, status and duration only, and httpx exceptions are converted to plain data before anything is raised.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import ValidationError

from bot import __version__
from bot.chastify.errors import (
    ChastifyUnavailable,
    InvalidParams,
    LockMismatch,
    OutcomeUnknown,
    RateLimited,
    UnexpectedResponse,
    Withdrawn,
    parse_error,
    parse_retry_after,
)
from bot.chastify.limiter import ActionLimiter, limiter_key, token_fingerprint
from bot.chastify.models import (
    FREEZE_DEFAULT,
    CustomLog,
    CustomNotification,
    FreezeParams,
    Session,
    TaskAssignParams,
    build_action,
    nonzero_seconds,
    normalize_lock_id,
    validate_params,
)

log = logging.getLogger("bot.chastify")

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]
# Asked synchronously right before a guarded request is handed to httpx: None lets it go, a text withdraws it.
Guard = Callable[[], str | None]
JSONObject = dict[str, Any]

DEFAULT_USER_AGENT = f"chastify-discord-bot/{__version__}"
DEV_BASE = "/api/apps/v1"
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_NO_BODY: Any = object()


@dataclass(frozen=True)
class Timeouts:
    """Seconds. ``total`` bounds one attempt (connect + send + read) with ``asyncio.timeout``."""

    connect: float = 5.0
    read: float = 10.0
    total: float = 15.0


class _Secret:
    """A token that never shows itself: repr/str/format give ``***``; it cannot be pickled."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "***"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("secrets cannot be pickled")


def clean_token(raw: object, what: str = "token") -> str:
    """Strip what users paste around a token (spaces, quotes, a ``Bearer `` prefix) and check it is one
    header-safe word. Raises InvalidParams (without the value) otherwise."""
    if not isinstance(raw, str):
        raise InvalidParams(f"the {what} must be text")
    text = raw.strip().strip("\"'`").strip()
    if text.lower() == "bearer" or text[:7].lower() in ("bearer ", "bearer\t"):
        text = text[6:].strip().strip("\"'`").strip()
    if not text or len(text) > 4096 or any(not ("\x21" <= ch <= "\x7e") for ch in text):
        raise InvalidParams(f"the {what} is empty or malformed")
    return text


@dataclass(frozen=True)
class _Failure:
    """A transport failure, as plain data (no exception object, so no headers, is kept)."""

    reason: str
    sent: bool  # the request may have reached the server
    retryable: bool = True


@dataclass(frozen=True)
class _Reply:
    status: int
    content: bytes
    headers: httpx.Headers


def _json_object(content: bytes) -> JSONObject:
    """A 2xx body as a dict: {} when empty or not JSON, ``{"data": value}`` for a non-object."""
    if not content.strip():
        return {}
    try:
        value = json.loads(content)
    except (ValueError, RecursionError):
        log.warning("Chastify returned a 2xx body that is not JSON (%d bytes)", len(content))
        return {}
    return value if isinstance(value, dict) else {"data": value}


class ChastifyClient:
    """One connection pool for every Chastify call the bot makes. Use as ``async with`` or call
    :meth:`aclose`. ``clock`` (monotonic) and ``sleep`` are injectable and must agree with each other."""

    def __init__(
        self,
        base_url: str,
        *,
        timeouts: Timeouts = Timeouts(),
        limiter: ActionLimiter | None = None,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        max_retry_after: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        jitter: Callable[[], float] | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
    ) -> None:
        url = httpx.URL(base_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("base_url must be an http(s) URL")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.base_url = str(url).rstrip("/")
        self.timeouts = timeouts
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self._jitter = jitter if jitter is not None else random.SystemRandom().random
        self.limiter = limiter if limiter is not None else ActionLimiter(clock=clock, sleep=sleep)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(connect=timeouts.connect, read=timeouts.read, write=timeouts.read,
                                  pool=timeouts.connect),
            transport=transport,
            follow_redirects=False,
            headers={"User-Agent": user_agent, "Accept": "application/json"},
        )

    def __repr__(self) -> str:
        return f"ChastifyClient(base_url={self.base_url!r})"

    async def __aenter__(self) -> ChastifyClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def closed(self) -> bool:
        return self._http.is_closed

    # Entry points ---------------------------------------------------------------------------------------
    def dev(self, token: str, lock_id: str | None = None, *, guard: Guard | None = None) -> DevApi:
        """Act with a lock owner's DEV token, pinned to ``lock_id`` when given. With ``guard``, its lock actions
        are guarded writes (see the module's retry rules)."""
        return DevApi(self, _Secret(clean_token(token, "DEV token")), lock_id, guard)

    # Transport ----------------------------------------------------------------------------------------
    def _backoff(self, attempt: int) -> float:
        delay = min(self.backoff_cap, self.backoff_base * (2.0 ** attempt))
        return delay * (0.5 + 0.5 * self._jitter())

    async def _attempt(self, request: httpx.Request) -> _Reply | _Failure:
        try:
            async with asyncio.timeout(self.timeouts.total):
                response = await self._http.send(request)
            return _Reply(response.status_code, response.content, response.headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as e:
            return _Failure(f"could not connect ({type(e).__name__})", sent=False)
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as e:
            return _Failure(f"bad request URL ({type(e).__name__})", sent=False, retryable=False)
        except TimeoutError:
            return _Failure(f"no complete answer within {self.timeouts.total:g}s", sent=True)
        except httpx.TimeoutException as e:
            return _Failure(f"timed out ({type(e).__name__})", sent=True)
        except httpx.TransportError as e:
            return _Failure(f"connection failed ({type(e).__name__})", sent=True)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str],
        body: Any = _NO_BODY,
        limit_key: Hashable | None = None,
        display_path: str | None = None,
        secrets: tuple[str, ...] = (),
        guard: Guard | None = None,
    ) -> tuple[int, bytes]:
        """Send one logical call with the retry rules above; returns (status, body) of a 2xx answer."""
        method = method.upper()
        shown = display_path or path
        is_write = method in _WRITE_METHODS
        send_headers = dict(headers)
        content: bytes | None = None
        if body is not _NO_BODY:
            try:
                content = json.dumps(body, separators=(",", ":"), allow_nan=False).encode("utf-8")
            except (TypeError, ValueError):
                raise InvalidParams(f"{method} {shown}: the body is not JSON-serialisable") from None
            send_headers["Content-Type"] = "application/json"

        limiter = self.limiter if limit_key is not None else None
        attempt = 0
        holding_slot = False
        while True:
            if limiter is not None and not holding_slot:
                if guard is None:
                    await limiter.acquire(limit_key)
                elif not limiter.try_acquire(limit_key):
                    raise RateLimited(max(limiter.wait_time(limit_key), 0.001), "the lock's action budget is spent",
                                      status=None)
                holding_slot = True
            if guard is not None:
                refusal = guard()  # synchronous: nothing can change between this answer and the send
                if refusal is not None:
                    if limiter is not None and holding_slot:
                        limiter.release(limit_key)
                    raise Withdrawn(refusal)
            request = self._http.build_request(method, path, headers=send_headers, content=content)
            started = self._clock()
            result = await self._attempt(request)
            elapsed = self._clock() - started
            del request

            if isinstance(result, _Failure):
                if result.sent and is_write:
                    log.warning("%s %s: %s after %.3fs; outcome unknown, not re-sent",
                                method, shown, result.reason, elapsed)
                    raise OutcomeUnknown(method, shown, result.reason) from None
                if result.sent:
                    holding_slot = False
                if not result.retryable or attempt >= self.max_retries or guard is not None:
                    if limiter is not None and holding_slot:
                        limiter.release(limit_key)  # never sent: give the slot back
                    log.warning("%s %s: %s; giving up after %d attempt(s)", method, shown, result.reason,
                                attempt + 1)
                    raise ChastifyUnavailable(method, shown, result.reason) from None
                delay = self._backoff(attempt)
                attempt += 1
                log.info("%s %s: %s; retry %d/%d in %.2fs", method, shown, result.reason, attempt,
                         self.max_retries, delay)
                await self._sleep(delay)
                continue

            holding_slot = False
            status = result.status
            log.debug("%s %s -> %d in %.3fs", method, shown, status, elapsed)
            if 200 <= status < 300:
                return status, result.content

            if status == 429:
                told = parse_retry_after(result.headers, now=self._wall_clock())
                delay = told if told is not None else self._backoff(attempt)
                if limiter is not None:
                    limiter.note_rate_limited(limit_key, delay)
                if attempt >= self.max_retries or delay > self.max_retry_after or guard is not None:
                    err = parse_error(status, result.content, result.headers, secrets=secrets)
                    log.warning("%s %s: rate limited; giving up, retry after %.2fs", method, shown, delay)
                    raise RateLimited(delay, err.message, status=status, code=err.code) from None
                attempt += 1
                log.info("%s %s: rate limited; retry %d/%d in %.2fs", method, shown, attempt,
                         self.max_retries, delay)
                if limiter is None:
                    await self._sleep(delay)
                # else: the limiter now blocks this key, and acquire() waits it out.
                continue

            if 500 <= status < 600:
                if is_write:
                    log.warning("%s %s: HTTP %d; outcome unknown, not re-sent", method, shown, status)
                    raise OutcomeUnknown(method, shown, f"HTTP {status}", status=status) from None
                if attempt < self.max_retries:
                    delay = self._backoff(attempt)
                    attempt += 1
                    log.info("%s %s: HTTP %d; retry %d/%d in %.2fs", method, shown, status, attempt,
                             self.max_retries, delay)
                    await self._sleep(delay)
                    continue

            raise parse_error(status, result.content, result.headers, secrets=secrets) from None


class _LockActions:
    """Typed wrappers over ``action()``, shared by the DEV and the extension API."""

    async def action(self, name: str, params: Any = None) -> JSONObject:
        raise NotImplementedError

    async def add_time(self, seconds: int) -> JSONObject:
        return await self.action("add_time", seconds)

    async def remove_time(self, seconds: int) -> JSONObject:
        return await self.action("remove_time", seconds)

    async def freeze(self, duration: int = FREEZE_DEFAULT) -> JSONObject:
        return await self.action("freeze", {"durationSeconds": duration})

    async def unfreeze(self) -> JSONObject:
        return await self.action("unfreeze", {})

    async def toggle_freeze(self, duration: int = FREEZE_DEFAULT) -> JSONObject:
        return await self.action("toggle_freeze", {"durationSeconds": duration})

    async def pillory(self, duration: int, reason: str | None = None) -> JSONObject:
        params: JSONObject = {"durationSeconds": duration}
        if reason is not None:
            params["reason"] = reason
        return await self.action("pillory", params)

    async def end_pillory(self) -> JSONObject:
        return await self.action("pillory.end", {})

    async def assign_task(self, params: TaskAssignParams) -> JSONObject:
        return await self.action("task.assign", params)

    async def start_task_timer(self) -> JSONObject:
        return await self.action("task.start_timer", {})

    async def complete_task(self, successful: bool, reason: str | None = None) -> JSONObject:
        params: JSONObject = {"successful": successful}
        if reason is not None:
            params["reason"] = reason
        return await self.action("task.complete", params)

    async def hygiene_opening(self, duration: int | None = None) -> JSONObject:
        return await self.action("hygienic_unlock.start",
                                 {} if duration is None else {"durationSeconds": duration})


class DevApi(_LockActions):
    """A lock owner's DEV token on ``/api/apps/v1``. Pin the linked lock with :meth:`pin` (or
    ``client.dev(token, lock_id)``): every call then carries ``x-chastify-lock-id``."""

    def __init__(self, client: ChastifyClient, token: _Secret, lock_id: str | None = None,
                 guard: Guard | None = None) -> None:
        self._client = client
        self._token = token
        self._lock_id = normalize_lock_id(lock_id) if lock_id is not None else None
        self._guard = guard

    def __repr__(self) -> str:
        return f"DevApi(lock_id={self._lock_id!r}, token=***)"

    @property
    def lock_id(self) -> str | None:
        return self._lock_id

    @property
    def token_fingerprint(self) -> str:
        return token_fingerprint(self._token.reveal())

    def pin(self, lock_id: str) -> None:
        self._lock_id = normalize_lock_id(lock_id)

    def unpin(self) -> None:
        self._lock_id = None

    def _headers(self) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self._token.reveal()}"}
        if self._lock_id is not None:
            headers["x-chastify-lock-id"] = self._lock_id
        return headers

    async def _call(self, method: str, path: str, body: Any = _NO_BODY, *, lock_action: bool = False,
                    ) -> bytes:
        key = limiter_key(self._token.reveal(), self._lock_id) if lock_action else None
        _, content = await self._client._request(
            method, DEV_BASE + path, headers=self._headers(), body=body, limit_key=key,
            secrets=(self._token.reveal(),), guard=self._guard if lock_action else None,
        )
        return content

    async def session(self) -> Session:
        """``GET /session``. Raises LockMismatch when pinned and the active lock is another one."""
        content = await self._call("GET", "/session")
        try:
            body = json.loads(content) if content.strip() else None
            session = Session.model_validate(body)
        except (ValueError, RecursionError, ValidationError):
            raise UnexpectedResponse("GET /session: no valid lock in the response", status=200) from None
        if self._lock_id is not None and session.lock_id != self._lock_id:
            raise LockMismatch(self._lock_id, session.lock_id)
        return session

    async def action(self, name: str, params: Any = None) -> JSONObject:
        """``POST /action`` ``{name, params}``, validated before sending (InvalidParams otherwise)."""
        body = build_action(name, params)
        return _json_object(await self._call("POST", "/action", body, lock_action=True))

    async def apply_time(self, delta_seconds: int) -> JSONObject:
        """``POST /lock/apply-time``: positive adds, negative removes."""
        body = {"deltaSeconds": nonzero_seconds(delta_seconds, "apply-time")}
        return _json_object(await self._call("POST", "/lock/apply-time", body, lock_action=True))

    async def lock_freeze(self, duration: int = FREEZE_DEFAULT) -> JSONObject:
        body = validate_params(FreezeParams, {"durationSeconds": duration}, "lock/freeze")
        return _json_object(await self._call("POST", "/lock/freeze", body, lock_action=True))

    async def lock_unfreeze(self) -> JSONObject:
        return _json_object(await self._call("POST", "/lock/unfreeze", {}, lock_action=True))

    async def custom_log(self, entry: CustomLog) -> JSONObject:
        body = validate_params(CustomLog, entry, "custom log")
        return _json_object(await self._call("POST", "/logs/custom", body, lock_action=True))

    async def notify(self, notification: CustomNotification) -> JSONObject:
        body = validate_params(CustomNotification, notification, "notification")
        return _json_object(await self._call("POST", "/notifications/custom", body, lock_action=True))
