"""Notifications to the people who hold a lock (``/chastify notify``, ``bot/notify.py``), driven through simcord
against the Chastify stand-in: what reaches the owner's DM channel, what reaches Chastify as a custom notification,
and that neither ever delays an action."""

from __future__ import annotations

from typing import Any

import discord
import pytest

from bot.notify import CHASTIFY_GATHER, CHASTIFY_RETRY, CHASTIFY_SPACING
from tests.support.builders import add_members, crash_and_restart, propose, react_all
from tests.support.settings import vote_settings
from tests.support.simcord import refusal, reply, reply_text
from tests.support.standin import API, APPLY_TIME, reached

pytestmark = pytest.mark.usefixtures("within_rate_limit")

NOTIFICATION = f"{API}/notifications/custom"
KEYHOLDER_TOKEN = "dev-token-keyholder"  # the stand-in's tokens, not secrets


@pytest.fixture
def bot_settings(tmp_path, chastify, monkeypatch):
    return vote_settings(tmp_path, chastify, monkeypatch)


def dms(member: Any) -> list[str]:
    """Every DM the bot sent the member, oldest first."""
    return [m.content or "" for m in member.user.dm_channel.history()]


def dm_posts(world: Any, member: Any) -> int:
    """How many times the bot tried to post in the member's DM channel (delivered or not)."""
    channel_id = member.user.dm_channel.id
    return sum(1 for r in world.env.http_requests
               if r.method == "POST" and r.path == f"/channels/{channel_id}/messages")


def notifications(world: Any) -> list[Any]:
    """Custom notifications that reached the stand-in (answered 2xx)."""
    return [r for r in reached(world.chastify, NOTIFICATION) if 200 <= r.status < 300]


async def linked(world: Any, **lock: Any) -> Any:
    fake, done = await world.link(title="Weekend Challenge", remaining=86400, **lock)
    assert "Linked" in reply_text(done)
    await world.owner.slash(world.channel, "chastify trust", who=world.friend)
    return fake


async def with_keyholder(world: Any, fake: Any) -> Any:
    """The lock's keyholder, known to the bot by their own token (their link is refused: the wearer linked the lock
    in this server already), so they may pause it."""
    world.chastify.share(fake, KEYHOLDER_TOKEN, role="keyholder")
    keyholder = world.guild.add_member(world.env.create_user("keyholder_kim"))
    shown = await keyholder.slash(world.channel, "chastify link")
    refused = await keyholder.submit_modal(shown, {"dev_token": KEYHOLDER_TOKEN})
    assert "you are now known as the lock's keyholder" in reply_text(refused)
    return keyholder


async def notify(world: Any, member: Any, **options: Any) -> discord.Embed:
    result = await member.slash(world.channel, "chastify notify", **options)
    assert result.ephemeral, reply_text(result)
    [embed] = reply(result).embeds
    return embed


def answer(result: Any) -> str:
    """What an action's member sees: the embed of a /lock command's answer, else its text."""
    got = reply(result)
    return (got.embeds[0].description or "") if got.embeds else (got.content or "")


def shown(embed: discord.Embed) -> dict[str, str]:
    return {f.name or "": f.value or "" for f in embed.fields}


# ------------------------------------------------------------------------------------------------ by DM
async def test_the_owner_is_told_by_dm_when_a_vote_opens_with_its_link_and_when_it_closes_with_its_result(world):
    await linked(world)
    voters = add_members(world, 3)
    _, msg = await propose(world, world.friend, "add-time", duration="1h", window="10m")
    assert msg is not None
    [opened] = dms(world.owner)
    assert "A vote on your lock **Weekend Challenge** was opened in Lock Club: **+1h**" in opened
    assert msg.jump_url in opened
    assert dms(world.friend) == []  # the proposer holds no lock: nobody tells them

    await react_all(voters, msg, "✅")
    await world.env.advance_time(600)
    assert len(dms(world.owner)) == 2
    closed = dms(world.owner)[-1]
    assert "Vote #1 (**+1h**) on your lock **Weekend Challenge** closed." in closed
    assert "Passed (3 for, 0 against): applied." in closed
    assert msg.jump_url in closed


async def test_a_direct_action_by_a_trusted_member_is_told_to_the_owner_and_nobody_hears_of_their_own(world):
    await linked(world)
    await world.friend.slash(world.channel, "lock add-time", duration="30m")
    [told] = dms(world.owner)
    assert "friend\\_fred used **+30m** on your lock **Weekend Challenge** in Lock Club (applied)." in told
    assert dms(world.friend) == []

    await world.owner.slash(world.channel, "lock add-time", duration="10m")
    assert len(dms(world.owner)) == 1  # their own action: no DM


