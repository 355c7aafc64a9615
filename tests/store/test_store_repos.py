from __future__ import annotations

import asyncio
import random

import pytest

from bot.store import BallotChange, GuildSettings, Store
from bot.store.models import Tally
from bot.store.repos import INTEGRITY_ERRORS
from tests.support.clock import FakeClock

pytestmark = pytest.mark.asyncio

LOCK_A = "0123456789abcdef01234567"
LOCK_B = "fedcba9876543210fedcba98"


async def make_link(store: Store, guild_id: int = 1, owner_id: int = 10, lock_id: str = LOCK_A) -> int:
    link = await store.links.upsert(
        guild_id=guild_id,
        owner_id=owner_id,
        token_ciphertext=b"ciphertext-of-dev-token-alice",
        lock_id=lock_id,
        role="wearer",
        title="Alice's lock",
    )
    return link.id


async def make_vote(store: Store, link_id: int, *, deadline: float = 2e9, proposer: int = 20, **kw: object) -> int:
    vote = await store.votes.create(
        guild_id=1,
        link_id=link_id,
        kind=kw.pop("kind", "decision"),  # type: ignore[arg-type]
        action_json='{"name":"add_time","seconds":600}',
        proposer_id=proposer,
        channel_id=300,
        deadline=deadline,
        quorum=3,
        majority=0.5,
        **kw,  # type: ignore[arg-type]
    )
    return vote.id


# ------------------------------------------------------------------------------------------ settings


async def test_guild_settings_default_update_and_reset(store: Store, clock: FakeClock) -> None:
    assert await store.settings.get(5) == GuildSettings(guild_id=5)
    s = await store.settings.update(5, quorum=4, majority=0.6, min_account_age_days=7, vote_channel_id=77)
    assert (s.quorum, s.majority, s.min_account_age_days, s.vote_channel_id) == (4, 0.6, 7, 77)
    assert s.updated_at == clock.now
    s = await store.settings.update(5, quorum=None, min_account_age_days=0)
    assert s.quorum is None and s.majority == 0.6 and s.min_account_age_days == 0
    assert await store.settings.reset(5)
    assert await store.settings.get(5) == GuildSettings(guild_id=5)


async def test_guild_settings_rejects_unknown_and_bad_values(store: Store) -> None:
    with pytest.raises(ValueError, match="quorom"):
        await store.settings.update(5, quorom=3)
    with pytest.raises(ValueError, match="invalid guild setting"):
        await store.settings.update(5, majority=1.5)
    assert await store.settings.get(5) == GuildSettings(guild_id=5)


# ------------------------------------------------------------------------------------------ links


async def test_link_upsert_get_and_relink(store: Store, clock: FakeClock) -> None:
    link_id = await make_link(store)
    link = await store.links.get(1, 10)
    assert link is not None and link.id == link_id and link.state == "active"
    assert link.token_ciphertext == b"ciphertext-of-dev-token-alice"
    assert "ciphertext" not in repr(link)
    assert await store.links.set_state(link_id, "broken")
    await store.trust.add(link_id, "member", 99)
    clock.advance(60)
    relinked = await store.links.upsert(
        guild_id=1, owner_id=10, token_ciphertext=b"new-ciphertext", lock_id=LOCK_B, role="keyholder"
    )
    assert relinked.id == link_id
    assert relinked.state == "active" and relinked.lock_id == LOCK_B and relinked.role == "keyholder"
    assert relinked.token_ciphertext == b"new-ciphertext"
    assert relinked.created_at == link.created_at and relinked.updated_at == link.created_at + 60
    assert [t.target_id for t in await store.trust.list(link_id)] == [99]
    assert (await store.links.get_by_id(link_id)) == relinked


async def test_link_rejects_bad_lock_id(store: Store) -> None:
    for bad in ("", "xyz", LOCK_A + "0", "g" * 24):
        with pytest.raises(ValueError, match="24 hexadecimal"):
            await make_link(store, lock_id=bad)


async def test_link_listing_state_and_limits(store: Store) -> None:
    a = await make_link(store, owner_id=10)
    b = await make_link(store, owner_id=11)
    c = await make_link(store, guild_id=2, owner_id=10)
    assert [link.id for link in await store.links.list_for_guild(1)] == [a, b]
    assert [link.id for link in await store.links.list_all()] == [a, b, c]
    assert await store.links.set_state(b, "ended", expected="active")
    assert not await store.links.set_state(b, "broken", expected="active")
    assert [link.id for link in await store.links.list_for_guild(1, states="active")] == [a]
    with pytest.raises(ValueError):
        await store.links.set_state(a, "gone")

    assert [link.id for link in await store.links.list_for_lock(LOCK_A)] == [a, b, c]
    assert [link.id for link in await store.links.list_for_owner(10)] == [a, c]
    assert [link.id for link in await store.links.find_in_guild(2, LOCK_A)] == [c]


