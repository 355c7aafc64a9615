"""A lock's history: what was done and what was refused, and notices the owner could not receive."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot import permissions
from bot.actions import ActionKind, Payload
from bot.core.linking import Linking
from bot.core.part import Part
from bot.members import Member
from bot.store.models import AuditEntry, Link

if TYPE_CHECKING:
    from bot.chart import Band, ChartData

CHART_DAYS_MAX = 30

log = logging.getLogger("bot.core.history")


class History(Part):
    """The audit log as members read it."""

    def __init__(self, *, linking: Linking, **parts: Any) -> None:
        super().__init__(**parts)
        self.linking = linking

    async def note_undelivered(self, link: Link, message: str) -> None:
        """The owner could not be told (they take no DMs): the message goes to the audit log, where
        `/chastify history` shows it."""
        await self.store.audit.add(guild_id=link.guild_id, link_id=link.id, actor_id=link.owner_id, source="bot",
                                   action_summary="tell the owner", outcome="undelivered", detail=message[:500])

    async def history(self, link: Link, reader: Member, limit: int = 15, *, refusal_groups: int = 8,
                      refusal_window: int = 500) -> tuple[list[AuditEntry], list[tuple[AuditEntry, int]]]:
        """The link's last ``limit`` actions and other events (applied, failed, uncertain, cancelled, linked, ...)
        and, apart, its refusals: the last ``refusal_window`` refusals with repeats collapsed into at most
        ``refusal_groups`` groups, newest first, each as its latest entry and how many times it came. A repeat is
        the same source, member, action and reason (numbers in the reason aside, e.g. a cooldown's wait), so no
        number of refusals can push a real action out of the history."""
        permissions.require_history(reader, await self.linking.may_act(link, reader))
        import re

        actions = await self.store.audit.list_actions_for_link(link.id, limit)
        groups: dict[tuple[str, int | None, str, str], list[Any]] = {}
        for e in await self.store.audit.list_refusals_for_link(link.id, refusal_window):
            key = (e.source, e.actor_id, e.action_summary, re.sub(r"\d+", "#", e.detail or ""))
            if key in groups:
                groups[key][1] += 1
            elif len(groups) < refusal_groups:
                groups[key] = [e, 1]  # newest first: the first entry of a group is its latest
        return actions, [(e, n) for e, n in groups.values()]

    async def chart(self, link: Link, reader: Member, days: int, *,
                    name_of: Callable[[int], str]) -> ChartData:
        """What the chart of the lock's time over the last ``days`` is drawn from: every change the bot applied to
        the lock (from every link and server when the reader is one of the lock's people, else from this server
        only; ``name_of`` names the member who did it, a vote or board is named by
        its number), the freezes and pillories it applied as bands, the lock's end date now (asked of Chastify:
        None when it cannot be read) and the owner's daily cap. Changes made outside the bot are not known."""
        permissions.require_history(reader, await self.linking.may_act(link, reader))
        from bot.chart import Band, Change, ChartData  # matplotlib loads with it: only when a chart is asked for

        now = self.clock()
        since = now - days * 86400 - 31 * 86400  # a band that began before the window may still reach into it
        changes: list[Change] = []
        bands: list[Band] = []
        # the lock's own people see what every server did to it; anyone else only what this server did
        holder = await self.linking.is_holder(link, reader)
        for entry in await self.store.outbox.applied_for_lock(link.lock_id, since):
            if not holder and entry.guild_id != link.guild_id:
                continue
            action = Payload.model_validate_json(entry.action_json).action
            at = entry.updated_at
            if action.time_delta:
                label = (f"vote #{entry.source_id}" if entry.source == "vote" else
                         f"board #{entry.source_id}" if entry.source == "board" else
                         name_of(entry.actor_id) if entry.actor_id is not None else "someone")
                changes.append(Change(at=at, seconds=action.time_delta, label=label))
            elif action.kind is ActionKind.FREEZE:
                bands.append(Band(start=at, end=at + action.freeze_seconds, kind="freeze"))
            elif action.kind is ActionKind.UNFREEZE:
                bands = [_ended(b, at) if b.kind == "freeze" else b for b in bands]
            elif action.kind is ActionKind.PILLORY:
                bands.append(Band(start=at, end=at + (action.seconds or 0), kind="pillory"))
            elif action.kind is ActionKind.END_PILLORY:
                bands = [_ended(b, at) if b.kind == "pillory" else b for b in bands]
        end_date = None
        try:
            session = await self.client.dev(self.vault.decrypt(link.token_ciphertext), link.lock_id).session()
            remaining = session.lock_data.time_remaining_seconds
            end_date = now + remaining if remaining is not None else None
        except Exception as err:  # the chart is still drawn, without the curve's anchor
            log.info("chart without the lock's end date: %s", type(err).__name__, extra={"lock": link.lock_id})
        limits = await self.consent.limits(link.lock_id)
        return ChartData(now=now, end_date=end_date, changes=changes,
                         bands=[b for b in bands if b.end is None or b.end > now - days * 86400], days=days,
                         daily_cap=limits.max_add_per_day or None)


def _ended(band: Band, at: float) -> Band:
    """A band cut short at ``at`` (an unfreeze, the end of a pillory) if it was running then."""
    if band.start <= at and (band.end is None or band.end > at):
        return type(band)(start=band.start, end=at, kind=band.kind)
    return band
