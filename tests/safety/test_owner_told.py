"""The owner is told, by direct message, whatever they must act on: an uncertain action (with the lock's current
state), a token Chastify no longer accepts, a lock that ended. If they do not accept DMs, the bot stays silent
in the server and keeps it in the audit log, which /chastify history shows."""

from __future__ import annotations

from tests.support.simcord import reply


def _dms(world) -> list[str]:
    return [e.description or "" for m in world.owner.user.dm_channel.history() for e in m.embeds]


async def test_an_uncertain_action_is_shown_to_the_owner_with_the_lock_state(world):
    lock, _ = await world.link(title="Weekend Challenge", remaining=7200)
    await world.owner.slash(world.channel, "chastify trust", who=world.friend)
    world.chastify.faults.error_after_apply_rate = 1.0
    res = await world.friend.slash(world.channel, "lock add-time", duration="30m")
    world.chastify.faults.clear()
    public = reply(res).embeds[0].description
    assert "may or may not have been applied" in public
    [dm] = _dms(world)
    assert dm.startswith("From **Lock Club**: An action from a command on your lock **Weekend Challenge**")
    assert "Chastify did not confirm **+30m**" in dm and "not sent again" in dm
    assert "The lock now shows: 2h 30m remaining, not frozen." in dm
    # it was applied once on Chastify, and never again
    await world.env.advance_time(3600)
    assert [h["requested"] for h in lock.history if h["type"] == "time_added"] == [1800]


async def test_a_revoked_token_and_an_ended_lock_are_told_to_the_owner(world):
    _lock, _ = await world.link(title="Weekend Challenge")
    world.chastify.revoke("dev-token-owner")
    res = await world.owner.slash(world.channel, "lock add-time", duration="10m")
    assert "/chastify link" in reply(res).content
    [dm] = _dms(world)
    assert "Weekend Challenge" in dm and "token was rejected" in dm and "/chastify link" in dm

    other = world.guild.add_member(world.env.create_user("second_owner"))
    second, _ = await world.link(other, token="dev-token-second", title="Short lock")
    world.chastify.end_lock(second.id)
    res = await other.slash(world.channel, "lock add-time", duration="10m", lock="2")
    assert "ended" in reply(res).content
    [dm] = [e.description or "" for m in other.user.dm_channel.history() for e in m.embeds]
    assert "Short lock" in dm and "ended on Chastify" in dm and "/chastify link" in dm


async def test_an_owner_who_blocks_dms_is_not_pinged_in_the_server_and_it_is_audited(world):
    await world.link(title="Weekend Challenge", remaining=7200)
    dm_channel = world.owner.user.dm_channel
    world.env.inject_error("POST", f"/channels/{dm_channel.id}/messages", status=403, code=50007,
                           message="Cannot send messages to this user", times=None)
    world.chastify.faults.error_after_apply_rate = 1.0
    before = len(world.channel.history())
    await world.owner.slash(world.channel, "lock add-time", duration="10m")
    world.chastify.faults.clear()
    assert _dms(world) == []
    # only the command's own answer appeared in the channel: no fallback message pinging the owner
    new = world.channel.history()[before:]
    assert all(world.owner.mention not in (m.content or "") for m in new)
    history = await world.owner.slash(world.channel, "chastify history")
    text = reply(history).embeds[0].description
    assert "tell the owner" in text and "undelivered" in text