async def test_consent_is_kept_per_lock_and_per_person(store: Store) -> None:
    assert await store.consent.pause(LOCK_A, 10, 1)
    assert not await store.consent.pause(LOCK_A, 11, 2)  # already paused by someone: not "newly"
    assert await store.consent.is_paused(LOCK_A)
    assert [p.user_id for p in await store.consent.pauses(LOCK_A)] == [10, 11]
    assert await store.consent.unpause(LOCK_A, 10)
    assert not await store.consent.unpause(LOCK_A, 10)
    assert await store.consent.is_paused(LOCK_A)  # 11's pause stands
    assert await store.consent.unpause(LOCK_A, 11)
    assert not await store.consent.is_paused(LOCK_A)

    await store.consent.set_limits(LOCK_A, 10, {"max_add_per_action": 600})
    await store.consent.set_limits(LOCK_A, 10, {"max_add_per_day": 7200})  # replaces 10's row
    await store.consent.set_limits(LOCK_A, 11, {"max_add_per_action": 300})
    rows = await store.consent.limits(LOCK_A)
    assert sorted((r.setter_id, r.fields()) for r in rows) == [
        (10, {"max_add_per_day": 7200}), (11, {"max_add_per_action": 300})]


async def test_link_delete_cascades_but_keeps_outbox_and_audit(store: Store) -> None:
    link_id = await make_link(store)
    await store.trust.add(link_id, "role", 5)
    vote_id = await make_vote(store, link_id)
    await store.ballots.set(vote_id, 30, 1)
    await store.outbox.enqueue(
        link_id=link_id, lock_id=LOCK_A, guild_id=1, source="vote", source_id=vote_id, action_json="{}",
        idempotency_key="k1"
    )
    await store.audit.add(guild_id=1, link_id=link_id, source="link", action_summary="linked", outcome="linked")
    assert await store.links.delete(link_id)
    assert not await store.links.delete(link_id)
    assert await store.links.get_by_id(link_id) is None
    assert await store.trust.list(link_id) == []
    assert await store.votes.get(vote_id) is None
    assert await store.ballots.list(vote_id) == []
    kept = await store.outbox.get_by_key("k1")  # the lock's 24 h budget outlives the link
    assert kept is not None and kept.link_id is None and kept.lock_id == LOCK_A
    assert len(await store.audit.list_for_link(link_id)) == 1


async def test_foreign_keys_are_enforced(store: Store) -> None:
    with pytest.raises(INTEGRITY_ERRORS):
        await store.trust.add(12345, "member", 1)


# ------------------------------------------------------------------------------------------ trust


async def test_trust_add_remove_list_and_match(store: Store) -> None:
    link_id = await make_link(store)
    assert await store.trust.add(link_id, "member", 7)
    assert not await store.trust.add(link_id, "member", 7)
    assert await store.trust.add(link_id, "role", 500)
    assert [(t.kind, t.target_id) for t in await store.trust.list(link_id)] == [("member", 7), ("role", 500)]
    assert await store.trust.is_trusted(link_id, 7)
    assert await store.trust.is_trusted(link_id, 8, [499, 500])
    assert not await store.trust.is_trusted(link_id, 8, [499])
    assert not await store.trust.is_trusted(link_id, 500)  # a member id equal to a role id is not a match
    assert await store.trust.remove(link_id, "member", 7)
    assert not await store.trust.remove(link_id, "member", 7)
    with pytest.raises(ValueError):
        await store.trust.add(link_id, "user", 1)


# ------------------------------------------------------------------------------------------ votes


async def test_vote_create_get_and_message(store: Store, clock: FakeClock) -> None:
    link_id = await make_link(store)
    vote_id = await make_vote(store, link_id)
    vote = await store.votes.get(vote_id)
    assert vote is not None and vote.status == "open" and vote.is_open and vote.created_at == clock.now
    assert vote.message_id is None and vote.applied_net_seconds == 0 and vote.instant_pass == 0
    assert await store.votes.set_message(vote_id, 9001)
    assert (await store.votes.get_by_message(9001)) == await store.votes.get(vote_id)
    other = await make_vote(store, link_id)
    with pytest.raises(INTEGRITY_ERRORS):
        await store.votes.set_message(other, 9001)
    assert await store.votes.set_message(other, 9002, channel_id=301)
    moved = await store.votes.get(other)
    assert moved is not None and moved.channel_id == 301


