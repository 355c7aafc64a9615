"""/chastify link, unlink, status, trust/untrust, settings and history, driven through simcord."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.support.simcord import fields, messages, public, public_text, refusal, reply
from tests.support.standin import SESSION, applied_actions


async def stored_link(world, member):
    return await world.bot.core.store.links.get(world.guild.id, member.id)


def session_reads(chastify):
    return [r for r in chastify.requests if r.path == SESSION]


# ------------------------------------------------------------------------------------------------ link
async def test_link_shows_a_modal_with_one_token_field(world):
    shown = await world.owner.slash(world.channel, "chastify link")

    assert shown.modal is not None
    assert shown.modal["title"] == "Link your Chastify lock"
    assert json.dumps(shown.modal).count('"custom_id": "dev_token"') == 1
    assert world.chastify.requests == []  # nothing is read before a token is given


async def test_link_validates_with_session_pins_the_lock_and_answers_privately(world):
    fake = world.chastify.add_lock("dev-token-wendy", role="keyholder", title="Weekend Challenge",
                                   remaining=2 * 86400 + 3 * 3600)
    shown = await world.owner.slash(world.channel, "chastify link")
    done = await world.owner.submit_modal(shown, {"dev_token": "dev-token-wendy"})

    answer = reply(done)
    assert answer.ephemeral and all(m.ephemeral for m in messages(done))
    assert "Linked **Weekend Challenge** as **keyholder**." in answer.content
    assert "Time remaining: 2d 3h." in answer.content
    # validated with exactly one GET /session and nothing written to the lock
    reads = session_reads(world.chastify)
    assert [(r.method, r.status, r.token_fingerprint) for r in reads] == [("GET", 200, "dev-…")]
    assert applied_actions(world.chastify) == []
    link = await stored_link(world, world.owner)
    assert link is not None and link.lock_id == fake.id and link.role == "keyholder"
    assert link.title == "Weekend Challenge" and link.state == "active"
    assert b"dev-token-wendy" not in link.token_ciphertext
    assert world.bot.core.vault.decrypt(link.token_ciphertext) == "dev-token-wendy"

    # the lock is pinned: later calls name it
    await world.owner.slash(world.channel, "chastify status")
    assert session_reads(world.chastify)[-1].lock_id_header == fake.id


async def test_link_accepts_a_pasted_bearer_header_in_quotes(world):
    world.chastify.add_lock("dev-token-quoted", title="Quoted")
    shown = await world.owner.slash(world.channel, "chastify link")
    done = await world.owner.submit_modal(shown, {"dev_token": '  "Bearer dev-token-quoted" '})

    assert "Linked **Quoted**" in reply(done).content
    assert world.bot.core.vault.decrypt((await stored_link(world, world.owner)).token_ciphertext) \
        == "dev-token-quoted"


async def test_linking_again_replaces_the_old_token_and_lock(world):
    first, _ = await world.link(token="alpha-token-1", title="First lock")
    link_before = await stored_link(world, world.owner)
    second = world.chastify.add_lock("bravo-token-2", title="Second lock", remaining=3600)

    shown = await world.owner.slash(world.channel, "chastify link")
    done = await world.owner.submit_modal(shown, {"dev_token": "bravo-token-2"})

    assert "Re-linked **Second lock**" in reply(done).content and reply(done).ephemeral
    link = await stored_link(world, world.owner)
    assert link.id == link_before.id and link.lock_id == second.id
    assert world.bot.core.vault.decrypt(link.token_ciphertext) == "bravo-token-2"
    # the old token is not used any more: revoking it changes nothing
    world.chastify.revoke("alpha-token-1")
    status = await world.stranger.slash(world.channel, "chastify status")
    assert public(status).embeds[0].title == "🔒 Second lock"
    assert session_reads(world.chastify)[-1].token_fingerprint == "brav…"
    res = await world.owner.slash(world.channel, "lock add-time", duration="10m")
    assert "Applied **+10m**" in public_text(res)
    assert [r.lock_id for r in applied_actions(world.chastify)] == [second.id]
    assert first.history == []


async def test_relinking_another_lock_drops_actions_still_queued_for_the_old_one(world):
    old, _ = await world.link(token="alpha-token-1", title="Old lock")
    # another program of the owner's spends the lock's Chastify budget: the bot's action is queued
    world.chastify.rate_limit_per_minute = 1
    async with httpx.AsyncClient(base_url=world.chastify.base_url) as other_program:
        spent = await other_program.post("/api/apps/v1/notifications/custom", json={"title": "hi", "message": "x"},
                                         headers={"Authorization": "Bearer alpha-token-1"})
    assert spent.status_code == 201
    queued = await world.owner.slash(world.channel, "lock add-time", duration="30m")
    assert "queued and will be sent in about" in public_text(queued)
    world.chastify.rate_limit_per_minute = 20

    new = world.chastify.add_lock("bravo-token-2", title="New lock", remaining=3600)
    shown = await world.owner.slash(world.channel, "chastify link")
    done = await world.owner.submit_modal(shown, {"dev_token": "bravo-token-2"})
    assert "Re-linked **New lock**" in reply(done).content
    await world.env.advance_time(600)

    # the other program's
    assert [r.path for r in applied_actions(world.chastify)] == ["/api/apps/v1/notifications/custom"]
    assert new.history == [] and old.history == []


@pytest.mark.parametrize(
    ("setup", "typed", "expected"),
    [
        ("unknown", "dev-token-nobody", "Chastify rejected the token (invalid_token)"),
        ("revoked", "dev-token-revoked", "Chastify rejected the token (revoked_token)"),
        ("ended", "dev-token-ended", "There is no active lock for this token"),
        ("read-only", "dev-token-readonly", "The token lacks a scope the bot needs"),
        ("rate-limited", "dev-token-busy", "Chastify is rate limiting; try again in 1s"),
    ],
)
async def test_link_refusals_say_why_and_save_nothing(world, setup, typed, expected):
    if setup == "revoked":
        world.chastify.add_lock(typed)
        world.chastify.revoke(typed)
    elif setup == "ended":
        world.chastify.end_lock(world.chastify.add_lock(typed).id)
    elif setup == "read-only":
        world.chastify.add_lock(typed, scopes=["locks:read"])
    elif setup == "rate-limited":
        world.chastify.add_lock(typed)
        world.chastify.faults.force_429 = 3  # every attempt the client makes
    shown = await world.owner.slash(world.channel, "chastify link")
    done = await world.owner.submit_modal(shown, {"dev_token": typed})

    text = refusal(done)
    assert expected in text and "Nothing was saved." in text
    assert await stored_link(world, world.owner) is None
    assert applied_actions(world.chastify) == []
    assert "/chastify link" in text or "try again" in text.lower() or "Link again" in text


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("   ", "the token is empty"), ("dev token with spaces", "contains spaces"), ("dev-tøken", "characters")],
)
async def test_link_refuses_malformed_tokens_without_asking_chastify(world, typed, expected):
    shown = await world.owner.slash(world.channel, "chastify link")
    done = await world.owner.submit_modal(shown, {"dev_token": typed})

    text = refusal(done)
    assert expected in text and "Nothing was saved." in text
    assert world.chastify.requests == []
    assert await stored_link(world, world.owner) is None


# ------------------------------------------------------------------------------------------------ unlink
async def test_owner_unlinks_and_the_token_is_gone(world):
    await world.link(title="Weekend Challenge")
    before = len(world.chastify.requests)

    res = await world.owner.slash(world.channel, "chastify unlink")

    assert res.ephemeral and "Unlinked **Weekend Challenge**; its token was deleted." in reply(res).content
    assert await stored_link(world, world.owner) is None
    assert len(world.chastify.requests) == before  # unlinking talks to nobody
    status = await world.stranger.slash(world.channel, "chastify status")
    assert "No lock is linked in this server yet" in refusal(status)


async def test_unlink_cancels_open_votes_on_the_lock(world):
    await world.link(title="Weekend Challenge")
    proposed = await world.friend.slash(world.channel, "vote add-time", duration="1h")
    assert public(proposed)  # the vote was posted
    assert len(await world.bot.core.store.votes.list_open(guild_id=world.guild.id)) == 1

    res = await world.owner.slash(world.channel, "chastify unlink")

    assert "1 open vote(s) were cancelled" in reply(res).content
    assert await world.bot.core.store.votes.list_open(guild_id=world.guild.id) == []


async def test_manage_server_may_unlink_someone_elses_lock(world):
    await world.link(title="Weekend Challenge")

    res = await world.admin.slash(world.channel, "chastify unlink", member=world.owner)

    assert res.ephemeral and "Unlinked **Weekend Challenge**" in reply(res).content
    assert await stored_link(world, world.owner) is None


async def test_unlinking_someone_elses_lock_needs_manage_server(world):
    await world.link(title="Weekend Challenge")

    res = await world.stranger.slash(world.channel, "chastify unlink", member=world.owner)

    assert "Only the lock's owner, or someone with Manage Server, can unlink it." in refusal(res)
    assert await stored_link(world, world.owner) is not None


async def test_unlink_without_a_link_says_so(world):
    res = await world.stranger.slash(world.channel, "chastify unlink")
    assert "You have no lock linked in this server." in refusal(res)
    res = await world.admin.slash(world.channel, "chastify unlink", member=world.owner)
    assert "That member has no lock linked in this server." in refusal(res)


# ------------------------------------------------------------------------------------------------ status
async def test_status_is_public_and_shows_the_lock(world):
    await world.link(title="Weekend Challenge", wearer="wendy_w", keyholder="kate_kh", remaining=4 * 3600,
                     max_remaining=8 * 3600)
    await world.env.advance_time(3600)

    res = await world.stranger.slash(world.channel, "chastify status")

    msg = public(res)
    embed = msg.embeds[0]
    assert embed.title == "🔒 Weekend Challenge"
    f = fields(embed)
    assert f["Wearer"] == "wendy\\_w" and f["Keyholder"] == "kate\\_kh"  # escaped: shown as typed
    assert f["Time remaining"] == "3h\n▰▰▰▰▱▱▱▱▱▱▱▱ of 8h max"  # 3h left of at most 8h
    assert f["Locked so far"] == "1h"
    assert f["Frozen"] == "no" and f["Pillory"] == "no" and f["Task"] == "none"
    assert f["Open votes"] == "0"
    assert "wearer_wendy" in embed.footer.text


async def test_status_shows_only_what_the_lock_shows(world):
    await world.link(title="Solo", keyholder=None, remaining=3600)

    embed = public(await world.owner.slash(world.channel, "chastify status")).embeds[0]

    f = fields(embed)
    assert "Keyholder" not in f
    assert f["Time remaining"] == "1h"  # no maximum known: no progress bar


async def test_status_follows_actions_on_the_lock(world):
    await world.link(title="Weekend Challenge", remaining=3600)
    await world.owner.slash(world.channel, "lock freeze", duration="2h")
    await world.owner.slash(world.channel, "lock pillory", duration="10m")
    await world.owner.slash(world.channel, "task assign", text="Drink water")
    await world.friend.slash(world.channel, "vote add-time", duration="1h")

    f = fields(public(await world.stranger.slash(world.channel, "chastify status")).embeds[0])

    assert f["Frozen"] == "❄️ yes" and f["Pillory"] == "yes" and f["Task"].startswith("assigned")
    assert f["Open votes"] == "1"


async def test_status_without_a_link_refuses_privately(world):
    res = await world.stranger.slash(world.channel, "chastify status")
    assert "No lock is linked in this server yet. The lock's owner can run `/chastify link`." in refusal(res)
    assert world.chastify.requests == []


async def test_status_with_several_locks_needs_the_lock_option_which_autocompletes(world):
    await world.link(world.owner, "dev-token-owner", title="Weekend Challenge")
    await world.link(world.friend, "dev-token-friend", title="Office Week")

    res = await world.stranger.slash(world.channel, "chastify status")
    assert "2 locks are linked here: pick one with the `lock` option." in refusal(res)

    choices = await world.stranger.autocomplete(world.channel, "chastify status", "lock", "")
    assert sorted(c["name"] for c in choices) == ["Office Week — friend_fred", "Weekend Challenge — wearer_wendy"]
    only = await world.stranger.autocomplete(world.channel, "chastify status", "lock", "fred")
    assert [c["name"] for c in only] == ["Office Week — friend_fred"]

    res = await world.stranger.slash(world.channel, "chastify status", lock=only[0]["value"])
    assert public(res).embeds[0].title == "🔒 Office Week"


async def test_status_of_an_ended_lock_says_it_ended_and_actions_are_then_refused(world):
    fake, _ = await world.link(title="Weekend Challenge")
    world.chastify.end_lock(fake.id)

    res = await world.stranger.slash(world.channel, "chastify status")

    assert "This lock has ended" in public_text(res) or "no active lock" in public_text(res).lower()
    assert (await stored_link(world, world.owner)).state == "ended"
    act = await world.owner.slash(world.channel, "lock add-time", duration="10m")
    assert "This lock has ended on Chastify." in refusal(act)
    assert applied_actions(world.chastify) == []


async def test_status_with_a_revoked_token_tells_to_link_again(world):
    await world.link(token="dev-token-owner", title="Weekend Challenge")
    world.chastify.revoke("dev-token-owner")

    res = await world.stranger.slash(world.channel, "chastify status")

    text = public_text(res)
    assert "revoked_token" in text and "/chastify link" in text
    assert (await stored_link(world, world.owner)).state == "broken"


# ------------------------------------------------------------------------------------------------ trust
async def test_trust_lets_a_member_act_and_untrust_stops_them(world):
    await world.link(title="Weekend Challenge")
    n = len(world.env.http_requests)

    res = await world.owner.slash(world.channel, "chastify trust", who=world.friend)

    assert res.ephemeral and f"{world.friend.mention} can now act on your lock." in reply(res).content
    assert f"Trusted: {world.friend.mention}" in reply(res).content
    sent = [r.json for r in world.env.http_requests[n:] if r.json]
    assert all(json.dumps(body).count('"allowed_mentions": {"parse": []}') == 1 for body in sent), sent

    act = await world.friend.slash(world.channel, "lock add-time", duration="15m", reason="friendly")
    assert "Applied **+15m**" in public_text(act)
    assert world.chastify.locks()[0].custom_logs()[-1]["title"] == "Discord: +15m by friend_fred"

    res = await world.owner.slash(world.channel, "chastify untrust", who=world.friend)
    assert f"{world.friend.mention} can no longer act on your lock." in reply(res).content
    assert "Nobody else is trusted." in reply(res).content
    before = len(applied_actions(world.chastify))
    act = await world.friend.slash(world.channel, "lock add-time", duration="15m")
    assert "Only the lock's owner and the people they trust can act on this lock." in refusal(act)
    assert len(applied_actions(world.chastify)) == before


async def test_trusting_a_role_lets_its_members_act(world):
    await world.link(title="Weekend Challenge")
    keyholders = world.guild.create_role("Keyholders")
    kim = world.guild.add_member(world.env.create_user("kim"), roles=[keyholders])

    res = await world.owner.slash(world.channel, "chastify trust", who=keyholders)
    assert f"{keyholders.mention} can now act on your lock." in reply(res).content

    act = await kim.slash(world.channel, "lock add-time", duration="5m")
    assert "Applied **+5m**" in public_text(act)
    act = await world.stranger.slash(world.channel, "lock add-time", duration="5m")
    assert "Only the lock's owner" in refusal(act)


async def test_trust_refusals(world):
    res = await world.owner.slash(world.channel, "chastify trust", who=world.friend)
    assert "You have no lock linked in this server. Link one with `/chastify link`." in refusal(res)

    await world.link(title="Weekend Challenge")
    res = await world.owner.slash(world.channel, "chastify trust", who=world.guild.default_role)
    assert "Trusting @everyone would let anyone act on your lock" in refusal(res)
    robot = world.guild.add_member(world.env.create_user("robot", bot=True))
    res = await world.owner.slash(world.channel, "chastify trust", who=robot)
    assert "Bots cannot be trusted." in refusal(res)
    assert await world.bot.core.store.trust.list((await stored_link(world, world.owner)).id) == []


async def test_trust_is_per_lock(world):
    await world.link(world.owner, "dev-token-owner", title="Weekend Challenge")
    await world.link(world.stranger, "dev-token-sam", title="Sam's lock")
    await world.owner.slash(world.channel, "chastify trust", who=world.friend)
    sams = await stored_link(world, world.stranger)

    act = await world.friend.slash(world.channel, "lock add-time", duration="5m", lock=str(sams.id))

    assert "Only the lock's owner and the people they trust" in refusal(act)
    assert applied_actions(world.chastify) == []


# ------------------------------------------------------------------------------------------------ settings
async def test_settings_are_for_manage_server_and_persist(world):
    voters = world.guild.create_role("Voters")
    res = await world.admin.slash(world.channel, "chastify settings", vote_channel=world.channel,
                                  voter_role=voters, window="2h", quorum=5, majority=60, cooldown="10m")

    assert res.ephemeral
    embed = reply(res).embeds[0]
    assert embed.title == "Vote settings (updated)"
    f = fields(embed)
    assert f["Vote channel"] == world.channel.mention and f["Voter role"] == voters.mention
    assert f["Window"] == "2h" and f["Quorum"] == "5" and f["Majority"] == "more than 60%"
    assert f["Proposal cooldown"] == "10m"

    shown = fields(reply(await world.admin.slash(world.channel, "chastify settings")).embeds[0])
    assert shown == f


async def test_settings_refusals_change_nothing(world):
    before = fields(reply(await world.admin.slash(world.channel, "chastify settings")).embeds[0])

    res = await world.stranger.slash(world.channel, "chastify settings", quorum=1)
    assert "You need the Manage Server permission for this." in refusal(res)
    res = await world.admin.slash(world.channel, "chastify settings", quorum=9, window="soon")
    text = refusal(res)
    assert "Nothing was changed." in text and "`soon` is not a duration I understand" in text
    res = await world.admin.slash(world.channel, "chastify settings", window="30s")
    assert "at least 1m" in refusal(res)

    after = fields(reply(await world.admin.slash(world.channel, "chastify settings")).embeds[0])
    assert after == before


# ------------------------------------------------------------------------------------------------ history
async def test_history_lists_applied_and_refused_actions(world):
    await world.link(title="Weekend Challenge")
    await world.owner.slash(world.channel, "lock add-time", duration="30m", reason="late")
    await world.stranger.slash(world.channel, "lock add-time", duration="1h")
    await world.owner.slash(world.channel, "lock end-pillory")  # Chastify refuses: not in pillory

    res = await world.owner.slash(world.channel, "chastify history")

    assert res.ephemeral
    embed = reply(res).embeds[0]
    assert embed.title == "History of Weekend Challenge"
    lines = embed.description.split("\n")
    assert any("**+30m** · applied" in line and world.owner.mention in line for line in lines)
    assert any("**+1h** · refused" in line and world.stranger.mention in line for line in lines)
    assert "not the owner and not trusted" in embed.description
    assert any("**end pillory** · failed" in line for line in lines)
    assert "not currently in pillory" in embed.description


async def test_history_is_for_owner_trusted_and_manage_server(world):
    await world.link(title="Weekend Challenge")
    await world.owner.slash(world.channel, "lock add-time", duration="30m")
    await world.owner.slash(world.channel, "chastify trust", who=world.friend)

    for member in (world.owner, world.friend, world.admin):
        res = await member.slash(world.channel, "chastify history")
        assert res.ephemeral and "**+30m** · applied" in reply(res).embeds[0].description, member

    res = await world.stranger.slash(world.channel, "chastify history")
    assert "Only the owner, people they trust and members with Manage Server can read the history" \
        in refusal(res)


async def test_history_without_a_link(world):
    res = await world.admin.slash(world.channel, "chastify history")
    assert "No lock is linked in this server yet." in refusal(res)

