"""Consent belongs to the lock: one Chastify lock linked in two servers through two links (the wearer's token in
Server A, the keyholder's in Server B) has one safeword, one set of limits and one 24 h budget.

Driven through simcord (two guilds, real slash commands, modals and reactions) against the Chastify stand-in;
every assertion is about what members see or what reached Chastify.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import discord
import pytest

from sandbox.chastify import StandIn
from tests.support.postgres import ON_BOTH_STORES
from tests.support.simcord import refusal, reply
from tests.support.standin import applied_actions

pytestmark = ON_BOTH_STORES

WEARER_TOKEN = "dev-token-wearer"  # the stand-in's tokens, not secrets
KEYHOLDER_TOKEN = "dev-token-keyholder"


@dataclass
class Two:
    env: Any
    chastify: StandIn
    lock: Any
    a: Any  # Server A: the wearer linked the lock here
    b: Any  # Server B: the keyholder linked the same lock here
    chan_a: Any
    chan_b: Any
    wearer_a: Any  # the wearer, in A and (the same user) in B
    wearer_b: Any
    keyholder_b: Any
    keyholder_a: Any
    friend_a: Any
    friend_b: Any

    async def link(self, member: Any, channel: Any, token: str) -> Any:
        shown = await member.slash(channel, "chastify link")
        assert shown.modal is not None
        return await member.submit_modal(shown, {"dev_token": token})

    def voters(self, guild: Any, n: int, prefix: str) -> list[Any]:
        return [guild.add_member(self.env.create_user(f"{prefix}{i}")) for i in range(n)]


def texts(message: discord.Message) -> str:
    parts = [message.content or ""]
    for embed in message.embeds:
        parts += [embed.title or "", embed.description or "", *(f"{f.name}: {f.value}" for f in embed.fields)]
    return "\n".join(parts)


def current(channel: Any, message_id: int) -> discord.Message:
    return next(m for m in channel.history() if m.id == message_id)


@pytest.fixture
async def two(simcord_env: Any, chastify: StandIn, shared_clock: Any) -> Two:
    env = simcord_env
    shared_clock.env = env
    a = env.create_guild(name="Server A")
    b = env.create_guild(name="Server B")
    chan_a, chan_b = a.create_text_channel("general"), b.create_text_channel("general")
    wearer, keyholder = env.create_user("wearer_wendy"), env.create_user("keyholder_kim")
    two = Two(env, chastify, None, a, b, chan_a, chan_b, a.add_member(wearer), b.add_member(wearer),
              b.add_member(keyholder), a.add_member(keyholder), a.add_member(env.create_user("friend_fay")),
              b.add_member(env.create_user("friend_finn")))
    await env.bot.tree.sync()
    two.lock = chastify.add_lock(WEARER_TOKEN, title="Weekend Challenge", remaining=86400)
    chastify.share(two.lock, KEYHOLDER_TOKEN, role="keyholder")
    assert "Linked" in reply(await two.link(two.wearer_a, chan_a, WEARER_TOKEN)).content
    assert "Linked" in reply(await two.link(two.keyholder_b, chan_b, KEYHOLDER_TOKEN)).content
    await two.wearer_a.slash(chan_a, "chastify trust", who=two.friend_a)
    await two.keyholder_b.slash(chan_b, "chastify trust", who=two.friend_b)
    return two


async def test_a_safeword_said_in_one_server_stops_direct_actions_votes_boards_and_the_queue_in_the_other(two):
    vote = await two.friend_b.slash(two.chan_b, "vote add-time", duration="30m", window="1h")
    vote_message = vote.response.message
    board = await two.keyholder_b.slash(two.chan_b, "vote board", add_per_vote="10m", window="1h")
    board_message = board.response.message
    two.chastify.stop()  # Chastify unreachable: the next action waits in the queue for its next try
    try:
        queued = await two.friend_b.slash(two.chan_b, "lock add-time", duration="20m")
    finally:
        two.chastify.start()
    assert "queued" in texts(reply(queued))

    said = await two.wearer_a.slash(two.chan_a, "chastify safeword")

    answer = reply(said)
    assert said.ephemeral or answer.flags.ephemeral
    assert "Paused **Weekend Challenge** in every server" in answer.content
    assert "2 open vote(s) and 1 queued action(s) were cancelled" in answer.content
    # in Server B nobody can act: not the trusted friend, not the keyholder who linked it there
    for who in (two.friend_b, two.keyholder_b):
        assert "paused" in refusal(await who.slash(two.chan_b, "lock add-time", duration="30m"))
    assert "paused" in refusal(await two.friend_b.slash(two.chan_b, "vote add-time", duration="30m"))
    # B's vote messages say they were cancelled, without naming Server A
    for message in (vote_message, board_message):
        shown = texts(current(two.chan_b, message.id))
        assert "cancelled" in shown.lower() and "Server A" not in shown
    # more reactions and the deadlines passing change nothing; the queued action is never sent
    for voter in two.voters(two.b, 3, "voter"):
        await voter.react(vote_message, "✅")
        await voter.react(board_message, "🔼")
    await two.env.advance_time(2 * 3600)
    assert applied_actions(two.chastify) == []
    assert [log["title"] for log in two.lock.custom_logs()] == ["Discord: paused by the owner"]


async def test_only_the_person_who_paused_can_resume_from_any_server(two):
    await two.wearer_a.slash(two.chan_a, "chastify safeword")
    # the keyholder did not say it: they cannot lift it, and are told who can
    denied = refusal(await two.keyholder_b.slash(two.chan_b, "chastify resume"))
    assert "was paused by" in denied and f"<@{two.wearer_a.id}>" in denied
    assert "paused" in refusal(await two.friend_b.slash(two.chan_b, "lock add-time", duration="10m"))
    # the wearer lifts it from the other server
    resumed = reply(await two.wearer_b.slash(two.chan_b, "chastify resume"))
    assert resumed.content.startswith("Resumed: **Weekend Challenge**")
    done = reply(await two.friend_b.slash(two.chan_b, "lock add-time", duration="10m"))
    assert "Applied" in texts(done)
    assert [r.json["deltaSeconds"] for r in applied_actions(two.chastify)] == [600]


async def test_both_people_paused_then_the_lock_stays_paused_until_both_resume(two):
    await two.wearer_a.slash(two.chan_a, "chastify safeword")
    await two.keyholder_b.slash(two.chan_b, "chastify safeword")
    first = reply(await two.wearer_a.slash(two.chan_a, "chastify resume"))
    assert "stays paused" in first.content
    assert "paused" in refusal(await two.friend_a.slash(two.chan_a, "lock add-time", duration="10m"))
    assert reply(await two.keyholder_b.slash(two.chan_b, "chastify resume")).content.startswith("Resumed")
    assert "Applied" in texts(reply(await two.friend_a.slash(two.chan_a, "lock add-time", duration="10m")))


async def test_the_24h_budget_is_the_lock_s_across_servers_and_links(two):
    # defaults: at most 1 h per action and 4 h per 24 h; six 1 h adds split over two servers
    answers = []
    for friend, channel in [(two.friend_a, two.chan_a)] * 3 + [(two.friend_b, two.chan_b)] * 3:
        answers.append(texts(reply(await friend.slash(channel, "lock add-time", duration="1h"))))
    assert sum("Applied" in a for a in answers) == 4
    assert all("left today: 0s" in a for a in answers[4:]), answers[4:]
    assert sum(r.json["deltaSeconds"] for r in applied_actions(two.chastify)) == 4 * 3600
    # a new day: the budget is back
    await two.env.advance_time(24 * 3600 + 60)
    assert "Applied" in texts(reply(await two.friend_b.slash(two.chan_b, "lock add-time", duration="1h")))


async def test_limits_set_by_either_person_apply_lock_wide_and_the_strictest_wins(two):
    await two.wearer_a.slash(two.chan_a, "chastify limits", max_add="2h", max_add_per_day="8h")
    await two.keyholder_b.slash(two.chan_b, "chastify limits", max_add="30m", max_add_per_day="10h")
    too_much = refusal(await two.friend_a.slash(two.chan_a, "lock add-time", duration="1h"))
    assert "at most 30m per action" in too_much
    # the keyholder's stricter per-action limit holds in the wearer's server, the wearer's stricter daily cap in
    # the keyholder's
    for _ in range(3):
        assert "Applied" in texts(reply(await two.friend_a.slash(two.chan_a, "lock add-time", duration="30m")))
    shown = reply(await two.keyholder_b.slash(two.chan_b, "chastify limits"))
    assert shown.embeds[0].title == "Limits on Weekend Challenge"
    fields = {f.name: f.value for f in shown.embeds[0].fields}
    assert fields["Most added per action"] == "30m" and fields["Most added per 24 h"] == "8h"


async def test_one_person_alone_cannot_loosen_the_lock_past_the_defaults(two):
    # the wearer never chose limits: the defaults (1h per action, 4h a day) stand for them
    await two.keyholder_b.slash(two.chan_b, "chastify limits", max_add="10d", max_add_per_day="20d")
    assert "at most 1h per action" in refusal(await two.friend_a.slash(two.chan_a, "lock add-time", duration="5h"))
    # and unlinking does not make the keyholder's choice the only one
    await two.keyholder_b.slash(two.chan_b, "chastify unlink")
    assert "at most 1h per action" in refusal(await two.friend_a.slash(two.chan_a, "lock add-time", duration="5h"))
    # once the wearer loosens too, the looser limit is everyone's choice
    await two.wearer_a.slash(two.chan_a, "chastify limits", max_add="6h", max_add_per_day="1d")
    assert "Applied" in texts(reply(await two.friend_a.slash(two.chan_a, "lock add-time", duration="5h")))


async def test_a_second_link_of_the_same_lock_in_one_server_is_refused(two):
    before = await two.env.bot.core.links(two.a.id)
    refused = refusal(await two.link(two.keyholder_a, two.chan_a, KEYHOLDER_TOKEN))
    assert "already linked in this server by" in refused and f"<@{two.wearer_a.id}>" in refused
    assert "/chastify trust" in refused and "Your token was not saved" in refused
    assert await two.env.bot.core.links(two.a.id) == before


async def test_the_holder_whose_link_was_refused_still_has_their_safeword_and_limits(two):
    """The keyholder linked the lock in Server B first; the wearer's own link there is refused, yet their token
    proved they hold the lock: their safeword and limits work from Server B."""
    refusal(await two.link(two.wearer_b, two.chan_b, WEARER_TOKEN))  # refused: the keyholder linked it here
    await two.wearer_a.slash(two.chan_a, "chastify unlink")  # and the wearer has no link left anywhere
    limits = reply(await two.wearer_b.slash(two.chan_b, "chastify limits", max_add="15m"))
    assert {f.name: f.value for f in limits.embeds[0].fields}["Most added per action"] == "15m"
    assert "at most 15m per action" in refusal(await two.friend_b.slash(two.chan_b, "lock add-time", duration="1h"))
    said = reply(await two.wearer_b.slash(two.chan_b, "chastify safeword"))
    assert "Paused **Weekend Challenge**" in said.content
    assert "paused" in refusal(await two.friend_b.slash(two.chan_b, "lock add-time", duration="10m"))
    assert applied_actions(two.chastify) == []


async def test_unlink_relink_and_a_new_token_never_lift_the_pause_nor_reset_the_budget(two):
    for _ in range(4):
        await two.friend_a.slash(two.chan_a, "lock add-time", duration="1h")
    await two.wearer_a.slash(two.chan_a, "chastify safeword")
    await two.wearer_a.slash(two.chan_a, "chastify unlink")
    relinked = reply(await two.link(two.wearer_a, two.chan_a, WEARER_TOKEN))
    assert "Linked" in relinked.content
    await two.wearer_a.slash(two.chan_a, "chastify trust", who=two.friend_a)
    assert "paused" in refusal(await two.friend_a.slash(two.chan_a, "lock add-time", duration="10m"))
    status = reply(await two.friend_a.slash(two.chan_a, "chastify status"))
    assert "Paused" in texts(status)
    await two.wearer_a.slash(two.chan_a, "chastify resume")
    # the budget spent before the unlink still counts
    assert "left today: 0s" in refusal(await two.friend_a.slash(two.chan_a, "lock add-time", duration="10m"))
    assert sum(r.json["deltaSeconds"] for r in applied_actions(two.chastify)) == 4 * 3600


async def test_a_safeword_during_a_429_wait_sends_nothing(two):
    two.chastify.faults.force_429 = 1  # the next action is answered 429: it goes back in the queue for 2 minutes
    two.chastify.faults.retry_after_429 = 120
    queued = reply(await two.friend_b.slash(two.chan_b, "lock add-time", duration="20m"))
    assert "queued" in texts(queued)
    said = reply(await two.wearer_a.slash(two.chan_a, "chastify safeword"))
    assert "1 queued action(s) were cancelled" in said.content
    await two.env.advance_time(600)
    assert applied_actions(two.chastify) == []


async def test_a_safeword_during_a_wait_for_the_action_budget_sends_nothing(two):
    vote = await two.friend_b.slash(two.chan_b, "vote add-time", duration="10m", window="1m")
    for voter in two.voters(two.b, 3, "voter"):
        await voter.react(vote.response.message, "✅")
    await two.env.advance_time(45)
    # Chastify allows 20 lock actions a minute; each action is one call plus one custom log: ten fill the minute
    for _ in range(10):
        assert "Applied" in texts(reply(await two.friend_b.slash(two.chan_b, "lock remove-time", duration="1m")))
    await two.env.advance_time(20)  # the vote passes; its action waits in the queue for the budget
    assert "queued" in texts(current(two.chan_b, vote.response.message.id))
    said = reply(await two.wearer_a.slash(two.chan_a, "chastify safeword"))
    assert "1 queued action(s) were cancelled" in said.content
    await two.env.advance_time(600)
    assert [r.json["deltaSeconds"] for r in applied_actions(two.chastify)] == [-60] * 10


async def test_the_owner_gone_cancels_the_vote_with_a_message_and_holds_only_that_server(two):
    vote = await two.friend_b.slash(two.chan_b, "vote add-time", duration="30m", window="10m")
    message = vote.response.message
    for voter in two.voters(two.b, 3, "voter"):
        await voter.react(message, "✅")
    two.b.remove_member(two.keyholder_b)  # the keyholder who linked the lock in Server B leaves it
    await two.env.advance_time(601)
    shown = texts(current(two.chan_b, message.id))
    assert "Cancelled: the lock's owner is no longer a member of this server." in shown
    assert applied_actions(two.chastify) == []
    assert "no longer a member of this server" in refusal(
        await two.friend_b.slash(two.chan_b, "lock add-time", duration="10m"))
    # Server A's link is its own: the wearer is still there
    assert "Applied" in texts(reply(await two.friend_a.slash(two.chan_a, "lock add-time", duration="10m")))
    # the keyholder comes back and lifts the hold in Server B
    back = two.b.add_member(two.keyholder_a.user)
    assert "Welcome back" in reply(await back.slash(two.chan_b, "chastify resume")).content
    assert "Applied" in texts(reply(await two.friend_b.slash(two.chan_b, "lock add-time", duration="10m")))


async def test_removing_the_bot_from_a_server_holds_its_links_and_cancels_their_queue(two):
    two.chastify.stop()
    try:
        queued = reply(await two.friend_b.slash(two.chan_b, "lock add-time", duration="20m"))
    finally:
        two.chastify.start()
    assert "queued" in texts(queued)
    two.env.backend.remove_guild(two.b.id)  # kicked from Server B
    await two.env.advance_time(600)
    assert applied_actions(two.chastify) == []
    [held] = await two.env.bot.core.links(two.b.id)
    assert held.state == "paused"
    # Server A is untouched
    assert "Applied" in texts(reply(await two.friend_a.slash(two.chan_a, "lock add-time", duration="10m")))


async def test_a_bulk_delete_cancels_the_votes_whose_messages_went(two):
    first = await two.friend_a.slash(two.chan_a, "vote add-time", duration="30m", window="10m")
    second = await two.keyholder_a.slash(two.chan_a, "vote freeze", duration="30m", window="10m")
    voters = two.voters(two.a, 3, "voter")
    for message in (first.response.message, second.response.message):
        for voter in voters:
            await voter.react(message, "✅")
    two.env.backend.bulk_delete_messages(two.chan_a.id, [first.response.message.id, second.response.message.id])
    await two.env.advance_time(601)
    assert applied_actions(two.chastify) == []
    assert await two.env.bot.core.store.votes.list_open() == []


async def test_a_board_applies_nothing_more_once_the_owner_left(two):
    board = await two.friend_b.slash(two.chan_b, "vote board", add_per_vote="10m", window="1d")
    message = board.response.message
    for voter in two.voters(two.b, 3, "voter"):
        await voter.react(message, "🔼")
    two.b.remove_member(two.keyholder_b)
    await two.env.advance_time(2 * 300 + 5)  # two of the board's flush periods
    assert applied_actions(two.chastify) == []
    assert "Cancelled: the lock's owner is no longer a member of this server." in texts(current(two.chan_b, message.id))


async def test_a_person_s_limits_come_with_them_to_their_next_lock(two):
    await two.wearer_a.slash(two.chan_a, "chastify limits", max_add="15m")
    two.chastify.end_lock(two.lock.id)
    two.chastify.add_lock(WEARER_TOKEN, title="Next Challenge", remaining=86400)  # the token's new active lock
    assert "Re-linked **Next Challenge**" in reply(await two.link(two.wearer_a, two.chan_a, WEARER_TOKEN)).content
    assert "at most 15m per action" in refusal(await two.friend_a.slash(two.chan_a, "lock add-time", duration="1h"))


async def test_either_person_may_veto_a_waiting_vote_from_the_other_server_and_nothing_is_applied(two):
    await two.keyholder_b.slash(two.chan_b, "chastify limits", veto=5)  # the stricter window holds lock-wide
    vote = await two.friend_a.slash(two.chan_a, "vote add-time", duration="30m", window="10m")
    message = vote.response.message
    for voter in two.voters(two.a, 3, "voter"):
        await voter.react(message, "✅")
    await two.env.advance_time(600)
    assert "the owner may veto it" in texts(current(two.chan_a, message.id))
    outsider = await two.friend_b.slash(two.chan_b, "vote veto", vote="1")
    assert "Only the lock's owner" in refusal(outsider)
    vetoed = reply(await two.keyholder_b.slash(two.chan_b, "vote veto", vote="1"))
    assert vetoed.ephemeral and vetoed.content.startswith("✋ Vetoed by keyholder")
    await two.env.advance_time(600)
    assert applied_actions(two.chastify) == []
    assert "Vetoed by keyholder" in texts(current(two.chan_a, message.id))


async def test_the_chart_shows_other_servers_actions_only_to_the_locks_own_people(two):
    for _ in range(2):
        assert "Applied" in texts(reply(await two.friend_a.slash(two.chan_a, "lock add-time", duration="10m")))
    assert "Applied" in texts(reply(await two.friend_b.slash(two.chan_b, "lock add-time", duration="10m")))
    trusted_here = reply(await two.friend_b.slash(two.chan_b, "chastify chart"))
    assert trusted_here.content.startswith("📈 **Weekend Challenge**: 1 change by the bot")  # Server B's only
    holder = reply(await two.keyholder_b.slash(two.chan_b, "chastify chart"))
    assert holder.content.startswith("📈 **Weekend Challenge**: 3 changes by the bot")  # every server's
