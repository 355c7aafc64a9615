"""One bot process of a sharded bot, for the two-process test and bench: ``python -m sandbox.shard_process
'<json>'``.

The config names the shared PostgreSQL database, the Chastify stand-in, this process's shard (``shard_ids``
of ``shard_count``) and the Fernet key both processes share. The process builds the real core, outbox and vote
service (everything the bot has but Discord), then reads one JSON command per line on stdin and answers each
with one JSON line on stdout:

- ``{"op": "link", "guild": G, "owner": U, "token": T}``: link the lock in guild G with token T; ``{"link": id}``
- ``{"op": "vote", "guild": G, "link": id, "voters": [ids], "open": false}``: propose a +1m vote and cast a ✅
  for each voter (three of them pass it at once: instant pass); ``{"vote": id, "status": ..., "text": ...}``
- ``{"op": "burst", "guild": G, "owner": U, "link": id, "n": N}``: N direct +1m actions by the owner, at once;
  ``{"statuses": {...}}``
- ``{"op": "safeword", "guild": G, "owner": U}``: the owner's safeword; ``{"actions": n, "votes": n}``
- ``{"op": "open_votes"}``: the open votes this process runs (loaded at its start, or opened since)
- ``{"op": "state", "vote": id}``: the vote's status and this process's outbox entries by status
- ``{"op": "quit"}``

:class:`ShardProcess` starts one and drives it (the two-process test and the bench).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from bot.actions import Action, ActionKind
from bot.chastify import ChastifyClient
from bot.config import load_settings
from bot.errors import UserError
from bot.members import Member, Place
from bot.store import Store
from bot.vault import Vault
from bot.voting.service import VoteService
from bot.wiring import build_core


class ShardProcess:
    """One shard process, driven one JSON command at a time: ``shard("link", guild=..., ...)``."""

    def __init__(self, cfg: dict[str, Any], *, cwd: Path | None = None) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "CHASTIFY_BOT_CONFIG")}
        self.proc = subprocess.Popen([sys.executable, "-m", "sandbox.shard_process", json.dumps(cfg)], cwd=cwd,
                                     env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)

    def __call__(self, op: str, **args: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the shard process died: {self.proc.stderr.read() if self.proc.stderr else ''}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def stop(self) -> None:
        try:
            self("quit")
            self.proc.wait(timeout=30)
        except (RuntimeError, BrokenPipeError, ValueError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(timeout=10)


def place(guild: int) -> Place:
    return Place(guild, f"Server {guild}", guild + 1, "general")


async def run(cfg: dict[str, Any]) -> None:
    settings = load_settings(
        None, storage={"database_path": Path(cfg["folder"]) / "unused.db", "key": cfg["key"]},
        database={"url": cfg["db"]}, chastify={"base_url": cfg["base_url"], "max_retries": 1},
        discord={"shard_count": cfg["shard_count"], "shard_ids": cfg["shard_ids"]},
        votes={"quorum": 3, "instant_pass": 3, "proposal_cooldown_seconds": 0, "max_open_per_lock": 25,
               "tally_debounce_seconds": 0, "min_account_age_days": 0})
    store = await Store.open(cfg["db"])
    client = ChastifyClient(cfg["base_url"], max_retries=1)
    core = build_core(settings, store=store, vault=Vault(cfg["key"]), client=client, limiter=client.limiter,
                      clock=store.clock)
    votes = VoteService(core)
    await votes.load()
    await votes.start()
    messages = iter(range(cfg["shard_ids"][0] * 10**6 + 1, 10**9))
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while line := await reader.readline():
            cmd = json.loads(line)
            op = cmd["op"]
            if op == "quit":
                break
            out: dict[str, Any] = {}
            if op == "link":
                result = await core.link(place(cmd["guild"]), Member(cmd["owner"], f"owner{cmd['owner']}"),
                                         cmd["token"])
                out["link"] = result.link.id
            elif op == "vote":
                link = await store.links.get_by_id(cmd["link"])
                assert link is not None
                try:
                    ov = await votes.propose(place(cmd["guild"]), Member(5, "proposer"), link,
                                             Action(kind=ActionKind.ADD_TIME, seconds=60), window=600,
                                             channel_id=cmd["guild"] + 1)
                except UserError as err:
                    out["refused"] = str(err)
                else:
                    message_id = next(messages)
                    await votes.attach(ov.id, cmd["guild"] + 1, message_id)
                    for voter in cmd["voters"]:
                        await votes.reaction(message_id, Member(voter, f"voter{voter}"), "✅", True)
                    for _ in range(1000):  # the early close runs as a task of the service
                        if not votes.busy:
                            break
                        await asyncio.sleep(0.01)
                    vote = await store.votes.get(ov.id)
                    assert vote is not None
                    out.update(vote=ov.id, status=vote.status, text=vote.outcome_reason)
            elif op == "burst":
                link = await store.links.get_by_id(cmd["link"])
                assert link is not None
                owner = Member(cmd["owner"], f"owner{cmd['owner']}")
                results = await asyncio.gather(*(
                    core.act(place(cmd["guild"]), owner, link, Action(kind=ActionKind.ADD_TIME, seconds=60),
                             reason=f"burst {i}") for i in range(cmd["n"])), return_exceptions=True)
                out["statuses"] = dict(Counter(r.status if not isinstance(r, BaseException) else type(r).__name__
                                               for r in results))
            elif op == "safeword":
                said = await core.safeword(place(cmd["guild"]), Member(cmd["owner"], f"owner{cmd['owner']}"))
                out.update(actions=said.cancelled_actions, votes=len(said.cancelled_votes))
            elif op == "open_votes":  # what this process loaded and runs: only its own guilds' votes
                out["votes"] = sorted(votes.open.ids())
            elif op == "state":
                vote = await store.votes.get(cmd["vote"])
                out["status"] = vote.status if vote is not None else None
                out["text"] = vote.outcome_reason if vote is not None else None
                rows = await store.db.fetchall("SELECT status, COUNT(*) FROM outbox WHERE guild_id = ? "
                                               "GROUP BY status", (cmd["guild"],))
                out["outbox"] = {r[0]: int(r[1]) for r in rows}
            print(json.dumps(out), flush=True)
    finally:
        await votes.aclose()
        await core.outbox.close()
        await core.aclose()
        await client.aclose()
        await store.close()


if __name__ == "__main__":
    asyncio.run(run(json.loads(sys.argv[1])))
