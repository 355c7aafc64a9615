"""``bot/notify.py`` without Discord: quiet hours and time zones, the texts, the notifier's handler never waiting,
its Chastify path never waiting on the budget, and the repository of migration 009."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.chastify import limiter_key
from bot.errors import UserError
from bot.events import Events, LockNews
from bot.notify import (
    CHASTIFY_RESERVE,
    Notifier,
    chastify_message,
    check_zone,
    digest_text,
    dm_text,
    in_quiet,
    parse_quiet,
    plain,
    quiet_ends_at,
)
from bot.store import Store
from bot.store.notify_repo import HeldNews, NotifyPrefs
from tests.safety.rig import make_rig
from tests.support.clock import FakeClock
from tests.support.standin import API

LOCK = "0123456789abcdef01234567"
NOTIFICATION = f"{API}/notifications/custom"


def at(text: str) -> float:
    """Epoch seconds of an ISO time in UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def prefs(quiet: tuple[int, int] | None, zone: str | None = "Europe/Berlin") -> NotifyPrefs:
    return NotifyPrefs(LOCK, 1, quiet_start=quiet[0] if quiet else None, quiet_end=quiet[1] if quiet else None,
                       timezone=zone)


def held(i: int, text: str, kind: str = "direct_action", url: str | None = None) -> HeldNews:
    return HeldNews(i, LOCK, 1, "dm", 10, kind, text, url, False, 0.0)


# ------------------------------------------------------------------------------------------------ quiet hours
@pytest.mark.parametrize(("text", "span"), [
    ("22:00-07:00", (1320, 420)), ("22-7", (1320, 420)), (" 9:30 - 17:45 ", (570, 1065)), ("00:00-06:00", (0, 360)),
    ("off", None), ("OFF", None), ("none", None),
])
def test_quiet_hours_accept_a_range_of_the_24_hour_clock_or_off(text, span):
    assert parse_quiet(text) == span


@pytest.mark.parametrize("text", ["25:00-07:00", "22:60-07:00", "7-7", "22:00", "10pm-7am", "", "22:00-07:00-09:00"])
def test_bad_quiet_hours_are_refused_saying_what_is_accepted(text):
    with pytest.raises(UserError, match="Nothing was changed") as err:
        parse_quiet(text)
    assert "22:00-07:00" in str(err.value) or "different times" in str(err.value)


def test_time_zones_are_checked_against_the_tz_database():
    assert check_zone("Europe/Berlin") == "Europe/Berlin"
    assert check_zone(" utc ") == "UTC"
    for bad in ("Mars/Olympus_Mons", "../../etc/passwd", "/etc/localtime", "Europe/", "", "x" * 80, "Berlin`"):
        with pytest.raises(UserError, match="Nothing was changed") as err:
            check_zone(bad)
        assert "Europe/Berlin" in str(err.value)


def test_quiet_hours_over_midnight_in_the_persons_time_zone():
    p = prefs((22 * 60, 7 * 60))
    # winter: Berlin is UTC+1
    assert in_quiet(p, at("2026-01-01T00:00"))  # 01:00 in Berlin
    assert in_quiet(p, at("2026-01-01T21:00"))  # 22:00
    assert not in_quiet(p, at("2026-01-01T20:59"))  # 21:59
    assert not in_quiet(p, at("2026-01-01T06:00"))  # 07:00: over
    assert quiet_ends_at(p, at("2026-01-01T00:00")) == at("2026-01-01T06:00")
    assert quiet_ends_at(p, at("2026-01-01T21:30")) == at("2026-01-02T06:00")


def test_quiet_hours_follow_daylight_saving_time():
    p = prefs((22 * 60, 7 * 60))
    # the night clocks go forward in Berlin (2026-03-29 02:00 -> 03:00): 07:00 is then 05:00 UTC
    assert quiet_ends_at(p, at("2026-03-28T23:00")) == at("2026-03-29T05:00")
    assert in_quiet(p, at("2026-03-29T04:59")) and not in_quiet(p, at("2026-03-29T05:00"))