async def test_a_pause_and_a_resume_by_the_other_holder_reach_the_owner_at_once(world):
    fake = await linked(world)
    keyholder = await with_keyholder(world, fake)
    await keyholder.slash(world.channel, "chastify safeword")
    [paused] = dms(world.owner)
    assert "**Weekend Challenge** was paused with the safeword by keyholder\\_kim" in paused
    await keyholder.slash(world.channel, "chastify resume")
    resumed = dms(world.owner)[-1]
    assert len(dms(world.owner)) == 2 and "**Weekend Challenge** was resumed by keyholder\\_kim" in resumed
    assert dms(keyholder) == []  # their own doing


async def test_dms_can_be_turned_off(world):
    await linked(world)
    embed = await notify(world, world.owner, dm=False)
    assert shown(embed)["Discord DM"] == "off" and "(updated)" in (embed.title or "")
    await world.friend.slash(world.channel, "lock add-time", duration="30m")
    assert dms(world.owner) == []
    assert dm_posts(world, world.owner) == 0


async def test_a_member_with_closed_dms_is_noted_once_and_not_retried_for_every_news(world):
    await linked(world)
    channel_id = world.owner.user.dm_channel.id
    world.env.inject_error("POST", f"/channels/{channel_id}/messages", status=403, code=50007,
                           message="Cannot send messages to this user", times=None)
    for _ in range(3):
        await world.friend.slash(world.channel, "lock add-time", duration="5m")
    assert dm_posts(world, world.owner) == 1  # one try, then no more
    assert dms(world.owner) == []
    history = reply(await world.owner.slash(world.channel, "chastify history")).embeds[0].description or ""
    assert history.count("notify by DM") == 1 and "undelivered" in history

    # the owner opens their DMs and runs /chastify notify: told what happened, and DMs are tried again
    world.env.backend.faults.clear()
    embed = await notify(world, world.owner)
    assert "could not be delivered" in shown(embed)["DMs had failed"]
    await world.friend.slash(world.channel, "lock add-time", duration="5m")
    [told] = dms(world.owner)
    assert "used **+5m**" in told
    assert "DMs had failed" not in shown(await notify(world, world.owner))


# ------------------------------------------------------------------------------------------------ quiet hours
async def test_quiet_hours_hold_news_and_one_digest_comes_when_they_end_while_a_pause_comes_at_once(world):
    fake = await linked(world)
    keyholder = await with_keyholder(world, fake)
    # simcord's clock starts at 2026-01-01 00:00 UTC: 01:00 in Berlin, within 22:00-07:00
    embed = await notify(world, world.owner, quiet="22:00-07:00", timezone="Europe/Berlin")
    assert shown(embed)["Quiet hours"].startswith("22:00-07:00 (Europe/Berlin) · now: quiet")
    await world.friend.slash(world.channel, "lock add-time", duration="30m")
    await world.friend.slash(world.channel, "lock freeze", duration="1h")
    assert dms(world.owner) == []  # held

    await keyholder.slash(world.channel, "chastify safeword")  # urgent: comes through the quiet hours
    [paused] = dms(world.owner)
    assert "was paused with the safeword" in paused
    await keyholder.slash(world.channel, "chastify resume")
    assert len(dms(world.owner)) == 2

    await world.env.advance_time(6 * 3600 - 120)  # 06:58 in Berlin: still quiet
    assert len(dms(world.owner)) == 2
    await world.env.advance_time(180)  # 07:01
    assert len(dms(world.owner)) == 3
    digest = dms(world.owner)[-1]
    assert digest.startswith("🌙 **While your quiet hours lasted** (2 updates):")
    assert "used **+30m**" in digest and "used **freeze 1h**" in digest
    assert "paused" not in digest and "resumed" not in digest  # those came at once
    await world.env.advance_time(24 * 3600)
    assert len(dms(world.owner)) == 3  # one digest, once


async def test_news_held_for_quiet_hours_survives_a_restart(world, bot_settings):
    await linked(world)
    await notify(world, world.owner, quiet="00:00-02:00", timezone="UTC")
    await world.friend.slash(world.channel, "lock add-time", duration="30m")
    assert dms(world.owner) == []
    await crash_and_restart(world, bot_settings)
    await world.env.advance_time(2 * 3600 + 60)
    [digest] = dms(world.owner)
    assert "(1 update)" in digest and "used **+30m**" in digest


