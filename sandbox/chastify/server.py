"""The stand-in itself: an aiohttp app on its own event loop in a daemon thread.

Tests and the demo drive it through ``StandIn`` (add locks, revoke tokens, inject faults, read what was
received); the bot's HTTP client talks to it over real loopback HTTP at ``StandIn.base_url``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

from aiohttp import web

from bot import chart

from . import actions, page
from .faults import FaultDice, Faults
from .ratelimit import RollingWindow
from .state import DEFAULT_SCOPES, ApiError, Clock, ExtensionSession, FakeLock, World

log = logging.getLogger(__name__)

DEV_BASE = "/api/apps/v1"
EXT_BASE = "/api/extensions/sessions/{session_id}"
LOCK_HEADER = "x-chastify-lock-id"
MAIN_TOKEN_HEADER = "x-chastify-main-token"
READS_PER_MINUTE = 120
WRITES_PER_MINUTE = 60
STATE_MAX_BYTES = 64 * 1024
EXTENSION_TTL_SECONDS = 10 * 3600.0

Kind = Literal["read", "action", "write", "unknown"]
_WRITE_KINDS = ("action", "write")

_INVALID = object()  # marker: the body was not valid JSON


@dataclass
class _Exchange:
    """What the middleware and a handler share about one API request."""

    body: Any = None
    received_at: float = 0.0
    received_perf: float = 0.0
    kind: Kind = "unknown"
    lock_id: str | None = None
    response_json: Any = None


# aiohttp >= 3.12 wants typed request keys; older ones take a plain string
_EXCHANGE: Any = web.RequestKey("standin.exchange", _Exchange) if hasattr(web, "RequestKey") else "standin.exchange"


def _ex(request: web.Request) -> _Exchange:
    exchange: _Exchange = request[_EXCHANGE]
    return exchange


@dataclass(frozen=True)
class RecordedRequest:
    """One API request as the stand-in saw it. Never holds a token, only a fingerprint."""

    method: str
    path: str
    json: Any  # the parsed JSON body, or None (no body / not JSON)
    lock_id_header: str | None
    token_fingerprint: str | None  # e.g. "dev-…"; None when no bearer token was sent
    status: int  # the status sent; 0 when the connection was dropped without a response
    response_json: Any  # the parsed JSON answer, or None (empty or plain-text answer)
    at: float  # the stand-in's clock when it was received (before any injected latency)
    lock_id: str | None  # the lock the call resolved to, None when it failed before that
    kind: str  # "read" | "action" (rate-limited lock action) | "write" (state/metadata) | "unknown"
    applied: bool  # the write changed (or was accepted by) the lock, whatever the client was told
    fault: str | None  # "forced_429" | "error" | "error_after_apply" | "drop_after_apply" | None
    # time.perf_counter() when the request was received (the benches measure latency with it)
    received_perf: float = 0.0


def fingerprint(token: str | None) -> str | None:
    if not token:
        return None
    return token[:4] + "…" if len(token) >= 8 else "…"


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "").strip()
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _parse_body(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return _INVALID


class StandIn:
    """A local Chastify: DEV-token API, extension API, fault injection and a read-only HTML view."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] | None = None,
        rate_limit_per_minute: int = 20,
        host: str = "127.0.0.1",
        port: int = 0,
        extension_key: str = "ext-dev-key",
    ) -> None:
        self.clock: Clock = clock or time.time
        self.rate_limit_per_minute = rate_limit_per_minute
        self.reads_per_minute = READS_PER_MINUTE
        self.writes_per_minute = WRITES_PER_MINUTE
        self.host = host
        self.port = port
        self.extension_key = extension_key
        self.faults = Faults()
        self.requests: list[RecordedRequest] = []
        self.rate_limited_count = 0
        self._world = World(self.clock)
        self._limiter = RollingWindow()
        self._dice = FaultDice()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None

    # ----- lifecycle --------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self.port == 0:
            raise RuntimeError("the stand-in has not been started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        """Start serving on a daemon thread with its own event loop; returns once it is listening.

        May be called again after ``stop()``: it rebinds the same port and keeps all state.
        """
        if self._thread is not None:
            raise RuntimeError("the stand-in is already running")
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._start_site())
            except BaseException as exc:  # reported to start()'s caller
                failure.append(exc)
                loop.close()
                ready.set()
                return
            self._loop = loop
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self._stop_site())
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())  # the chart's drawing thread
                loop.close()
                self._loop = None

        thread = threading.Thread(target=serve, name="chastify-standin", daemon=True)
        thread.start()
        ready.wait()
        if failure:
            thread.join()
            raise RuntimeError(f"the stand-in could not start on {self.host}:{self.port}") from failure[0]
        self._thread = thread

    def stop(self) -> None:
        """Stop serving and join the thread. Safe to call twice."""
        thread, loop = self._thread, self._loop
        if thread is None:
            return
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
        thread.join()
        self._thread = None

    async def _start_site(self) -> None:
        runner = web.AppRunner(self._build_app(), access_log=None, shutdown_timeout=0.25)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        address = runner.addresses[0]
        self.port = int(address[1])

    async def _stop_site(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def __enter__(self) -> StandIn:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> StandIn:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    # ----- world control (any thread) ---------------------------------------------------------------
    def add_lock(
        self,
        token: str,
        *,
        role: str = "wearer",
        remaining: int = 86400,
        title: str = "Demo lock",
        wearer: str = "wearer",
        keyholder: str | None = "keyholder",
        tasks: bool = True,
        pillory: bool = True,
        hygiene: bool = True,
        max_remaining: int | None = None,
        scopes: list[str] | None = None,
    ) -> FakeLock:
        """A new active lock reachable with DEV token ``token``; it becomes that token's active lock."""
        if role not in ("wearer", "keyholder"):
            raise ValueError("role must be 'wearer' or 'keyholder'")
        if remaining < 0:
            raise ValueError("remaining must be >= 0")
        return self._world.add_lock(
            token,
            role=role,
            remaining=remaining,
            title=title,
            wearer=wearer,
            keyholder=keyholder,
            tasks=tasks,
            pillory=pillory,
            hygiene=hygiene,
            max_remaining=max_remaining,
            scopes=list(DEFAULT_SCOPES) if scopes is None else scopes,
        )

    def share(self, lock: FakeLock | str, token: str, *, role: str = "keyholder") -> None:
        """Let a second person's DEV token ``token`` reach ``lock`` too (a keyholder's token beside the
        wearer's): its session names ``role``."""
        if role not in ("wearer", "keyholder"):
            raise ValueError("role must be 'wearer' or 'keyholder'")
        self._world.share(lock if isinstance(lock, str) else lock.id, token, role)

    def revoke(self, token: str) -> None:
        """Every later call with ``token`` gets 401 revoked_token (for good)."""
        with self._world.guard:
            self._world.revoked.add(token)

    def end_lock(self, lock_id: str) -> None:
        """The lock is over: pinned calls get 409 lock_ended, unpinned ones move to another active lock."""
        self._world.lock(lock_id).end()

    def lock(self, lock_id: str) -> FakeLock:
        return self._world.lock(lock_id)

    def locks(self) -> list[FakeLock]:
        return self._world.all_locks()

    def open_extension_session(
        self, lock_id: str, *, ttl_seconds: float | None = EXTENSION_TTL_SECONDS
    ) -> tuple[str, str]:
        """An extension session on that lock: returns (session_id, main_token). Launch tokens expire."""
        session = self._world.open_session(lock_id, ttl_seconds)
        return session.session_id, session.main_token

    def extension_session(self, session_id: str) -> ExtensionSession:
        with self._world.guard:
            return self._world.sessions[session_id]

    def set_extension_enabled(self, session_id: str, enabled: bool) -> None:
        """Disabled sessions get 403 extension_not_enabled."""
        with self._world.guard:
            self._world.sessions[session_id].enabled = enabled

    def action_requests(self) -> list[RecordedRequest]:
        """Lock actions (rate-limited writes) that were applied, in order, whatever the client was told."""
        with self._world.guard:
            return [r for r in self.requests if r.kind == "action" and r.applied]

    def reset_rate_limits(self) -> None:
        with self._world.guard:
            self._limiter.reset()

    # ----- app ----------------------------------------------------------------------------------------
    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        r = app.router
        r.add_get(DEV_BASE + "/session", self._dev_session)
        r.add_post(DEV_BASE + "/action", self._dev_action)
        r.add_post(DEV_BASE + "/lock/apply-time", self._dev_apply_time)
        r.add_post(DEV_BASE + "/lock/freeze", self._dev_freeze)
        r.add_post(DEV_BASE + "/lock/unfreeze", self._dev_unfreeze)
        r.add_post(DEV_BASE + "/logs/custom", self._dev_custom_log)
        r.add_post(DEV_BASE + "/notifications/custom", self._dev_notification)
        r.add_get(EXT_BASE, self._ext_session)
        r.add_get(EXT_BASE + "/", self._ext_session)
        r.add_post(EXT_BASE + "/action", self._ext_action)
        r.add_patch(EXT_BASE + "/metadata", self._ext_metadata)
        r.add_post(EXT_BASE + "/temporary-opening/open", self._ext_temporary_opening)
        r.add_get(EXT_BASE + "/state", self._ext_state_get)
        r.add_put(EXT_BASE + "/state", self._ext_state_put)
        r.add_patch(EXT_BASE + "/state", self._ext_state_patch)
        r.add_post(EXT_BASE + "/notifications/custom", self._ext_notification)
        r.add_get("/", self._page_root)
        r.add_get("/sandbox", self._page_root)
        r.add_get("/sandbox/", self._page_index)
        r.add_get("/sandbox/locks/{lock_id}", self._page_lock)
        r.add_get("/sandbox/locks/{lock_id}/chart.png", self._page_chart)
        return app

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await handler(request)
        exchange = _Exchange(body=_parse_body(await request.read()), received_at=self.clock(),
                             received_perf=time.perf_counter())
        request[_EXCHANGE] = exchange
        faults = self.faults
        delay = self._dice.delay(faults)
        if delay > 0:
            await asyncio.sleep(delay)

        fault: str | None = None
        applied = False
        response: web.StreamResponse
        if faults.force_429 > 0:
            faults.force_429 -= 1
            fault = "forced_429"
            response = self._error_response(
                request, ApiError(429, "rate_limited", "Too many requests.",
                                  headers={"Retry-After": str(faults.retry_after_429)})
            )
        elif self._dice.roll(faults, faults.error_rate):
            fault = "error"
            response = self._error_response(request, ApiError(500, "internal_error", "Something went wrong."))
        else:
            try:
                response = await handler(request)
            except ApiError as exc:
                response = self._error_response(request, exc)
            except web.HTTPException as exc:  # unknown route / method: plain text, like a framework default
                response = web.Response(status=exc.status, text=exc.text or exc.reason, content_type="text/plain")
                for name in ("Allow", "Location"):
                    if name in exc.headers:
                        response.headers[name] = exc.headers[name]
            except Exception:  # a stand-in bug: answer like a server error, keep the traceback in the log
                log.exception("stand-in handler failed for %s %s", request.method, request.path)
                response = self._error_response(request, ApiError(500, "internal_error", "Stand-in bug."))
            applied = exchange.kind in _WRITE_KINDS and 200 <= response.status < 300
            if applied and self._dice.roll(faults, faults.error_after_apply_rate):
                fault = "error_after_apply"
                exchange.response_json = None
                response = web.Response(
                    status=502, text="<html><body><h1>502 Bad Gateway</h1></body></html>", content_type="text/html"
                )
            elif applied and self._dice.roll(faults, faults.drop_after_apply_rate):
                self._record(request, status=0, applied=True, fault="drop_after_apply")
                if request.transport is not None:
                    request.transport.abort()
                raise asyncio.CancelledError  # ends this connection's handler without writing anything

        self._record(request, status=response.status, applied=applied, fault=fault)
        return response

    def _record(self, request: web.Request, *, status: int, applied: bool, fault: str | None) -> None:
        exchange = _ex(request)
        body = exchange.body
        header = request.headers.get(LOCK_HEADER)
        token = _bearer(request)
        entry = RecordedRequest(
            method=request.method,
            path=request.path,
            json=None if body is _INVALID else body,
            lock_id_header=header,
            token_fingerprint=fingerprint(token),
            status=status,
            response_json=exchange.response_json if status else None,
            at=exchange.received_at,
            lock_id=exchange.lock_id,
            kind=exchange.kind,
            applied=applied,
            fault=fault,
            received_perf=exchange.received_perf,
        )
        with self._world.guard:
            self.requests.append(entry)

    def _json(self, request: web.Request, body: Any, status: int = 200) -> web.Response:
        _ex(request).response_json = body
        return web.json_response(body, status=status)

    def _error_response(self, request: web.Request, exc: ApiError) -> web.Response:
        response = self._json(request, exc.body(), exc.status)
        response.headers.update(exc.headers)
        return response

    def _body(self, request: web.Request, *, error_key: str = "error") -> Any:
        body = _ex(request).body
        if body is _INVALID:
            raise ApiError(400, "validation_error", "The body must be valid JSON.", key=error_key)
        return body

    # ----- auth, lock resolution, scopes, rate limits -----------------------------------------------
    def _limit(self, key: tuple[Any, ...], kind: Kind) -> None:
        limit = {"read": self.reads_per_minute, "write": self.writes_per_minute}.get(kind, self.rate_limit_per_minute)
        wait = self._limiter.hit((*key, kind), limit, self.clock())
        if wait is not None:
            self.rate_limited_count += 1
            raise ApiError(
                429,
                "rate_limited",
                f"Rate limit exceeded: at most {limit} per minute. Retry in {wait} s.",
                headers={"Retry-After": str(wait)},
            )

    @staticmethod
    def _check_scope(lock: FakeLock, kind: Kind) -> None:
        needed = "locks:read" if kind == "read" else "locks:write"
        if needed not in lock.scopes:
            raise ApiError(403, "insufficient_scope", f"The key does not have the {needed} scope.")

    def _dev(self, request: web.Request, kind: Kind) -> FakeLock:
        """Authenticate a DEV-token call and resolve its lock. Call with the guard held."""
        _ex(request).kind = kind
        token = _bearer(request)
        lock = self._world.resolve_dev(token, request.headers.get(LOCK_HEADER))
        _ex(request).lock_id = lock.id
        self._check_scope(lock, kind)
        self._limit(("dev", token, lock.id), kind)
        return lock

    def _ext(self, request: web.Request, kind: Kind) -> tuple[ExtensionSession, FakeLock]:
        _ex(request).kind = kind
        session, lock = self._world.resolve_extension(
            request.match_info["session_id"],
            _bearer(request),
            self.extension_key,
            request.headers.get(MAIN_TOKEN_HEADER),
        )
        _ex(request).lock_id = lock.id
        self._check_scope(lock, kind)
        self._limit(("ext", self.extension_key, lock.id), kind)
        return session, lock

    # ----- DEV-token API ----------------------------------------------------------------------------
    async def _dev_session(self, request: web.Request) -> web.Response:
        with self._world.guard:
            lock = self._dev(request, "read")
            body = {
                "lock": {"_id": lock.id},
                "role": self._world.role_of(_bearer(request), lock),
                "scopes": list(lock.scopes),
                "lockData": lock.lock_data(),
            }
        return self._json(request, body)

    async def _dev_action(self, request: web.Request) -> web.Response:
        with self._world.guard:
            lock = self._dev(request, "action")
            body = self._body(request)
            details = actions.run_action(lock, body, source="dev")
            answer = {"ok": True, "action": body["name"], **details, "lockData": lock.lock_data()}
        return self._json(request, answer)

    async def _dev_apply_time(self, request: web.Request) -> web.Response:
        with self._world.guard:
            lock = self._dev(request, "action")
            details = actions.apply_time(lock, self._body(request), source="dev")
            answer = {"ok": True, **details, "lockData": lock.lock_data()}
        return self._json(request, answer)

    async def _dev_freeze(self, request: web.Request) -> web.Response:
        with self._world.guard:
            lock = self._dev(request, "action")
            details = actions.freeze(lock, self._body(request), source="dev")
            answer = {"ok": True, **details, "lockData": lock.lock_data()}
        return self._json(request, answer)

    async def _dev_unfreeze(self, request: web.Request) -> web.Response:
        with self._world.guard:
            lock = self._dev(request, "action")
            details = actions.unfreeze(lock, self._body(request), source="dev")
            answer = {"ok": True, **details, "lockData": lock.lock_data()}
        return self._json(request, answer)

    async def _dev_custom_log(self, request: web.Request) -> web.Response:
        with self._world.guard:
            lock = self._dev(request, "action")
            details = actions.custom_log(lock, self._body(request, error_key="code"), source="dev")
        return self._json(request, {"ok": True, **details}, 201)

    async def _dev_notification(self, request: web.Request) -> web.Response:
        with self._world.guard:
            lock = self._dev(request, "action")
            details = actions.notification(lock, self._body(request), source="dev", now=self.clock())
        return self._json(request, {"ok": True, **details}, 201)

    # ----- extension API ----------------------------------------------------------------------------
    async def _ext_session(self, request: web.Request) -> web.Response:
        with self._world.guard:
            session, lock = self._ext(request, "read")
            body = {
                "sessionId": session.session_id,
                "role": lock.role,
                "extensionConfig": {},
                "lockData": lock.lock_data(),
            }
        return self._json(request, body)

    async def _ext_action(self, request: web.Request) -> web.Response:
        with self._world.guard:
            _, lock = self._ext(request, "action")
            body = self._body(request)
            details = actions.run_action(lock, body, source="extension")
            answer = {"ok": True, "action": body["name"], **details, "lockData": lock.lock_data()}
        return self._json(request, answer)

    async def _ext_temporary_opening(self, request: web.Request) -> web.Response:
        with self._world.guard:
            _, lock = self._ext(request, "action")
            body = self._body(request)
            actor = body.get("actor") if isinstance(body, dict) else None
            if actor not in actions.ACTORS:
                raise actions.invalid("actor must be wearer, keyholder or extension")
            actions.open_hygiene(lock, None, actor=actor, source="extension")
        return web.Response(status=201)

    async def _ext_notification(self, request: web.Request) -> web.Response:
        with self._world.guard:
            _, lock = self._ext(request, "action")
            details = actions.notification(lock, self._body(request), source="extension", now=self.clock())
        return self._json(request, {"ok": True, **details}, 201)

    async def _ext_metadata(self, request: web.Request) -> web.Response:
        with self._world.guard:
            session, lock = self._ext(request, "write")
            body = self._body(request)
            blockers, home_actions = _validate_metadata(body)
            if blockers is not None:
                session.metadata["unlockBlockers"] = blockers
                lock.unlock_blockers[session.session_id] = list(blockers)
            if home_actions is not None:
                session.metadata["homeActions"] = home_actions
                lock.home_actions[session.session_id] = list(home_actions)
            answer = {"ok": True, "metadata": dict(session.metadata)}
        return self._json(request, answer)

    async def _ext_state_get(self, request: web.Request) -> web.Response:
        with self._world.guard:
            session, _ = self._ext(request, "read")
            answer = {"data": session.state}
        return self._json(request, json.loads(json.dumps(answer)))

    async def _ext_state_put(self, request: web.Request) -> web.Response:
        with self._world.guard:
            session, _ = self._ext(request, "write")
            data = _state_payload(self._body(request))
            _check_state(data)
            session.state = data
            answer = {"data": session.state}
        return self._json(request, json.loads(json.dumps(answer)))

    async def _ext_state_patch(self, request: web.Request) -> web.Response:
        with self._world.guard:
            session, _ = self._ext(request, "write")
            patch = _state_payload(self._body(request))
            _check_state(patch)
            merged = merge_patch(session.state, patch)
            _check_state(merged)
            session.state = merged
            answer = {"data": session.state}
        return self._json(request, json.loads(json.dumps(answer)))

    # ----- HTML view --------------------------------------------------------------------------------
    async def _page_root(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/sandbox/")

    async def _page_index(self, request: web.Request) -> web.Response:
        with self._world.guard:
            text = page.render_index(self._world.all_locks(), refresh=_refresh(request))
        return web.Response(text=text, content_type="text/html")

    async def _page_lock(self, request: web.Request) -> web.Response:
        with self._world.guard:
            lock = self._world.locks.get(request.match_info["lock_id"])
            if lock is None:
                raise web.HTTPNotFound(text="No such lock in the stand-in.")
            text = page.render_lock(lock, self.clock(), refresh=_refresh(request))
        return web.Response(text=text, content_type="text/html")

    async def _page_chart(self, request: web.Request) -> web.Response:
        """The lock page's chart (``?days=N``, 7 by default), drawn off the loop so API calls are not held up."""
        with self._world.guard:
            lock = self._world.locks.get(request.match_info["lock_id"])
            if lock is None:
                raise web.HTTPNotFound(text="No such lock in the stand-in.")
            data = page.chart_data(lock, self.clock(), days=_days(request))
            title = lock.title
        png = await asyncio.to_thread(chart.render, data, title=title)
        return web.Response(body=png, content_type="image/png", headers={"Cache-Control": "no-store"})


def _days(request: web.Request) -> int:
    value = request.query.get("days", "")
    return int(value) if value.isdigit() and 1 <= int(value) <= 90 else page.CHART_DAYS


def _refresh(request: web.Request) -> int | None:
    value = request.query.get("refresh", "")
    return int(value) if value.isdigit() and 0 < int(value) <= 3600 else None


def _validate_metadata(body: Any) -> tuple[list[str] | None, list[dict[str, Any]] | None]:
    if not isinstance(body, dict):
        raise actions.invalid("body must be an object {unlockBlockers?, homeActions?}")
    blockers = body.get("unlockBlockers")
    if blockers is not None:
        if not isinstance(blockers, list) or len(blockers) > 25:
            raise actions.invalid("unlockBlockers must be a list of at most 25 strings")
        for item in blockers:
            if not isinstance(item, str) or not 1 <= len(item.strip()) <= 200:
                raise actions.invalid("each unlock blocker must be a string of 1..200 characters")
    home_actions = body.get("homeActions")
    if home_actions is not None:
        if not isinstance(home_actions, list) or len(home_actions) > 25:
            raise actions.invalid("homeActions must be a list of at most 25 objects")
        for item in home_actions:
            if not isinstance(item, dict):
                raise actions.invalid("each home action must be an object")
            actions.str_field(item, "slug", lo=1, hi=64, required=True)
            actions.str_field(item, "title", lo=1, hi=100, required=True)
            actions.str_field(item, "description", hi=500)
            intent = item.get("intent")
            if intent is not None and not isinstance(intent, dict):
                raise actions.invalid("intent must be an object")
    return blockers, home_actions


def _state_payload(body: Any) -> Any:
    if not isinstance(body, dict) or "data" not in body:
        raise actions.invalid('body must be an object {"data": ...}')
    return body["data"]


def _check_state(data: Any) -> None:
    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key.startswith("$") or "." in key:
                    raise actions.invalid(f"state key {key!r} is not allowed ('$' prefix or '.')")
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(data)
    if len(json.dumps(data).encode()) > STATE_MAX_BYTES:
        raise ApiError(413, "state_too_large", f"State is limited to {STATE_MAX_BYTES} bytes.")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result