async def test_list_open_filters_and_orders_by_deadline(store: Store) -> None:
    a = await make_link(store, owner_id=10)
    b = await make_link(store, owner_id=11)
    v1 = await make_vote(store, a, deadline=300)
    v2 = await make_vote(store, b, deadline=100)
    v3 = await make_vote(store, a, deadline=200)
    assert [v.id for v in await store.votes.list_open()] == [v2, v3, v1]
    assert [v.id for v in await store.votes.list_open(link_id=a)] == [v3, v1]
    assert [v.id for v in await store.votes.list_open(guild_id=2)] == []
    await store.votes.set_status(v3, "applying")
    assert [v.id for v in await store.votes.list_open(link_id=a)] == [v1]
    assert [v.id for v in await store.votes.list_open(statuses=("open", "applying"))] == [v2, v3, v1]
    assert await store.votes.count_open_for_link(a) == 2
    assert await store.votes.count_open_for_link(a, statuses="open") == 1


async def test_set_status_happens_once_even_concurrently(store: Store) -> None:
    link_id = await make_link(store)
    vote_id = await make_vote(store, link_id)
    results = await asyncio.gather(
        *(store.votes.set_status(vote_id, "passed", outcome_reason=f"closer {i}") for i in range(10))
    )
    assert sorted(results) == [False] * 9 + [True]
    vote = await store.votes.get(vote_id)
    assert vote is not None and vote.status == "passed"
    assert not await store.votes.set_status(vote_id, "failed")
    # explicit from_status chains: open -> applying -> passed
    v2 = await make_vote(store, link_id)
    assert await store.votes.set_status(v2, "applying")
    assert not await store.votes.set_status(v2, "passed")  # from 'open' by default
    assert await store.votes.set_status(v2, "passed", from_status="applying", outcome_reason="applied")
    done = await store.votes.get(v2)
    assert done is not None and done.outcome_reason == "applied"
    with pytest.raises(ValueError):
        await store.votes.set_status(v2, "won")


async def test_last_proposal_at_and_cancel_for_link(store: Store, clock: FakeClock) -> None:
    link_id = await make_link(store)
    assert await store.votes.last_proposal_at(1, 20) is None
    await make_vote(store, link_id, proposer=20)
    clock.advance(100)
    v2 = await make_vote(store, link_id, proposer=20)
    await make_vote(store, link_id, proposer=21)
    assert await store.votes.last_proposal_at(1, 20) == clock.now
    assert await store.votes.last_proposal_at(2, 20) is None
    await store.votes.set_status(v2, "failed")
    cancelled = await store.votes.cancel_open_for_link(link_id, "lock ended")
    assert len(cancelled) == 2 and v2 not in cancelled
    assert await store.votes.list_open(link_id=link_id) == []
    vote = await store.votes.get(cancelled[0])
    assert vote is not None and vote.status == "cancelled" and vote.outcome_reason == "lock ended"


async def test_board_flush_compare_and_set(store: Store, clock: FakeClock) -> None:
    link_id = await make_link(store)
    vote_id = await make_vote(store, link_id, kind="board", add_per_vote=60, remove_per_vote=60)
    assert await store.votes.record_flush(vote_id, applied_net_seconds=120, expected_applied=0)
    assert not await store.votes.record_flush(vote_id, applied_net_seconds=180, expected_applied=0)
    vote = await store.votes.get(vote_id)
    assert vote is not None and vote.applied_net_seconds == 120 and vote.last_flush_at == clock.now
    assert vote.kind == "board" and vote.add_per_vote == 60


# ------------------------------------------------------------------------------------------ ballots


