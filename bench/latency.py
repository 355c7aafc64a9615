"""Scenario 2: decision latency.

The real bot (every cog; SQLite on a temp file, and PostgreSQL on a local server, runs alternated) runs in
simcord with ``open_votes`` votes open across ``locks``
locks on the Chastify stand-in (real loopback HTTP). ``samples`` of those votes are decided one at a time:

- instant pass: the deciding ✅ (the ``instant_pass``-th) enters discord.py's real parser at t0;
- deadline: virtual time is moved to the vote's deadline; t0 is the moment the deadline timer hands the vote to
  ``VoteService.close``.

The figure is t0 -> the stand-in receiving the action request (``time.perf_counter`` on both sides, one
process). Each decided vote is on its own lock and the lock's budget is far from spent, so nothing waits for
Chastify's rate limit. Samples are taken one at a time on an otherwise idle bot (the previous sample's custom log
written, no tally redraw pending), so each figure is the decision path alone.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
import simcord

from bench.common import bench_settings, percentile, quiet_logs, scratch_dir
from bench.remote import RemoteStandIn
from bench.world import World, emoji_payload, link_locks, make_guilds, member_payload, post_messages, voter_id
from bot.actions import Action, ActionKind
from bot.app import create_bot
from sandbox.postgres import fresh_database, shared_postgres

ACTION_PATH = "/api/apps/v1/lock/apply-time"
LOG_PATH = "/api/apps/v1/logs/custom"


@dataclass(frozen=True)
class LatencySize:
    guilds: int = 20
    locks: int = 200
    open_votes: int = 1000
    samples: int = 100  # per way of deciding, per run
    instant_pass: int = 3


TINY = LatencySize(guilds=2, locks=6, open_votes=12, samples=3)


@dataclass
class LatencyRun:
    instant_ms: list[float]
    deadline_ms: list[float]


def _reaction(world: World, vote_index: int, guild_index: int, voter: int, emoji: str) -> dict[str, Any]:
    vm = world.votes[vote_index]
    uid = voter_id(guild_index, voter)
    return {"user_id": str(uid), "channel_id": str(vm.channel_id), "message_id": str(vm.message_id),
            "emoji": emoji_payload(emoji), "burst": False, "type": 0, "guild_id": str(vm.guild_id),
            "member": member_payload(uid)}


def _stamp(chastify: RemoteStandIn, lock_id: str, start: int) -> float:
    """When the stand-in received the lock's action (among the requests after the first ``start``); its custom
    log must have arrived too."""
    seen = [r for r in chastify.seen(start) if r.lock_id == lock_id]
    action = [r for r in seen if r.path == ACTION_PATH and r.status == 200]
    logs = [r for r in seen if r.path == LOG_PATH and 200 <= r.status < 300]
    if len(action) != 1 or len(logs) != 1:
        raise AssertionError(f"lock {lock_id}: expected one action and one custom log, got "
                             f"{[(r.path, r.status) for r in seen]}")
    return action[0].received_perf


async def _stamped(env: Any, service: Any, chastify: RemoteStandIn, lock_id: str, start: int) -> float:
    """:func:`_stamp` once the decision's action and log have reached the stand-in. On PostgreSQL the bot waits on
    a socket, which simcord's settle cannot see, so the bot may still be working when it settles: poll (10 s at
    most, then the assertion says what arrived)."""
    give_up = time.monotonic() + 10
    while True:
        await _quiet(env, service)
        try:
            return _stamp(chastify, lock_id, start)
        except AssertionError:
            if time.monotonic() > give_up:
                raise
        await asyncio.sleep(0.001)


async def _counted(env: Any, service: Any, vote_id: int, ballots: int) -> None:
    """The vote's earlier ballots are all counted (and the bot idle) before the deciding one's t0."""
    give_up = time.monotonic() + 10
    while True:
        await _quiet(env, service)
        ov = service.open.get(vote_id)
        if ov is not None and ov.voters is not None and ov.tally.votes_for == ballots:
            return
        if time.monotonic() > give_up:
            raise AssertionError(f"vote {vote_id}: {ballots} ballots were never counted")
        await asyncio.sleep(0.001)


async def _quiet(env: Any, service: Any) -> None:
    """Nothing of the bot's is still running: no vote closing (its action and custom log sent), no tally being
    redrawn. Polled on the event loop only, so nothing blocks the bot while a sample runs."""
    await env.settle(timeout=30)
    while service.busy:  # noqa: ASYNC110  (the bot's own tasks, no event to wait on)
        await asyncio.sleep(0.001)
    await env.settle(timeout=30)


async def once(size: LatencySize, *, workdir: Path, chastify: RemoteStandIn,
               database_url: str | None = None) -> LatencyRun:
    settings = bench_settings(workdir / "bot.db", chastify.base_url, database_url=database_url,
                              quorum=size.instant_pass,
                              instant_pass=size.instant_pass, max_open_per_lock=1000, proposal_cooldown_seconds=0,
                              window_seconds=7 * 86400, tally_debounce_seconds=0.0)
    bot = create_bot(settings)
    env = simcord.Env(bot, strict_sync=False)
    await env.start()
    try:
        with env.time_context():
            return await _run(size, bot, env, chastify)
    finally:
        await bot.close()
        await env.shutdown()


async def _run(size: LatencySize, bot: Any, env: Any, chastify: RemoteStandIn) -> LatencyRun:
    from cogs.votes import VotesCog

    world = make_guilds(env, size.guilds)
    await env.settle()
    service = next(c for c in bot.cogs.values() if isinstance(c, VotesCog)).service
    store = bot.core.store
    links, fakes = await link_locks(
        bot, world, size.locks, lambda token: chastify.add_lock(token, remaining=30 * 86400), "latency")
    # guilds of the deadline samples close only at their deadline
    deadline_guilds = set(range(size.guilds // 2, size.guilds)) if size.guilds > 1 else set()
    for g in deadline_guilds:
        await store.settings.update(world.guild_ids[g], instant_pass=0)
    # the votes: the first `locks` are the samples (one per lock), the rest only keep 1,000 votes open
    guild_of: list[int] = []
    kinds: list[str] = []
    embeds: list[discord.Embed] = []
    vote_ids: list[int] = []
    deadlines: list[float] = []
    # proposed as the bot's own work (as /vote does), so the deadline timer it starts runs on virtual time
    with env._bot_scope():
        await _propose_all(size, world, service, links, bot, guild_of, kinds, embeds, vote_ids, deadlines)
    await post_messages(bot, world, guild_of, kinds, embeds)
    for vm, vote_id in zip(world.votes, vote_ids, strict=True):
        vm.vote_id = vote_id
        await service.attach(vote_id, vm.channel_id, vm.message_id)
    await env.settle(timeout=120)

    # t0 of a deadline: the moment the timer hands the vote to close()
    started: dict[int, float] = {}
    real_close = service.close

    async def timed_close(vote_id: int, why: Any = "deadline") -> Any:
        started.setdefault(vote_id, time.perf_counter())
        return await real_close(vote_id, why)

    service.close = timed_close  # type: ignore[method-assign]  # instrumented on purpose: times t0
    parsers = bot._connection.parsers
    add = parsers["MESSAGE_REACTION_ADD"]
    instant, deadline = [], []
    samples = [i for i in range(min(size.locks, size.open_votes))]
    instant_samples = [i for i in samples if guild_of[i] not in deadline_guilds][: size.samples]
    deadline_samples = sorted((i for i in samples if guild_of[i] in deadline_guilds),
                              key=lambda i: deadlines[i])[: size.samples]
    for i in instant_samples:
        g = guild_of[i]
        for voter in range(size.instant_pass - 1):
            add(_reaction(world, i, g, voter, "✅"))
        await _counted(env, service, vote_ids[i], size.instant_pass - 1)
        start = chastify.count()
        t0 = time.perf_counter()
        add(_reaction(world, i, g, size.instant_pass - 1, "✅"))
        instant.append((await _stamped(env, service, chastify, fakes[i % size.locks], start) - t0) * 1000)
    for i in deadline_samples:
        g = guild_of[i]
        for voter in range(size.instant_pass):
            add(_reaction(world, i, g, voter, "✅"))
    await _quiet(env, service)
    for i in deadline_samples:
        start = chastify.count()
        now = env.now().timestamp()
        await env.advance_time(max(0.0, deadlines[i] - now) + 0.5)  # just past it
        stamp = await _stamped(env, service, chastify, fakes[i % size.locks], start)
        deadline.append((stamp - started[vote_ids[i]]) * 1000)
    return LatencyRun(instant, deadline)


async def _propose_all(size: LatencySize, world: World, service: Any, links: list[Any], bot: Any,
                       guild_of: list[int], kinds: list[str], embeds: list[discord.Embed], vote_ids: list[int],
                       deadlines: list[float]) -> None:
    from bot.members import Member, Place
    from cogs.votes import vote_embed

    for i in range(size.open_votes):
        k = i % size.locks
        g = k % size.guilds
        sample = i < size.locks
        window = 3600 + 600 * i if sample else 6 * 86400  # sample deadlines far apart
        place = Place(guild_id=world.guild_ids[g], guild_name=f"Lock Club {g}", channel_id=world.channel_ids[g],
                      channel_name="votes")
        proposer = Member(id=voter_id(g, 800_000 + i), name=f"proposer{i}", created_at=1.0)
        ov = await service.propose(place, proposer, links[k], Action(kind=ActionKind.ADD_TIME, seconds=60),
                                   window=window, channel_id=world.channel_ids[g])
        guild_of.append(g)
        kinds.append("decision")
        vote_ids.append(ov.id)
        deadlines.append(ov.deadline)
        embeds.append(vote_embed(await service.snapshot(ov.id), bot))


STORES = ("sqlite", "postgres")


def run(size: LatencySize = LatencySize(), runs: int = 3, log: Any = print) -> dict[str, Any]:
    """``runs`` runs on each store, alternated; returns ``{"size", "runs": SQLite's, "postgres": PostgreSQL's}``."""
    out: dict[str, list[LatencyRun]] = {store: [] for store in STORES}
    with quiet_logs(), scratch_dir("latency") as root:
        for i in range(runs):
            for store in STORES:
                with RemoteStandIn() as chastify:
                    work = root / f"{store}{i}"
                    work.mkdir()
                    url = fresh_database(shared_postgres()) if store == "postgres" else None
                    r = asyncio.run(once(size, workdir=work, chastify=chastify, database_url=url))
                out[store].append(r)
                log(f"  latency run {i + 1}/{runs} ({store}): instant pass p50 "
                    f"{percentile(r.instant_ms, 50):.2f} ms p99 {percentile(r.instant_ms, 99):.2f} ms; deadline "
                    f"p50 {percentile(r.deadline_ms, 50):.2f} ms p99 {percentile(r.deadline_ms, 99):.2f} ms")
    return {"size": size, "runs": out["sqlite"], "postgres": out["postgres"]}
