"""/chastify safeword and /chastify resume, as the members see them."""

from __future__ import annotations

import discord

from tests.support.postgres import ON_BOTH_STORES
from tests.support.simcord import reply

pytestmark = ON_BOTH_STORES


def _texts(message: discord.Message) -> str:
    parts = [message.content or ""]
    for embed in message.embeds:
        parts += [embed.title or "", embed.description or ""]
        parts += [f"{f.name}: {f.value}" for f in embed.fields]
    return "\n".join(parts)


async def _setup(world):
    lock, _ = await world.link(title="Weekend Challenge", remaining=86400)
    await world.owner.slash(world.channel, "chastify trust", who=world.friend)
    return lock


async def test_safeword_pauses_cancels_everything_notifies_and_logs(world):
    lock = await _setup(world)
    voters = [world.guild.add_member(world.env.create_user(f"voter{i}")) for i in range(3)]
    proposed = await world.friend.slash(world.channel, "vote add-time", duration="30m", reason="fun", window="1h")
    vote_message = proposed.response.message
    await voters[0].react(vote_message, "✅")
    board = await voters[1].slash(world.channel, "vote board", add_per_vote="10m", window="1h")
    board_message = board.response.message
    # an action that could not reach Chastify: it waits in the outbox for its next try
    world.chastify.stop()
    try:
        queued = await world.friend.slash(world.channel, "lock add-time", duration="20m")
    finally:
        world.chastify.start()
    assert "queued" in _texts(reply(queued))

    res = await world.owner.slash(world.channel, "chastify safeword")

    answer = reply(res)
    assert res.ephemeral or answer.flags.ephemeral
    assert "Paused" in answer.content and "`/chastify resume`" in answer.content
    assert "2 open vote(s) and 1 queued action(s) were cancelled" in answer.content
    # a neutral public notice, with no word about why
    notice = world.channel.last_message
    assert "is paused by its owner" in _texts(notice) and "safeword" not in _texts(notice).lower()
    # the vote and the board show they were cancelled
    for message in (vote_message, board_message):
        shown = world.channel.history()[[m.id for m in world.channel.history()].index(message.id)]
        assert "cancelled" in _texts(shown).lower()
    # a line in the lock's own Chastify log
    assert [log["title"] for log in lock.custom_logs()] == ["Discord: paused by the owner"]
    # nothing queued is sent, even once Chastify answers again and the retries come due
    await world.env.advance_time(600)
    assert [h for h in lock.history if h["type"] != "custom"] == []
    entries = await world.bot.core.store.outbox.list_by_status(("pending", "sent", "done", "cancelled"))
    assert [e.status for e in entries] == ["cancelled"]
    await voters[1].react(vote_message, "✅")
    await voters[2].react(vote_message, "✅")
    await world.env.advance_time(3600)
    assert [h for h in lock.history if h["type"] != "custom"] == []


async def test_nobody_can_act_on_a_paused_lock(world):
    lock = await _setup(world)
    await world.owner.slash(world.channel, "chastify safeword")
    admin_trusted = await world.owner.slash(world.channel, "chastify trust", who=world.admin)
    assert "can now act" in reply(admin_trusted).content

    for who in (world.friend, world.admin, world.owner):
        res = await who.slash(world.channel, "lock add-time", duration="10m")
        assert "paused until they run `/chastify resume`" in reply(res).content
        assert res.ephemeral or reply(res).flags.ephemeral
        res = await who.slash(world.channel, "task assign", text="Write lines")
        assert "paused" in reply(res).content
    res = await world.friend.slash(world.channel, "vote add-time", duration="10m")
    assert "paused" in reply(res).content
    res = await world.friend.slash(world.channel, "vote board")
    assert "paused" in reply(res).content or "allow" in reply(res).content
    # only the owner can lift it: an admin's /chastify resume concerns their own (absent) lock
    res = await world.admin.slash(world.channel, "chastify resume")
    assert "no lock linked" in reply(res).content
    assert [h for h in lock.history if h["type"] != "custom"] == []

    res = await world.owner.slash(world.channel, "chastify resume")
    assert "Resumed" in reply(res).content
    res = await world.friend.slash(world.channel, "lock add-time", duration="10m")
    assert "Applied **+10m**" in _texts(reply(res))
    assert [h["type"] for h in lock.history if h["type"] != "custom"] == ["time_added"]


async def test_safeword_is_at_once_even_when_chastify_is_down(world):
    lock = await _setup(world)
    world.chastify.stop()
    try:
        res = await world.owner.slash(world.channel, "chastify safeword")
        assert "Paused" in reply(res).content
        res = await world.friend.slash(world.channel, "lock add-time", duration="10m")
        assert "paused" in reply(res).content
    finally:
        world.chastify.start()
    assert lock.custom_logs() == []  # best effort: the pause does not wait for Chastify


async def test_resume_when_not_paused_says_so(world):
    await _setup(world)
    res = await world.owner.slash(world.channel, "chastify resume")
    assert "not paused" in reply(res).content