async def test_ballot_latest_choice_wins_and_tally(store: Store, clock: FakeClock) -> None:
    link_id = await make_link(store)
    vote_id = await make_vote(store, link_id)
    assert await store.ballots.tally(vote_id) == Tally(0, 0)
    await store.ballots.set(vote_id, 1, 1)
    await store.ballots.set(vote_id, 2, 1)
    await store.ballots.set(vote_id, 3, -1)
    clock.advance(5)
    await store.ballots.set(vote_id, 1, -1)  # changes their mind
    tally = await store.ballots.tally(vote_id)
    assert tally == Tally(1, 2) and tally.votes_for == 1 and tally.votes_against == 2 and tally.total == 3
    assert tally.net == -1
    ballots = await store.ballots.list(vote_id)
    assert [(b.voter_id, b.choice) for b in ballots] == [(1, -1), (2, 1), (3, -1)]
    assert ballots[0].updated_at == clock.now
    assert await store.ballots.remove(vote_id, 3)
    assert not await store.ballots.remove(vote_id, 3)
    assert await store.ballots.tally(vote_id) == Tally(1, 1)
    for bad in (0, 7, -2, True):
        with pytest.raises(ValueError):
            await store.ballots.set(vote_id, 4, bad)


async def test_ballot_replace_all(store: Store) -> None:
    link_id = await make_link(store)
    vote_id = await make_vote(store, link_id)
    await store.ballots.set(vote_id, 1, 1)
    await store.ballots.set(vote_id, 2, 1)
    await store.ballots.replace_all(vote_id, {2: -1, 3: 1})
    assert {b.voter_id: b.choice for b in await store.ballots.list(vote_id)} == {2: -1, 3: 1}
    await store.ballots.replace_all(vote_id, {})
    assert await store.ballots.list(vote_id) == []


async def test_ballot_apply_many_last_event_wins_and_skips_missing_votes(store: Store) -> None:
    link_id = await make_link(store)
    v1 = await make_vote(store, link_id)
    v2 = await make_vote(store, link_id)
    await store.ballots.set(v2, 9, 1)
    touched = await store.ballots.apply_many(
        [
            BallotChange(v1, 1, 1),
            BallotChange(v1, 1, -1),
            BallotChange(v1, 2, 1),
            BallotChange(v1, 2, None),
            BallotChange(v1, 3, None),  # removing a ballot that never existed is fine
            (v2, 9, None),
            (v2, 10, 1),
            (999_999, 1, 1),  # the vote is gone (e.g. its link was deleted)
        ]
    )
    assert touched == {v1, v2}
    assert {b.voter_id: b.choice for b in await store.ballots.list(v1)} == {1: -1}
    assert {b.voter_id: b.choice for b in await store.ballots.list(v2)} == {10: 1}
    assert await store.ballots.tally_many([v1, v2, 424242]) == {v1: Tally(0, 1), v2: Tally(1, 0), 424242: Tally(0, 0)}
    assert await store.ballots.apply_many([]) == set()


async def test_ballot_apply_many_matches_a_simple_model(store: Store) -> None:
    link_id = await make_link(store)
    votes = [await make_vote(store, link_id) for _ in range(3)]
    rng = random.Random(1234)
    model: dict[tuple[int, int], int] = {}
    for _round in range(20):
        batch = []
        for _ in range(rng.randint(0, 200)):
            change = BallotChange(rng.choice(votes), rng.randint(1, 15), rng.choice([1, -1, None]))
            batch.append(change)
            if change.choice is None:
                model.pop((change.vote_id, change.voter_id), None)
            else:
                model[(change.vote_id, change.voter_id)] = change.choice
        await store.ballots.apply_many(batch)
        for vote_id in votes:
            got = {b.voter_id: b.choice for b in await store.ballots.list(vote_id)}
            want = {voter: c for (vid, voter), c in model.items() if vid == vote_id}
            assert got == want
            assert await store.ballots.tally(vote_id) == Tally(
                sum(1 for c in want.values() if c == 1),
                sum(1 for c in want.values() if c == -1),
            )


async def test_ballot_apply_many_stores_a_large_batch(store: Store) -> None:
    # Speed is measured in bench/, not here; this checks a large batch lands whole.
    link_id = await make_link(store)
    votes = [await make_vote(store, link_id) for _ in range(10)]
    changes = [BallotChange(votes[i % 10], i, 1 if i % 3 else -1) for i in range(20_000)]
    await store.ballots.apply_many(changes)
    tallies = await store.ballots.tally_many(votes)
    assert sum(t.total for t in tallies.values()) == 20_000
    assert sum(t.votes_against for t in tallies.values()) == len([i for i in range(20_000) if i % 3 == 0])


# ------------------------------------------------------------------------------------------ outbox


