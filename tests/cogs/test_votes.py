"""/vote: decision votes decided by ✅ ❌ reactions, driven through simcord against the Chastify stand-in.

Every test asserts what members see (the vote embed, ephemeral refusals) and what reached the stand-in.
Defaults here: quorum 3, majority more than 50 %, window from the option, no cooldown (see ``vote_settings``).
"""

from __future__ import annotations

import discord
import pytest

from tests.support.builders import add_members, propose, react_all
from tests.support.postgres import ON_BOTH_STORES
from tests.support.settings import VOTE_DEBOUNCE, vote_settings
from tests.support.simcord import edits, embed_of, fields, outcome, reply_text
from tests.support.standin import ACTION, APPLY_TIME, CUSTOM_LOG, reached, received_actions

pytestmark = [*ON_BOTH_STORES, pytest.mark.usefixtures("within_rate_limit")]

HOUR = 3600


@pytest.fixture
def bot_settings(request, tmp_path, chastify, monkeypatch):
    return vote_settings(tmp_path, chastify, monkeypatch, **getattr(request, "param", {}))


async def open_vote(world, *, who=None, command="add-time", window="10m", **options):
    if command in ("add-time", "remove-time", "freeze", "pillory"):
        options.setdefault("duration", "1h")
    result, msg = await propose(world, who or world.friend, command, window=window, **options)
    assert msg is not None, reply_text(result)
    return result, msg


async def test_the_vote_message_shows_proposal_lock_rules_deadline_and_tally(world):
    await world.link(title="Weekend Challenge", remaining=86400)
    start = world.env.now().timestamp()
    result, msg = await open_vote(world, reason="late again")
    assert not result.ephemeral
    e = embed_of(world.channel, msg.id)
    assert e.title == "🗳️ Vote · +1h · Weekend Challenge"
    assert f"Proposed by <@{world.friend.id}> on <@{world.owner.id}>'s lock" in e.description
    assert "Reason: late again" in e.description
    f = fields(e)
    assert f["Tally"] == "✅ 0 · ❌ 0\n▱▱▱▱▱▱▱▱▱▱▱▱ – for"
    assert f["Quorum"] == "▱▱▱▱▱▱▱▱▱▱▱▱ 0/3 votes"
    assert f["Majority"] == "more than 50% ✅"
    assert f["Closes"] == f"<t:{int(start + 600)}:R>"
    assert e.footer.text == "Vote #1"
    # the bot put ✅ and ❌ on it (and they do not count)
    assert [(str(r.emoji), r.count) for r in msg.reactions] == [("✅", 1), ("❌", 1)]
    for r in msg.reactions:
        assert [u.id async for u in r.users()] == [world.bot.user.id]
    assert received_actions(world.chastify) == []


async def test_a_vote_passes_at_its_deadline_and_is_applied_once_with_its_tally(world):
    lock, _ = await world.link(title="Weekend Challenge", remaining=86400)
    voters = add_members(world, 4)
    _, msg = await open_vote(world, reason="late again")
    await react_all(voters[:3], msg, "✅")
    await voters[3].react(msg, "❌")
    await world.env.advance_time(VOTE_DEBOUNCE)
    f = fields(embed_of(world.channel, msg.id))
    assert f["Tally"] == "✅ 3 · ❌ 1\n▰▰▰▰▰▰▰▰▰▱▱▱ 75% for"
    assert f["Quorum"] == "▰▰▰▰▰▰▰▰▰▰▰▰ 4/3 votes"
    assert outcome(world.channel, msg.id) is None
    assert received_actions(world.chastify) == []  # nothing before the deadline

    await world.env.advance_time(600 - VOTE_DEBOUNCE)
    assert outcome(world.channel, msg.id) == ("passed", "Passed (3 for, 1 against): applied.")
    e = embed_of(world.channel, msg.id)
    assert e.footer.text == "Vote #1 · closed" and "Closes" not in fields(e)
    assert [r.json for r in reached(world.chastify, APPLY_TIME)] == [{"deltaSeconds": 3600}]
    [log] = lock.custom_logs()
    assert log["title"] == "Discord vote: +1h (3 for, 1 against)"
    assert "Lock Club" in log["description"] and "Reason: late again" in log["description"]
    assert len(received_actions(world.chastify)) == 2  # one apply-time, one custom log

    # reactions after the close change nothing
    late = add_members(world, 3, prefix="late")
    await react_all(late, msg, "❌")
    await world.env.advance_time(HOUR)
    assert outcome(world.channel, msg.id) == ("passed", "Passed (3 for, 1 against): applied.")
    assert len(received_actions(world.chastify)) == 2


