"""Flooding: refused proposals start the proposer's cooldown, /chastify link and /chastify status have per-member
cooldowns, and refusals (every kind audited with its reason) never push real actions out of /chastify history."""

from __future__ import annotations

import re
from typing import Any

from tests.support.simcord import public_text, refusal, reply


def members(world: Any, n: int, prefix: str = "member", roles: tuple[Any, ...] = ()) -> list[Any]:
    return [world.guild.add_member(world.env.create_user(f"{prefix}{i}"), roles=list(roles)) for i in range(n)]


async def history(world: Any, who: Any = None) -> tuple[str, str]:
    """(actions, refusals) as ``/chastify history`` shows them to the owner."""
    res = await (who or world.owner).slash(world.channel, "chastify history")
    assert res.ephemeral
    text = reply(res).embeds[0].description
    actions, _, refused = text.partition("\n\n**Refused**")
    return actions, refused


def posted(res: Any) -> bool:
    return not res.ephemeral and res.response is not None and bool(res.response.embeds)


# ------------------------------------------------------------------------------------- refused proposals
async def test_a_proposal_the_owners_limits_refuse_starts_the_cooldown(world):
    await world.link(title="Weekend Challenge", remaining=86400)
    await world.admin.slash(world.channel, "chastify settings", cooldown="10m")
    await world.owner.slash(world.channel, "chastify limits", votes="none")

    first = await world.friend.slash(world.channel, "vote add-time", duration="30m")
    assert "votes" in refusal(first) and "propose again" not in refusal(first)

    await world.env.advance_time(60)
    again = await world.friend.slash(world.channel, "vote add-time", duration="30m")
    assert refusal(again) == ("⛔ Your last proposal here was refused, and refused proposals count too: this server "
                              "allows one proposal per member every 10m. You can propose again in 9m.")
    # trying again early never pushes the wait further out
    await world.env.advance_time(60)
    assert "You can propose again in 8m." in refusal(
        await world.friend.slash(world.channel, "vote board", add_per_vote="10m"))
    # another member is not held back by it
    assert "propose again" not in refusal(await world.stranger.slash(world.channel, "vote add-time",
                                                                      duration="30m"))

    await world.owner.slash(world.channel, "chastify limits", votes="all")
    await world.env.advance_time(8 * 60)
    assert posted(await world.friend.slash(world.channel, "vote add-time", duration="30m"))


async def test_a_proposal_refused_for_the_open_vote_cap_starts_the_cooldown(world):
    await world.link(remaining=86400)
    await world.admin.slash(world.channel, "chastify settings", cooldown="10m", max_open=1)
    assert posted(await world.stranger.slash(world.channel, "vote add-time", duration="30m", window="2m"))

    capped = await world.friend.slash(world.channel, "vote freeze", duration="30m")
    assert "This lock already has 1 open vote(s)" in refusal(capped)
    await world.env.advance_time(180)  # the open vote closed: the cap no longer holds, the cooldown does
    again = await world.friend.slash(world.channel, "vote freeze", duration="30m")
    assert "Your last proposal here was refused" in refusal(again)
    assert "You can propose again in 7m." in refusal(again)


async def test_a_vote_whose_message_could_not_be_posted_does_not_start_the_cooldown(world):
    await world.link(remaining=86400)
    votes = world.guild.create_text_channel("votes")
    await world.admin.slash(world.channel, "chastify settings", cooldown="10m", vote_channel=votes)
    world.env.inject_error("POST", f"/channels/{votes.id}/messages", status=403, code=50013,
                           message="Missing Permissions", times=1)

    failed = await world.friend.slash(world.channel, "vote add-time", duration="30m")
    assert "Nothing was proposed: the bot could not post the vote" in refusal(failed)

    again = await world.friend.slash(world.channel, "vote add-time", duration="30m")
    assert again.ephemeral and reply(again).content.startswith("Vote #2 posted in")


# ------------------------------------------------------------------------------------ command cooldowns
async def test_status_spammed_past_its_cooldown_is_refused_privately_with_the_wait(world):
    await world.link(title="Weekend Challenge", remaining=86400)
    for _ in range(5):
        assert "Weekend Challenge" in public_text(await world.stranger.slash(world.channel, "chastify status"))

    spam = await world.stranger.slash(world.channel, "chastify status")

    assert refusal(spam) == ("⛔ You are using this command too often: each member may use it 5 times every 1m. "
                             "Try again in 1m.")
    # per member: someone else still sees the lock; after the wait, so does the member
    assert "Weekend Challenge" in public_text(await world.friend.slash(world.channel, "chastify status"))
    await world.env.advance_time(45)
    assert "Try again in 15s." in refusal(await world.stranger.slash(world.channel, "chastify status"))
    await world.env.advance_time(16)
    assert "Weekend Challenge" in public_text(await world.stranger.slash(world.channel, "chastify status"))