async def test_outbox_enqueue_is_idempotent(store: Store) -> None:
    link_id = await make_link(store)
    first = await store.outbox.enqueue(
        link_id=link_id, lock_id=LOCK_A, guild_id=1, source="direct", actor_id=20, action_json='{"a":1}',
        idempotency_key="i-1"
    )
    again = await store.outbox.enqueue(
        link_id=link_id, lock_id=LOCK_A, guild_id=1, source="direct", actor_id=20, action_json='{"a":1}',
        idempotency_key="i-1"
    )
    assert first == again
    assert len(await store.outbox.list_by_status("pending")) == 1
    entry = await store.outbox.get(first)
    assert entry is not None and entry.status == "pending" and entry.attempts == 0 and entry.actor_id == 20
    assert (await store.outbox.get_by_key("i-1")) == entry
    with pytest.raises(ValueError):
        await store.outbox.enqueue(
        link_id=link_id, lock_id=LOCK_A, guild_id=1, source="x", action_json="{}", idempotency_key="i-2")


async def test_outbox_transitions_are_compare_and_set(store: Store, clock: FakeClock) -> None:
    link_id = await make_link(store)
    entry_id = await store.outbox.enqueue(
        link_id=link_id, lock_id=LOCK_A, guild_id=1, source="vote", source_id=5, action_json="{}",
        idempotency_key="vote:5"
    )
    claims = await asyncio.gather(*(store.outbox.claim(entry_id) for _ in range(5)))
    won = [c for c in claims if c is not None]
    assert len(won) == 1 and won[0].id == entry_id and won[0].status == "sent" and won[0].attempts == 1
    clock.advance(3)
    assert await store.outbox.transition(
        entry_id, "sent", "uncertain", error_code="timeout", error_message="read timed out"
    )
    assert not await store.outbox.transition(entry_id, "sent", "done")
    entry = await store.outbox.get(entry_id)
    assert entry is not None
    assert (entry.status, entry.attempts, entry.error_code) == ("uncertain", 1, "timeout")
    assert entry.updated_at == entry.created_at + 3
    assert await store.outbox.transition(entry_id, ("uncertain", "failed"), "done", error_code=None)
    entry = await store.outbox.get(entry_id)
    assert entry is not None and entry.status == "done" and entry.error_code is None
    with pytest.raises(ValueError):
        await store.outbox.transition(entry_id, "done", "pending", status="x")
    with pytest.raises(ValueError):
        await store.outbox.transition(entry_id, "done", "exploded")


async def test_outbox_list_by_status(store: Store) -> None:
    a = await make_link(store, owner_id=10)
    b = await make_link(store, owner_id=11)
    ids = [
        await store.outbox.enqueue(
        link_id=link, lock_id=LOCK_A, guild_id=1, source="direct", action_json="{}", idempotency_key=k)
        for link, k in ((a, "1"), (b, "2"), (a, "3"))
    ]
    await store.outbox.claim(ids[0])
    assert [e.id for e in await store.outbox.list_by_status("pending")] == ids[1:]
    assert [e.id for e in await store.outbox.list_by_status(["pending", "sent"], link_id=a)] == [ids[0], ids[2]]
    assert [e.id for e in await store.outbox.list_by_status("pending", limit=1)] == [ids[1]]


# ------------------------------------------------------------------------------------------ audit


async def test_audit_lists_newest_first(store: Store, clock: FakeClock) -> None:
    link_id = await make_link(store)
    for i in range(5):
        await store.audit.add(
            guild_id=1, link_id=link_id, actor_id=20, source="direct", action_summary=f"add {i}m", outcome="applied"
        )
        clock.advance(1)
    await store.audit.add(guild_id=1, source="admin", action_summary="settings", outcome="applied")
    await store.audit.add(guild_id=2, source="admin", action_summary="elsewhere", outcome="applied")
    entries = await store.audit.list_for_link(link_id, limit=3)
    assert [e.action_summary for e in entries] == ["add 4m", "add 3m", "add 2m"]
    assert entries[0].actor_id == 20 and entries[0].outcome == "applied"
    assert [e.action_summary for e in await store.audit.list_for_guild(1, limit=2)] == ["settings", "add 4m"]
    assert len(await store.audit.list_for_guild(1, limit=100)) == 6


# ------------------------------------------------------------------------------------------ transactions


async def test_transaction_is_all_or_nothing(store: Store) -> None:
    link_id = await make_link(store)
    with pytest.raises(RuntimeError):
        async with store.transaction():
            await make_vote(store, link_id)
            await store.audit.add(guild_id=1, source="vote", action_summary="opened", outcome="applied")
            raise RuntimeError("boom")
    assert await store.votes.list_open() == []
    assert await store.audit.list_for_guild(1) == []


