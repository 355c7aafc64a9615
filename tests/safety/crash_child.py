"""A child process for the crash tests: ``python -m tests.safety.crash_child '<json>'``.

``{"mode": "act", "crash_at": STEP, ...}`` links a lock (if needed) and sends one direct action through the real
Core and Outbox, dying with ``os._exit(CRASHED)`` right after STEP. ``{"mode": "recover", ...}`` runs
``Outbox.recover()`` on the same database, as a restarted bot does, and prints what happened as JSON.

The crash points are put in place here by wrapping the production functions; the bot's code has no test hooks.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bot.outbox
from bot.actions import Action, ActionKind
from bot.chastify import ChastifyClient
from bot.chastify.client import DevApi
from bot.events import OwnerNotice
from bot.members import Member, Place
from bot.store import Store
from bot.store.models import Link
from bot.store.repos import OutboxRepo
from bot.vault import Vault
from bot.wiring import build_core
from tests.support.settings import make_settings

CRASHED = 70
STEPS = ("enqueued", "claimed", "request_returned", "marking_done", "marked_done", "log_written")


def die() -> None:
    sys.stdout.flush()
    os._exit(CRASHED)


def after(owner: Any, name: str, when: Callable[..., bool] = lambda *a, **k: True) -> None:
    """Wrap ``owner.name`` so the process dies right after it returns (when ``when(*args)`` holds)."""
    original = getattr(owner, name)

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = await original(*args, **kwargs)
        if when(*args, **kwargs):
            die()
        return result

    setattr(owner, name, wrapper)


def install(step: str) -> None:
    if step == "enqueued":
        after(OutboxRepo, "enqueue")
    elif step == "claimed":
        after(OutboxRepo, "claim")
    elif step == "request_returned":
        after(bot.outbox, "perform")
    elif step == "marking_done":
        # inside the transaction that marks the entry done and writes its audit line: it never commits
        after(OutboxRepo, "transition", lambda _self, _id, _from, to, **kw: to == "done")
    elif step == "marked_done":
        original = OutboxRepo.set_log_state

        async def before_log(self: OutboxRepo, entry_id: int, from_state: str, to_state: str) -> bool:
            if to_state == "sending":
                die()
            return await original(self, entry_id, from_state, to_state)

        OutboxRepo.set_log_state = before_log  # type: ignore[method-assign]
    elif step == "log_written":
        after(DevApi, "custom_log")
    else:
        raise SystemExit(f"unknown step {step}")


async def main(cfg: dict[str, Any]) -> dict[str, Any]:
    settings = make_settings(Path(cfg["db"]).parent, cfg["base_url"],
                             storage={"database_path": cfg["db"], "key": cfg["key"]})
    store = await Store.open(cfg["db"])
    client = ChastifyClient(cfg["base_url"], max_retries=2)
    core = build_core(settings, store=store, vault=Vault(cfg["key"]), client=client, limiter=client.limiter,
                      clock=store.clock)
    told: list[str] = []

    async def tell_owner(link: Link, message: str) -> None:
        told.append(message)

    async def on_notice(notice: OwnerNotice) -> None:
        await tell_owner(notice.link, notice.message)

    core.events.subscribe(OwnerNotice, on_notice)
    place, owner = Place(1, "Crash Club", 2, "general"), Member(3, "owner")
    out: dict[str, Any] = {}
    try:
        if cfg["mode"] == "act":
            link = await store.links.get(1, 3)
            if link is None:
                link = (await core.link(place, owner, cfg["token"])).link
            install(cfg["crash_at"])
            action = Action(kind=ActionKind.ADD_TIME, seconds=1800, reason="crash test")
            out["result"] = (await core.act(place, owner, link, action, reason="crash test")).status
        else:
            uncertain, resent = await core.outbox.recover()
            out.update(uncertain=uncertain, resent=resent)
        out["told"] = told
        return out
    finally:
        await client.aclose()
        await store.close()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(json.loads(sys.argv[1])))))