def test_quiet_hours_within_one_day_and_none():
    day = prefs((13 * 60, 15 * 60), "UTC")
    assert in_quiet(day, at("2026-01-01T13:00")) and not in_quiet(day, at("2026-01-01T15:00"))
    assert not in_quiet(day, at("2026-01-01T12:59"))
    assert quiet_ends_at(day, at("2026-01-01T14:00")) == at("2026-01-01T15:00")
    assert not in_quiet(prefs(None), at("2026-01-01T00:00")) and quiet_ends_at(prefs(None), 0.0) is None


# ------------------------------------------------------------------------------------------------ texts
def test_plain_text_for_chastify_undoes_discord_markdown():
    text = (r"friend\_fred used **+30m** on your lock **Weekend \*\*Challenge\*\*** in Lock Club, "
            f"closing <t:{int(at('2026-01-01T12:00'))}:R>, by <@123> for <@&456> in <#789>.")
    assert plain(text) == ("friend_fred used +30m on your lock Weekend **Challenge** in Lock Club, closing 12:00 UTC,"
                           " by a member for a role in a channel.")
    assert "13:00 CET" in plain(f"<t:{int(at('2026-01-01T12:00'))}:R>", "Europe/Berlin")


def test_a_chastify_notification_stays_within_chastifys_limits_and_says_what_was_left_out():
    items = [held(i, f"news number {i} " + "x" * 80) for i in range(20)]
    note = chastify_message(items, None, "both")
    assert note.target == "both" and note.title == "Discord: 20 updates about your lock"
    assert len(note.message) <= 500 and note.message.endswith("more (see Discord).")
    assert note.message.startswith("news number 0 ")
    one = chastify_message([held(1, "x" * 900)], "UTC")
    assert one.title == "Discord: news about your lock" and len(one.message) <= 500


def test_dms_and_digests_stay_within_discords_limit():
    many = [LockNews(LOCK, 1, "direct_action", "y" * 300, url="https://discord.com/channels/1/2/3")
            for _ in range(20)]
    text = dm_text(many)
    assert len(text) <= 2000 and text.startswith("🔧 ") and text.endswith("more.")
    digest = digest_text([held(i, "z" * 300, url="https://discord.com/channels/1/2/3") for i in range(20)])
    assert len(digest) <= 2000 and digest.startswith("🌙 **While your quiet hours lasted** (20 updates):")
    assert digest.endswith("`/chastify history` shows the lock's actions.")
    assert "(1 update)" in digest_text([held(1, "a")])


