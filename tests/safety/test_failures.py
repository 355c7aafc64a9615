"""What happens on each failure, at the core level (real Core, Store, client and stand-in; one fake clock).

429 -> queued (pending, where a safeword can still cancel it) and sent once after Retry-After; connect error ->
queued and sent later, once; timeout or 5xx after sending -> uncertain, never re-sent, the owner told with the
lock's current state; token revoked -> link broken, votes cancelled, owner told; lock ended -> link ended, votes
cancelled, a clear message.
"""

from __future__ import annotations

import asyncio

from bot.actions import Action, ActionKind
from bot.chastify import Timeouts
from bot.members import Member, Place
from tests.safety.rig import add, history_actions
from tests.support.postgres import ON_BOTH_STORES

pytestmark = ON_BOTH_STORES

PLACE = Place(1, "Guild 1", 1, "general")
OWNER = Member(100, "owner100")


async def test_429_is_queued_not_waited_in_flight_and_sent_once_later(rigs, make_standin, fake_clock):
    chastify = make_standin(clock=fake_clock)
    rig = await rigs(chastify, fake_clock)
    link, lock = await rig.link("dev-token-429")
    chastify.faults.force_429 = 2
    result = await rig.core.act(PLACE, OWNER, link, add(600))
    # never held as "sent" through a wait: back in the queue, where a safeword can cancel it
    assert result.status == "pending" and "queued" in result.message
    await rig.core.outbox.drain()
    [entry] = await rig.store.outbox.list_by_status("done")
    assert entry.attempts == 3
    assert [h["requested"] for h in history_actions(lock)] == [600]
    assert len(lock.custom_logs()) == 1


async def test_429_beyond_the_retries_queues_the_action_and_sends_it_once_later(rigs, make_standin, fake_clock):
    chastify = make_standin(clock=fake_clock)
    rig = await rigs(chastify, fake_clock, max_retries=1)
    link, lock = await rig.link("dev-token-429-long")
    chastify.faults.force_429 = 3
    result = await rig.core.act(PLACE, OWNER, link, add(600))
    assert result.status == "pending"
    assert "queued" in result.message
    await rig.core.outbox.drain()
    [entry] = await rig.store.outbox.list_by_status("done")
    assert entry.attempts == 4  # three 429s, each answered at once and queued, then the send that worked
    assert [h["requested"] for h in history_actions(lock)] == [600]


async def test_connect_error_queues_the_action_and_sends_it_once_when_chastify_is_back(rigs, make_standin,
                                                                                     fake_clock):
    chastify = make_standin(clock=fake_clock)
    rig = await rigs(chastify, fake_clock, max_retries=1)
    link, lock = await rig.link("dev-token-down")
    chastify.stop()
    try:
        result = await rig.core.act(PLACE, OWNER, link, add(900))
    finally:
        chastify.start()
    assert result.status == "pending"
    assert "could not be reached" in result.message
    await rig.core.outbox.drain()
    assert [h["requested"] for h in history_actions(lock)] == [900]
    assert [e.status for e in await rig.store.outbox.list_by_status(("done", "pending", "uncertain"))] == ["done"]


async def test_5xx_after_sending_is_uncertain_never_resent_and_the_owner_sees_the_lock_state(rigs, make_standin,
                                                                                           fake_clock):
    chastify = make_standin(clock=fake_clock)
    rig = await rigs(chastify, fake_clock)
    link, lock = await rig.link("dev-token-502", remaining=7200)
    chastify.faults.error_after_apply_rate = 1.0
    result = await rig.core.act(PLACE, OWNER, link, add(1800))
    chastify.faults.clear()
    assert result.status == "uncertain"
    assert "may or may not have been applied" in result.message
    await rig.core.outbox.drain()
    await rig.core.outbox.recover()  # a restart does not send it again either
    assert [h["requested"] for h in history_actions(lock)] == [1800]
    [(link_id, told)] = rig.told
    assert link_id == link.id
    assert "+30m" in told and "not sent again" in told
    assert "The lock now shows: 2h 30m remaining, not frozen." in told
    [line] = [a for a in await rig.store.audit.list_for_link(link.id) if a.action_summary == "+30m"]
    assert line.outcome == "uncertain"


async def test_a_write_that_times_out_is_uncertain_and_not_resent(rigs, make_standin, fake_clock):
    chastify = make_standin(clock=fake_clock)
    rig = await rigs(chastify, fake_clock, timeouts=Timeouts(connect=2, read=0.2, total=0.2))
    link, lock = await rig.link("dev-token-slow")
    chastify.faults.latency = (0.5, 0.5)
    result = await rig.core.act(PLACE, OWNER, link, Action(kind=ActionKind.FREEZE, seconds=600))
    chastify.faults.clear()
    assert result.status == "uncertain"
    for _ in range(100):  # let the slow request land on the stand-in: it was applied after all
        if history_actions(lock):
            break
        await asyncio.sleep(0.05)
    assert [h["type"] for h in history_actions(lock)] == ["frozen"]
    await rig.core.outbox.drain()
    assert [h["type"] for h in history_actions(lock)] == ["frozen"]
    assert rig.told and "freeze 10m" in rig.told[0][1]