async def test_bad_quiet_hours_or_time_zones_change_nothing_and_say_what_is_accepted(world):
    await linked(world)
    said = refusal(await world.owner.slash(world.channel, "chastify notify", quiet="25:00-07:00", dm=False))
    assert "Nothing was changed" in said and "22:00-07:00" in said
    said = refusal(await world.owner.slash(world.channel, "chastify notify", timezone="Mars/Olympus_Mons"))
    assert "not a time zone" in said and "Europe/Berlin" in said
    said = refusal(await world.owner.slash(world.channel, "chastify notify", quiet="22:00-07:00"))
    assert "need your time zone" in said
    said = refusal(await world.owner.slash(world.channel, "chastify notify", quiet="07:00-07:00",
                                           timezone="UTC"))
    assert "different times" in said
    now = shown(await notify(world, world.owner))
    assert now["Discord DM"] == "on" and now["Quiet hours"] == "off" and now["Time zone"] == "not set"


async def test_only_someone_who_holds_a_lock_can_choose_notifications(world):
    await linked(world)
    said = refusal(await world.friend.slash(world.channel, "chastify notify", dm=False))
    assert "/chastify link" in said


# ------------------------------------------------------------------------------------------------ Chastify
async def test_chastify_notifications_come_in_one_batch_when_enabled(world):
    fake = await linked(world)
    embed = await notify(world, world.owner, chastify="wearer")
    assert shown(embed)["Chastify notification"].startswith("the wearer")
    for duration in ("5m", "10m", "15m"):
        await world.friend.slash(world.channel, "lock add-time", duration=duration)
    assert notifications(world) == []  # gathered first
    await world.env.advance_time(CHASTIFY_GATHER + 1)
    [sent] = notifications(world)
    assert sent.json["target"] == "wearer"
    assert sent.json["title"] == "Discord: 3 updates about your lock"
    message = sent.json["message"]
    assert all(f"friend_fred used +{d} on your lock Weekend Challenge" in message for d in ("5m", "10m", "15m"))
    assert "**" not in message and "\\" not in message  # plain text on Chastify
    assert len(fake.notifications) == 1
    assert len(dms(world.owner)) == 3  # the DMs came as well, at once

    # the next batch waits for the spacing after the last one
    await world.friend.slash(world.channel, "lock add-time", duration="20m")
    await world.env.advance_time(CHASTIFY_GATHER + 1)
    assert len(notifications(world)) == 1
    await world.env.advance_time(CHASTIFY_SPACING)
    assert len(notifications(world)) == 2 and "+20m" in notifications(world)[-1].json["message"]

    # turned off: nothing more reaches Chastify
    await notify(world, world.owner, chastify="off")
    await world.friend.slash(world.channel, "lock add-time", duration="25m")
    await world.env.advance_time(3 * CHASTIFY_SPACING)
    assert len(notifications(world)) == 2


async def test_no_chastify_notification_unless_enabled(world):
    await linked(world)
    for _ in range(3):
        await world.friend.slash(world.channel, "lock add-time", duration="5m")
    await world.env.advance_time(3 * CHASTIFY_SPACING)
    assert notifications(world) == []
    assert [r for r in world.chastify.requests if r.path == NOTIFICATION] == []
    assert len(dms(world.owner)) == 3


async def test_a_notification_never_delays_an_action_under_a_full_budget(world):
    fake = await linked(world)
    await notify(world, world.owner, chastify="both")
    await world.friend.slash(world.channel, "lock add-time", duration="5m")  # news: its batch is due in 60 s
    await world.env.advance_time(CHASTIFY_GATHER - 10)
    # nine more actions (an action and its log line each) spend the lock's 20 slots a minute: when the batch falls
    # due the first action's two are free again, exactly what one more action needs
    for _ in range(9):
        res = await world.friend.slash(world.channel, "lock add-time", duration="5m")
        assert answer(res).startswith("Applied **+5m**"), answer(res)
    await world.env.advance_time(11)  # the batch is due now

    applied = len(reached(world.chastify, APPLY_TIME))
    res = await world.friend.slash(world.channel, "lock add-time", duration="5m")
    # the action went at once: applied, neither queued nor refused for want of budget
    assert answer(res).startswith("Applied **+5m**"), answer(res)
    assert len(reached(world.chastify, APPLY_TIME)) == applied + 1
    assert notifications(world) == []  # the batch waits: the budget belongs to actions

    await world.env.advance_time(CHASTIFY_RETRY)  # the fillers' slots are free again
    [sent] = notifications(world)
    assert sent.json["target"] == "both" and sent.json["title"] == "Discord: 11 updates about your lock"
    assert "…and" in sent.json["message"] and len(sent.json["message"]) <= 500
    assert len(fake.notifications) == 1


async def test_chastify_notifications_need_a_link_of_ones_own(world):
    fake = await linked(world)
    keyholder = await with_keyholder(world, fake)
    said = refusal(await keyholder.slash(world.channel, "chastify notify", chastify="keyholder"))
    assert "your own DEV token" in said and "/chastify link" in said
    assert shown(await notify(world, keyholder))["Chastify notification"] == "off"
