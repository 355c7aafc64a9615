"""Scenario 7: one lock's Chastify budget across two bot processes.

Two bot processes (``sandbox/shard_process.py``: the real core and outbox, shards 0 and 1 of 2) share one
PostgreSQL; one Chastify lock is linked in a guild of each (the wearer's token in one, the keyholder's in the
other, so Chastify's own per-key limit would let each process send 20 a minute). Each process fires ``actions``
direct actions at once; every action that cannot go now waits in its process's queue. The figure is the most
lock actions (actions and their custom logs, from both tokens) the stand-in received in any 60 s until every
action was sent, and how many 429s it answered. Real time: the queue drains one minute at a time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import BENCH_KEY, scratch_dir
from bench.economy import max_in_window
from bench.remote import RemoteStandIn
from sandbox.postgres import fresh_database, shared_postgres
from sandbox.shard_process import ShardProcess

GUILDS = (1, 1 << 22)  # on shard 0 and on shard 1 of 2
WEARER_TOKEN, KEYHOLDER_TOKEN = "dev-token-bench-wearer", "dev-token-bench-keyholder"  # the stand-in's


@dataclass(frozen=True)
class ShardsSize:
    actions: int = 8  # per process: 16 actions and 16 logs in all, so the queue drains over a second minute


TINY = ShardsSize(actions=2)


def once(size: ShardsSize, folder: Path) -> dict[str, Any]:
    with RemoteStandIn() as chastify:
        lock_id = chastify.add_lock(WEARER_TOKEN, remaining=30 * 86400, title="Bench lock")
        chastify.share(lock_id, KEYHOLDER_TOKEN)
        db = fresh_database(shared_postgres())
        processes = []
        try:
            for shard in (0, 1):
                work = folder / f"shard{shard}"
                work.mkdir(parents=True)
                processes.append(ShardProcess({"folder": str(work), "db": db, "key": BENCH_KEY,
                                           "base_url": chastify.base_url, "shard_count": 2, "shard_ids": [shard]}))
            links = [p("link", guild=g, owner=100 + i, token=t)["link"]
                     for i, (p, g, t) in enumerate(zip(processes, GUILDS, (WEARER_TOKEN, KEYHOLDER_TOKEN),
                                                       strict=True))]
            t0 = time.monotonic()
            for i, (p, g) in enumerate(zip(processes, GUILDS, strict=True)):
                p("burst", guild=g, owner=100 + i, link=links[i], n=size.actions)
            while time.monotonic() - t0 < 300:
                left = sum(p("state", guild=g, vote=0)["outbox"].get("pending", 0)
                           for p, g in zip(processes, GUILDS, strict=True))
                if left == 0:
                    break
                time.sleep(1)
            else:
                raise AssertionError("the queued actions were not all sent within 5 minutes")
            drained = time.monotonic() - t0
            time.sleep(2)  # the last custom logs
            seen = [r for r in chastify.seen() if r.lock_id == lock_id and r.kind == "action"]
            return {"most_per_60s": max_in_window([r.at for r in seen]), "lock_actions": len(seen),
                    "rate_limited": chastify.rate_limited_count(), "drained_s": drained}
        finally:
            for p in processes:
                p.stop()


def run(size: ShardsSize = ShardsSize(), runs: int = 1, log: Any = print) -> dict[str, Any]:
    """One run whatever ``runs`` says: a run takes real minutes (the queue drains one minute at a time)."""
    with scratch_dir("shards") as root:
        r = once(size, root)
    log(f"  shards: {r['lock_actions']} lock actions from two processes, at most {r['most_per_60s']} in any 60 s, "
        f"{r['rate_limited']} 429s, queue drained in {r['drained_s']:.0f} s")
    return {"size": size, "runs": [r]}
