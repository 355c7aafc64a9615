"""ChastifyClient against httpx.MockTransport: headers, pinning, retry rules, secrecy."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from chastify_helpers import (
    LOCK_ID,
    OTHER_LOCK_ID,
    TOKEN,
    ClientFactory,
    Recorder,
    assert_secret_free,
    ok,
    session_body,
)

from bot.chastify import (
    ActionLimiter,
    ActionRejected,
    ChastifyClient,
    ChastifyError,
    ChastifyUnavailable,
    CustomLog,
    CustomNotification,
    ExtensionNotEnabled,
    InsufficientScope,
    InvalidParams,
    InvalidToken,
    LockEnded,
    LockMismatch,
    MissingToken,
    NoActiveLock,
    OutcomeUnknown,
    RateLimited,
    RevokedToken,
    ServerError,
    Timeouts,
    UnexpectedResponse,
    clean_token,
    limiter_key,
)
from tests.support.clock import FakeClock


def err(status: int, code: str | None = None, message: str = "", headers: dict[str, str] | None = None,
        key: str = "error") -> httpx.Response:
    body: dict[str, Any] = {"message": message}
    if code is not None:
        body[key] = code
    return httpx.Response(status, json=body, headers=headers)


# Basics -------------------------------------------------------------------------------------------------
async def test_session_sends_bearer_and_pin(make_client: ClientFactory) -> None:
    rec = Recorder(ok(session_body()))
    client = make_client(transport=rec.transport)
    dev = client.dev(TOKEN, LOCK_ID)
    session = await dev.session()
    assert session.lock_id == LOCK_ID and session.role == "wearer"
    assert session.lock_data.time_remaining_seconds == 3600
    (request,) = rec.requests
    assert request.method == "GET" and request.url.path == "/api/apps/v1/session"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["x-chastify-lock-id"] == LOCK_ID
    assert request.headers["user-agent"].startswith("chastify-discord-bot/")
    assert request.headers["accept"] == "application/json"


async def test_unpinned_calls_send_no_lock_header_and_pin_adds_it(make_client: ClientFactory) -> None:
    rec = Recorder(ok(session_body()))
    dev = make_client(transport=rec.transport).dev(TOKEN)
    await dev.session()
    assert "x-chastify-lock-id" not in rec.requests[0].headers
    dev.pin(LOCK_ID.upper())
    assert dev.lock_id == LOCK_ID
    await dev.add_time(60)
    assert rec.requests[1].headers["x-chastify-lock-id"] == LOCK_ID
    dev.unpin()
    await dev.add_time(60)
    assert "x-chastify-lock-id" not in rec.requests[2].headers


async def test_lock_mismatch(make_client: ClientFactory) -> None:
    rec = Recorder(ok(session_body(OTHER_LOCK_ID)))
    dev = make_client(transport=rec.transport).dev(TOKEN, LOCK_ID)
    with pytest.raises(LockMismatch) as info:
        await dev.session()
    assert info.value.expected == LOCK_ID and info.value.actual == OTHER_LOCK_ID
    assert isinstance(info.value, ChastifyError)


@pytest.mark.parametrize("body", [b"", b"[]", b"{}", b'{"lock": {"_id": "nope"}}', b"<html>", b'"x"'])
async def test_session_with_unusable_body(make_client: ClientFactory, body: bytes) -> None:
    rec = Recorder(httpx.Response(200, content=body))
    with pytest.raises(UnexpectedResponse):
        await make_client(transport=rec.transport).dev(TOKEN).session()


async def test_every_dev_write_shape(make_client: ClientFactory) -> None:
    rec = Recorder(ok({"ok": True}))
    dev = make_client(transport=rec.transport).dev(TOKEN, LOCK_ID)
    assert await dev.add_time(600) == {"ok": True}
    await dev.remove_time(900)
    await dev.freeze()
    await dev.freeze(300)
    await dev.unfreeze()
    await dev.toggle_freeze(300)
    await dev.pillory(600, "Missed check-in")
    await dev.pillory(60)
    await dev.end_pillory()
    from bot.chastify import TaskAssignParams

    await dev.assign_task(TaskAssignParams(task_text="Drink water", points=5, duration_seconds=900))
    await dev.start_task_timer()
    await dev.complete_task(True)
    await dev.complete_task(False, "Did not finish in time")
    await dev.hygiene_opening()
    await dev.hygiene_opening(900)
    await dev.apply_time(-300)
    await dev.lock_freeze(1800)
    await dev.lock_unfreeze()
    await dev.custom_log(CustomLog(title="Program check completed", description="Ran."))
    await dev.notify(CustomNotification(title="Vote", message="Passed", target="both"))
    await dev.action("add_time", 5)

    sent = [(r.method, r.url.path, json.loads(r.content)) for r in rec.requests]
    a = "/api/apps/v1/action"
    assert sent == [
        ("POST", a, {"name": "add_time", "params": 600}),
        ("POST", a, {"name": "remove_time", "params": 900}),
        ("POST", a, {"name": "freeze", "params": {"durationSeconds": 3600}}),
        ("POST", a, {"name": "freeze", "params": {"durationSeconds": 300}}),
        ("POST", a, {"name": "unfreeze", "params": {}}),
        ("POST", a, {"name": "toggle_freeze", "params": {"durationSeconds": 300}}),
        ("POST", a, {"name": "pillory", "params": {"durationSeconds": 600, "reason": "Missed check-in"}}),
        ("POST", a, {"name": "pillory", "params": {"durationSeconds": 60}}),
        ("POST", a, {"name": "pillory.end", "params": {}}),
        ("POST", a, {"name": "task.assign", "params": {"actor": "extension", "taskText": "Drink water",
                                                        "points": 5, "verificationRequired": False,
                                                        "durationSeconds": 900}}),
        ("POST", a, {"name": "task.start_timer", "params": {}}),
        ("POST", a, {"name": "task.complete", "params": {"successful": True}}),
        ("POST", a, {"name": "task.complete", "params": {"successful": False, "reason": "Did not finish in time"}}),
        ("POST", a, {"name": "hygienic_unlock.start", "params": {}}),
        ("POST", a, {"name": "hygienic_unlock.start", "params": {"durationSeconds": 900}}),
        ("POST", "/api/apps/v1/lock/apply-time", {"deltaSeconds": -300}),
        ("POST", "/api/apps/v1/lock/freeze", {"durationSeconds": 1800}),
        ("POST", "/api/apps/v1/lock/unfreeze", {}),
        ("POST", "/api/apps/v1/logs/custom", {"title": "Program check completed", "description": "Ran.",
                                              "role": "extension"}),
        ("POST", "/api/apps/v1/notifications/custom", {"title": "Vote", "message": "Passed", "target": "both",
                                                       "showPageOverlay": False}),
        ("POST", a, {"name": "add_time", "params": 5}),
    ]
    for r in rec.requests:
        assert r.headers["content-type"] == "application/json"
        assert r.headers["authorization"] == f"Bearer {TOKEN}"
        assert r.headers["x-chastify-lock-id"] == LOCK_ID


@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]"])
async def test_write_answers_that_are_not_objects(make_client: ClientFactory, body: bytes) -> None:
    rec = Recorder(httpx.Response(200, content=body))
    result = await make_client(transport=rec.transport).dev(TOKEN).add_time(60)
    assert result in ({}, {"data": [1, 2]})


async def test_invalid_params_send_nothing(make_client: ClientFactory) -> None:
    rec = Recorder(ok({"ok": True}))
    dev = make_client(transport=rec.transport).dev(TOKEN, LOCK_ID)
    calls = [
        dev.freeze(59), dev.freeze(86401), dev.toggle_freeze(10), dev.lock_freeze(59), dev.add_time(0),
        dev.remove_time(-1), dev.add_time(True), dev.apply_time(0), dev.pillory(0), dev.pillory(60, ""),
        dev.complete_task(True, "x" * 501), dev.hygiene_opening(0), dev.action("settings.patch", {}),
        dev.action("shock.start", {"durationSeconds": 1}),
        dev.custom_log({"title": ""}),  # type: ignore[arg-type]
        dev.notify({"title": "t", "message": ""}),  # type: ignore[arg-type]
    ]
    for call in calls:
        with pytest.raises(InvalidParams):
            await call
    assert rec.requests == []


def test_pin_refuses_bad_lock_ids(make_client: ClientFactory) -> None:
    client = make_client()
    with pytest.raises(InvalidParams):
        client.dev(TOKEN, "not-a-lock")
    with pytest.raises(InvalidParams):
        client.dev(TOKEN).pin("1234")


@pytest.mark.parametrize(("raw", "clean"), [
    (TOKEN, TOKEN), (f"  {TOKEN}\n", TOKEN), (f"Bearer {TOKEN}", TOKEN), (f'"{TOKEN}"', TOKEN),
    (f"'Bearer {TOKEN}'", TOKEN), (f"bearer   {TOKEN}", TOKEN), (f'Bearer "{TOKEN}"', TOKEN),
])
def test_clean_token(raw: str, clean: str) -> None:
    assert clean_token(raw) == clean


@pytest.mark.parametrize("raw", ["", "  ", "Bearer ", '""', "dev token", "dev-token\r\nX-Evil: 1", "tök", 5])
def test_clean_token_refuses_without_echoing(raw: Any) -> None:
    with pytest.raises(InvalidParams) as info:
        clean_token(raw)
    if isinstance(raw, str) and raw.strip():
        assert raw.strip() not in str(info.value)


# Errors -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("response", "cls", "code"), [
    (err(401, "missing_token"), MissingToken, "missing_token"),
    (err(401, "invalid_token"), InvalidToken, "invalid_token"),
    (err(401, "revoked_token"), RevokedToken, "revoked_token"),
    (err(403, "insufficient_scope"), InsufficientScope, "insufficient_scope"),
    (err(403, "extension_not_enabled"), ExtensionNotEnabled, "extension_not_enabled"),
    (err(409, "no_active_lock_session"), NoActiveLock, "no_active_lock_session"),
    (err(409, "lock_ended"), LockEnded, "lock_ended"),
    (err(409, "pillory_not_active"), ActionRejected, "pillory_not_active"),
    (err(400, "validation_error", key="code"), ActionRejected, "validation_error"),
    (httpx.Response(400, json=[{"error": "validation_error"}]), ActionRejected, "validation_error"),
    (httpx.Response(409, text="tasks_not_enabled"), ActionRejected, "tasks_not_enabled"),
    (httpx.Response(422, content=b""), ActionRejected, "http_422"),
    (httpx.Response(400, content=b"{oops"), ActionRejected, "http_400"),
])
async def test_error_responses_raise_typed_errors_without_retry(
    make_client: ClientFactory, ft: FakeClock, response: httpx.Response, cls: type[ChastifyError], code: str,
) -> None:
    rec = Recorder(response)
    dev = make_client(transport=rec.transport).dev(TOKEN, LOCK_ID)
    for call in (dev.session(), dev.add_time(60)):
        with pytest.raises(cls) as info:
            await call
        assert info.value.code == code
        assert info.value.status == response.status_code
        assert_secret_free(info.value)
    assert len(rec.requests) == 2 and ft.sleeps == []


# 429 ----------------------------------------------------------------------------------------------------
async def test_429_on_a_read_is_retried_after_retry_after(make_client: ClientFactory, ft: FakeClock) -> None:
    rec = Recorder(err(429, "rate_limited", headers={"Retry-After": "2.5"}),
                   err(429, "rate_limited", headers={"Retry-After": "1"}), ok(session_body()))
    session = await make_client(transport=rec.transport).dev(TOKEN).session()
    assert session.lock_id == LOCK_ID
    assert ft.sleeps == [2.5, 1.0]
    assert len(rec.requests) == 3


async def test_429_on_an_action_waits_through_the_limiter(make_client: ClientFactory, ft: FakeClock) -> None:
    limiter = ActionLimiter(clock=ft, sleep=ft.sleep)
    rec = Recorder(err(429, "rate_limited", headers={"Retry-After": "3"}), ok({"ok": True}))
    dev = make_client(transport=rec.transport, limiter=limiter).dev(TOKEN, LOCK_ID)
    assert await dev.add_time(60) == {"ok": True}
    assert ft.sleeps == [pytest.approx(3.0)]
    assert [json.loads(r.content) for r in rec.requests] == [{"name": "add_time", "params": 60}] * 2
    # both sends used a slot of the pinned key
    assert limiter.remaining(limiter_key(TOKEN, LOCK_ID)) == 18


async def test_429_http_date(make_client: ClientFactory, ft: FakeClock) -> None:
    when = format_datetime(datetime.fromtimestamp(ft.now + 4, UTC), usegmt=True)
    rec = Recorder(err(429, headers={"Retry-After": when}), ok(session_body()))
    await make_client(transport=rec.transport).dev(TOKEN).session()
    assert ft.sleeps == [pytest.approx(4.0)]


async def test_429_without_retry_after_uses_backoff(make_client: ClientFactory, ft: FakeClock) -> None:
    rec = Recorder(err(429), err(429), ok(session_body()))
    await make_client(transport=rec.transport, backoff_base=0.5).dev(TOKEN).session()
    assert ft.sleeps == [0.5, 1.0]


async def test_429_exhausted_raises_rate_limited(make_client: ClientFactory, ft: FakeClock) -> None:
    rec = Recorder(err(429, "rate_limited", "Slow down.", headers={"Retry-After": "2"}))
    dev = make_client(transport=rec.transport, max_retries=3).dev(TOKEN, LOCK_ID)
    with pytest.raises(RateLimited) as info:
        await dev.add_time(60)
    assert info.value.retry_after == 2.0 and info.value.status == 429 and info.value.message == "Slow down."
    assert len(rec.requests) == 4  # 1 + 3 retries, each a 429 (nothing applied)
    assert sum(ft.sleeps) == pytest.approx(6.0)


async def test_429_retry_after_too_long_is_not_waited(make_client: ClientFactory, ft: FakeClock) -> None:
    rec = Recorder(err(429, headers={"Retry-After": "45"}))
    client = make_client(transport=rec.transport, max_retry_after=30.0)
    with pytest.raises(RateLimited) as info:
        await client.dev(TOKEN).session()
    assert info.value.retry_after == 45.0
    assert len(rec.requests) == 1 and ft.sleeps == []
    # ... and a later action on that key waits for the server's block
    key = limiter_key(TOKEN, LOCK_ID)
    rec2 = Recorder(err(429, headers={"Retry-After": "45"}))
    dev = make_client(transport=rec2.transport, limiter=client.limiter).dev(TOKEN, LOCK_ID)
    with pytest.raises(RateLimited):
        await dev.add_time(60)
    assert client.limiter.wait_time(key) == pytest.approx(45.0)


# Connection failures ----------------------------------------------------------------------------------
async def test_connect_errors_are_retried_then_unavailable(make_client: ClientFactory, ft: FakeClock) -> None:
    limiter = ActionLimiter(clock=ft, sleep=ft.sleep)
    rec = Recorder(httpx.ConnectError("refused"))
    dev = make_client(transport=rec.transport, limiter=limiter, max_retries=3, backoff_base=0.5,
                      backoff_cap=1.5).dev(TOKEN, LOCK_ID)
    with pytest.raises(ChastifyUnavailable) as info:
        await dev.add_time(60)
    assert len(rec.requests) == 4
    assert ft.sleeps == [0.5, 1.0, 1.5]  # capped exponential backoff (jitter pinned to full)
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert "ConnectError" in str(info.value) and "/api/apps/v1/action" in str(info.value)
    assert limiter.remaining(limiter_key(TOKEN, LOCK_ID)) == 20  # never sent: slot given back


async def test_connect_error_then_success(make_client: ClientFactory, ft: FakeClock) -> None:
    rec = Recorder(httpx.ConnectTimeout("slow"), httpx.PoolTimeout("busy"), ok({"ok": True}))
    assert await make_client(transport=rec.transport).dev(TOKEN, LOCK_ID).add_time(60) == {"ok": True}
    assert len(rec.requests) == 3 and len(ft.sleeps) == 2


async def test_jitter_stays_within_half_to_full(make_client: ClientFactory, ft: FakeClock) -> None:
    rec = Recorder(httpx.ConnectError("refused"))
    client = make_client(transport=rec.transport, jitter=lambda: 0.0, max_retries=2)
    with pytest.raises(ChastifyUnavailable):
        await client.dev(TOKEN).session()
    assert ft.sleeps == [0.25, 0.5]


# Reads are idempotent: retried on 5xx and dropped answers ------------------------------------------------
async def test_get_5xx_is_retried_then_succeeds(make_client: ClientFactory, ft: FakeClock) -> None:
    rec = Recorder(httpx.Response(502, text="bad gateway"), err(503, "unavailable"), ok(session_body()))
    assert (await make_client(transport=rec.transport).dev(TOKEN).session()).lock_id == LOCK_ID
    assert len(rec.requests) == 3 and len(ft.sleeps) == 2


async def test_get_5xx_exhausted_raises_server_error(make_client: ClientFactory) -> None:
    rec = Recorder(err(500, "internal_error", "Boom."))
    with pytest.raises(ServerError) as info:
        await make_client(transport=rec.transport, max_retries=2).dev(TOKEN).session()
    assert info.value.status == 500 and info.value.code == "internal_error"
    assert len(rec.requests) == 3


@pytest.mark.parametrize("exc", [httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("dropped"),
                                 httpx.ReadError("reset")])
async def test_get_transport_errors_after_sending_are_retried(make_client: ClientFactory, exc: Exception) -> None:
    rec = Recorder(exc, ok(session_body()))
    assert (await make_client(transport=rec.transport).dev(TOKEN).session()).lock_id == LOCK_ID
    assert len(rec.requests) == 2


async def test_get_read_timeouts_exhausted(make_client: ClientFactory) -> None:
    rec = Recorder(httpx.ReadTimeout("slow"))
    with pytest.raises(ChastifyUnavailable):
        await make_client(transport=rec.transport, max_retries=1).dev(TOKEN).session()
    assert len(rec.requests) == 2


# Writes are never re-sent once they may have arrived ------------------------------------------------
@pytest.mark.parametrize("answer", [
    httpx.Response(500, json={"error": "internal_error"}), httpx.Response(502, text="<html>502</html>"),
    httpx.Response(503, content=b""), httpx.Response(504, json={"error": "timeout"}),
    httpx.ReadTimeout("slow"), httpx.WriteTimeout("slow"), httpx.RemoteProtocolError("dropped"),
    httpx.ReadError("reset"), httpx.WriteError("broken pipe"),
])
async def test_write_with_unknown_outcome_is_not_resent(
    make_client: ClientFactory, ft: FakeClock, answer: Any,
) -> None:
    rec = Recorder(answer)
    dev = make_client(transport=rec.transport).dev(TOKEN, LOCK_ID)
    with pytest.raises(OutcomeUnknown) as info:
        await dev.add_time(3600)
    assert len(rec.requests) == 1 and ft.sleeps == []
    e = info.value
    assert (e.method, e.path) == ("POST", "/api/apps/v1/action")
    assert e.__cause__ is None and e.__context__ is None
    assert_secret_free(e)
    if isinstance(answer, httpx.Response):
        assert e.status == answer.status_code


async def test_total_timeout_on_a_write_is_outcome_unknown(make_client: ClientFactory) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(1.0)
        return ok({"ok": True})

    rec = Recorder(slow)
    dev = make_client(transport=rec.transport, timeouts=Timeouts(total=0.05)).dev(TOKEN, LOCK_ID)
    with pytest.raises(OutcomeUnknown) as info:
        await dev.add_time(60)
    assert "0.05s" in str(info.value)
    assert len(rec.requests) == 1


async def test_total_timeout_on_a_read_is_retried(make_client: ClientFactory) -> None:
    calls = 0

    async def slow_once(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(1.0)
        return ok(session_body())

    rec = Recorder(slow_once)
    dev = make_client(transport=rec.transport, timeouts=Timeouts(total=0.05)).dev(TOKEN)
    assert (await dev.session()).lock_id == LOCK_ID
    assert calls == 2


async def test_device_commands_and_out_of_range_freezes_are_refused_before_sending(make_client: ClientFactory,
                                                                                    ) -> None:
    rec = Recorder(ok({}))
    dev = make_client(transport=rec.transport).dev(TOKEN, LOCK_ID)
    for call in (dev.action("device.command", {}), dev.freeze(30)):
        with pytest.raises(InvalidParams):
            await call
    assert rec.requests == []
    assert not hasattr(dev, "device_command")


# Secrecy ------------------------------------------------------------------------------------------------
async def test_token_never_in_reprs(make_client: ClientFactory) -> None:
    client = make_client()
    dev = client.dev(f"Bearer {TOKEN}", LOCK_ID)
    for obj in (client, dev, vars(dev), vars(client)):
        text = repr(obj) + str(obj)
        assert TOKEN not in text
    assert f"{dev._token}" == "***"
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(dev._token)


async def test_token_never_in_logs_or_errors(make_client: ClientFactory, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    answers = [
        ok(session_body()), err(429, headers={"Retry-After": "1"}), ok({}),
        httpx.ConnectError(f"refused for Bearer {TOKEN}"), ok({}),
        err(401, "invalid_token", f"token {TOKEN} is wrong"), httpx.Response(500, text=TOKEN),
        httpx.ReadTimeout(f"timeout {TOKEN}"), httpx.Response(404, text=f"no {TOKEN}"),
    ]
    rec = Recorder(*answers, ok({}))
    dev = make_client(transport=rec.transport, max_retries=1).dev(TOKEN, LOCK_ID)
    raised: list[BaseException] = []
    for call in (dev.session, lambda: dev.add_time(1), lambda: dev.add_time(1), dev.session,
                 lambda: dev.add_time(1), lambda: dev.add_time(1), lambda: dev.add_time(1)):
        try:
            await call()
        except ChastifyError as exc:
            raised.append(exc)
    assert len(raised) >= 3
    for e in raised:
        assert_secret_free(e)
    for record in caplog.records:
        text = record.getMessage() + repr(record.args) + str(record.exc_info) + str(record.exc_text)
        assert TOKEN not in text, record.name
    assert any(r.name == "bot.chastify" for r in caplog.records)


async def test_client_lifecycle() -> None:
    async with ChastifyClient("http://chastify.test/") as client:
        assert client.base_url == "http://chastify.test"
        assert not client.closed
    assert client.closed
    with pytest.raises(ValueError):
        ChastifyClient("ftp://chastify.test")
    with pytest.raises(ValueError):
        ChastifyClient("http://chastify.test", max_retries=-1)