# ------------------------------------------------------------------------------------------------ the service
class SlowInbox:
    """A DM that takes as long as the test wants."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.begun = asyncio.Event()
        self.started: list[int] = []
        self.delivered: list[tuple[int, str]] = []

    async def dm(self, user_id: int, text: str) -> bool:
        self.started.append(user_id)
        self.begun.set()
        await self.release.wait()
        self.delivered.append((user_id, text))
        return True


async def test_publishing_news_never_waits_for_a_dm(fake_clock: FakeClock):
    store = await Store.open(":memory:", clock=fake_clock)
    try:
        await store.consent.add_person(LOCK, 1, "wearer")
        await store.consent.add_person(LOCK, 2, "keyholder")
        events, inbox = Events(), SlowInbox()
        notifier = Notifier(store=store, events=events, clock=fake_clock, client=None,  # type: ignore[arg-type]
                            limiter=None, vault=None, inbox=inbox)  # type: ignore[arg-type]
        notifier.start()
        # the publisher (the safeword, an action) is back at once, whatever the DM does
        await asyncio.wait_for(events.publish(LockNews(LOCK, 10, "paused", "paused", urgent=True, actor_id=2)),
                               timeout=0.5)
        assert inbox.delivered == []
        await asyncio.wait_for(inbox.begun.wait(), timeout=2)
        assert inbox.started == [1] and inbox.delivered == []  # the DM is under way, in the background
        await asyncio.wait_for(events.publish(LockNews(LOCK, 10, "resumed", "resumed", urgent=True, actor_id=2)),
                               timeout=0.5)
        inbox.release.set()
        await notifier.settle()
        assert [u for u, _ in inbox.delivered] == [1, 1]  # the keyholder did it: only the wearer is told
        await notifier.aclose()
        assert events.subscribers(LockNews) == 0
    finally:
        await store.close()


async def test_a_chastify_batch_never_waits_on_the_budget(tmp_path: Path, make_standin: Any, fake_clock: FakeClock):
    chastify = make_standin(clock=fake_clock)
    rig = await make_rig(tmp_path, chastify, fake_clock)
    try:
        link, fake = await rig.link("dev-token-owner", owner=1, title="Weekend Challenge")
        await rig.store.consent.add_person(link.lock_id, 2, "keyholder")

        class Inbox:
            async def dm(self, user_id: int, text: str) -> bool:
                return True

        notifier = Notifier(store=rig.store, events=rig.core.events, clock=fake_clock, client=rig.client,
                            limiter=rig.core.limiter, vault=rig.core.vault, inbox=Inbox())
        notifier.start()
        await notifier.change(link.lock_id, 1, chastify="wearer")
        await rig.core.events.publish(LockNews(link.lock_id, 1, "direct_action", "someone did **this**",
                                               actor_id=2))
        await notifier.settle()
        fake_clock.advance(61)
        key = limiter_key("dev-token-owner", link.lock_id)
        limiter = rig.core.limiter
        while limiter.remaining(key) > CHASTIFY_RESERVE:
            assert limiter.try_acquire(key)
        before = fake_clock.now
        await asyncio.wait_for(notifier.run_due(), timeout=2)
        assert fake_clock.now == before  # nothing slept on the limiter
        assert [r for r in chastify.requests if r.path == NOTIFICATION] == []
        assert (await notifier.settings(link.lock_id, 1)).held_chastify == 1  # kept for later

        fake_clock.advance(61)  # the slots are free again and the retry is due
        await notifier.run_due()
        [sent] = [r for r in chastify.requests if r.path == NOTIFICATION]
        assert sent.json["message"] == "someone did this" and sent.json["target"] == "wearer"
        assert len(fake.notifications) == 1
        assert (await notifier.settings(link.lock_id, 1)).held_chastify == 0
        await notifier.aclose()
    finally:
        await rig.close()


# ------------------------------------------------------------------------------------------------ the repository
async def test_the_repository_keeps_choices_and_held_news(fake_clock: FakeClock):
    store = await Store.open(":memory:", clock=fake_clock)
    try:
        repo = store.notify
        assert await repo.get(LOCK, 1) == NotifyPrefs(LOCK, 1)  # the defaults: DMs on, Chastify off, no quiet
        got = await repo.update(LOCK, 1, chastify="both", quiet_start=1320, quiet_end=420, timezone="Europe/Berlin")
        assert (got.dm, got.chastify, got.quiet, got.timezone) == (True, "both", (1320, 420), "Europe/Berlin")
        got = await repo.update(LOCK, 1, dm=False)
        assert (got.dm, got.chastify, got.quiet) == (False, "both", (1320, 420))
        with pytest.raises(ValueError, match="chastify must be"):
            await repo.update(LOCK, 1, chastify="everyone")
        with pytest.raises(ValueError, match="unknown notification setting"):
            await repo.update(LOCK, 1, updated_at=5.0)

        assert await repo.note_dm_failed(LOCK, 1) is True
        assert await repo.note_dm_failed(LOCK, 1) is False  # noted once
        assert (await repo.get(LOCK, 1)).dm_failed_at == fake_clock.now
        await repo.update(LOCK, 1, dm_failed_at=None)
        assert await repo.note_dm_failed(LOCK, 1) is True

        a = await repo.hold(lock_id=LOCK, user_id=1, channel="dm", guild_id=10, kind="vote_opened", text="one",
                            url="https://discord.com/channels/1/2/3")
        b = await repo.hold(lock_id=LOCK, user_id=1, channel="chastify", guild_id=10, kind="paused", text="two",
                            urgent=True)
        assert await repo.waiting() == [(LOCK, 1, "chastify"), (LOCK, 1, "dm")]
        [first] = await repo.held(LOCK, 1, "dm")
        assert (first.id, first.text, first.url, first.urgent) == (a, "one", "https://discord.com/channels/1/2/3",
                                                                   False)
        [second] = await repo.held(LOCK, 1, "chastify")
        assert second.urgent is True
        assert await repo.drop([a, b]) == 2 and await repo.waiting() == []
    finally:
        await store.close()