async def test_a_vote_fails_on_quorum(world):
    await world.link(remaining=86400)
    voters = add_members(world, 2)
    _, msg = await open_vote(world)
    await react_all(voters, msg, "✅")
    await world.env.advance_time(600)
    assert outcome(world.channel, msg.id) == ("failed", "Failed: quorum not reached (2 of 3 votes).")
    assert embed_of(world.channel, msg.id).colour == discord.Colour.red()
    assert received_actions(world.chastify) == []


async def test_a_vote_fails_on_majority(world):
    await world.link(remaining=86400)
    voters = add_members(world, 4)
    _, msg = await open_vote(world)
    await voters[0].react(msg, "✅")
    await react_all(voters[1:], msg, "❌")
    await world.env.advance_time(600)
    assert outcome(world.channel, msg.id) == ("failed", "Failed: majority not reached (1 for, 3 against).")
    assert received_actions(world.chastify) == []


async def test_a_tie_fails(world):
    await world.link(remaining=86400)
    voters = add_members(world, 4)
    _, msg = await open_vote(world)
    await react_all(voters[:2], msg, "✅")
    await react_all(voters[2:], msg, "❌")
    await world.env.advance_time(600)
    assert outcome(world.channel, msg.id) == ("failed", "Failed: tie (2 for, 2 against): a tie fails.")
    assert received_actions(world.chastify) == []


async def test_instant_pass_closes_the_vote_early(world):
    lock, _ = await world.link(remaining=86400)
    await world.admin.slash(world.channel, "chastify settings", instant_pass=3)
    voters = add_members(world, 3)
    _, msg = await open_vote(world, window="1h")
    assert fields(embed_of(world.channel, msg.id))["Majority"] == "more than 50% ✅ · instant pass at 3 ✅"
    await react_all(voters[:2], msg, "✅")
    assert outcome(world.channel, msg.id) is None
    await voters[2].react(msg, "✅")  # no time passes: the third ✅ closes it
    assert outcome(world.channel, msg.id) == ("passed", "Passed (instant pass at 3 for, 0 against): applied.")
    assert [r.json for r in reached(world.chastify, APPLY_TIME)] == [{"deltaSeconds": 3600}]
    assert lock.custom_logs()[0]["title"] == "Discord vote: +1h (3 for, 0 against)"


async def test_switching_from_yes_to_no_counts_once_and_the_latest_reaction_wins(world):
    await world.link(remaining=86400)
    voter, *others = add_members(world, 3)
    _, msg = await open_vote(world)
    await voter.react(msg, "✅")
    await voter.react(msg, "❌")  # switches without removing ✅: both reactions show, one ballot counts
    await world.env.advance_time(VOTE_DEBOUNCE)
    assert fields(embed_of(world.channel, msg.id))["Tally"].startswith("✅ 0 · ❌ 1\n")
    await voter.unreact(msg, "✅")  # taking back the reaction they switched away from changes nothing
    await world.env.advance_time(VOTE_DEBOUNCE)
    assert fields(embed_of(world.channel, msg.id))["Tally"].startswith("✅ 0 · ❌ 1\n")
    await voter.react(msg, "✅")  # and back again
    await react_all(others, msg, "❌")
    await world.env.advance_time(600)
    assert outcome(world.channel, msg.id) == ("failed", "Failed: majority not reached (1 for, 2 against).")


async def test_removing_a_reaction_retracts_the_ballot(world):
    await world.link(remaining=86400)
    voters = add_members(world, 3)
    _, msg = await open_vote(world)
    await react_all(voters, msg, "✅")
    await voters[0].unreact(msg, "✅")
    await world.env.advance_time(VOTE_DEBOUNCE)
    assert fields(embed_of(world.channel, msg.id))["Tally"].startswith("✅ 2 · ❌ 0\n")
    await world.env.advance_time(600)
    assert outcome(world.channel, msg.id) == ("failed", "Failed: quorum not reached (2 of 3 votes).")
    assert received_actions(world.chastify) == []