async def test_revoked_token_breaks_the_link_cancels_votes_and_tells_the_owner(rigs, make_standin, fake_clock):
    chastify = make_standin(clock=fake_clock)
    rig = await rigs(chastify, fake_clock)
    link, lock = await rig.link("dev-token-revoked", title="Revoked lock")
    vote = await rig.votes.propose(PLACE, Member(5, "voter"), link, add(600), window=600, channel_id=1)
    chastify.revoke("dev-token-revoked")
    result = await rig.core.act(PLACE, OWNER, link, add(600))
    assert result.status == "failed"
    assert "/chastify link" in result.message
    assert (await rig.fresh(link)).state == "broken"
    assert (await rig.store.votes.get(vote.id)).status == "cancelled"  # type: ignore[union-attr]
    assert vote.id not in rig.votes.open
    [(_, told)] = rig.told
    assert "Revoked lock" in told and "/chastify link" in told
    refused = await _refusal(rig, link)
    assert "token no longer works" in refused
    assert history_actions(lock) == []


async def test_ended_lock_ends_the_link_cancels_votes_with_a_clear_message(rigs, make_standin, fake_clock):
    chastify = make_standin(clock=fake_clock)
    rig = await rigs(chastify, fake_clock)
    link, lock = await rig.link("dev-token-ended", title="Finished lock")
    vote = await rig.votes.propose(PLACE, Member(5, "voter"), link, add(600), window=600, channel_id=1)
    chastify.end_lock(lock.id)
    result = await rig.core.act(PLACE, OWNER, link, add(600))
    assert result.status == "failed"
    assert result.message == "This lock has ended on Chastify; nothing was applied."
    assert (await rig.fresh(link)).state == "ended"
    stored = await rig.store.votes.get(vote.id)
    assert stored is not None and stored.status == "cancelled"
    assert stored.outcome_reason == "Cancelled: this lock has ended on Chastify."
    [(_, told)] = rig.told
    assert "Finished lock" in told and "ended" in told and "votes were cancelled" in told
    assert "has ended" in await _refusal(rig, link)


async def test_two_approvals_racing_for_the_last_of_the_daily_limit_cannot_both_pass(rigs, make_standin,
                                                                                    fake_clock):
    chastify = make_standin(clock=fake_clock)
    rig = await rigs(chastify, fake_clock)  # defaults: +1h per action, +4h per 24 h
    link, lock = await rig.link("dev-token-race")
    for _ in range(3):
        assert (await rig.core.act(PLACE, OWNER, link, add(3600))).status == "done"
    # 1h left today; two trusted commands for +45m arrive together: both pass the early check...
    results = await asyncio.gather(*(rig.core.act(PLACE, OWNER, link, add(2700)) for _ in range(2)))
    # ...but only one is recorded: the gate is asked again, under the link's lock, as the action is recorded
    assert sorted(r.status for r in results) == ["done", "refused"]
    refused = next(r for r in results if r.status == "refused")
    assert "at most 4h added per 24 h" in refused.message and "left today: 15m" in refused.message
    assert sum(h["requested"] for h in history_actions(lock)) == 3 * 3600 + 2700


async def test_uncertain_time_counts_against_the_daily_limit(rigs, make_standin, fake_clock):
    chastify = make_standin(clock=fake_clock)
    rig = await rigs(chastify, fake_clock)
    link, _ = await rig.link("dev-token-uncertain-cap")
    chastify.faults.error_rate = 1.0  # 500 before applying: nothing happened, but the bot cannot know that
    for _ in range(4):
        assert (await rig.core.act(PLACE, OWNER, link, add(3600))).status == "uncertain"
    chastify.faults.clear()
    text = await _refusal(rig, link)
    assert "left today: 0s" in text


async def test_the_daily_limit_is_rolling(rigs, make_standin, fake_clock):
    chastify = make_standin(clock=fake_clock)
    rig = await rigs(chastify, fake_clock)
    link, lock = await rig.link("dev-token-rolling")
    for _ in range(4):
        assert (await rig.core.act(PLACE, OWNER, link, add(3600))).status == "done"
    assert "left today: 0s" in await _refusal(rig, link)
    fake_clock.advance(86400 + 60)
    assert (await rig.core.act(PLACE, OWNER, link, add(3600))).status == "done"
    assert len(history_actions(lock)) == 5


async def _refusal(rig, link) -> str:
    from bot.errors import Refused

    try:
        await rig.core.act(PLACE, OWNER, await rig.fresh(link), add(60))
    except Refused as err:
        return str(err)
    raise AssertionError("the action was not refused")


async def test_an_entry_recorded_for_one_lock_is_never_sent_to_the_next_lock_of_the_link(rigs, make_standin,
                                                                                      fake_clock):
    """Recorded for lock A, the entry waits (a 429); meanwhile the link now points at lock B (the owner linked
    their next lock): the entry is withdrawn, lock B sees nothing."""
    chastify = make_standin(clock=fake_clock)
    rig = await rigs(chastify, fake_clock)
    link, lock_a = await rig.link("dev-token-first")
    chastify.faults.force_429 = 1
    chastify.faults.retry_after_429 = 120
    result = await rig.core.act(PLACE, OWNER, link, add(600))
    assert result.status == "pending"
    lock_b = chastify.add_lock("dev-token-second")
    # the link row moves to lock B as a relink writes it (without Core.link's cancelling, as in a race)
    await rig.store.links.upsert(guild_id=link.guild_id, owner_id=link.owner_id,
                                 token_ciphertext=rig.core.vault.encrypt("dev-token-second"), lock_id=lock_b.id,
                                 role="wearer")
    await rig.core.outbox.drain()
    assert history_actions(lock_a) == [] and history_actions(lock_b) == []
    [entry] = await rig.store.outbox.list_by_status("cancelled")
    assert entry.error_message == "the owner linked another lock"
