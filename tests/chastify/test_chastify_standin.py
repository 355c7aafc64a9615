"""ChastifyClient over real loopback HTTP against the stand-in (sandbox.chastify), on fake time."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator

import pytest
from chastify_helpers import OTHER_LOCK_ID, OTHER_TOKEN, TOKEN, ClientFactory, assert_secret_free

from bot.chastify import (
    ActionLimiter,
    ActionRejected,
    ChastifyClient,
    ChastifyError,
    ChastifyUnavailable,
    CustomLog,
    CustomNotification,
    InsufficientScope,
    InvalidParams,
    InvalidToken,
    LockEnded,
    LockGone,
    NoActiveLock,
    OutcomeUnknown,
    RateLimited,
    RevokedToken,
    ServerError,
    TaskAssignParams,
    Timeouts,
    TokenError,
    limiter_key,
)
from sandbox.chastify import RecordedRequest, StandIn
from tests.support.clock import FakeClock


@pytest.fixture
async def s(ft: FakeClock) -> AsyncIterator[StandIn]:
    async with StandIn(clock=ft, rate_limit_per_minute=20) as server:
        yield server


@pytest.fixture
def client(make_client: ClientFactory, s: StandIn) -> ChastifyClient:
    return make_client(s.base_url)


def api_requests(s: StandIn, path_end: str = "") -> list[RecordedRequest]:
    return [r for r in s.requests if r.path.startswith("/api/") and r.path.endswith(path_end)]


# The DEV API, call by call ----------------------------------------------------------------------------
async def test_session_and_pinning(s: StandIn, client: ChastifyClient) -> None:
    lock = s.add_lock(TOKEN, remaining=86400, title="Weekend Challenge")
    dev = client.dev(TOKEN)
    session = await dev.session()
    assert session.lock_id == lock.id and session.role == "wearer"
    assert "locks:write" in session.scopes
    assert session.lock_data.time_remaining_seconds == 86400
    assert session.lock_data.lock_title == "Weekend Challenge"
    assert s.requests[-1].lock_id_header is None

    dev.pin(session.lock_id)
    await dev.session()
    await dev.add_time(60)
    assert [r.lock_id_header for r in s.requests[-2:]] == [lock.id, lock.id]


async def test_every_dev_call_applies(s: StandIn, client: ChastifyClient, ft: FakeClock) -> None:
    lock = s.add_lock(TOKEN, remaining=86400, tasks=True, pillory=True, hygiene=True)
    dev = client.dev(TOKEN, lock.id)

    await dev.add_time(3600)
    assert lock.remaining_seconds() == 86400 + 3600
    await dev.remove_time(600)
    assert lock.remaining_seconds() == 86400 + 3000
    await dev.apply_time(-1000)
    assert lock.remaining_seconds() == 86400 + 2000
    await dev.apply_time(1000)
    assert lock.remaining_seconds() == 86400 + 3000

    await dev.freeze(300)
    assert lock.frozen
    await dev.unfreeze()
    assert not lock.frozen
    await dev.toggle_freeze(300)
    assert lock.frozen
    await dev.toggle_freeze(300)
    assert not lock.frozen
    await dev.lock_freeze(1800)
    assert lock.frozen
    await dev.lock_unfreeze()
    assert not lock.frozen
    await dev.freeze()  # default 1h
    assert lock.frozen_until == pytest.approx(ft.now + 3600)
    await dev.unfreeze()

    await dev.pillory(600, "Missed check-in")
    assert lock.pillory_until == pytest.approx(ft.now + 600)
    await dev.end_pillory()
    assert lock.pillory_until is None

    await dev.assign_task(TaskAssignParams(task_text="Drink water", points=5, duration_seconds=900))
    assert lock.task is not None and lock.task["taskText"] == "Drink water"
    assert (await dev.session()).lock_data.task_assigned is True
    await dev.start_task_timer()
    await dev.complete_task(True)
    assert not lock.task_assigned

    await dev.hygiene_opening(900)
    assert lock.hygiene_open

    result = await dev.custom_log(CustomLog(title="Discord vote: +1h", description="Passed 5 to 1.",
                                            color="#ffcc00"))
    assert result.get("ok") is True
    (entry,) = lock.custom_logs()
    assert entry["title"] == "Discord vote: +1h" and entry["role"] == "extension"

    await dev.notify(CustomNotification(title="Vote passed", message="1 hour was added.", target="both"))
    assert lock.notifications[-1]["target"] == "both"

    assert all(r.lock_id_header == lock.id for r in api_requests(s))
    assert all(r.status in (200, 201) for r in api_requests(s))


async def test_task_complete_failed_with_reason(s: StandIn, client: ChastifyClient) -> None:
    lock = s.add_lock(TOKEN)
    dev = client.dev(TOKEN, lock.id)
    await dev.assign_task(TaskAssignParams(task_text="Clean your room"))
    await dev.complete_task(False, "Did not finish in time")
    assert s.requests[-1].json == {"name": "task.complete",
                                   "params": {"successful": False, "reason": "Did not finish in time"}}


# Every documented error ------------------------------------------------------------------------------
async def test_token_errors(s: StandIn, client: ChastifyClient) -> None:
    lock = s.add_lock(TOKEN)
    with pytest.raises(InvalidToken) as invalid:
        await client.dev(OTHER_TOKEN).session()
    assert invalid.value.status == 401 and isinstance(invalid.value, TokenError)
    s.revoke(TOKEN)
    with pytest.raises(RevokedToken):
        await client.dev(TOKEN, lock.id).session()
    with pytest.raises(RevokedToken):
        await client.dev(TOKEN, lock.id).add_time(60)
    # missing_token cannot happen through the client: an empty token is refused before sending
    before = len(s.requests)
    with pytest.raises(InvalidParams):
        client.dev("  ")
    assert len(s.requests) == before


async def test_insufficient_scope(s: StandIn, client: ChastifyClient) -> None:
    lock = s.add_lock(TOKEN, scopes=["locks:read"])
    dev = client.dev(TOKEN, lock.id)
    assert (await dev.session()).scopes == ["locks:read"]
    with pytest.raises(InsufficientScope) as info:
        await dev.add_time(60)
    assert info.value.status == 403
    assert lock.remaining_seconds() == 86400


async def test_lock_gone(s: StandIn, client: ChastifyClient) -> None:
    lock = s.add_lock(TOKEN)
    other = s.add_lock(OTHER_TOKEN)
    with pytest.raises(NoActiveLock):  # pinned to a lock that is not this token's
        await client.dev(TOKEN, other.id).session()
    with pytest.raises(NoActiveLock):
        await client.dev(TOKEN, OTHER_LOCK_ID).add_time(60)

    dev = client.dev(TOKEN, lock.id)
    s.end_lock(lock.id)
    for call in (dev.session(), dev.add_time(60), dev.custom_log(CustomLog(title="x"))):
        with pytest.raises(LockEnded) as info:
            await call
        assert info.value.status == 409 and isinstance(info.value, LockGone)
    with pytest.raises(NoActiveLock):  # unpinned: no active lock left at all
        await client.dev(TOKEN).session()


async def test_unpinned_dev_follows_the_new_lock_but_pinned_never_does(s: StandIn, client: ChastifyClient) -> None:
    old = s.add_lock(TOKEN)
    pinned = client.dev(TOKEN, old.id)
    new = s.add_lock(TOKEN)  # the token's active lock changes
    assert (await client.dev(TOKEN).session()).lock_id == new.id
    assert (await pinned.session()).lock_id == old.id
    await pinned.add_time(60)
    assert old.remaining_seconds() == 86400 + 60 and new.remaining_seconds() == 86400


async def test_action_rejections(s: StandIn, client: ChastifyClient) -> None:
    lock = s.add_lock(TOKEN, tasks=False, hygiene=True)
    dev = client.dev(TOKEN, lock.id)
    with pytest.raises(ActionRejected) as info:
        await dev.end_pillory()
    assert (info.value.status, info.value.code) == (409, "pillory_not_active")
    with pytest.raises(ActionRejected) as info:
        await dev.assign_task(TaskAssignParams(task_text="Drink water"))
    assert info.value.code == "tasks_not_enabled"
    await dev.hygiene_opening()
    with pytest.raises(ActionRejected) as info:
        await dev.hygiene_opening()
    assert info.value.code == "hygienic_opening_in_progress"
    with pytest.raises(ActionRejected) as info:  # the client allows >= 1 s; this server wants >= 60
        await dev.pillory(30)
    assert (info.value.status, info.value.code) == (400, "validation_error")
    assert info.value.message


async def test_invalid_params_reach_nothing(s: StandIn, client: ChastifyClient) -> None:
    lock = s.add_lock(TOKEN)
    dev = client.dev(TOKEN, lock.id)
    with pytest.raises(InvalidParams):
        await dev.freeze(59)
    with pytest.raises(InvalidParams):
        await dev.lock_freeze(86401)
    with pytest.raises(InvalidParams):
        await dev.custom_log(CustomLog.model_construct(title="", role="extension"))
    assert s.requests == []
    assert not lock.frozen


# Rate limits ------------------------------------------------------------------------------------------
async def test_client_limiter_spaces_the_21st_action(s: StandIn, client: ChastifyClient, ft: FakeClock) -> None:
    lock = s.add_lock(TOKEN)
    dev = client.dev(TOKEN, lock.id)
    key = limiter_key(TOKEN, lock.id)
    for _ in range(10):
        await dev.add_time(60)
    for i in range(10):  # custom logs count as actions
        await dev.custom_log(CustomLog(title=f"log {i}"))
    assert ft.sleeps == []
    assert client.limiter.remaining(key) == 0
    assert client.limiter.wait_time(key) == pytest.approx(60.0)
    await dev.notify(CustomNotification(title="t", message="m"))  # the 21st in this minute
    assert ft.sleeps == [pytest.approx(60.0)]
    assert s.rate_limited_count == 0
    assert len(s.action_requests()) == 21
    assert client.limiter.remaining(limiter_key(TOKEN, None)) == 20  # another key is untouched


async def test_server_429_is_retried_after_its_retry_after(make_client: ClientFactory, s: StandIn,
                                                         ft: FakeClock) -> None:
    lock = s.add_lock(TOKEN)
    client = make_client(s.base_url, limiter=ActionLimiter(per_minute=1000, clock=ft, sleep=ft.sleep),
                         max_retry_after=120.0)
    dev = client.dev(TOKEN, lock.id)
    for _ in range(21):
        await dev.add_time(60)
    assert s.rate_limited_count == 1
    assert ft.sleeps == [pytest.approx(60.0)]
    applied = s.action_requests()
    assert len(applied) == 21  # every action exactly once
    assert lock.remaining_seconds() == 86400 + 21 * 60 - 60  # the clock moved 60 s while waiting


async def test_forced_429s_then_success(s: StandIn, client: ChastifyClient, ft: FakeClock) -> None:
    lock = s.add_lock(TOKEN)
    dev = client.dev(TOKEN, lock.id)
    s.faults.force_429 = 2
    assert (await dev.session()).lock_id == lock.id
    assert ft.sleeps == [1.0, 1.0]
    s.faults.force_429 = 2
    await dev.add_time(60)
    assert len(api_requests(s, "/action")) == 3
    assert len(s.action_requests()) == 1
    assert lock.remaining_seconds() == 86400 + 60 - 4  # 4 fake seconds of waiting so far


async def test_forced_429s_exhaust_retries(s: StandIn, client: ChastifyClient) -> None:
    lock = s.add_lock(TOKEN)
    s.faults.force_429 = 100
    with pytest.raises(RateLimited) as info:
        await client.dev(TOKEN, lock.id).add_time(60)
    assert info.value.retry_after == 1.0
    assert len(api_requests(s, "/action")) == client.max_retries + 1
    assert s.action_requests() == []


# Failures: writes are sent once, reads are retried ----------------------------------------------------
@pytest.mark.parametrize("fault", ["error_after_apply_rate", "drop_after_apply_rate", "error_rate"])
async def test_write_failures_are_outcome_unknown_and_sent_once(s: StandIn, client: ChastifyClient,
                                                                fault: str) -> None:
    lock = s.add_lock(TOKEN)
    dev = client.dev(TOKEN, lock.id)
    setattr(s.faults, fault, 1.0)
    with pytest.raises(OutcomeUnknown) as info:
        await dev.add_time(3600)
    assert_secret_free(info.value)
    sent = api_requests(s, "/action")
    assert len(sent) == 1  # NOTHING re-sent
    applied = fault != "error_rate"
    assert len(s.action_requests()) == (1 if applied else 0)
    assert lock.remaining_seconds() == 86400 + (3600 if applied else 0)
    # the recommended follow-up: re-read the session (reads are not affected by after-apply faults)
    s.faults.error_rate = 0.0
    session = await dev.session()
    assert session.lock_data.time_remaining_seconds == lock.remaining_seconds()


async def test_write_slower_than_total_timeout_is_outcome_unknown(make_client: ClientFactory,
                                                                  s: StandIn) -> None:
    lock = s.add_lock(TOKEN)
    client = make_client(s.base_url, timeouts=Timeouts(connect=1.0, read=5.0, total=0.2))
    s.faults.latency = (0.6, 0.6)
    with pytest.raises(OutcomeUnknown):
        await client.dev(TOKEN, lock.id).add_time(3600)
    for _ in range(100):  # the stand-in finishes the request on its own thread
        if api_requests(s, "/action"):
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)
    assert len(api_requests(s, "/action")) == 1
    assert lock.remaining_seconds() == 86400 + 3600  # it WAS applied: that is why it is never re-sent


async def test_get_5xx_retried_then_succeeds(s: StandIn, client: ChastifyClient, ft: FakeClock) -> None:
    lock = s.add_lock(TOKEN)
    s.faults.error_rate = 1.0
    ft.on_sleep = lambda _: setattr(s.faults, "error_rate", 0.0)
    assert (await client.dev(TOKEN, lock.id).session()).lock_id == lock.id
    assert [r.status for r in api_requests(s, "/session")] == [500, 200]


async def test_get_5xx_exhausted(s: StandIn, client: ChastifyClient) -> None:
    lock = s.add_lock(TOKEN)
    s.faults.error_rate = 1.0
    with pytest.raises(ServerError) as info:
        await client.dev(TOKEN, lock.id).session()
    assert info.value.status == 500 and info.value.code == "internal_error"
    assert len(api_requests(s, "/session")) == client.max_retries + 1


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_connection_refused_is_retried_then_unavailable(make_client: ClientFactory, ft: FakeClock) -> None:
    client = make_client(f"http://127.0.0.1:{closed_port()}", max_retries=3)
    dev = client.dev(TOKEN, OTHER_LOCK_ID)
    with pytest.raises(ChastifyUnavailable) as info:
        await dev.session()
    assert len(ft.sleeps) == 3
    assert_secret_free(info.value)
    ft.sleeps.clear()
    with pytest.raises(ChastifyUnavailable):  # a write that never left is safe to report as not applied
        await dev.add_time(60)
    assert len(ft.sleeps) == 3
    assert client.limiter.remaining(limiter_key(TOKEN, OTHER_LOCK_ID)) == 20


# Secrecy over the wire -------------------------------------------------------------------------------
async def test_no_secret_in_logs_or_errors(s: StandIn, client: ChastifyClient,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    lock = s.add_lock(TOKEN)
    dev = client.dev(TOKEN, lock.id)
    errors: list[ChastifyError] = []

    async def attempt(coro: object) -> None:
        try:
            await coro  # type: ignore[misc]
        except ChastifyError as e:
            errors.append(e)

    await attempt(dev.session())
    await attempt(dev.add_time(60))
    s.faults.force_429 = 1
    await attempt(dev.session())
    s.faults.error_after_apply_rate = 1.0
    await attempt(dev.add_time(60))
    s.faults.clear()
    await attempt(dev.end_pillory())
    s.revoke(TOKEN)
    await attempt(dev.session())
    assert len(errors) == 3  # the 502 after applying, the pillory not active, the revoked token
    secrets = (TOKEN,)
    for e in errors:
        assert_secret_free(e, secrets)
    for record in caplog.records:
        if record.name.startswith(("bot", "httpx", "httpcore")):
            text = record.getMessage() + repr(record.args) + str(record.exc_text)
            for secret in secrets:
                assert secret not in text, record.name
    for obj in (client, dev, client.limiter):
        for secret in secrets:
            assert secret not in repr(obj)