async def test_nested_transaction_rolls_back_only_inner_part(store: Store) -> None:
    link_id = await make_link(store)
    async with store.transaction():
        await store.trust.add(link_id, "member", 1)
        with pytest.raises(RuntimeError):
            async with store.transaction():
                await store.trust.add(link_id, "member", 2)
                raise RuntimeError("inner")
        await store.trust.add(link_id, "member", 3)
    assert [t.target_id for t in await store.trust.list(link_id)] == [1, 3]


async def test_concurrent_transactions_do_not_interleave(store: Store) -> None:
    link_id = await make_link(store)

    async def worker(n: int) -> None:
        async with store.transaction():
            await store.trust.add(link_id, "member", n)
            await asyncio.sleep(0)
            if n % 2:
                raise RuntimeError("odd")
            await store.trust.add(link_id, "role", n)

    results = await asyncio.gather(*(worker(n) for n in range(10)), return_exceptions=True)
    assert sum(isinstance(r, RuntimeError) for r in results) == 5
    trust = await store.trust.list(link_id)
    assert sorted(t.target_id for t in trust if t.kind == "member") == [0, 2, 4, 6, 8]
    assert sorted(t.target_id for t in trust if t.kind == "role") == [0, 2, 4, 6, 8]


async def test_audit_actions_leave_out_refusals_however_many(store: Store, clock: FakeClock) -> None:
    link_id = await make_link(store)
    await store.audit.add(guild_id=1, link_id=link_id, source="direct", action_summary="+1h", outcome="applied")
    for _ in range(30):
        clock.advance(1)
        await store.audit.add(guild_id=1, link_id=link_id, source="vote", action_summary="+9h", outcome="refused")
    clock.advance(1)
    await store.audit.add(guild_id=1, link_id=link_id, source="direct", action_summary="freeze", outcome="failed")
    assert [e.action_summary for e in await store.audit.list_actions_for_link(link_id, limit=5)] == ["freeze", "+1h"]
    assert len(await store.audit.list_refusals_for_link(link_id)) == 30


async def test_an_entry_of_a_paused_lock_is_never_claimed(store: Store) -> None:
    """The claim reads the lock's pause in the same statement: a safeword said in another process (its row in
    lock_pauses) is seen by every process's next claim, and lifting it lets the entry go again."""
    link_id = await make_link(store)
    entry_id = await store.outbox.enqueue(
        link_id=link_id, lock_id=LOCK_A, guild_id=1, source="direct", action_json="{}", idempotency_key="d-1")
    assert await store.consent.pause(LOCK_A, 10, 1)
    assert await store.outbox.claim(entry_id) is None
    entry = await store.outbox.get(entry_id)
    assert entry is not None and entry.status == "pending" and entry.attempts == 0
    assert await store.consent.unpause(LOCK_A, 10)
    claimed = await store.outbox.claim(entry_id)
    assert claimed is not None and claimed.status == "sent"


async def test_the_shared_lock_budget_never_lets_more_than_the_limit_through_in_a_minute(store: Store,
                                                                                          clock: FakeClock) -> None:
    """Two processes reserving on one lock share one budget: 20 slots a minute in all, each slot free again a
    minute after it was taken; another lock has its own."""
    for _ in range(10):
        assert await store.outbox.reserve_budget(LOCK_A, 2, per_minute=20) == 0.0
        clock.advance(1)
    wait = await store.outbox.reserve_budget(LOCK_A, 2, per_minute=20)
    assert wait == pytest.approx(50.0)  # the first two slots, taken 10 s ago, are free again a minute after
    assert await store.outbox.reserve_budget(LOCK_B, 2, per_minute=20) == 0.0
    clock.advance(50)
    assert await store.outbox.reserve_budget(LOCK_A, 2, per_minute=20) == 0.0
    assert await store.outbox.reserve_budget(LOCK_A, 2, per_minute=20) > 0
    # an action takes its own slot only when its log will have one too
    clock.advance(61)
    for _ in range(19):
        assert await store.outbox.reserve_budget(LOCK_A, 1, per_minute=20) == 0.0
    assert await store.outbox.reserve_budget(LOCK_A, 1, need=2, per_minute=20) > 0
    assert await store.outbox.reserve_budget(LOCK_A, 1, per_minute=20) == 0.0  # the log's slot
