"""The action outbox: every approved action is recorded BEFORE it is sent, and sent at most once.

Status flow of an entry (``bot/store`` keeps it):

    pending --claim--> sent --ok--> done
                        |--Chastify refused (4xx) / token or lock gone--> failed
                        |--429 or not sent at all (connect error)--> pending (retried later, within the limit)
                        `--timeout / 5xx / dropped after sending--> uncertain (never retried; the owner is told)
    pending --safeword / unlink / lock ended--> cancelled

After a crash, ``recover()`` turns ``sent`` entries (the process died while the request may have been
on the wire) into ``uncertain`` and sends the ``pending`` ones. A done action writes one custom log on the
lock; the log is best effort and its failure never makes the action uncertain.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from bot.actions import Action, ActionKind
from bot.chastify import (
    ActionRejected,
    ChastifyClient,
    ChastifyError,
    ChastifyUnavailable,
    CustomLog,
    DevApi,
    InvalidParams,
    LockGone,
    OutcomeUnknown,
    RateLimited,
    Session,
    TokenError,
)
from bot.clock import Clock
from bot.durations import format_duration
from bot.store import Store
from bot.store.models import Link, OutboxEntry
from bot.vault import Vault, VaultError

log = logging.getLogger("bot.outbox")

MAX_SEND_ATTEMPTS = 5
RETRY_FALLBACK = 30.0

Status = Literal["pending", "done", "failed", "uncertain", "cancelled"]


class Payload(BaseModel):
    """What an outbox row carries: the action and the custom log to write once it is applied."""

    model_config = ConfigDict(frozen=True)

    action: Action
    log_title: str
    log_description: str | None = None


@dataclass(frozen=True)
class SendResult:
    entry_id: int
    status: Status
    message: str
    retry_after: float | None = None
    session: Session | None = None

    @property
    def applied(self) -> bool:
        return self.status == "done"


# Called with (link, result) whenever an entry reaches a final state, so the Discord side can update the
# vote message or tell the owner. Set by the application.
ResultHook = Callable[[Link, OutboxEntry, SendResult], Awaitable[None]]
LinkGoneHook = Callable[[Link, Literal["ended", "broken"], str], Awaitable[None]]


class Outbox:
    def __init__(self, store: Store, client: ChastifyClient, vault: Vault, clock: Clock) -> None:
        self.store = store
        self.client = client
        self.vault = vault
        self.clock = clock
        self.on_result: ResultHook | None = None
        self.on_link_gone: LinkGoneHook | None = None
        self._retry_tasks: dict[int, asyncio.Task[None]] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    # -- entry points -----------------------------------------------------------------------------
    async def submit(self, *, link: Link, source: Literal["direct", "vote", "board"], action: Action,
                     log_title: str, log_description: str | None, key: str, source_id: int | None = None,
                     actor_id: int | None = None, reason: str | None = None) -> SendResult:
        """Record the action (idempotent on ``key``), then send it once."""
        payload = Payload(action=action, log_title=log_title, log_description=log_description)
        entry_id = await self.store.outbox.enqueue(
            link_id=link.id, guild_id=link.guild_id, source=source, action_json=payload.model_dump_json(),
            idempotency_key=key, source_id=source_id, actor_id=actor_id, reason=reason)
        return await self.send(entry_id)

    async def send(self, entry_id: int) -> SendResult:
        # One sender per link at a time keeps a lock's actions in order.
        entry = await self.store.outbox.get(entry_id)
        if entry is None:
            raise KeyError(entry_id)
        lock = self._locks.setdefault(entry.link_id, asyncio.Lock())
        async with lock:
            return await self._send(entry_id)

    async def recover(self) -> tuple[int, int]:
        """After a restart: sent-but-unconfirmed entries become uncertain; pending ones are sent.
        Returns (uncertain, resent)."""
        uncertain = 0
        for entry in await self.store.outbox.list_by_status("sent"):
            if await self.store.outbox.transition(
                    entry.id, "sent", "uncertain", error_code="interrupted",
                    error_message="the bot stopped while this action was being sent"):
                uncertain += 1
                link = await self.store.links.get_by_id(entry.link_id)
                if link is not None:
                    await self._audit(link, entry, "uncertain", "the bot stopped while sending; not retried")
                    await self._finish(link, entry.id, SendResult(
                        entry.id, "uncertain", "The bot restarted while this action was being sent; it may or "
                        "may not have been applied. It was not sent again: check the lock."))
        pending = await self.store.outbox.list_by_status("pending")
        for entry in pending:
            await self.send(entry.id)
        return uncertain, len(pending)

    async def cancel_pending(self, link_id: int, why: str) -> int:
        """Cancel every entry of the link that was not sent yet (safeword, unlink, lock ended)."""
        count = 0
        for entry in await self.store.outbox.list_by_status("pending", link_id=link_id):
            if await self.store.outbox.transition(entry.id, "pending", "cancelled", error_message=why):
                count += 1
                task = self._retry_tasks.pop(entry.id, None)
                if task is not None:
                    task.cancel()
        return count

    async def added_last_24h(self, link_id: int) -> int:
        """Seconds of time added on this link in the last 24 h, counting anything that may have been applied
        (pending, sent, done, uncertain), so the owner's daily cap holds even with unknown outcomes."""
        since = self.clock() - 86400
        total = 0
        for entry in await self.store.outbox.list_since(link_id, since, ("pending", "sent", "done", "uncertain")):
            delta = Payload.model_validate_json(entry.action_json).action.time_delta
            total += max(0, delta)
        return total

    async def close(self) -> None:
        for task in self._retry_tasks.values():
            task.cancel()
        self._retry_tasks.clear()

    # -- the send itself --------------------------------------------------------------------------
    async def _send(self, entry_id: int) -> SendResult:
        if not await self.store.outbox.claim(entry_id):
            entry = await self.store.outbox.get(entry_id)
            assert entry is not None
            return SendResult(entry_id, _final(entry.status), f"already {entry.status}")
        entry = await self.store.outbox.get(entry_id)
        assert entry is not None
        link = await self.store.links.get_by_id(entry.link_id)
        payload = Payload.model_validate_json(entry.action_json)
        if link is None or link.state != "active":
            why = "the link was removed" if link is None else f"the link is {link.state}"
            await self.store.outbox.transition(entry_id, "sent", "cancelled", error_message=why)
            return SendResult(entry_id, "cancelled", f"Not sent: {why}.")
        try:
            api = self.client.dev(self.vault.decrypt(link.token_ciphertext), link.lock_id)
        except VaultError as err:
            await self.store.outbox.transition(entry_id, "sent", "failed", error_code="vault", error_message=str(err))
            return await self._finish(link, entry_id, SendResult(entry_id, "failed", str(err)))
        action = payload.action
        try:
            await perform(api, action)
        except RateLimited as err:
            return await self._requeue(link, entry, err.retry_after, "rate_limited",
                                       "Chastify is rate limiting this lock")
        except ChastifyUnavailable:
            return await self._requeue(link, entry, None, "unavailable", "Chastify could not be reached")
        except OutcomeUnknown as err:
            await self.store.outbox.transition(entry_id, "sent", "uncertain", error_code=err.code or "unknown",
                                               error_message=err.message)
            await self._audit(link, entry, "uncertain", err.message)
            session = await self._peek(api)
            state = f" The lock now shows {format_duration(session.lock_data.time_remaining_seconds or 0)} " \
                    "remaining." if session and session.lock_data.time_remaining_seconds is not None else ""
            return await self._finish(link, entry_id, SendResult(
                entry_id, "uncertain",
                f"Chastify did not confirm **{action.summary()}**: it may or may not have been applied, so it "
                f"was not sent again.{state} The owner can check the lock's history.", session=session))
        except TokenError as err:
            await self.store.outbox.transition(entry_id, "sent", "failed", error_code=err.code,
                                               error_message=err.message)
            await self._audit(link, entry, "failed", err.code or "token")
            await self._link_gone(link, "broken", "The owner's Chastify token was rejected "
                                  f"({err.code}). The owner must run `/chastify link` again.")
            return await self._finish(link, entry_id, SendResult(
                entry_id, "failed", "The owner's Chastify token no longer works; nothing was applied. "
                "The owner must run `/chastify link` again."))
        except LockGone as err:
            await self.store.outbox.transition(entry_id, "sent", "failed", error_code=err.code,
                                               error_message=err.message)
            await self._audit(link, entry, "failed", err.code or "lock gone")
            await self._link_gone(link, "ended", "This lock has ended on Chastify.")
            return await self._finish(link, entry_id, SendResult(
                entry_id, "failed", "This lock has ended on Chastify; nothing was applied."))
        except (ActionRejected, InvalidParams, ChastifyError) as err:
            message = getattr(err, "message", None) or str(err)
            code = getattr(err, "code", None) or type(err).__name__
            await self.store.outbox.transition(entry_id, "sent", "failed", error_code=code, error_message=message)
            await self._audit(link, entry, "failed", f"{code}: {message}")
            return await self._finish(link, entry_id, SendResult(
                entry_id, "failed", f"Chastify refused **{action.summary()}**: {message}"))
        await self.store.outbox.transition(entry_id, "sent", "done")
        logged = await self._write_log(api, payload)
        await self._audit(link, entry, "applied", None if logged else "applied; the lock log could not be written")
        log.info("action applied", extra={"guild": link.guild_id, "lock": link.lock_id, "outcome": "applied",
                                          "action": action.summary(), "source": entry.source})
        return await self._finish(link, entry_id, SendResult(entry_id, "done", f"Applied **{action.summary()}**."))

    async def _requeue(self, link: Link, entry: OutboxEntry, retry_after: float | None, code: str,
                       why: str) -> SendResult:
        attempts = entry.attempts
        if attempts >= MAX_SEND_ATTEMPTS:
            await self.store.outbox.transition(entry.id, "sent", "failed", error_code=code, error_message=why)
            await self._audit(link, entry, "failed", f"{why}; gave up after {attempts} attempts")
            return await self._finish(link, entry.id, SendResult(
                entry.id, "failed", f"{why}; gave up after {attempts} attempts. Nothing was applied."))
        await self.store.outbox.transition(entry.id, "sent", "pending", error_code=code, error_message=why)
        delay = max(1.0, retry_after if retry_after is not None else RETRY_FALLBACK * attempts)
        self._schedule_retry(entry.id, delay)
        return SendResult(entry.id, "pending", f"{why}; it is queued and will be sent in about "
                          f"{format_duration(int(delay))}.", retry_after=delay)

    def _schedule_retry(self, entry_id: int, delay: float) -> None:
        old = self._retry_tasks.pop(entry_id, None)
        if old is not None:
            old.cancel()

        async def later() -> None:
            await asyncio.sleep(delay)
            self._retry_tasks.pop(entry_id, None)
            await self.send(entry_id)

        self._retry_tasks[entry_id] = asyncio.create_task(later(), name=f"outbox-retry-{entry_id}")

    async def _write_log(self, api: DevApi, payload: Payload) -> bool:
        try:
            await api.custom_log(CustomLog(title=payload.log_title, description=payload.log_description,
                                           role="extension"))
        except (ChastifyError, ValueError) as err:
            log.warning("custom log not written: %s", type(err).__name__)
            return False
        return True

    async def _peek(self, api: DevApi) -> Session | None:
        try:
            return await api.session()
        except ChastifyError:
            return None

    async def _audit(self, link: Link, entry: OutboxEntry, outcome: str, detail: str | None) -> None:
        payload = Payload.model_validate_json(entry.action_json)
        await self.store.audit.add(guild_id=link.guild_id, link_id=link.id, actor_id=entry.actor_id,
                                   source=entry.source, action_summary=payload.action.summary(),
                                   outcome=outcome, detail=_detail(detail, entry))

    async def _link_gone(self, link: Link, state: Literal["ended", "broken"], message: str) -> None:
        if self.on_link_gone is not None:
            await self.on_link_gone(link, state, message)
        elif await self.store.links.set_state(link.id, state, expected="active"):
            await self.cancel_pending(link.id, message)

    async def _finish(self, link: Link, entry_id: int, result: SendResult) -> SendResult:
        if self.on_result is not None:
            entry = await self.store.outbox.get(entry_id)
            if entry is not None:
                try:
                    await self.on_result(link, entry, result)
                except Exception:
                    log.exception("result hook failed")
        return result


async def perform(api: DevApi, action: Action) -> Any:
    """Carry one action out on Chastify with the fewest calls: time through /lock/apply-time,
    freeze/unfreeze through /lock/*, everything else through /action."""
    if action.kind in (ActionKind.ADD_TIME, ActionKind.REMOVE_TIME):
        return await api.apply_time(action.time_delta)
    if action.kind is ActionKind.FREEZE:
        return await api.lock_freeze(action.seconds or 3600)
    if action.kind is ActionKind.UNFREEZE:
        return await api.lock_unfreeze()
    name, params = action.chastify_call()
    return await api.action(name, params)


def _final(status: str) -> Status:
    return "pending" if status in ("pending", "sent") else status  # type: ignore[return-value]


def _detail(detail: str | None, entry: OutboxEntry) -> str | None:
    parts = [p for p in (detail, f"reason: {entry.reason}" if entry.reason else None) if p]
    return "; ".join(parts) if parts else None


def payload_of(entry: OutboxEntry) -> Payload:
    return Payload.model_validate_json(entry.action_json)


def describe(entry: OutboxEntry) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(entry.action_json)
    return data
