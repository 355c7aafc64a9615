"""Scenario 1 (ballot ingestion) and scenario 5 (storage ceiling).

1. MESSAGE_REACTION_ADD / REMOVE payloads for ``votes`` open votes across ``guilds`` guilds go into discord.py's
   real parsers of the real bot (``bot.app.create_bot``, every cog, SQLite on a temp file) running in simcord.
   The clock stops when every listener has run and the last buffered ballot is committed; the database is then
   checked against the ballots the script must leave. Baseline: a bare ``commands.Bot`` with no-op raw
   reaction listeners, same guilds, same cached messages, same events.
5. The same final ballot rows inserted with plain ``sqlite3`` in one transaction (same schema, same pragmas).
"""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import simcord

from bench.common import bench_settings, quiet_logs, scratch_dir
from bench.world import (
    BareBot,
    Script,
    World,
    decision_action,
    expected_ballots,
    feed,
    listeners_done,
    lock_id,
    make_guilds,
    make_script,
    post_messages,
    vote_layout,
    voter_id,
)
from bot.app import create_bot
from bot.store.db import load_migrations
from sandbox.chastify import StandIn


@dataclass(frozen=True)
class IngestSize:
    guilds: int = 100
    votes: int = 1000
    events: int = 100_000
    voters_per_guild: int = 2000
    links_per_guild: int = 5


QUICK = IngestSize(guilds=10, votes=50, events=5000, voters_per_guild=300, links_per_guild=2)
TINY = IngestSize(guilds=3, votes=6, events=300, voters_per_guild=50, links_per_guild=1)


@dataclass
class IngestRun:
    seconds: float
    events: int
    ballot_changes: int
    rows: int
    mismatches: int = 0  # ballots in the database that the script does not leave (or lacks)

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds

    @property
    def changes_per_s(self) -> float:
        return self.ballot_changes / self.seconds


def script_for(size: IngestSize, seed: int = 6) -> tuple[Script, list[int], list[str]]:
    guild_of, kinds = vote_layout(size.guilds, size.votes)
    script = make_script(kinds, guild_of, events=size.events, voters_per_guild=size.voters_per_guild, seed=seed)
    return script, guild_of, kinds


async def _timed_feed(bot: Any, payloads: list[tuple[str, dict[str, Any]]]) -> float:
    gc.collect()
    t0 = time.perf_counter()
    await feed(bot, payloads)
    await listeners_done()
    return t0


# ============================================================================================ the real bot