async def test_link_spammed_past_its_cooldown_is_refused_privately_with_the_wait(world):
    for _ in range(3):
        shown = await world.stranger.slash(world.channel, "chastify link")
        assert shown.modal is not None

    spam = await world.stranger.slash(world.channel, "chastify link")

    assert spam.modal is None
    assert refusal(spam) == ("⛔ You are using this command too often: each member may use it 3 times every 10m. "
                             "Try again in 10m.")
    assert (await world.owner.slash(world.channel, "chastify link")).modal is not None  # per member
    await world.env.advance_time(601)
    assert (await world.stranger.slash(world.channel, "chastify link")).modal is not None


# ------------------------------------------------------------------------------------------------ history
async def test_30_refusals_do_not_push_the_owners_actions_out_of_history(world):
    await world.link(title="Weekend Challenge", remaining=86400)
    for duration in ("10m", "20m", "30m"):
        assert "Applied" in public_text(await world.owner.slash(world.channel, "lock add-time", duration=duration))
    await world.env.advance_time(60)
    for _ in range(30):
        refusal(await world.stranger.slash(world.channel, "lock add-time", duration="1h"))

    actions, refused = await history(world)

    for summary in ("+10m", "+20m", "+30m"):
        assert any(f"**{summary}** · applied" in line and world.owner.mention in line
                   for line in actions.split("\n")), summary
    [line] = [line for line in refused.split("\n") if "**+1h**" in line]
    assert "· refused ×30, last <t:" in line and world.stranger.mention in line
    assert refused.count("not the owner and not trusted") == 1


async def test_every_kind_of_refusal_is_in_history_with_its_reason(world):
    await world.link(title="Weekend Challenge", remaining=86400)
    await world.owner.slash(world.channel, "chastify trust", who=world.friend)
    voters = world.guild.create_role("Voters")
    await world.admin.slash(world.channel, "chastify settings", cooldown="10m", max_open=1, voter_role=voters)
    p = members(world, 6, roles=(voters,))
    outsider = members(world, 1, prefix="outsider")[0]

    async def shown(res: Any, *, via: str | None, reason: str | None = None) -> None:
        """The member's refusal is in the history's refusals, with its reason (as the member was told, unless
        given) and where it came from."""
        told = refusal(res).removeprefix("⛔ ")
        reason = reason or told
        _, refused = await history(world)
        lines = refused.split("\n")
        at = [i for i, line in enumerate(lines) if line.startswith("  ↳ ") and
              _plain(reason).startswith(_plain(line[4:]).removesuffix("…"))]
        assert at, (reason, refused)
        assert at[0] == 2  # the newest group, right under the section's title
        head = lines[at[0] - 1]
        assert "· refused" in head and (via is None or f"· via {via}" in head), head

    # direct actions: not trusted, the owner's limits, the lock's Chastify budget
    await shown(await world.stranger.slash(world.channel, "lock add-time", duration="10m"), via=None,
                reason="not the owner and not trusted")
    await world.owner.slash(world.channel, "chastify limits", max_add="30m")
    await shown(await world.friend.slash(world.channel, "lock add-time", duration="1h"), via=None)
    for _ in range(10):  # each action is one call and one log: 10 use the 20 a minute
        assert "Applied" in public_text(await world.friend.slash(world.channel, "lock add-time", duration="1m"))
    await shown(await world.friend.slash(world.channel, "lock add-time", duration="1m"), via=None)
    # proposals: the voter role, the window, the owner's limits (decision and board), the cooldown, the cap
    await shown(await outsider.slash(world.channel, "vote add-time", duration="10m"), via="vote")
    await shown(await p[0].slash(world.channel, "vote add-time", duration="10m", window="30s"), via="vote")
    await world.owner.slash(world.channel, "chastify limits", votes="none")
    await shown(await p[1].slash(world.channel, "vote add-time", duration="10m"), via="vote")
    await shown(await p[2].slash(world.channel, "vote board", add_per_vote="10m", remove_per_vote="0"), via="board")
    await shown(await p[2].slash(world.channel, "vote board", add_per_vote="10m", remove_per_vote="0"), via="board")
    await world.owner.slash(world.channel, "chastify limits", votes="all")
    assert posted(await p[3].slash(world.channel, "vote add-time", duration="10m"))
    await shown(await p[3].slash(world.channel, "vote add-time", duration="10m"), via="vote")
    await shown(await p[4].slash(world.channel, "vote pillory", duration="10m"), via="vote")
    # the safeword: direct actions and proposals
    await world.owner.slash(world.channel, "chastify safeword")
    await shown(await world.friend.slash(world.channel, "lock remove-time", duration="10m"), via=None)
    await shown(await p[5].slash(world.channel, "vote remove-time", duration="10m"), via="vote")

    # and with all of them, the actions are all still there
    actions, _ = await history(world)
    assert sum("**+1m** · applied" in line for line in actions.split("\n")) == 10


def _plain(text: str) -> str:
    """Text as shown, with the markdown escapes taken out (the history escapes what it shows)."""
    return re.sub(r"\\(.)", r"\1", text)
