"""Vote abuse: young accounts, reaction spam, members leaving mid-vote, the bot's own reactions.

Decisions (also in README "Votes and boards"): a member who leaves the server during a vote keeps the ballot they cast
(Discord keeps their reaction too, and a vote is a snapshot of who took part); accounts younger than the server's
``min_account_age`` never count; one member is one ballot, their latest reaction; the bot's ✅ ❌ 🔼 🔽 never count.
"""

from __future__ import annotations

import discord

from tests.support.simcord import reply


def _shown(world, message: discord.Message) -> discord.Embed:
    history = world.channel.history()
    return history[[m.id for m in history].index(message.id)].embeds[0]


def _field(embed: discord.Embed, start: str) -> str:
    return next(f.value or "" for f in embed.fields if (f.name or "").startswith(start))


async def _vote(world, proposer, duration="30m", window="10m"):
    result = await proposer.slash(world.channel, "vote add-time", duration=duration, window=window)
    assert result.response is not None and result.response.message is not None, reply(result).content
    return result.response.message


async def test_young_accounts_do_not_count(world):
    lock, _ = await world.link(title="Weekend Challenge", remaining=60 * 86400)
    res = await world.admin.slash(world.channel, "chastify settings", min_account_age=7)
    assert "7 days" in _field(reply(res).embeds[0], "Least account age")
    veterans = [world.guild.add_member(world.env.create_user(f"veteran{i}")) for i in range(2)]
    await world.env.advance_time(8 * 86400)
    sockpuppets = [world.guild.add_member(world.env.create_user(f"fresh{i}")) for i in range(5)]
    message = await _vote(world, veterans[0])
    for member in [*veterans, *sockpuppets]:
        await member.react(message, "✅")
    await world.env.advance_time(3)
    assert _field(_shown(world, message), "Tally").startswith("✅ 2 · ❌ 0")
    await world.env.advance_time(600)
    assert "quorum not reached (2 of 3 votes)" in _field(_shown(world, message), "Outcome")
    assert [h for h in lock.history if h["type"] == "time_added"] == []


async def test_reaction_spam_by_one_member_is_one_ballot(world):
    _lock, _ = await world.link(title="Weekend Challenge")
    spammer = world.guild.add_member(world.env.create_user("spammer"))
    message = await _vote(world, world.stranger)
    for _ in range(10):
        await spammer.react(message, "✅")
        await spammer.react(message, "❌")
        await spammer.unreact(message, "✅")
        await spammer.react(message, "✅")
        await spammer.unreact(message, "❌")
    await world.env.advance_time(3)
    assert _field(_shown(world, message), "Tally").startswith("✅ 1 · ❌ 0")
    await spammer.unreact(message, "✅")
    await world.env.advance_time(3)
    assert _field(_shown(world, message), "Tally").startswith("✅ 0 · ❌ 0")
    ballots = await world.bot.core.store.ballots.list(int(_shown(world, message).footer.text.split("#")[1]))
    assert ballots == []


async def test_a_member_who_leaves_mid_vote_keeps_their_ballot(world):
    lock, _ = await world.link(title="Weekend Challenge")
    voters = [world.guild.add_member(world.env.create_user(f"voter{i}")) for i in range(3)]
    message = await _vote(world, world.stranger)
    for member in voters:
        await member.react(message, "✅")
    world.guild.remove_member(voters[0])
    await world.env.advance_time(700)
    assert _field(_shown(world, message), "Outcome").startswith("Passed")
    assert [h["requested"] for h in lock.history if h["type"] == "time_added"] == [1800]


async def test_the_bots_own_reactions_never_count(world):
    lock, _ = await world.link(title="Weekend Challenge")
    message = await _vote(world, world.stranger)
    # the bot put ✅ and ❌ on its message itself
    shown = world.channel.history()[[m.id for m in world.channel.history()].index(message.id)]
    assert {str(r.emoji): r.count for r in shown.reactions} == {"✅": 1, "❌": 1}
    voters = [world.guild.add_member(world.env.create_user(f"voter{i}")) for i in range(2)]
    for member in voters:
        await member.react(message, "✅")
    await world.env.advance_time(700)
    # two people and the bot's own ✅: still short of a quorum of three
    assert "quorum not reached (2 of 3 votes)" in _field(_shown(world, message), "Outcome")
    assert [h for h in lock.history if h["type"] == "time_added"] == []


async def test_the_owner_does_not_vote_on_their_own_lock_unless_they_allow_it(world):
    _lock, _ = await world.link(title="Weekend Challenge")
    voters = [world.guild.add_member(world.env.create_user(f"voter{i}")) for i in range(2)]
    message = await _vote(world, world.stranger)
    for member in [world.owner, *voters]:
        await member.react(message, "✅")
    await world.env.advance_time(700)
    assert "quorum not reached (2 of 3 votes)" in _field(_shown(world, message), "Outcome")
