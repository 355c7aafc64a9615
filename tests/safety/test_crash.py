"""Crash at every step of sending, at process level.

A child process sends one action and dies hard (``os._exit``) right after one step; a NEW process on the same
database and the same stand-in (running here, in the test process, reached over loopback) runs
``Outbox.recover()``. Nothing is lost and nothing is doubled: an entry that was only recorded is sent once; an
entry that may have reached Chastify becomes ``uncertain``, is shown to the owner with the lock's current state
and is never sent again; a custom log is written at most once.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from bot.durations import parse_duration
from tests.safety.crash_child import CRASHED

ROOT = Path(__file__).resolve().parents[2]

# step -> (entry status right after the crash, entry status after recovery, log state after recovery,
#          applied on the lock, custom logs on the lock, audit outcomes)
EXPECTED: dict[str, tuple[str, str, str | None, int, int, list[str]]] = {
    "enqueued": ("pending", "done", "written", 1, 1, ["applied"]),
    "claimed": ("sent", "uncertain", None, 0, 0, ["uncertain"]),
    "request_returned": ("sent", "uncertain", None, 1, 0, ["uncertain"]),
    "marking_done": ("sent", "uncertain", None, 1, 0, ["uncertain"]),
    "marked_done": ("done", "done", "written", 1, 1, ["applied"]),
    "log_written": ("done", "done", "unknown", 1, 1, ["applied"]),
}


def child(cfg: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "CHASTIFY_BOT_CONFIG")}
    return subprocess.run([sys.executable, "-m", "tests.safety.crash_child", json.dumps(cfg)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


@pytest.mark.parametrize("step", list(EXPECTED))
def test_crash_then_recover_in_a_new_process(step, chastify, tmp_path):
    token = f"dev-token-crash-{step}"
    lock = chastify.add_lock(token, remaining=3600, title="Crash lock")
    cfg = {"db": str(tmp_path / "bot.db"), "key": Fernet.generate_key().decode(), "base_url": chastify.base_url,
           "token": token}
    at_crash, after_recovery, log_state, applied, logs, audit = EXPECTED[step]

    crashed = child({**cfg, "mode": "act", "crash_at": step})
    assert crashed.returncode == CRASHED, crashed.stderr
    assert rows(cfg["db"], "SELECT status FROM outbox") == [(at_crash,)]

    recovered = child({**cfg, "mode": "recover"})
    assert recovered.returncode == 0, recovered.stderr
    report = json.loads(recovered.stdout.strip().splitlines()[-1])
    again = child({**cfg, "mode": "recover"})  # a second restart changes nothing
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout.strip().splitlines()[-1]) == {"uncertain": 0, "resent": 0, "told": []}

    assert rows(cfg["db"], "SELECT status, log_state FROM outbox") == [(after_recovery, log_state)]
    assert [h["requested"] for h in lock.history if h["type"] == "time_added"] == [1800] * applied
    assert len(lock.custom_logs()) == logs
    assert [r[0] for r in rows(cfg["db"], "SELECT outcome FROM audit WHERE action_summary = '+30m' ORDER BY id")] \
        == audit
    if after_recovery == "uncertain":
        assert report["uncertain"] == 1
        [message] = report["told"]
        assert "+30m" in message and "may or may not have been applied" in message
        assert "not sent again" in message
        # the owner sees the lock's current state as Chastify reports it now: with the 30 minutes or without
        shown = re.search(r"The lock now shows: ([0-9hms ]+) remaining", message)
        assert shown is not None, message
        assert (parse_duration(shown.group(1)) > 3600) == bool(applied)
    else:
        assert report["told"] == []
        assert report["resent"] == (1 if step == "enqueued" else 0)
