"""Beyond one machine: two bot processes (shards 0 and 1 of 2) on one PostgreSQL, the same Chastify lock linked
in a guild of each (the wearer's token in one, the keyholder's in the other), against the Chastify stand-in over
real HTTP. Each process is ``sandbox/shard_process.py``: the real core, outbox and vote service, no Discord.

What must hold across them: the lock's safeword said in one process stops the other's queued actions and its
open vote; together they never exceed Chastify's 20 lock actions in any 60 s (its actions and its custom logs);
and votes close in both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from sandbox.chastify import StandIn
from sandbox.shard_process import ShardProcess
from tests.support.postgres import fresh_database

ROOT = Path(__file__).resolve().parents[2]
WEARER_TOKEN = "dev-token-shard-wearer"  # the stand-in's tokens, not secrets
KEYHOLDER_TOKEN = "dev-token-shard-keyholder"
GUILD_0 = 1  # (1 >> 22) % 2 == 0: shard 0
GUILD_1 = 1 << 22  # shard 1
WEARER, KEYHOLDER = 100, 200


def lock_actions(chastify: StandIn, lock_id: str) -> list[Any]:
    """Every rate-limited lock action that reached the stand-in for this lock (actions, custom logs), from either
    token."""
    return [r for r in list(chastify.requests) if r.kind == "action" and r.lock_id == lock_id]


@pytest.fixture
def shards(pg_server: Any, chastify: StandIn, tmp_path: Path):
    db = fresh_database(pg_server)
    key = Fernet.generate_key().decode()
    made: list[ShardProcess] = []

    def start(shard: int) -> ShardProcess:
        folder = tmp_path / f"process{len(made)}-shard{shard}"
        folder.mkdir()
        made.append(ShardProcess({"folder": str(folder), "db": db, "key": key, "base_url": chastify.base_url,
                                  "shard_count": 2, "shard_ids": [shard]}, cwd=ROOT))
        return made[-1]

    yield start
    for shard in made:
        shard.stop()


def test_two_processes_share_one_safeword_and_one_budget_and_both_close_votes(shards, chastify):
    lock = chastify.add_lock(WEARER_TOKEN, title="Shared lock", remaining=86400)
    chastify.share(lock, KEYHOLDER_TOKEN, role="keyholder")
    zero, one = shards(0), shards(1)
    link_0 = zero("link", guild=GUILD_0, owner=WEARER, token=WEARER_TOKEN)["link"]
    link_1 = one("link", guild=GUILD_1, owner=KEYHOLDER, token=KEYHOLDER_TOKEN)["link"]

    # a vote closes in each process (three ✅ pass it at once) and applies
    for shard, guild, link in ((zero, GUILD_0, link_0), (one, GUILD_1, link_1)):
        closed = shard("vote", guild=guild, link=link, voters=[11, 12, 13])
        assert (closed["status"], closed["text"]) == ("passed", "Passed (instant pass at 3 for, 0 against): applied.")

    # both processes act on the lock at once, far more than Chastify allows a minute
    burst_0 = zero("burst", guild=GUILD_0, owner=WEARER, link=link_0, n=12)["statuses"]
    burst_1 = one("burst", guild=GUILD_1, owner=KEYHOLDER, link=link_1, n=12)["statuses"]
    sent = lock_actions(chastify, lock.id)
    assert len(sent) <= 20, f"{len(sent)} lock actions reached Chastify within the minute"
    assert chastify.rate_limited_count == 0
    assert burst_0.get("done", 0) + burst_1.get("done", 0) == (20 - 4) // 2  # 2 votes + 8 actions, each with its log
    assert burst_1.get("pending", 0) > 0  # the rest waits in the queue of the process that recorded it

    # process 1 has an open vote; the wearer says the safeword in process 0
    opened = one("vote", guild=GUILD_1, link=link_1, voters=[21])
    assert opened["status"] == "open"
    # a guild's votes run only in the process that owns its shard: a second process of each shard starting now
    # loads the open vote only when it owns guild 1
    assert shards(0)("open_votes")["votes"] == [] and shards(1)("open_votes")["votes"] == [opened["vote"]]
    said = zero("safeword", guild=GUILD_0, owner=WEARER)
    assert said["votes"] == 1 and said["actions"] == burst_0.get("pending", 0) + burst_1.get("pending", 0)
    # process 1's queued actions are cancelled, and its vote can no longer pass or apply anything
    state = one("state", guild=GUILD_1, vote=opened["vote"])
    assert state["status"] == "cancelled" and state["outbox"].get("pending", 0) == 0
    before = len(lock_actions(chastify, lock.id))
    late = one("vote", guild=GUILD_1, link=link_1, voters=[31, 32, 33])
    assert "paused" in late["refused"]
    again = one("burst", guild=GUILD_1, owner=KEYHOLDER, link=link_1, n=1)["statuses"]
    assert "done" not in again
    assert len(lock_actions(chastify, lock.id)) == before
