"""ActionLimiter: 20 per rolling minute per key, server blocks, waiting on fake time."""

from __future__ import annotations

import asyncio

import pytest
from chastify_helpers import TOKEN
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.chastify import ActionLimiter, limiter_key, token_fingerprint
from tests.support.clock import FakeClock

KEY = ("fp", "lock-a")
OTHER = ("fp", "lock-b")


def test_twenty_free_then_the_21st_waits(ft: FakeClock) -> None:
    limiter = ActionLimiter(clock=ft, sleep=ft.sleep)
    for i in range(20):
        assert limiter.remaining(KEY) == 20 - i
        assert limiter.try_acquire(KEY)
        ft.advance(1.0)  # actions at t=0..19
    assert limiter.remaining(KEY) == 0
    assert not limiter.try_acquire(KEY)
    assert limiter.wait_time(KEY) == pytest.approx(40.0)  # the t=0 slot frees at t=60; now is t=20
    ft.advance(39.5)
    assert limiter.wait_time(KEY) == pytest.approx(0.5)
    ft.advance(0.5)
    assert limiter.wait_time(KEY) == 0.0
    assert limiter.try_acquire(KEY)
    assert limiter.wait_time(KEY) == pytest.approx(1.0)  # next frees when the t=1 action ages out


def test_keys_are_isolated(ft: FakeClock) -> None:
    limiter = ActionLimiter(per_minute=2, clock=ft, sleep=ft.sleep)
    assert limiter.try_acquire(KEY) and limiter.try_acquire(KEY)
    assert not limiter.try_acquire(KEY)
    assert limiter.remaining(OTHER) == 2 and limiter.wait_time(OTHER) == 0.0
    assert limiter.try_acquire(OTHER)


async def test_acquire_waits_for_a_slot(ft: FakeClock) -> None:
    limiter = ActionLimiter(clock=ft, sleep=ft.sleep)
    for _ in range(20):
        await limiter.acquire(KEY)
    assert ft.sleeps == []
    start = ft.now
    await limiter.acquire(KEY)  # the 21st in the minute
    assert ft.sleeps == [pytest.approx(60.0)]
    assert ft.now - start == pytest.approx(60.0)


async def test_concurrent_acquirers_all_get_through_in_order_of_slots(ft: FakeClock) -> None:
    limiter = ActionLimiter(per_minute=3, clock=ft, sleep=ft.sleep)
    stamps: list[float] = []

    async def one() -> None:
        await limiter.acquire(KEY)
        stamps.append(ft.now)

    await asyncio.gather(*(one() for _ in range(7)))
    assert len(stamps) == 7
    stamps.sort()
    for i in range(len(stamps) - 3):
        assert stamps[i + 3] - stamps[i] >= 60.0 - 1e-6


def test_note_rate_limited_blocks_the_key(ft: FakeClock) -> None:
    limiter = ActionLimiter(clock=ft, sleep=ft.sleep)
    limiter.note_rate_limited(KEY, 12.5)
    assert limiter.wait_time(KEY) == pytest.approx(12.5)
    assert limiter.remaining(KEY) == 0
    assert not limiter.try_acquire(KEY)
    assert limiter.try_acquire(OTHER)
    limiter.note_rate_limited(KEY, 1.0)  # a shorter block never shortens a longer one
    assert limiter.wait_time(KEY) == pytest.approx(12.5)
    ft.advance(12.5)
    assert limiter.wait_time(KEY) == 0.0 and limiter.remaining(KEY) == 20
    assert limiter.try_acquire(KEY)


def test_release_gives_a_slot_back(ft: FakeClock) -> None:
    limiter = ActionLimiter(per_minute=1, clock=ft, sleep=ft.sleep)
    assert limiter.try_acquire(KEY)
    assert not limiter.try_acquire(KEY)
    limiter.release(KEY)
    assert limiter.try_acquire(KEY)
    limiter.release(OTHER)  # unknown key: no-op


def test_purge_forgets_idle_keys(ft: FakeClock) -> None:
    limiter = ActionLimiter(clock=ft, sleep=ft.sleep)
    limiter.try_acquire(KEY)
    limiter.note_rate_limited(OTHER, 5)
    ft.advance(61)
    limiter.purge()
    assert "keys=0" in repr(limiter)


def test_keys_hold_a_fingerprint_never_the_token() -> None:
    key = limiter_key(TOKEN, None)
    assert key == (token_fingerprint(TOKEN), "active")
    assert TOKEN not in repr(key) and len(key[0]) == 16
    assert limiter_key(TOKEN, "abc")[1] == "abc"
    assert token_fingerprint(TOKEN) != token_fingerprint("dev-token-bob")


def test_bad_configuration() -> None:
    with pytest.raises(ValueError):
        ActionLimiter(per_minute=0)
    with pytest.raises(ValueError):
        ActionLimiter(window=0)


@settings(max_examples=200, deadline=None)
@given(gaps=st.lists(st.floats(min_value=0.0, max_value=30.0, allow_nan=False), min_size=1, max_size=80),
       per_minute=st.integers(min_value=1, max_value=25))
def test_never_more_than_the_limit_in_any_window(gaps: list[float], per_minute: int) -> None:
    ft = FakeClock()
    limiter = ActionLimiter(per_minute=per_minute, clock=ft, sleep=ft.sleep)
    granted: list[float] = []
    for gap in gaps:
        ft.advance(gap)
        wait = limiter.wait_time(KEY)
        ok = limiter.try_acquire(KEY)
        assert ok == (wait == 0.0)
        if ok:
            granted.append(ft.now)
        else:
            # after waiting exactly wait_time a slot is free
            ft.advance(wait)
            assert limiter.try_acquire(KEY)
            granted.append(ft.now)
    for i in range(len(granted) - per_minute):
        assert granted[i + per_minute] - granted[i] >= 60.0 - 1e-6
