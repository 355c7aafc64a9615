"""The services the cogs call, behind one facade: :class:`Core`.

The work is done by the core's parts (``bot/core/``): :class:`~bot.core.linking.Linking` (links, trust, status,
server settings, a link held or gone), :class:`~bot.core.holders.Holders` (the lock's people: limits, safeword,
resume), :class:`~bot.core.acting.Acting` (direct actions) and :class:`~bot.core.history.History`. Cogs turn Discord
objects into :class:`Member` and :class:`Place` and render what comes back; every rule lives in a part or below
(``bot.policy``, ``bot.consent``, ``bot.permissions``, ``bot.outbox``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from bot.actions import Action
from bot.chastify import ActionLimiter, ChastifyClient
from bot.clock import Clock
from bot.config import Settings
from bot.consent import Consent
from bot.core.acting import Acting
from bot.core.history import History
from bot.core.holders import Holders
from bot.core.linking import Linking
from bot.core.part import (
    GuildRules,
    LinkResult,
    NoPresence,
    Presence,
    ResumeResult,
    SafewordResult,
    StatusView,
    chastify_problem,
)
from bot.events import Events
from bot.members import Member, Place
from bot.outbox import Outbox
from bot.outcomes import SendResult
from bot.policy import Decision, OwnerLimits
from bot.store import Store
from bot.store.models import AuditEntry, Link, TrustEntry
from bot.vault import Vault

if TYPE_CHECKING:
    from bot.chart import ChartData

__all__ = [
    "Core",
    "GuildRules",
    "LinkResult",
    "Member",
    "NoPresence",
    "Place",
    "Presence",
    "ResumeResult",
    "SafewordResult",
    "StatusView",
    "chastify_problem",
]

Source = Literal["direct", "vote", "board"]


class Core:
    """Everything the cogs need, built once per process by ``bot.wiring.build_core``: a thin facade over the
    core's parts, which share the collaborators given here."""

    def __init__(self, *, settings: Settings, store: Store, vault: Vault, client: ChastifyClient,
                 limiter: ActionLimiter, clock: Clock, consent: Consent, outbox: Outbox, events: Events,
                 presence: Presence) -> None:
        shared: dict[str, Any] = dict(settings=settings, store=store, vault=vault, client=client, limiter=limiter,
                                      clock=clock, consent=consent, outbox=outbox, events=events, presence=presence)
        self.settings, self.store, self.vault, self.client = settings, store, vault, client
        self.limiter, self.clock, self.consent, self.outbox, self.events = limiter, clock, consent, outbox, events
        self.linking = Linking(**shared)
        self.holders = Holders(linking=self.linking, **shared)
        self.acting = Acting(linking=self.linking, **shared)
        self.history_log = History(linking=self.linking, **shared)

    async def aclose(self) -> None:
        """Stop listening and let background work finish, for a few seconds at most (the outbox is closed by
        whoever built it)."""
        self.linking.aclose()
        self.acting.aclose()
        await self.holders.settle(wait_at_most=5.0)

    async def settle(self) -> None:
        """Wait for background work (the safeword's log line) to finish."""
        await self.holders.settle()

    # ------------------------------------------------------------------ links (Linking)
    async def link(self, place: Place, owner: Member, raw_token: str) -> LinkResult:
        return await self.linking.link(place, owner, raw_token)

    async def unlink(self, place: Place, actor: Member, owner_id: int) -> tuple[Link, list[int]]:
        return await self.linking.unlink(place, actor, owner_id)

    async def links(self, guild_id: int) -> list[Link]:
        return await self.linking.links(guild_id)

    async def resolve(self, guild_id: int, lock: str | None) -> Link:
        return await self.linking.resolve(guild_id, lock)

    async def owned_link(self, guild_id: int, owner: Member) -> Link:
        return await self.linking.owned_link(guild_id, owner)

    async def status(self, link: Link) -> StatusView:
        return await self.linking.status(link)

    async def change_settings(self, guild_id: int, actor: Member, changes: Mapping[str, Any], *,
                              reset: bool = False) -> GuildRules:
        return await self.linking.change_settings(guild_id, actor, changes, reset=reset)

    async def vote_rules(self, guild_id: int) -> GuildRules:
        return await self.linking.vote_rules(guild_id)

    def vote_rules_now(self, guild_id: int) -> GuildRules | None:
        return self.linking.vote_rules_now(guild_id)

    async def trust(self, link: Link, kind: Literal["role", "member"], target_id: int) -> bool:
        return await self.linking.trust(link, kind, target_id)

    async def untrust(self, link: Link, kind: Literal["role", "member"], target_id: int) -> bool:
        return await self.linking.untrust(link, kind, target_id)

    async def trusted(self, link: Link) -> list[TrustEntry]:
        return await self.linking.trusted(link)

    async def may_act(self, link: Link, member: Member) -> bool:
        return await self.linking.may_act(link, member)

    async def owner_still_here(self, link: Link) -> bool:
        return await self.linking.owner_still_here(link)

    async def hold_link(self, link: Link, why: str) -> list[int]:
        return await self.linking.hold_link(link, why)

    async def guild_gone(self, guild_id: int) -> int:
        return await self.linking.guild_gone(guild_id)

    # ------------------------------------------------------------------ the lock's people (Holders)
    async def limits(self, link: Link) -> OwnerLimits:
        return await self.holders.limits(link)

    async def set_limits(self, link: Link, limits: OwnerLimits | Mapping[str, Any]) -> OwnerLimits:
        return await self.holders.set_limits(link, limits)

    async def my_lock(self, place: Place, who: Member) -> tuple[str, str]:
        return await self.holders.my_lock(place, who)

    async def lock_limits(self, lock_id: str) -> OwnerLimits:
        return await self.holders.lock_limits(lock_id)

    async def set_my_limits(self, lock_id: str, who: Member, update: Mapping[str, Any]) -> OwnerLimits:
        return await self.holders.set_my_limits(lock_id, who, update)

    async def is_holder(self, link: Link, member: Member) -> bool:
        return await self.linking.is_holder(link, member)

    async def note_on_lock(self, link: Link, title: str, description: str) -> bool:
        return await self.holders.note_on_lock(link, title, description)

    async def safeword(self, place: Place, who: Member) -> SafewordResult:
        return await self.holders.safeword(place, who)

    async def resume(self, place: Place, who: Member) -> ResumeResult:
        return await self.holders.resume(place, who)

    # ------------------------------------------------------------------ acting (Acting)
    async def precheck(self, place: Place, actor: Member, link: Link, action: Action) -> None:
        await self.acting.precheck(place, actor, link, action)

    async def act(self, place: Place, actor: Member, link: Link, action: Action, *,
                  reason: str | None = None) -> SendResult:
        return await self.acting.act(place, actor, link, action, reason=reason)

    async def gate(self, place: Place, link: Link, action: Action, *, source: Source,
                   actor: Member | None = None) -> None:
        await self.acting.gate(place, link, action, source=source, actor=actor)

    async def judge(self, link: Link, action: Action, source: Source) -> Decision:
        return await self.acting.judge(link, action, source)

    async def audit_refusal(self, place: Place, link: Link, actor: Member | None, action: Action, why: str, *,
                            source: Source = "direct") -> None:
        await self.acting.audit_refusal(place, link, actor, action, why, source=source)

    # ------------------------------------------------------------------ history (History)
    async def history(self, link: Link, reader: Member, limit: int = 15, *, refusal_groups: int = 8,
                      refusal_window: int = 500) -> tuple[list[AuditEntry], list[tuple[AuditEntry, int]]]:
        return await self.history_log.history(link, reader, limit, refusal_groups=refusal_groups,
                                              refusal_window=refusal_window)

    async def chart(self, link: Link, reader: Member, days: int, *, name_of: Callable[[int], str]) -> ChartData:
        return await self.history_log.chart(link, reader, days, name_of=name_of)

    async def note_undelivered(self, link: Link, message: str) -> None:
        await self.history_log.note_undelivered(link, message)
