"""Scenario 6: memory per 1,000 guilds.

A fresh process starts the real bot (every cog, SQLite) in simcord and the gateway hands it ``guilds`` guilds,
each with ``channels`` text channels and ``members`` members (what discord.py caches of a guild without the
members intent). The figure is the growth of the process's resident set (VmRSS) from the bot ready with no guild
to the bot ready with them, scaled to 1,000 guilds. simcord keeps its own model of those guilds in the same
process, so the growth is an upper bound; the baseline is a bare ``commands.Bot`` (default intents) in the same
harness, and the difference between the two is the bot's own cost per guild.
"""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import bench_settings, scratch_dir


@dataclass(frozen=True)
class GuildsSize:
    guilds: int = 2_000
    channels: int = 3
    members: int = 20


TINY = GuildsSize(guilds=20, channels=1, members=2)


def vm_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def _child(db: str, guilds: int, channels: int, members: int) -> dict[str, Any]:
    import discord
    import simcord
    from discord.ext import commands

    from bot.app import create_bot

    bot: Any = (commands.Bot(command_prefix="!", intents=discord.Intents.default()) if db == "bare"
                else create_bot(bench_settings(Path(db))))
    env = simcord.Env(bot, strict_sync=False)
    await env.start()
    try:
        await env.settle(timeout=120)
        gc.collect()
        before = vm_rss_kib()
        for g in range(guilds):
            guild = env.create_guild(name=f"Lock Club {g}")
            for c in range(channels):
                guild.create_text_channel(f"channel-{c}")
            for m in range(members):
                guild.add_member(env.create_user(f"g{g}m{m}"))
        await env.settle(timeout=600)
        gc.collect()
        after = vm_rss_kib()
        cached = len(bot.guilds)
    finally:
        await bot.close()
        await env.shutdown()
    return {"before_kib": before, "after_kib": after, "guilds": cached}


def _spawn(db: Path | str, size: GuildsSize, guilds: int) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "bench.guilds", str(db), str(guilds), str(size.channels),
                          str(size.members)], capture_output=True, text=True, timeout=900, check=False)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"guilds child failed ({out.returncode}):\n{out.stdout}\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    if result["guilds"] != guilds:
        raise AssertionError(f"the bot holds {result['guilds']} guilds, not {guilds}")
    return result


def run(size: GuildsSize = GuildsSize(), runs: int = 3, log: Any = print) -> dict[str, Any]:
    real: list[float] = []
    bare: list[float] = []
    with scratch_dir("guilds") as root:
        for i in range(runs):
            for which in (("bare", "real") if i % 2 == 0 else ("real", "bare")):
                r = _spawn("bare" if which == "bare" else root / f"run{i}.db", size, size.guilds)
                grown = (r["after_kib"] - r["before_kib"]) / 1024 * 1000 / size.guilds
                (bare if which == "bare" else real).append(grown)
                log(f"  guilds run {i + 1}/{runs} {which}: {size.guilds:,} guilds grew RSS by "
                    f"{(r['after_kib'] - r['before_kib']) / 1024:.1f} MiB -> {grown:.1f} MiB per 1,000 guilds")
    return {"size": size, "real": real, "bare": bare}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(_child(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))))