async def test_ineligible_reactions_do_not_count(world):
    """The bot's own ✅, the owner's, a member without the voter role and a too-new account: none counts."""
    voter_role = world.guild.create_role("Voters")
    old_voters = add_members(world, 2, prefix="old", roles=(voter_role,))
    no_role = add_members(world, 1, prefix="norole")[0]
    # the server asks for accounts of at least 7 days: let 8 days pass, then a brand-new account joins
    await world.env.advance_time(8 * 86400)
    newbie = add_members(world, 1, prefix="newbie", roles=(voter_role,))[0]
    owner_with_role = world.guild.add_member(world.env.create_user("wearer_with_role"), roles=[voter_role])
    await world.link(owner_with_role, token="dev-token-owner2", remaining=86400)
    await world.admin.slash(world.channel, "chastify settings", voter_role=voter_role, min_account_age=7)

    _, msg = await open_vote(world, who=old_voters[0])
    for member in (no_role, newbie, owner_with_role):
        await member.react(msg, "✅")
    await react_all(old_voters, msg, "✅")
    await world.env.advance_time(VOTE_DEBOUNCE)
    f = fields(embed_of(world.channel, msg.id))
    assert f["Tally"].startswith("✅ 2 · ❌ 0\n")  # 6 ✅ reactions on the message, 2 ballots
    assert [(str(r.emoji), r.count) for r in embed_msg(world, msg).reactions] == [("✅", 6), ("❌", 1)]
    await world.env.advance_time(600)
    assert outcome(world.channel, msg.id) == ("failed", "Failed: quorum not reached (2 of 3 votes).")
    assert received_actions(world.chastify) == []


async def test_the_owner_counts_once_they_allow_it(world):
    await world.link(remaining=86400)
    await world.owner.slash(world.channel, "chastify limits", owner_votes=True)
    voters = add_members(world, 2)
    _, msg = await open_vote(world)
    await react_all([*voters, world.owner], msg, "✅")
    await world.env.advance_time(600)
    assert outcome(world.channel, msg.id) == ("passed", "Passed (3 for, 0 against): applied.")


async def test_a_reaction_taken_back_in_the_same_gateway_read_never_overtakes_it(world):
    """The owner's ballot waits for their limits to be read (it takes its turn in a task); their removal, right
    behind it in the same read of the gateway, is counted after it, not before: the owner ends with no ballot."""
    await world.link(remaining=86400)
    await world.owner.slash(world.channel, "chastify limits", owner_votes=True)
    voters = add_members(world, 2)
    _, msg = await open_vote(world)
    await react_all(voters, msg, "✅")
    world.env.backend.set_reaction(world.channel.id, msg.id, "✅", world.owner.id, True)
    world.env.backend.remove_reaction(world.channel.id, msg.id, "✅", world.owner.id)
    await world.env.settle()
    await world.env.advance_time(600)
    assert outcome(world.channel, msg.id) == ("failed", "Failed: quorum not reached (2 of 3 votes).")


async def test_cancel_by_proposer_owner_or_manage_server_only(world):
    await world.link(remaining=86400)
    voters = add_members(world, 3)
    _, msg = await open_vote(world)
    await react_all(voters, msg, "✅")

    refused = await world.stranger.slash(world.channel, "vote cancel", vote="1")
    assert refused.ephemeral
    assert reply_text(refused) == ("⛔ Only the member who proposed the vote, the lock's owner or someone with "
                                   "Manage Server can cancel it.")
    assert outcome(world.channel, msg.id) is None

    done = await world.friend.slash(world.channel, "vote cancel", vote="#1")
    assert done.ephemeral and reply_text(done) == "Vote #1 was cancelled."
    # (markdown is escaped in the embed: Discord shows "Cancelled by friend_fred.")
    assert outcome(world.channel, msg.id) == ("cancelled", "Cancelled by friend\\_fred.")
    assert embed_of(world.channel, msg.id).colour == discord.Colour.orange()

    again = await world.admin.slash(world.channel, "vote cancel", vote="1")
    assert again.ephemeral and reply_text(again) == "⛔ Vote #1 is already closed (cancelled)."
    await world.env.advance_time(600)
    assert received_actions(world.chastify) == []

    # the owner and an admin may cancel votes they did not propose
    for who in (world.owner, world.admin):
        _, msg = await open_vote(world)
        vote_id = embed_of(world.channel, msg.id).footer.text.removeprefix("Vote #")
        done = await who.slash(world.channel, "vote cancel", vote=vote_id)
        assert reply_text(done) == f"Vote #{vote_id} was cancelled."
        assert outcome(world.channel, msg.id)[0] == "cancelled"


async def test_list_shows_the_open_votes(world):
    await world.link(remaining=86400)
    voters = add_members(world, 2)
    _, first = await open_vote(world)
    _, second = await open_vote(world, who=world.stranger, command="freeze", duration="30m", window="1h")
    await react_all(voters, first, "✅")
    await voters[0].react(second, "❌")
    shown = await world.stranger.slash(world.channel, "vote list")
    assert shown.ephemeral
    text = shown.response.embeds[0].description
    lines = text.splitlines()
    assert lines[0].startswith("**#1** +1h · ✅ 2 ❌ 0 · closes <t:")
    assert lines[1].startswith("**#2** freeze 30m · ✅ 0 ❌ 1 · closes <t:")
    assert f"/{first.id}" in lines[0] and f"/{second.id}" in lines[1]
    await world.env.advance_time(HOUR)
    shown = await world.stranger.slash(world.channel, "vote list")
    assert shown.response.embeds[0].description.startswith("No open votes.")


