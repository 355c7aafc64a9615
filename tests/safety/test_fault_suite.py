"""The fault suite: 200 votes across 10 locks while Chastify misbehaves.

The stand-in answers 20% of calls with a 5xx (half before applying, half after), drops 5% of connections after
applying, adds random latency and forces bursts of 429s. Two locks break mid-run (one token revoked, one lock
ended). At the end every approved action was applied exactly once or is marked uncertain, none was applied
twice, no ballot was lost, and each lock's audit log matches the stand-in's lock history entry by entry.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter

from bot.actions import Action, ActionKind
from bot.errors import Refused
from bot.members import Member, Place
from bot.policy import ALL_KINDS, OwnerLimits
from bot.voting.state import OpenVote
from tests.safety.rig import (
    action_requests,
    history_actions,
    sent_audit,
    summary_of_history,
    summary_of_request,
)
from tests.support.postgres import ON_BOTH_STORES

pytestmark = ON_BOTH_STORES

LOCKS = 10
ROUNDS = 10
GUILD = 7
REVOKED, ENDED = 8, 9  # lock indexes that break half-way
CAPPED = (0, 1)  # these keep the conservative default limits, so some passed votes are refused by the daily cap


def _random_action(rng: random.Random) -> Action:
    roll = rng.random()
    if roll < 0.55:
        return Action(kind=ActionKind.ADD_TIME, seconds=rng.choice((300, 600, 900, 1800, 2700)))
    if roll < 0.75:
        return Action(kind=ActionKind.REMOVE_TIME, seconds=rng.choice((300, 600, 1200)))
    if roll < 0.9:
        return Action(kind=ActionKind.FREEZE, seconds=rng.choice((600, 1800, 3600)))
    return Action(kind=ActionKind.PILLORY, seconds=rng.choice((300, 600)))


async def test_200_votes_on_10_locks_under_faults(rigs, make_standin, fake_clock):
    rng = random.Random(20260101)
    chastify = make_standin(clock=fake_clock)
    rig = await rigs(chastify, fake_clock)
    core, vs = rig.core, rig.votes
    place = Place(GUILD, "Fault Club", 1, "votes")

    links, fakes = [], []
    for i in range(LOCKS):
        link, fake = await rig.link(f"dev-token-fault-{i:02d}", guild=GUILD, owner=1000 + i, title=f"Lock {i}",
                                    remaining=7 * 86400)
        if i not in CAPPED:
            await core.set_limits(link, OwnerLimits(direct_allowed=ALL_KINDS, vote_allowed=ALL_KINDS,
                                                    max_add_per_action=3600, max_add_per_day=100 * 3600,
                                                    max_freeze=3600, max_pillory=3600, min_vote_quorum=3))
        links.append(link)
        fakes.append(fake)

    voters = [Member(5000 + n, f"voter{n}") for n in range(12)]
    bot_member = Member(9999, "the bot", is_bot=True)

    chastify.faults.latency = (0.0, 0.004)
    chastify.faults.error_rate = 0.10  # 500 before applying
    chastify.faults.error_after_apply_rate = 0.10  # applied, then 502
    chastify.faults.drop_after_apply_rate = 0.05  # applied, then the connection drops
    chastify.faults.seed = 7

    expected_ballots: dict[int, dict[int, int]] = {}
    proposed: list[OpenVote] = []
    refused_at_proposal = 0
    message_id = 10_000

    for rnd in range(ROUNDS):
        if rnd == ROUNDS // 2:
            chastify.revoke(f"dev-token-fault-{REVOKED:02d}")
            chastify.end_lock(links[ENDED].lock_id)
        batch: list[OpenVote] = []
        for i, link in enumerate(links):
            for _ in range(2):
                proposer = rng.choice(voters)
                try:
                    action = Action(kind=ActionKind.ADD_TIME, seconds=2700) if i in CAPPED else _random_action(rng)
                    ov = await vs.propose(place, proposer, link, action, window=120, channel_id=1)
                except Refused:
                    refused_at_proposal += 1  # the daily cap is used up, or the link is known to be broken/ended
                    continue
                message_id += 1
                await vs.attach(ov.id, 1, message_id)
                batch.append(ov)
        for ov in batch:
            assert ov.message_id is not None
            ballots: dict[int, int] = {}
            for member in rng.sample(voters, rng.randint(2, 8)):
                # a burst of reactions by one member: only their last standing choice counts, once
                for _ in range(rng.randint(1, 4)):
                    emoji = rng.choice(("✅", "❌"))
                    added = rng.random() < 0.8
                    await vs.reaction(ov.message_id, member, emoji, added)
                    choice = 1 if emoji == "✅" else -1
                    if added:
                        ballots[member.id] = choice
                    elif ballots.get(member.id) == choice:
                        del ballots[member.id]
            await vs.reaction(ov.message_id, bot_member, "✅", True)  # the bot's own reactions never count
            # the owner of lock 0 votes everywhere: it counts on other locks, never on their own
            await vs.reaction(ov.message_id, Member(links[0].owner_id, "owner0"), "✅", True)
            if ov.link_id != links[0].id:
                ballots[links[0].owner_id] = 1
            expected_ballots[ov.id] = ballots
        if rnd % 3 == 1:
            chastify.faults.force_429 = rng.randint(10, 40)
        fake_clock.advance(121)
        # close the whole round at once: closes on different locks interleave, two per lock race each other
        await asyncio.gather(*(vs.close(ov.id) for ov in batch))
        proposed.extend(batch)

    # boards too: one per healthy lock, its net applied once at the close
    boards = []
    for i, link in enumerate(links):
        if i in (REVOKED, ENDED):
            continue
        ov = await vs.propose_board(place, voters[0], link, add_per_vote=300, remove_per_vote=300, window=120,
                                    channel_id=1)
        message_id += 1
        await vs.attach(ov.id, 1, message_id)
        for member in voters[: rng.randint(3, 9)]:
            await vs.reaction(message_id, member, rng.choice(("🔼", "🔽")), True)
        boards.append(ov)
    fake_clock.advance(121)
    await asyncio.gather(*(vs.close(ov.id) for ov in boards))
    await core.outbox.drain()
    await core.settle()
    chastify.faults.clear()

    assert len(proposed) + refused_at_proposal == LOCKS * ROUNDS * 2 == 200

    # ---- every vote ended; no ballot was lost
    for ov in proposed:
        vote = await rig.store.votes.get(ov.id)
        assert vote is not None and vote.status in ("passed", "failed", "refused", "cancelled"), vote
        stored = {b.voter_id: b.choice for b in await rig.store.ballots.list(ov.id)}
        assert stored == expected_ballots[ov.id], f"vote {ov.id}"
    assert not vs.open

    # ---- every approved action applied exactly once or marked uncertain; nothing left in flight
    entries = await rig.store.outbox.list_by_status(("pending", "sent", "done", "failed", "uncertain", "cancelled"))
    statuses = Counter(e.status for e in entries)
    assert statuses["pending"] == statuses["sent"] == 0, statuses
    assert statuses["done"] > 50 and statuses["uncertain"] > 10, statuses
    assert any(e.attempts > 1 for e in entries)  # some sends ran out of 429 retries and were queued again
    assert chastify.rate_limited_count == 0  # the bot itself stayed within Chastify's rate limit
    keys = Counter(e.idempotency_key for e in entries)
    assert max(keys.values()) == 1  # one outbox entry per passed vote / board flush
    uncertain_ids = {e.id for e in entries if e.status == "uncertain"}

    applied_total = 0
    for i, (link, fake) in enumerate(zip(links, fakes, strict=True)):
        audit = await sent_audit(rig.store, link.id)
        reached = action_requests(chastify, link.lock_id)
        # one request that reached Chastify per audit line, in the same order, for the same action
        assert [summary_of_request(r) for r in reached] == [a.action_summary for a in audit], f"lock {i}"
        for line, request in zip(audit, reached, strict=True):
            assert (line.outcome == "applied") == (200 <= request.status < 300), (line, request)
        # the lock's history is exactly the audit lines whose request was applied: nothing twice, nothing lost
        applied_lines = [a.action_summary for a, r in zip(audit, reached, strict=True) if r.applied]
        assert [summary_of_history(h) for h in history_actions(fake)] == applied_lines, f"lock {i}"
        applied_total += len(applied_lines)
        # custom logs: at most one per applied action, never doubled
        done = [e for e in entries if e.link_id == link.id and e.status == "done"]
        written = sum(1 for e in done if e.log_state == "written")
        maybe = sum(1 for e in done if e.log_state == "unknown")
        logs = [h for h in fake.history if h["type"] == "custom"]
        assert written <= len(logs) <= written + maybe <= len(done), f"lock {i}"

    assert applied_total == len(chastify.action_requests()) - sum(
        1 for r in chastify.action_requests() if r.path.endswith("/logs/custom"))

    # ---- the owner was told about each uncertain action, and about the broken and the ended lock
    told_uncertain = [m for _, m in rig.told if "may or may not have been applied" in m]
    assert len(told_uncertain) == len(uncertain_ids)
    revoked, ended = await rig.fresh(links[REVOKED]), await rig.fresh(links[ENDED])
    assert (revoked.state, ended.state) == ("broken", "ended")
    assert any(link_id == revoked.id and "token" in m for link_id, m in rig.told)
    assert any(link_id == ended.id and "ended" in m for link_id, m in rig.told)
    for broken in (revoked, ended):
        assert await rig.store.votes.count_open_for_link(broken.id) == 0

    # ---- the owners' daily cap held on the capped locks (uncertain actions count as applied), and passed votes
    # beyond it were refused by the gate when they closed, with the limit named
    for i in CAPPED:
        added = sum(h["requested"] for h in fakes[i].history if h["type"] == "time_added")
        assert added <= 4 * 3600
        refusals = [a for a in await rig.store.audit.list_for_link(links[i].id, 1000) if a.outcome == "refused"]
        assert refusals and all("per 24 h" in (a.detail or "") for a in refusals)
