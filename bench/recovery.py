"""Scenario 4: recovery.

A database with ``votes`` open votes (a tenth of them boards), ``ballots`` ballots and ``links`` linked locks
is built with plain ``sqlite3`` after the bot's own migrations. Then a fresh process starts the real bot on it
in simcord: ``create_bot`` -> ``setup_hook`` (database, migrations check, every token checked against the key,
every cog, every open vote loaded with its deadline) -> the gateway's READY -> ``VoteService.start`` (deadlines
acted on from then). The figure is the time from just before ``create_bot`` until ``start`` returns with every
deadline scheduled, and the process's peak RSS (VmHWM) at that moment. The child then exits at once: reading
each vote message's reactions back (the catch-up) runs after readiness, in the background, and is not timed.

Baseline: a bare ``commands.Bot`` in a fresh process, from before it is built until ``on_ready``.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import BENCH_KEY, scratch_dir

SIM_EPOCH = 1767225600.0  # simcord's virtual clock starts at 2026-01-01T00:00:00Z


@dataclass(frozen=True)
class RecoverySize:
    votes: int = 10_000
    ballots: int = 1_000_000
    links: int = 1_000
    guilds: int = 100


TINY = RecoverySize(votes=200, ballots=5_000, links=20, guilds=4)


def build_db(path: Path, size: RecoverySize, key: str, seed: int = 4) -> None:
    from cryptography.fernet import Fernet

    from bot.store import Store

    async def migrate() -> None:
        store = await Store.open(path)
        await store.close()

    asyncio.run(migrate())
    rng = random.Random(seed)
    fernet = Fernet(key.encode())
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL").fetchall()
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO links (id, guild_id, owner_id, token_ciphertext, lock_id, role, title, state, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, 'wearer', ?, 'active', ?, ?)",
            [(i + 1, 1000 + i % size.guilds, 5000 + i, fernet.encrypt(f"dev-bench-{i}".encode()),
              f"{rng.getrandbits(96):024x}", f"Lock {i}", SIM_EPOCH, SIM_EPOCH) for i in range(size.links)])
        action = json.dumps({"kind": "add_time", "seconds": 600, "reason": "bench"})
        rows = []
        for v in range(size.votes):
            board = v % 10 == 9
            rows.append((v + 1, 1000 + v % size.guilds, 1 + v % size.links, "board" if board else "decision",
                         None if board else action, 7000 + v, 2000 + v % size.guilds, 10**17 + v,
                         SIM_EPOCH - 60, SIM_EPOCH + 3600 + 60 * v, 3, 0.5, 0,
                         600 if board else None, 300 if board else None))
        conn.executemany(
            "INSERT INTO votes (id, guild_id, link_id, kind, action_json, proposer_id, channel_id, message_id, "
            "created_at, deadline, quorum, majority, instant_pass, add_per_vote, remove_per_vote) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        per_vote = size.ballots // size.votes
        conn.executemany(
            "INSERT INTO ballots (vote_id, voter_id, choice, updated_at) VALUES (?, ?, ?, ?)",
            ((v + 1, 10**12 + b, 1 if (v + b) % 3 else -1, SIM_EPOCH) for v in range(size.votes)
             for b in range(per_vote)))
        conn.execute("COMMIT")
    finally:
        conn.close()


# ============================================================================================ the children


def _child_real(db: str) -> None:
    import simcord

    from bench.common import bench_settings, quiet_logs, vm_hwm_kib
    from bot.app import create_bot
    from bot.voting.service import VoteService

    real_start = VoteService.start

    async def timed_start(self: VoteService) -> None:
        await real_start(self)
        ready = time.perf_counter() - t0
        deadlines = self.deadlines.scheduled("deadline")
        print(json.dumps({"ready_s": ready, "rss_kib": vm_hwm_kib(), "open": len(self.open),
                          "deadlines": len(deadlines), "timer": self.deadlines.armed}), flush=True)
        os._exit(0)  # the background catch-up is not part of the figure

    VoteService.start = timed_start  # type: ignore[method-assign]  # instrumented on purpose: times start()

    async def main() -> None:
        env = simcord.Env(bot, strict_sync=False)
        await env.start()
        raise SystemExit("the bot never started its vote service")

    with quiet_logs():
        settings = bench_settings(Path(db), key=BENCH_KEY_FROM_ENV())
        t0 = time.perf_counter()
        bot = create_bot(settings)
        asyncio.run(main())


def _child_bare() -> None:
    import simcord

    from bench.common import quiet_logs, vm_hwm_kib
    from bench.world import BareBot

    class Ready(BareBot):
        async def on_ready(self) -> None:
            print(json.dumps({"ready_s": time.perf_counter() - t0, "rss_kib": vm_hwm_kib()}), flush=True)
            os._exit(0)

    async def main() -> None:
        env = simcord.Env(bot, strict_sync=False)
        await env.start()
        raise SystemExit("the bare bot never got READY")

    with quiet_logs():
        t0 = time.perf_counter()
        bot = Ready()
        asyncio.run(main())


def BENCH_KEY_FROM_ENV() -> str:
    return os.environ["BENCH_RECOVERY_KEY"]


def _spawn(args: list[str], key: str) -> dict[str, Any]:
    env = {**os.environ, "BENCH_RECOVERY_KEY": key}
    out = subprocess.run([sys.executable, "-m", "bench.recovery", *args], capture_output=True, text=True,
                         env=env, timeout=600, check=False)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"recovery child {args} failed ({out.returncode}):\n{out.stdout}\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def run(size: RecoverySize = RecoverySize(), runs: int = 3, log: Any = print) -> dict[str, Any]:
    real: list[dict[str, Any]] = []
    bare: list[dict[str, Any]] = []
    with scratch_dir("recovery") as root:
        db = root / "bot.db"
        t = time.perf_counter()
        build_db(db, size, BENCH_KEY)
        log(f"  recovery: built {size.votes:,} open votes and {size.ballots:,} ballots in "
            f"{time.perf_counter() - t:.1f} s ({db.stat().st_size / 2**20:.0f} MiB)")
        for i in range(runs):
            for which in (("bare", "real") if i % 2 == 0 else ("real", "bare")):
                if which == "bare":
                    r = _spawn(["--child-bare"], BENCH_KEY)
                    bare.append(r)
                else:
                    r = _spawn(["--child-real", str(db)], BENCH_KEY)
                    if r["deadlines"] != size.votes or r["open"] != size.votes or not r["timer"]:
                        raise AssertionError(f"not every deadline was scheduled: {r}")
                    real.append(r)
                log(f"  recovery run {i + 1}/{runs} {which}: ready in {r['ready_s']:.3f} s, "
                    f"peak RSS {r['rss_kib'] / 1024:.1f} MiB")
    return {"size": size, "real": real, "bare": bare}


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child-real"]:
        _child_real(sys.argv[2])
    elif sys.argv[1:2] == ["--child-bare"]:
        _child_bare()
    else:
        raise SystemExit("usage: python -m bench.recovery --child-real DB | --child-bare (run by bench.recovery.run)")