async def _open_votes(bot: Any, world: World, size: IngestSize, guild_of: list[int], kinds: list[str],
                      window: int = 3600) -> Any:
    """Links recorded as /chastify link records them; votes proposed through ``VoteService.propose`` (the
    path /vote takes: admission, policy gate), their messages posted by the bot with its two reactions."""
    from bot.members import Member, Place
    from cogs.votes import VotesCog, vote_embed

    cog = next(c for c in bot.cogs.values() if isinstance(c, VotesCog))
    service = cog.service
    store, vault = bot.core.store, bot.core.vault
    links: list[list[Any]] = []
    for g, gid in enumerate(world.guild_ids):
        row = []
        for k in range(size.links_per_guild):
            row.append(await store.links.upsert(
                guild_id=gid, owner_id=voter_id(g, 1_000_000 + k), token_ciphertext=vault.encrypt(f"dev-bench-{g}-{k}"),
                lock_id=lock_id(), role="wearer", title=f"Lock {g}.{k}"))
        links.append(row)
    embeds, vote_ids = [], []
    for i, (g, kind) in enumerate(zip(guild_of, kinds, strict=True)):
        link = links[g][(i // size.guilds) % size.links_per_guild]
        place = Place(guild_id=world.guild_ids[g], guild_name=f"Lock Club {g}", channel_id=world.channel_ids[g],
                      channel_name="votes")
        proposer = Member(id=voter_id(g, 1_010_000 + i), name=f"proposer{i}", created_at=1.0)
        if kind == "decision":
            ov = await service.propose(place, proposer, link, decision_action(i), window=window,
                                       channel_id=world.channel_ids[g])
        else:
            ov = await service.propose_board(place, proposer, link, add_per_vote=600, remove_per_vote=300,
                                             window=window, channel_id=world.channel_ids[g])
        vote_ids.append(ov.id)
        snap = await service.snapshot(ov.id)
        assert snap is not None, ov.id  # just proposed, so it exists
        embeds.append(vote_embed(snap, bot))
    await post_messages(bot, world, guild_of, kinds, embeds)
    for vm, vote_id in zip(world.votes, vote_ids, strict=True):
        vm.vote_id = vote_id
        await service.attach(vote_id, vm.channel_id, vm.message_id)
    for vote_id in vote_ids:
        # steady state, as on a server where votes were proposed over time: every vote has been drawn once
        # since its message was attached, so the bot's read caches hold it
        await service.snapshot(vote_id)
    return service


async def real_once(size: IngestSize, script: Script, guild_of: list[int], kinds: list[str],
                    *, workdir: Path, chastify_url: str, strict: bool = True) -> IngestRun:
    bot = create_bot(bench_settings(workdir / "bot.db", chastify_url))
    env = simcord.Env(bot, strict_sync=False)
    await env.start()
    try:
        with env.time_context():
            world = make_guilds(env, size.guilds)
            await env.settle()
            service = await _open_votes(bot, world, size, guild_of, kinds)
            await env.settle(timeout=60)
            payloads = world.payloads(script)
            want = expected_ballots(script, [v.vote_id for v in world.votes], guild_of)
            t0 = await _timed_feed(bot, payloads)
            await service.flush_ballots()
            async with service.store.transaction():
                pass  # a barrier: every flush already queued on the database has committed
            seconds = time.perf_counter() - t0
            got = {(int(r[0]), int(r[1])): int(r[2]) for r in await service.store.db.fetchall(
                "SELECT vote_id, voter_id, choice FROM ballots")}
            wrong = len(set(want.items()) ^ set(got.items()))
            if wrong and strict:
                raise AssertionError(f"{wrong} ballots differ from what the script leaves")
            return IngestRun(seconds, len(payloads), script.ballot_changes, len(got), wrong)
    finally:
        await bot.close()  # closes the database thread too
        await env.shutdown()


# ============================================================================================ the baseline


async def bare_once(size: IngestSize, script: Script, guild_of: list[int], kinds: list[str]) -> IngestRun:
    bot = BareBot()
    env = simcord.Env(bot, strict_sync=False)
    await env.start()
    try:
        with env.time_context():
            world = make_guilds(env, size.guilds)
            await env.settle()
            await post_messages(bot, world, guild_of, kinds)
            await env.settle(timeout=60)
            payloads = world.payloads(script)
            bot.seen = 0
            t0 = await _timed_feed(bot, payloads)
            seconds = time.perf_counter() - t0
            assert bot.seen == len(payloads), (bot.seen, len(payloads))
            return IngestRun(seconds, len(payloads), script.ballot_changes, 0)
    finally:
        await bot.close()
        await env.shutdown()


# ============================================================================================ storage ceiling


def sqlite_ceiling(rows: list[tuple[int, int, int]], workdir: Path) -> float:
    """Rows per second: plain sqlite3, same schema and pragmas, one transaction, one executemany."""
    path = workdir / f"ceiling-{time.perf_counter_ns()}.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON"):
            conn.execute(f"PRAGMA {pragma}").fetchall()
        for m in load_migrations():
            conn.executescript(m.sql)
        vote_ids = sorted({r[0] for r in rows})
        conn.execute("BEGIN")
        conn.execute("INSERT INTO links (id, guild_id, owner_id, token_ciphertext, lock_id, role, state, created_at, "
                     "updated_at) VALUES (1, 1, 1, x'00', 'aaaaaaaaaaaaaaaaaaaaaaaa', 'wearer', 'active', 0, 0)")
        conn.executemany("INSERT INTO votes (id, guild_id, link_id, kind, proposer_id, channel_id, created_at, "
                         "deadline, quorum, majority) VALUES (?, 1, 1, 'decision', 1, 1, 0, 0, 3, 0.5)",
                         [(v,) for v in vote_ids])
        conn.execute("COMMIT")
        now = time.time()
        data = [(v, voter, c, now) for v, voter, c in rows]
        gc.collect()
        t0 = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO ballots (vote_id, voter_id, choice, updated_at) VALUES (?, ?, ?, ?)", data)
        conn.execute("COMMIT")
        seconds = time.perf_counter() - t0
        (count,) = conn.execute("SELECT COUNT(*) FROM ballots").fetchone()
        assert count == len(rows)
        return len(rows) / seconds
    finally:
        conn.close()


# ============================================================================================ scenario


def run(size: IngestSize = IngestSize(), runs: int = 3, log: Any = print) -> dict[str, Any]:
    """Alternate bare / real runs (so drift hits both), ``runs`` of each; the ceiling once per run."""
    script, guild_of, kinds = script_for(size)
    real: list[IngestRun] = []
    bare: list[IngestRun] = []
    ceiling: list[float] = []
    final_rows = [(v, voter, c) for (v, voter), c in
                  expected_ballots(script, list(range(1, size.votes + 1)), guild_of).items()]
    with quiet_logs(), scratch_dir("ingest") as root, StandIn() as chastify:
        for i in range(runs):
            order = ("bare", "real") if i % 2 == 0 else ("real", "bare")
            for which in order:
                if which == "bare":
                    r = asyncio.run(bare_once(size, script, guild_of, kinds))
                    bare.append(r)
                else:
                    work = root / f"real{i}"
                    work.mkdir()
                    r = asyncio.run(real_once(size, script, guild_of, kinds, workdir=work,
                                              chastify_url=chastify.base_url))
                    real.append(r)
                log(f"  ingest run {i + 1}/{runs} {which}: {r.events} events in {r.seconds:.3f} s "
                    f"({r.events_per_s:,.0f} events/s)")
            ceiling.append(sqlite_ceiling(final_rows, root))
            log(f"  storage ceiling run {i + 1}/{runs}: {ceiling[-1]:,.0f} rows/s")
    return {"size": size, "script": script, "real": real, "bare": bare, "ceiling": ceiling}