async def test_a_burst_of_reactions_gives_few_message_edits(world):
    await world.link(remaining=86400)
    voters = add_members(world, 40)
    _, msg = await open_vote(world)
    await react_all(voters[:30], msg, "✅")
    await react_all(voters[30:], msg, "❌")
    assert edits(world.env, msg.id) == 1  # the first reaction is shown at once; the rest wait for the debounce
    await world.env.advance_time(VOTE_DEBOUNCE)
    assert edits(world.env, msg.id) == 2
    assert fields(embed_of(world.channel, msg.id))["Tally"].startswith("✅ 30 · ❌ 10\n")
    await world.env.advance_time(VOTE_DEBOUNCE * 3)
    assert edits(world.env, msg.id) == 2  # nothing new, no edit
    await world.env.advance_time(600)
    assert edits(world.env, msg.id) == 3  # the outcome
    assert outcome(world.channel, msg.id) == ("passed", "Passed (30 for, 10 against): applied.")


@pytest.mark.parametrize("bot_settings", [{"max_open_per_lock": 8}], indirect=True)
async def test_many_busy_votes_in_one_channel_stay_within_discords_edit_limit(world):
    """Discord lets a bot edit one channel's messages about 5 times in 5 s: with 8 votes changing at once, 5
    tallies are redrawn now and the other 3 once the window has passed, none of them lost."""
    await world.link(remaining=86400)
    voters = add_members(world, 8)
    messages = [(await open_vote(world, reason=f"vote {i}"))[1] for i in range(8)]
    before = {m.id: edits(world.env, m.id) for m in messages}
    for voter, msg in zip(voters, messages, strict=True):
        await voter.react(msg, "✅")
    redrawn = [m for m in messages if edits(world.env, m.id) > before[m.id]]
    assert len(redrawn) == 5
    await world.env.advance_time(6)
    for msg in messages:
        assert edits(world.env, msg.id) == before[msg.id] + 1
        assert fields(embed_of(world.channel, msg.id))["Tally"].startswith("✅ 1 · ❌ 0\n")


async def test_votes_go_to_the_configured_vote_channel(world):
    await world.link(remaining=86400)
    votes_channel = world.guild.create_text_channel("votes")
    await world.admin.slash(world.channel, "chastify settings", vote_channel=votes_channel)
    result, msg = await propose(world, world.friend, "add-time", channel=world.channel, duration="1h",
                                window="10m")
    assert msg is None  # nothing posted where it was asked
    assert result.ephemeral
    posted = [m for m in votes_channel.history() if m.embeds]
    assert len(posted) == 1
    assert reply_text(result) == f"Vote #1 posted in {votes_channel.mention}: {posted[0].jump_url}"
    assert posted[0].embeds[0].title.startswith("🗳️ Vote · +1h")
    voters = add_members(world, 3)
    await react_all(voters, posted[0], "✅")
    await world.env.advance_time(600)
    assert outcome(votes_channel, posted[0].id) == ("passed", "Passed (3 for, 0 against): applied.")


async def test_cooldown_between_proposals_is_refused_ephemerally_and_says_why(world):
    await world.link(remaining=86400)
    await world.admin.slash(world.channel, "chastify settings", cooldown="5m")
    await open_vote(world)
    await world.env.advance_time(60)
    result, msg = await propose(world, world.friend, "add-time", duration="30m")
    assert msg is None and result.ephemeral
    assert reply_text(result) == ("⛔ You proposed a vote recently; this server allows one proposal per member "
                                  "every 5m. You can propose again in 4m.")
    # another member is not held back, and the proposer may propose again once it has passed
    _, other = await propose(world, world.stranger, "add-time", duration="30m")
    assert other is not None
    await world.env.advance_time(240)
    _, again = await propose(world, world.friend, "add-time", duration="30m")
    assert again is not None


async def test_open_votes_per_lock_are_capped(world):
    await world.link(remaining=86400)
    await world.admin.slash(world.channel, "chastify settings", max_open=2)
    await open_vote(world)
    await open_vote(world, who=world.stranger, command="freeze", duration="30m")
    result, msg = await propose(world, world.admin, "pillory", duration="10m")
    assert msg is None and result.ephemeral
    assert reply_text(result) == ("⛔ This lock already has 2 open vote(s), the most this server allows "
                                  "(votes on it in every server count). "
                                  "Wait for one to close (see `/vote list`).")
    await world.env.advance_time(600)  # both close (failing on quorum)
    _, msg = await propose(world, world.admin, "pillory", duration="10m")
    assert msg is not None


