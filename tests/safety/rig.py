"""A core-level test rig: the real Core, VoteService (with the no-op Display), Store on a temp file and
ChastifyClient against the stand-in over loopback, all on ONE fake clock.

Every wait the bot makes (client backoff, the action limiter, outbox retries) goes through ``rig.sleep``, which
moves the shared clock forward instead of sleeping: the stand-in's rate-limit window rolls with it, so a run of
hundreds of actions takes seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.actions import Action
from bot.chastify import ActionLimiter, ChastifyClient, Timeouts
from bot.config import database_target
from bot.durations import format_duration, format_signed
from bot.events import OwnerNotice
from bot.members import Member, Place
from bot.services import Core, Presence
from bot.store import Store
from bot.store.models import AuditEntry, Link
from bot.vault import Vault
from bot.voting.service import VoteService
from bot.wiring import build_core
from sandbox.chastify import StandIn
from sandbox.chastify.server import RecordedRequest
from tests.support.clock import FakeClock
from tests.support.settings import make_settings
from tests.support.standin import CUSTOM_LOG, LOCK_ACTIONS


@dataclass
class Rig:
    clock: FakeClock
    chastify: StandIn
    core: Core
    votes: VoteService
    store: Store
    client: ChastifyClient
    told: list[tuple[int, str]] = field(default_factory=list)  # (link id, message) the owner was told
    closed: bool = False

    async def sleep(self, seconds: float) -> None:
        self.clock.advance(max(0.0, seconds))
        await asyncio.sleep(0)

    async def link(self, token: str, *, guild: int = 1, owner: int = 100, **lock: Any) -> tuple[Link, Any]:
        fake = self.chastify.add_lock(token, **lock)
        result = await self.core.link(Place(guild, f"Guild {guild}", 1, "general"),
                                      Member(owner, f"owner{owner}"), token)
        return result.link, fake

    async def fresh(self, link: Link) -> Link:
        got = await self.store.links.get_by_id(link.id)
        assert got is not None
        return got

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            await self.votes.aclose()
            await self.core.outbox.close()
            await self.client.aclose()
        finally:
            await self.store.close()


async def make_rig(tmp_path: Path, chastify: StandIn, clock: FakeClock, *, votes: dict[str, Any] | None = None,
                   limits: dict[str, Any] | None = None, max_retries: int = 3, presence: Presence | None = None,
                   outbox_sleep: Callable[[float], Awaitable[None]] | None = None,
                   timeouts: Timeouts = Timeouts(connect=5, read=10, total=10)) -> Rig:
    settings = make_settings(
        tmp_path, chastify,
        storage={"database_path": tmp_path / "bot.db"},
        chastify={"max_retries": max_retries},
        votes={"tally_debounce_seconds": 0, "proposal_cooldown_seconds": 0, "max_open_per_lock": 25,
               "instant_pass": 0, **(votes or {})},
        limits=limits or {},
    )
    store = await Store.open(database_target(settings), clock=clock)
    assert settings.storage.key is not None
    vault = Vault(settings.storage.key.get_secret_value())
    holder: list[Rig] = []

    async def sleep(seconds: float) -> None:
        await holder[0].sleep(seconds)

    limiter = ActionLimiter(per_minute=settings.chastify.actions_per_minute, clock=clock, sleep=sleep)
    client = ChastifyClient(chastify.base_url, timeouts=timeouts, limiter=limiter,
                            max_retries=max_retries, sleep=sleep, clock=clock, wall_clock=clock,
                            jitter=lambda: 0.5)
    core = build_core(settings, store=store, vault=vault, client=client, limiter=limiter, clock=clock,
                      presence=presence, sleep=outbox_sleep or sleep)
    rig = Rig(clock, chastify, core, VoteService(core), store, client)
    holder.append(rig)

    async def tell_owner(link: Link, message: str) -> None:
        rig.told.append((link.id, message))

    async def told(notice: OwnerNotice) -> None:
        await tell_owner(notice.link, notice.message)

    core.events.subscribe(OwnerNotice, told)
    return rig


# ---------------------------------------------------------------- reading what happened

def action_requests(chastify: StandIn, lock_id: str, *, logs: bool = False) -> list[RecordedRequest]:
    """Lock actions (or custom logs) the stand-in received for this lock that reached it with a verdict on the
    action itself: answered 2xx, 5xx or dropped. 429s and 4xx refusals are left out (they change nothing)."""
    paths = (CUSTOM_LOG,) if logs else LOCK_ACTIONS
    return [r for r in list(chastify.requests)
            if r.path in paths and r.lock_id_header == lock_id
            and (r.status == 0 or 200 <= r.status < 300 or r.status >= 500)]


def history_actions(fake: Any) -> list[dict[str, Any]]:
    return [e for e in fake.history if e["type"] != "custom"]


def summary_of_history(entry: dict[str, Any]) -> str:
    """How the audit log names the action that produced this lock-history entry."""
    kind = entry["type"]
    if kind == "time_added":
        return format_signed(entry["requested"])
    if kind == "time_removed":
        return format_signed(-entry["requested"])
    if kind == "frozen":
        return f"freeze {format_duration(entry['durationSeconds'])}"
    if kind == "pillory_started":
        return f"pillory {format_duration(entry['durationSeconds'])}"
    return kind


def summary_of_request(request: RecordedRequest) -> str:
    body = request.json or {}
    if request.path.endswith("/apply-time"):
        return format_signed(body["deltaSeconds"])
    if request.path.endswith("/lock/freeze"):
        return f"freeze {format_duration(body['durationSeconds'])}"
    if body.get("name") == "pillory":
        return f"pillory {format_duration(body['params']['durationSeconds'])}"
    return str(body.get("name"))


async def sent_audit(store: Store, link_id: int) -> list[AuditEntry]:
    """The link's audit lines for actions that went to Chastify (applied or uncertain), oldest first."""
    entries = await store.audit.list_for_link(link_id, limit=100_000)
    return sorted((e for e in entries if e.outcome in ("applied", "uncertain")), key=lambda e: e.id)


def add(seconds: int) -> Action:
    from bot.actions import ActionKind

    return Action(kind=ActionKind.ADD_TIME, seconds=seconds)
