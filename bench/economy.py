"""Scenario 3: API economy over a simulated hour.

The real bot (every cog) in simcord, the Chastify stand-in in-process on the same virtual clock, so an hour of
votes runs in well under a minute of wall time. ``locks`` locks across ``guilds`` servers; every 5 minutes each
lock gets a decision vote (10-minute window; add time, freeze, pillory or remove time in turn); ``boards`` time
boards run the whole hour (applied every ``board_flush_seconds``); and at minute 30 one "hot" lock gets
``hot_votes`` more decision votes that all close in the same second, asking for twice as many Chastify calls as
a minute allows. ``ballots`` reactions from members (70 % ✅ / 🔼) arrive spread over the hour, fed into
discord.py's real parser.

Figures: the most lock actions (actions and custom logs) Chastify saw for one lock in any rolling 60 s, the
429s it answered, and Chastify calls per ballot.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import simcord

from bench.common import bench_settings, quiet_logs, scratch_dir
from bench.world import decision_action, emoji_payload, link_locks, make_guilds, member_payload, post_messages, voter_id
from bot.app import create_bot
from sandbox.chastify import StandIn


@dataclass(frozen=True)
class EconomySize:
    guilds: int = 10
    locks: int = 50
    boards: int = 20
    ballots: int = 10_000
    minutes: int = 60
    voters_per_guild: int = 400
    hot_votes: int = 12


TINY = EconomySize(guilds=2, locks=4, boards=2, ballots=300, minutes=12, voters_per_guild=60, hot_votes=4)


@dataclass
class EconomyRun:
    ballots: int
    calls: int  # every request the bot made to Chastify
    lock_actions: int  # actions + custom logs (what the 20/min limit counts)
    reads: int
    max_per_lock_minute: int
    rate_limited: int
    votes: int
    outcomes: dict[str, int] = field(default_factory=dict)
    wall_seconds: float = 0.0


def max_in_window(times: list[float], window: float = 60.0) -> int:
    """The most of ``times`` inside any half-open window ``[t, t + window)``."""
    ordered = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(ordered):
        while t - ordered[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


class _Clock:
    def __init__(self) -> None:
        self.env: Any = None

    def __call__(self) -> float:
        import time

        return self.env.now().timestamp() if self.env is not None else time.time()


async def once(size: EconomySize, *, workdir: Path, seed: int = 3) -> EconomyRun:
    import time

    clock = _Clock()
    with StandIn(clock=clock) as chastify:
        settings = bench_settings(
            workdir / "bot.db", chastify.base_url, quorum=3, instant_pass=0, max_open_per_lock=100,
            proposal_cooldown_seconds=0, board_flush_seconds=300, tally_debounce_seconds=60.0,
            limits={"max_add_per_action": 3600, "max_add_per_day": 30 * 86400, "max_freeze": 14400,
                    "max_pillory": 3600})
        bot = create_bot(settings)
        # simcord waits in real time for any bot timer due within its settle timeout: a minute of 50 locks closing
        # votes needs more than the default 5 s, and the tally debounce (60 s) stays beyond the horizon
        env = simcord.Env(bot, strict_sync=False, settle_timeout=30)
        await env.start()
        clock.env = env
        t0 = time.perf_counter()
        try:
            with env.time_context():
                run = await _hour(size, bot, env, chastify, random.Random(seed))
        finally:
            await bot.close()
            await env.shutdown()
        run.wall_seconds = time.perf_counter() - t0
        return run


async def _hour(size: EconomySize, bot: Any, env: Any, chastify: StandIn, rng: random.Random) -> EconomyRun:
    from bot.members import Member, Place
    from cogs.votes import VotesCog, vote_embed

    world = make_guilds(env, size.guilds)
    await env.settle()
    service = next(c for c in bot.cogs.values() if isinstance(c, VotesCog)).service
    store = bot.core.store
    links, _ = await link_locks(
        bot, world, size.locks, lambda token: chastify.add_lock(token, remaining=30 * 86400).id, "economy")

    open_votes: list[int] = []  # indexes into world.votes
    voted: dict[int, set[int]] = {}
    counter = [0]

    async def propose(k: int, *, board: bool, window: int) -> None:
        g = k % size.guilds
        i = counter[0]
        counter[0] += 1
        place = Place(guild_id=world.guild_ids[g], guild_name=f"Lock Club {g}", channel_id=world.channel_ids[g],
                      channel_name="votes")
        proposer = Member(id=voter_id(g, 800_000 + i), name=f"proposer{i}", created_at=1.0)
        with env._bot_scope():  # the bot's own work, as /vote does: its timers run on virtual time
            if board:
                ov = await service.propose_board(place, proposer, links[k], add_per_vote=300, remove_per_vote=300,
                                                 window=window, channel_id=world.channel_ids[g])
            else:
                ov = await service.propose(place, proposer, links[k], decision_action(i), window=window,
                                           channel_id=world.channel_ids[g])
            snap = await service.snapshot(ov.id)
            assert snap is not None, ov.id  # just proposed, so it exists
            embed = vote_embed(snap, bot)
        before = len(world.votes)
        await post_messages(bot, world, [g], ["board" if board else "decision"], [embed])
        vm = world.votes[before]
        vm.index, vm.vote_id = before, ov.id
        await service.attach(ov.id, vm.channel_id, vm.message_id)
        open_votes.append(before)
        voted[before] = set()

    add = bot._connection.parsers["MESSAGE_REACTION_ADD"]

    def react(v: int, emoji_yes: bool) -> bool:
        vm = world.votes[v]
        pool = size.voters_per_guild
        for _ in range(8):
            voter = rng.randrange(pool)
            if voter not in voted[v]:
                break
        else:
            return False
        voted[v].add(voter)
        pair = ("✅", "❌") if vm.kind == "decision" else ("🔼", "🔽")
        uid = voter_id(vm.guild_index, voter)
        add({"user_id": str(uid), "channel_id": str(vm.channel_id), "message_id": str(vm.message_id),
             "emoji": emoji_payload(pair[0] if emoji_yes else pair[1]), "burst": False, "type": 0,
             "guild_id": str(vm.guild_id), "member": member_payload(uid)})
        return True

    ballots = 0
    per_minute = size.ballots / size.minutes
    owed = 0.0
    for minute in range(size.minutes):
        if minute == 0:
            for k in range(min(size.boards, size.locks)):
                await propose(k, board=True, window=size.minutes * 60)
        if minute % 5 == 0 and minute <= size.minutes - 10:
            for k in range(size.locks):
                await propose(k, board=False, window=600)
        if minute == size.minutes // 2:
            hot = list(range(len(world.votes), len(world.votes) + size.hot_votes))
            for _ in hot:
                await propose(0, board=False, window=300)  # all close in the same second
            for v in hot:  # enough ✅ to pass
                for _ in range(4):
                    ballots += react(v, True)
        await env.settle()
        open_ids = service.open.ids()
        live = [v for v in open_votes if world.votes[v].vote_id in open_ids]
        open_votes[:] = live
        owed += per_minute
        while owed >= 1 and live:
            ballots += react(rng.choice(live), rng.random() < 0.7)
            owed -= 1
        await env.settle()
        await env.advance_time(60)
    await env.advance_time(900)  # every vote closes and every queued action is sent
    await bot.core.outbox.drain()
    await env.settle()

    lock_times: dict[str, list[float]] = {}
    for r in chastify.requests:
        if r.kind == "action" and r.lock_id is not None:
            lock_times.setdefault(r.lock_id, []).append(r.at)
    outcomes: dict[str, int] = {}
    for row in await store.db.fetchall("SELECT status, COUNT(*) FROM votes GROUP BY status"):
        outcomes[str(row[0])] = int(row[1])
    return EconomyRun(
        ballots=ballots, calls=len(chastify.requests),
        lock_actions=sum(1 for r in chastify.requests if r.kind == "action"),
        reads=sum(1 for r in chastify.requests if r.kind == "read"),
        max_per_lock_minute=max((max_in_window(t) for t in lock_times.values()), default=0),
        rate_limited=chastify.rate_limited_count, votes=len(world.votes), outcomes=outcomes)


def run(size: EconomySize = EconomySize(), runs: int = 3, log: Any = print) -> dict[str, Any]:
    out: list[EconomyRun] = []
    with quiet_logs(), scratch_dir("economy") as root:
        for i in range(runs):
            work = root / f"run{i}"
            work.mkdir()
            r = asyncio.run(once(size, workdir=work, seed=3 + i))
            out.append(r)
            log(f"  economy run {i + 1}/{runs}: {r.ballots} ballots, {r.votes} votes, {r.calls} Chastify calls "
                f"({r.lock_actions} lock actions), most per lock per minute {r.max_per_lock_minute}, "
                f"429s {r.rate_limited}, {r.wall_seconds:.1f} s wall")
    return {"size": size, "runs": out}