async def test_a_passed_vote_the_owners_limits_refuse_shows_not_applied_and_why(world):
    await world.link(remaining=86400)
    voters = add_members(world, 3)
    _, msg = await open_vote(world)  # +1h: within the default limits when proposed
    await world.owner.slash(world.channel, "chastify limits", max_add="30m")
    await react_all(voters, msg, "✅")
    await world.env.advance_time(600)
    status, text = outcome(world.channel, msg.id)
    assert status == "refused"
    assert text.startswith("Passed (3 for, 0 against) but not applied: The owner allows at most 30m per action "
                           "(asked: 1h).")
    assert embed_of(world.channel, msg.id).colour == discord.Colour.red()
    assert received_actions(world.chastify) == []  # nothing reached the stand-in


async def test_a_proposal_over_the_owners_limits_is_refused_at_once(world):
    await world.link(remaining=86400)
    await world.owner.slash(world.channel, "chastify limits", max_add="30m")
    result, msg = await propose(world, world.friend, "add-time", duration="2h")
    assert msg is None and result.ephemeral
    assert reply_text(result).startswith("⛔ The owner allows at most 30m per action (asked: 2h).")


async def test_a_vote_on_a_paused_lock_is_refused_and_the_safeword_cancels_open_votes(world):
    await world.link(remaining=86400)
    voters = add_members(world, 3)
    _, msg = await open_vote(world)
    await react_all(voters, msg, "✅")
    await world.owner.slash(world.channel, "chastify safeword")
    assert outcome(world.channel, msg.id) == ("cancelled", "Cancelled: the owner used the safeword.")

    result, refused = await propose(world, world.friend, "add-time", duration="1h")
    assert refused is None and result.ephemeral
    assert reply_text(result) == ("⛔ The lock owner used the safeword: this lock is paused until they run "
                                  "`/chastify resume`.")
    board, refused = await propose(world, world.friend, "board")
    assert refused is None and "safeword" in reply_text(board)
    await world.env.advance_time(HOUR)
    assert [r.path for r in received_actions(world.chastify)] == [CUSTOM_LOG]  # only the safeword's own log line


@pytest.mark.parametrize(("command", "options", "path", "body"), [
    ("remove-time", {"duration": "30m"}, APPLY_TIME, {"deltaSeconds": -1800}),
    ("freeze", {"duration": "30m"}, "/api/apps/v1/lock/freeze", {"durationSeconds": 1800}),
    ("pillory", {"duration": "10m", "reason": "cheeky"}, ACTION,
     {"name": "pillory", "params": {"durationSeconds": 600, "reason": "cheeky"}}),
    ("task", {"text": "Write 100 lines", "points": 5, "duration": "1h"}, ACTION,
     {"name": "task.assign", "params": {"actor": "extension", "taskText": "Write 100 lines", "points": 5,
                                        "verificationRequired": False, "durationSeconds": 3600}}),
])
async def test_every_kind_of_vote_reaches_the_stand_in_as_its_action(world, command, options, path, body):
    lock, _ = await world.link(title="Weekend Challenge", remaining=86400)
    voters = add_members(world, 3)
    _, msg = await propose(world, world.friend, command, window="10m", **options)
    await react_all(voters, msg, "✅")
    await world.env.advance_time(600)
    assert outcome(world.channel, msg.id)[0] == "passed"
    actions = [r for r in world.chastify.action_requests() if r.path != CUSTOM_LOG]
    assert [(r.path, r.json) for r in actions] == [(path, body)]
    assert lock.custom_logs()[0]["title"].endswith("(3 for, 0 against)")


async def test_deleting_the_vote_message_cancels_the_vote(world):
    await world.link(remaining=86400)
    voters = add_members(world, 3)
    _, msg = await open_vote(world)
    await react_all(voters, msg, "✅")
    mods = world.guild.create_role("Mods", permissions=discord.Permissions(manage_messages=True))
    mod = world.guild.add_member(world.env.create_user("mod_mia"), roles=[mods])
    await mod.delete(msg)
    await world.env.advance_time(600)
    assert received_actions(world.chastify) == []
    shown = await world.stranger.slash(world.channel, "vote list")
    assert shown.response.embeds[0].description.startswith("No open votes.")


def embed_msg(world, msg):
    from tests.support.simcord import message

    return message(world.channel, msg.id)
