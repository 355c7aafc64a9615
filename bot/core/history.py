"""A lock's history: what was done and what was refused, and notices the owner could not receive."""

from __future__ import annotations

import logging
from typing import Any

from bot import permissions
from bot.core.linking import Linking
from bot.core.part import Part
from bot.members import Member
from bot.store.models import AuditEntry, Link

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
