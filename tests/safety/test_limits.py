"""/chastify limits: the owner's own rules, which override trusted people, votes and server admins."""

from __future__ import annotations

import discord

from tests.support.postgres import ON_BOTH_STORES
from tests.support.simcord import reply

pytestmark = ON_BOTH_STORES


def _fields(message: discord.Message) -> dict[str, str]:
    [embed] = message.embeds
    return {f.name or "": f.value or "" for f in embed.fields}


def _private(result) -> bool:
    return bool(result.ephemeral or reply(result).flags.ephemeral)


async def _limits(world, **options):
    result = await world.owner.slash(world.channel, "chastify limits", **options)
    return result


async def test_defaults_are_conservative_and_only_the_owner_sees_them(world):
    await world.link(title="Weekend Challenge")
    result = await _limits(world)
    assert _private(result)
    fields = _fields(reply(result))
    assert fields["Most added per action"] == "1h"
    assert fields["Most added per 24 h"] == "4h"
    assert fields["Longest freeze"] == "4h"
    assert fields["Longest pillory"] == "1h"
    assert fields["Least vote quorum"] == "3"
    assert fields["Your reactions count"] == "no"
    assert "hygiene opening" not in fields["Votes may"]


async def test_owner_sets_limits_and_a_bad_value_changes_nothing(world):
    await world.link(title="Weekend Challenge")
    result = await _limits(world, max_add="30m", max_add_per_day="1h", max_freeze="20m", max_pillory="5m",
                           min_quorum=5, votes="time only", trusted="time and freeze")
    assert _private(result)
    fields = _fields(reply(result))
    assert (fields["Most added per action"], fields["Most added per 24 h"]) == ("30m", "1h")
    assert (fields["Longest freeze"], fields["Longest pillory"], fields["Least vote quorum"]) == ("20m", "5m", "5")
    assert fields["Votes may"] == "add time, remove time"
    assert fields["Trusted people may"] == "add time, remove time, freeze, unfreeze"

    bad = await _limits(world, max_freeze="2h", max_add="lots")
    assert _private(bad)
    assert "Nothing was changed" in reply(bad).content
    fields = _fields(reply(await _limits(world)))
    assert (fields["Longest freeze"], fields["Most added per action"]) == ("20m", "30m")  # nothing half-stored

    too_long = await _limits(world, max_freeze="2d")
    assert "Nothing was changed" in reply(too_long).content


async def test_only_an_owner_has_limits(world):
    await world.link(title="Weekend Challenge")
    for who in (world.stranger, world.admin):
        result = await who.slash(world.channel, "chastify limits", max_add="10h")
        assert _private(result)
        assert "You have no lock linked" in reply(result).content
    fields = _fields(reply(await _limits(world)))
    assert fields["Most added per action"] == "1h"


async def test_trusted_people_are_refused_beyond_the_limits_with_the_limit_and_what_is_left(world):
    lock, _ = await world.link(title="Weekend Challenge")
    await world.owner.slash(world.channel, "chastify trust", who=world.friend)
    await _limits(world, max_add="30m", max_add_per_day="1h", trusted="time and freeze", max_freeze="20m")

    over = await world.friend.slash(world.channel, "lock add-time", duration="45m")
    assert _private(over)
    assert reply(over).content == ("⛔ The owner allows at most 30m per action (asked: 45m). Left today: 1h.")
    for _ in range(2):
        ok = await world.friend.slash(world.channel, "lock add-time", duration="30m")
        assert "Applied **+30m**" in reply(ok).embeds[0].description
    capped = await world.friend.slash(world.channel, "lock add-time", duration="1m")
    assert reply(capped).content == ("⛔ The owner allows at most 1h added per 24 h; left today: 0s "
                                     "(asked: 1m).")
    freeze = await world.friend.slash(world.channel, "lock freeze", duration="30m")
    assert reply(freeze).content == "⛔ The owner allows freezes of at most 20m."
    pillory = await world.friend.slash(world.channel, "lock pillory", duration="5m")
    assert reply(pillory).content == ("⛔ This lock's consent card does not allow trusted people to pillory. Trusted "
                                      "people may: add time, remove time, freeze, unfreeze (`/chastify status` shows "
                                      "the card).")
    task = await world.friend.slash(world.channel, "task assign", text="Write lines")
    assert "does not allow trusted people to assign a task" in reply(task).content
    assert [h["requested"] for h in lock.history if h["type"] == "time_added"] == [1800, 1800]
    assert all(h["type"] in ("time_added", "custom") for h in lock.history)


async def test_votes_have_their_own_allowed_actions_and_the_owners_least_quorum(world):
    lock, _ = await world.link(title="Weekend Challenge")
    await world.owner.slash(world.channel, "chastify trust", who=world.friend)
    await _limits(world, votes="time only", trusted="all", min_quorum=4)
    freeze_vote = await world.friend.slash(world.channel, "vote freeze", duration="10m")
    assert _private(freeze_vote)
    assert "does not allow votes to freeze" in reply(freeze_vote).content
    # the same member may freeze directly: the two lists are separate
    direct = await world.friend.slash(world.channel, "lock freeze", duration="10m")
    assert "Applied" in reply(direct).embeds[0].description

    vote = await world.stranger.slash(world.channel, "vote add-time", duration="30m", window="10m")
    embed = vote.response.message.embeds[0]
    assert any(f.name == "Quorum" and "0/4" in (f.value or "") for f in embed.fields)
    voters = [world.guild.add_member(world.env.create_user(f"voter{i}")) for i in range(3)]
    for v in voters:
        await v.react(vote.response.message, "✅")
    await world.env.advance_time(700)
    # three ✅ are not enough for the owner's quorum of four: nothing is added
    assert [h for h in lock.history if h["type"] == "time_added"] == []


async def test_a_vote_that_passes_after_the_owner_tightened_the_limits_is_not_applied(world):
    lock, _ = await world.link(title="Weekend Challenge")
    vote = await world.stranger.slash(world.channel, "vote add-time", duration="45m", window="10m")
    voters = [world.guild.add_member(world.env.create_user(f"voter{i}")) for i in range(3)]
    for v in voters:
        await v.react(vote.response.message, "✅")
    await _limits(world, max_add="30m")
    await world.env.advance_time(700)
    assert [h for h in lock.history if h["type"] == "time_added"] == []
    shown = world.channel.history()[[m.id for m in world.channel.history()].index(vote.response.message.id)]
    outcome = " ".join(f.value or "" for f in shown.embeds[0].fields if (f.name or "").startswith("Outcome"))
    assert "at most 30m per action" in outcome


async def test_a_board_is_clamped_to_what_the_owner_allows(world):
    lock, _ = await world.link(title="Weekend Challenge")
    await _limits(world, max_add="20m")
    board = await world.stranger.slash(world.channel, "vote board", add_per_vote="10m", remove_per_vote="0",
                                       window="10m")
    voters = [world.guild.add_member(world.env.create_user(f"voter{i}")) for i in range(4)]
    for v in voters:
        await v.react(board.response.message, "🔼")
    await world.env.advance_time(700)
    # four 🔼 of 10m ask for +40m; the owner allows 20m per action: 20m is applied, once
    assert [h["requested"] for h in lock.history if h["type"] == "time_added"] == [1200]
