"""Shared bench helpers: settings for a throwaway bot, statistics, machine description.

Nothing here is timed; the scenarios time themselves with ``time.perf_counter``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import platform
import sqlite3
import statistics
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from bot.config import Settings, load_settings

# A fixed key: bench databases are throwaway and the same key lets a subprocess reopen them.
BENCH_KEY = Fernet.generate_key().decode()


def bench_settings(db_path: Path, chastify_url: str = "http://127.0.0.1:9", *, key: str | None = None,
                   limits: dict[str, Any] | None = None, database_url: str | None = None, **votes: Any) -> Settings:
    """``database_url``: PostgreSQL instead of the SQLite file at ``db_path``."""
    for name in ("DISCORD_TOKEN", "CHASTIFY_BOT_CONFIG"):
        os.environ.pop(name, None)
    vote_settings = {"min_account_age_days": 7, "tally_debounce_seconds": 2.0, **votes}
    return load_settings(
        None,
        storage={"database_path": db_path, "key": key or BENCH_KEY},
        chastify={"base_url": chastify_url, "max_retries": 2},
        votes=vote_settings,
        database={"url": database_url},
        **({"limits": limits} if limits else {}),
    )


@contextlib.contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=f"bench-{prefix}-") as d:
        yield Path(d)


@contextlib.contextmanager
def quiet_logs() -> Iterator[None]:
    """The bot logs at INFO; a bench must not time a terminal."""
    loggers = [logging.getLogger(name) for name in ("", "bot", "cogs", "discord", "aiohttp", "sandbox", "simcord")]
    old = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, old, strict=True):
            logger.setLevel(level)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(p / 100.0 * len(ordered))))
    return float(ordered[rank - 1])


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) // 1024} MiB"
                break
    except OSError:
        pass
    import aiosqlite
    import discord

    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": mem,
        "os": platform.platform(),
        "python": platform.python_version(),
        "discord.py": discord.__version__,
        "sqlite": sqlite3.sqlite_version,
        "aiosqlite": getattr(aiosqlite, "__version__", "?"),
    }


def vm_hwm_kib() -> int:
    """Peak resident set size of this process (VmHWM), in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
