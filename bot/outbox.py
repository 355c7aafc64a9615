"""The action outbox: every approved action is recorded BEFORE it is sent, and sent at most once.

Status flow of an entry (``bot/store`` keeps it):

    (admission: the lock's consent, under a per-lock lock) --refused--> nothing recorded
    pending --(lock's consent asked again)--refused--> cancelled
    pending --claim--> sent --ok--> done (and its audit line, in one transaction)
                        |--Chastify refused (4xx) / token or lock gone--> failed
                        |--paused right before it left (the guard)--> cancelled
                        |--429 or not sent at all (connect error)--> pending (retried later, within the limit)
                        `--timeout / 5xx / dropped after sending--> uncertain (never retried; the owner is told)
    pending --safeword / unlink / lock ended--> cancelled

An entry is claimed (``sent``) only when its request goes out now: the budget wait, a 429's Retry-After and a
connection retry all happen with the entry back in ``pending``, where a safeword cancels it. Right before each
send attempt the lock's consent is asked again (pause, link, limits, 24 h budget), and the client asks the
in-memory pause synchronously right before the request is handed to httpx (``Consent.guard``).

A done entry then writes one custom log on the lock, with its own small state (``log_state``):
pending --> sending --> written | failed | unknown. The log is best effort: its failure never makes the action
uncertain, and a log whose request may have reached Chastify is never written again.

After a crash, ``recover()`` turns ``sent`` entries (the process died while the request may have been on the
wire) into ``uncertain`` and tells the owner with the lock's current state; writes the logs still ``pending``;
marks logs caught ``sending`` as ``unknown``; and sends the ``pending`` entries.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Literal

from bot.actions import Action, Payload, perform
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
    Withdrawn,
    limiter_key,
)
from bot.clock import Clock
from bot.consent import Consent
from bot.durations import format_duration
from bot.events import ActionFinished, Events, LinkGone
from bot.outcomes import SendResult, Status
from bot.store import Store
from bot.store.models import Link, OutboxEntry
from bot.vault import Vault, VaultError

log = logging.getLogger("bot.outbox")

MAX_SEND_ATTEMPTS = 8
RETRY_CAP = 60.0  # seconds: a send that could not leave is tried again after 2, 4, 8 ... at most this

Source = Literal["direct", "vote", "board"]
Sleep = Callable[[float], Awaitable[None]]


class Outbox:
    """Records and sends lock actions. ``consent`` judges each one when it is recorded and again right before
    each send attempt, under one lock per Chastify lock, so two links of the same lock (two servers) can never
    both fit into what is left of the owner's daily limit. It tells what became of each action, and that a link's
    token or lock is gone, through ``events`` (:class:`ActionFinished`, :class:`LinkGone`)."""

    def __init__(self, store: Store, client: ChastifyClient, vault: Vault, clock: Clock, consent: Consent,
                 events: Events, *, sleep: Sleep = asyncio.sleep,
                 owns_guild: Callable[[int], bool] = lambda _guild_id: True) -> None:
        """``owns_guild``: whether this process owns a guild's shard (``bot.shards``); :meth:`recover` finishes
        only the entries of guilds it owns, so a crashed process's entries are reconciled once, by their guild's
        next owner."""
        self.owns_guild = owns_guild
        self.store = store
        self.client = client
        self.vault = vault
        self.clock = clock
        self.consent = consent
        self.events = events
        self.sleep = sleep  # waits before a retry (tests pass a fake clock's sleep)
        self._retry_tasks: dict[int, asyncio.Task[None]] = {}
        self._locks: dict[str, asyncio.Lock] = {}  # per Chastify lock: one sender at a time, in order

    # -- entry points -----------------------------------------------------------------------------
    async def submit(self, *, link: Link, source: Source, action: Action,
                     log_title: str, log_description: str | None, key: str, source_id: int | None = None,
                     actor_id: int | None = None, reason: str | None = None) -> SendResult:
        """Pass the policy gate and record the action (idempotent on ``key``), then send it once.

        A refusal records nothing and comes back as status ``refused`` with the gate's text."""
        existing = await self.store.outbox.get_by_key(key)
        if existing is not None:
            return await self.send(existing.id)
        payload = Payload(action=action, log_title=log_title, log_description=log_description)
        async with self._lock_of(link.lock_id):
            fresh = await self.store.links.get_by_id(link.id)
            if fresh is None:
                return SendResult(0, "refused", "The lock was unlinked; nothing was applied.")
            decision = await self.consent.judge(fresh, action, source)
            if not decision.allowed:
                await self.store.audit.add(guild_id=fresh.guild_id, link_id=fresh.id, actor_id=actor_id,
                                           source=source, action_summary=action.summary(), outcome="refused",
                                           detail=decision.reason)
                return SendResult(0, "refused", decision.reason)
            entry_id = await self.store.outbox.enqueue(
                link_id=link.id, lock_id=link.lock_id, guild_id=link.guild_id, source=source,
                action_json=payload.model_dump_json(), idempotency_key=key, source_id=source_id,
                actor_id=actor_id, reason=reason if reason is not None else action.reason,
                time_added=max(0, action.time_delta))
            return await self._send(entry_id)

    async def send(self, entry_id: int) -> SendResult:
        entry = await self.store.outbox.get(entry_id)
        if entry is None:
            raise KeyError(entry_id)
        async with self._lock_of(entry.lock_id):
            return await self._send(entry_id)

    def _lock_of(self, lock_id: str) -> asyncio.Lock:
        # One sender per Chastify lock at a time keeps its actions in order and makes "judge, then claim" one
        # step for every link and server of the lock.
        return self._locks.setdefault(lock_id, asyncio.Lock())

    async def recover(self) -> tuple[int, int]:
        """After a restart: sent-but-unconfirmed entries become uncertain (the owner is told, with the lock's
        current state); logs not yet written are written; pending entries are sent. Returns (uncertain, resent).
        """
        uncertain = 0
        mine = self.owns_guild
        for entry in await self.store.outbox.list_by_status("sent"):
            if not mine(entry.guild_id):
                continue
            link = await self._link_of(entry)
            async with self.store.transaction():
                moved = await self.store.outbox.transition(
                    entry.id, "sent", "uncertain", error_code="interrupted",
                    error_message="the bot stopped while this action was being sent")
                if moved and link is not None:
                    await self._audit(link, entry, "uncertain", "the bot stopped while sending; not sent again")
            if not moved:
                continue
            uncertain += 1
            log.warning("action outcome unknown after a restart", extra={
                "guild": entry.guild_id, "outcome": "uncertain", "source": entry.source})
            if link is not None:
                action = payload_of(entry).action
                session = await self._peek_link(link)
                await self._finish(link, entry.id, SendResult(
                    entry.id, "uncertain",
                    f"The bot restarted while **{action.shown()}** was being sent to Chastify: it may or may "
                    f"not have been applied, so it was not sent again.{_state_text(session)}", session=session))
        for entry in await self.store.outbox.list_by_log_state("sending"):
            if mine(entry.guild_id):
                await self.store.outbox.set_log_state(entry.id, "sending", "unknown")
        for entry in await self.store.outbox.list_by_log_state("pending"):
            if not mine(entry.guild_id):
                continue
            link = await self._link_of(entry)
            try:
                api = self._api(link) if link is not None and link.state == "active" else None
            except VaultError:
                api = None
            if api is not None:
                await self._write_log(api, entry)
            else:
                await self.store.outbox.set_log_state(entry.id, "pending", "failed")
        pending = [e for e in await self.store.outbox.list_by_status("pending") if mine(e.guild_id)]
        for entry in pending:
            await self.send(entry.id)
        return uncertain, len(pending)

    async def cancel_pending(self, link_id: int, why: str) -> int:
        """Cancel every entry of the link that was not sent yet (unlink, lock ended, owner gone)."""
        return await self._cancel(await self.store.outbox.list_by_status("pending", link_id=link_id), why)

    async def cancel_pending_lock(self, lock_id: str, why: str) -> int:
        """Cancel every entry of the lock, from every link and server, that was not sent yet (the safeword)."""
        return await self._cancel(await self.store.outbox.list_by_status("pending", lock_id=lock_id), why)

    async def _cancel(self, entries: list[OutboxEntry], why: str) -> int:
        count = 0
        for entry in entries:
            if await self.store.outbox.transition(entry.id, "pending", "cancelled", error_message=why):
                count += 1
                task = self._retry_tasks.pop(entry.id, None)
                if task is not None:
                    task.cancel()
        return count

    async def drain(self) -> None:
        """Wait until no retry is scheduled any more (tests; a graceful shutdown may use it too)."""
        while self._retry_tasks:
            await asyncio.gather(*list(self._retry_tasks.values()), return_exceptions=True)

    async def close(self) -> None:
        for task in self._retry_tasks.values():
            task.cancel()
        self._retry_tasks.clear()

    # -- the send itself --------------------------------------------------------------------------
    def _budget_wait(self, link: Link | None) -> float:
        """Seconds until the lock has room for an action AND its custom log in Chastify's per-minute budget.
        A send never waits for the budget while holding the lock's send order: it is queued instead."""
        if link is None or link.state != "active":
            return 0.0
        try:
            key = limiter_key(self.vault.decrypt(link.token_ciphertext), link.lock_id)
        except VaultError:
            return 0.0
        return self.client.limiter.wait_time(key, slots=2)

    def _queued_for_budget(self, entry_id: int, wait: float) -> SendResult:
        delay = max(1.0, wait)
        self._schedule_retry(entry_id, delay)
        return SendResult(entry_id, "pending", f"This lock has used its Chastify budget of "
                          f"{self.client.limiter.per_minute} actions a minute; it is queued and will be "
                          f"sent in about {format_duration(max(1, int(delay + 0.999)))}.", retry_after=delay)

    async def _send(self, entry_id: int) -> SendResult:
        """One send attempt, under the lock's send lock: ask the lock's consent again, claim only when the
        request goes out now, and send it guarded."""
        entry = await self.store.outbox.get(entry_id)
        assert entry is not None
        if entry.status != "pending":
            return SendResult(entry_id, _final(entry.status), f"already {entry.status}")
        link = await self._link_of(entry)
        payload = payload_of(entry)
        if link is None or link.state not in ("active", "paused"):
            why = "the link was removed" if link is None else f"the link is {link.state}"
            return await self._withdraw(link, entry, "cancelled", why)
        if link.lock_id != entry.lock_id:
            # the owner linked another lock since this was recorded: it was meant for the old one
            return await self._withdraw(link, entry, "cancelled", "the owner linked another lock")
        wait = self._budget_wait(link)
        if wait > 0:
            return self._queued_for_budget(entry_id, wait)
        decision = await self.consent.judge(link, payload.action, entry.source, exclude_id=entry.id)
        if not decision.allowed:
            return await self._withdraw(link, entry, "refused", decision.reason)
        # the lock's budget as every process shares it (shards acting on one lock): a slot for the action now, when
        # there is room for its log too (the log takes its own slot as it is written)
        wait = await self.store.outbox.reserve_budget(link.lock_id, 1, need=2,
                                                      per_minute=self.client.limiter.per_minute)
        if wait > 0:
            return self._queued_for_budget(entry_id, wait)
        claimed = await self.store.outbox.claim(entry_id)
        if claimed is None:
            current = await self.store.outbox.get(entry_id)
            assert current is not None
            if current.status == "pending":  # the lock was paused (by any process) right before the claim
                return await self._withdraw(link, current, "cancelled", "the lock is paused (safeword)")
            return SendResult(entry_id, _final(current.status), f"already {current.status}")
        entry = claimed
        try:
            api = self._api(link, guarded=True)
        except VaultError as err:
            async with self.store.transaction():
                await self.store.outbox.transition(entry_id, "sent", "failed", error_code="vault",
                                                   error_message=str(err))
                await self._audit(link, entry, "failed", "the stored token cannot be decrypted")
            return await self._finish(link, entry_id, SendResult(entry_id, "failed", str(err)))
        action = payload.action
        try:
            await perform(api, action)
        except Withdrawn as err:
            # the safeword came while this entry waited its turn: nothing left
            async with self.store.transaction():
                await self.store.outbox.transition(entry_id, "sent", "cancelled", error_code=err.code,
                                                   error_message=err.message)
                await self._audit(link, entry, "cancelled", err.message)
            return await self._finish(link, entry_id, SendResult(entry_id, "cancelled", f"Not sent: {err.message}."))
        except RateLimited as err:
            return await self._requeue(link, entry, err.retry_after, "rate_limited",
                                       "Chastify is rate limiting this lock")
        except ChastifyUnavailable:
            return await self._requeue(link, entry, None, "unavailable", "Chastify could not be reached")
        except OutcomeUnknown as err:
            async with self.store.transaction():
                await self.store.outbox.transition(entry_id, "sent", "uncertain", error_code=err.code or "unknown",
                                                   error_message=err.message)
                await self._audit(link, entry, "uncertain", err.message)
            log.warning("action outcome unknown", extra={"guild": link.guild_id, "lock": link.lock_id,
                                                         "outcome": "uncertain", "source": entry.source})
            session = await self._peek(api)
            return await self._finish(link, entry_id, SendResult(
                entry_id, "uncertain",
                f"Chastify did not confirm **{action.shown()}**: it may or may not have been applied, so it "
                f"was not sent again.{_state_text(session)} The owner can check the lock's history.",
                session=session))
        except TokenError as err:
            async with self.store.transaction():
                await self.store.outbox.transition(entry_id, "sent", "failed", error_code=err.code,
                                                   error_message=err.message)
                await self._audit(link, entry, "failed", err.code or "token")
            await self._link_gone(link, "broken", "The owner's Chastify token was rejected "
                                  f"({err.code}). The owner must run `/chastify link` again.")
            return await self._finish(link, entry_id, SendResult(
                entry_id, "failed", "The owner's Chastify token no longer works; nothing was applied. "
                "The owner must run `/chastify link` again."))
        except LockGone as err:
            async with self.store.transaction():
                await self.store.outbox.transition(entry_id, "sent", "failed", error_code=err.code,
                                                   error_message=err.message)
                await self._audit(link, entry, "failed", err.code or "lock gone")
            await self._link_gone(link, "ended", "This lock has ended on Chastify.")
            return await self._finish(link, entry_id, SendResult(
                entry_id, "failed", "This lock has ended on Chastify; nothing was applied."))
        except (ActionRejected, InvalidParams, ChastifyError) as err:
            message = getattr(err, "message", None) or str(err)
            code = getattr(err, "code", None) or type(err).__name__
            async with self.store.transaction():
                await self.store.outbox.transition(entry_id, "sent", "failed", error_code=code,
                                                   error_message=message)
                await self._audit(link, entry, "failed", f"{code}: {message}")
            return await self._finish(link, entry_id, SendResult(
                entry_id, "failed", f"Chastify refused **{action.shown()}**: {message}"))
        # applied: the status and its audit line in one transaction, so a crash cannot leave one without the other
        try:
            async with self.store.transaction():
                await self.store.outbox.transition(entry_id, "sent", "done", log_state="pending")
                await self._audit(link, entry, "applied", None)
        except Exception:
            # Chastify applied it but the bot could not record that: the entry stays 'sent', which a restart turns
            # into 'uncertain' (never re-sent). Say it was applied so nobody repeats it, and tell the owner.
            log.exception("action applied but not recorded", extra={"guild": link.guild_id, "lock": link.lock_id})
            result = SendResult(entry_id, "done", f"Applied **{action.shown()}**, but the bot could not record it: "
                                "do not repeat it. The lock's owner was told.")
            await self._tell_unrecorded(link, entry, action)
            return result
        log.info("action applied", extra={"guild": link.guild_id, "lock": link.lock_id, "outcome": "applied",
                                          "action": action.summary(), "source": entry.source})
        await self._write_log(self._api(link), entry)
        return await self._finish(link, entry_id, SendResult(entry_id, "done", f"Applied **{action.shown()}**."))

    async def _tell_unrecorded(self, link: Link, entry: OutboxEntry, action: Action) -> None:
        """The owner hears of an action Chastify applied that the bot could not record (as of an uncertain one)."""
        await self.events.publish(ActionFinished(link, entry, SendResult(
            entry.id, "uncertain", f"Chastify applied **{action.shown()}**, but the bot could not record it "
            "(a database error). It will not be sent again; check the lock's history.")))

    async def _requeue(self, link: Link, entry: OutboxEntry, retry_after: float | None, code: str,
                       why: str) -> SendResult:
        attempts = entry.attempts
        if attempts >= MAX_SEND_ATTEMPTS:
            async with self.store.transaction():
                await self.store.outbox.transition(entry.id, "sent", "failed", error_code=code, error_message=why)
                await self._audit(link, entry, "failed", f"{why}; gave up after {attempts} attempts")
            return await self._finish(link, entry.id, SendResult(
                entry.id, "failed", f"{why}; gave up after {attempts} attempts. Nothing was applied."))
        await self.store.outbox.transition(entry.id, "sent", "pending", error_code=code, error_message=why)
        delay = max(1.0, retry_after if retry_after is not None else min(RETRY_CAP, 2.0 ** attempts))
        self._schedule_retry(entry.id, delay)
        return SendResult(entry.id, "pending", f"{why}; it is queued and will be sent in about "
                          f"{format_duration(int(delay))}.", retry_after=delay)

    def _schedule_retry(self, entry_id: int, delay: float) -> None:
        old = self._retry_tasks.pop(entry_id, None)
        if old is not None and old is not asyncio.current_task():
            old.cancel()

        async def later() -> None:
            await self.sleep(delay)
            try:
                await self.send(entry_id)
            except Exception:
                log.exception("retrying outbox entry %s failed", entry_id)
            finally:
                # stay listed until the send is over, so drain() waits for it (a new retry may replace us)
                if self._retry_tasks.get(entry_id) is asyncio.current_task():
                    del self._retry_tasks[entry_id]

        self._retry_tasks[entry_id] = asyncio.create_task(later(), name=f"outbox-retry-{entry_id}")

    def _api(self, link: Link, *, guarded: bool = False) -> DevApi:
        lock_id = link.lock_id
        guard = (lambda: self.consent.guard(lock_id)) if guarded else None
        return self.client.dev(self.vault.decrypt(link.token_ciphertext), lock_id, guard=guard)

    async def _link_of(self, entry: OutboxEntry) -> Link | None:
        return await self.store.links.get_by_id(entry.link_id) if entry.link_id is not None else None

    async def _withdraw(self, link: Link | None, entry: OutboxEntry, status: Literal["cancelled", "refused"],
                        why: str) -> SendResult:
        """An entry that will not be sent after all (checked before its claim): cancelled, audited, shown."""
        async with self.store.transaction():
            moved = await self.store.outbox.transition(entry.id, "pending", "cancelled",
                                                       error_code=status, error_message=why)
            if moved and link is not None:
                await self._audit(link, entry, status, f"not sent: {why}")
        if not moved:
            current = await self.store.outbox.get(entry.id)
            assert current is not None
            return SendResult(entry.id, _final(current.status), f"already {current.status}")
        text = f"Not sent: {why}." if status == "cancelled" else why
        result = SendResult(entry.id, status, text)
        return await self._finish(link, entry.id, result) if link is not None else result

    async def _write_log(self, api: DevApi, entry: OutboxEntry) -> bool:
        """Write the custom log of a done entry once: never again once its request may have been sent. It takes
        its slot of the lock's shared budget right before (waiting for one if another process took it)."""
        for _ in range(5):
            wait = await self.store.outbox.reserve_budget(entry.lock_id, 1,
                                                          per_minute=self.client.limiter.per_minute)
            if wait <= 0:
                break
            await self.sleep(wait)
        if not await self.store.outbox.set_log_state(entry.id, "pending", "sending"):
            return False
        payload = payload_of(entry)
        try:
            await api.custom_log(CustomLog(title=payload.log_title, description=payload.log_description,
                                           role="extension"))
        except OutcomeUnknown:
            await self.store.outbox.set_log_state(entry.id, "sending", "unknown")
            log.warning("custom log outcome unknown; not written again")
            return False
        except (ChastifyError, ValueError) as err:
            await self.store.outbox.set_log_state(entry.id, "sending", "failed")
            log.warning("custom log not written: %s", type(err).__name__)
            return False
        await self.store.outbox.set_log_state(entry.id, "sending", "written")
        return True

    async def _peek_link(self, link: Link) -> Session | None:
        try:
            return await self._peek(self._api(link))
        except VaultError:
            return None

    async def _peek(self, api: DevApi) -> Session | None:
        try:
            return await api.session()
        except ChastifyError:
            return None

    async def _audit(self, link: Link, entry: OutboxEntry, outcome: str, detail: str | None) -> None:
        payload = payload_of(entry)
        await self.store.audit.add(guild_id=link.guild_id, link_id=link.id, actor_id=entry.actor_id,
                                   source=entry.source, action_summary=payload.action.summary(),
                                   outcome=outcome, detail=_detail(detail, entry))

    async def _link_gone(self, link: Link, state: Literal["ended", "broken"], message: str) -> None:
        if await self.store.links.set_state(link.id, state, expected=("active", "paused")):
            await self.cancel_pending(link.id, message)
            await self.events.publish(LinkGone(link, state, message))  # said once: only when it changed

    async def _finish(self, link: Link, entry_id: int, result: SendResult) -> SendResult:
        entry = await self.store.outbox.get(entry_id)
        if entry is not None:
            await self.events.publish(ActionFinished(link, entry, result))
        return result


def _state_text(session: Session | None) -> str:
    """The lock's current state as Chastify reports it, for an owner deciding what to do about an uncertain action."""
    if session is None:
        return " The lock's current state could not be read; check it in Chastify."
    data = session.lock_data
    parts = []
    if data.time_remaining_seconds is not None:
        parts.append(f"{format_duration(data.time_remaining_seconds)} remaining")
    if data.frozen is not None:
        parts.append("frozen" if data.frozen else "not frozen")
    if data.task_assigned:
        parts.append("a task is assigned")
    return f" The lock now shows: {', '.join(parts)}." if parts else ""


def _final(status: str) -> Status:
    return "pending" if status in ("pending", "sent") else status  # type: ignore[return-value]


def _detail(detail: str | None, entry: OutboxEntry) -> str | None:
    parts = [p for p in (detail, f"reason: {entry.reason}" if entry.reason else None) if p]
    return "; ".join(parts) if parts else None


def payload_of(entry: OutboxEntry) -> Payload:
    return Payload.model_validate_json(entry.action_json)

