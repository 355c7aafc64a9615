"""The parts of the core: what they share, and the values they hand the cogs."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal, Protocol

from bot.actions import Action
from bot.chastify import (
    ActionLimiter,
    ChastifyClient,
    ChastifyError,
    ChastifyUnavailable,
    InsufficientScope,
    LockGone,
    LockMismatch,
    RateLimited,
    Session,
    TokenError,
)
from bot.clock import Clock
from bot.config import Settings
from bot.consent import Consent
from bot.durations import format_duration
from bot.events import Events, OwnerNotice, VotesCancelled
from bot.members import Member, Place
from bot.outbox import Outbox
from bot.policy import ConsentCard, LockState
from bot.store import Store
from bot.store.models import Link, LockPause
from bot.vault import Vault

log = logging.getLogger("bot.core")


@dataclass(frozen=True)
class LinkResult:
    link: Link
    session: Session
    replaced: bool


@dataclass(frozen=True)
class SafewordResult:
    """What one safeword did: the locks it paused (titles), and what it cancelled on them in every server."""

    titles: list[str]
    newly_paused: bool
    cancelled_actions: int
    cancelled_votes: list[int]


@dataclass(frozen=True)
class ResumeResult:
    """What one resume lifted: the locks free again, those still paused by someone else, links no longer held."""

    resumed: list[str]
    still_paused: list[str]
    unheld: list[str]


@dataclass(frozen=True)
class StatusView:
    link: Link
    session: Session | None
    problem: str | None = None
    state: LockState = "active"  # the lock's consent with the link's own state (see ``Consent.state``)
    open_votes: int = 0  # on the lock, in every server
    card: ConsentCard | None = None  # what the community may do to the lock (None: the lock cannot be read)


@dataclass(frozen=True)
class GuildRules:
    """A server's vote settings with the config's defaults filled in."""

    channel_id: int | None
    voter_role_id: int | None
    window_seconds: int
    quorum: int
    majority: float
    instant_pass: int
    proposal_cooldown_seconds: int
    max_open_per_lock: int
    min_account_age_days: int
    reminder_fraction: float = 0.0  # a vote reminds when this share of its window is left (0: never)
    reminder_role_id: int | None = None  # the one role a reminder mentions (None: nobody)
    ballot_style: str = "reactions"  # how members vote on new votes: "reactions" or "buttons"
    time_zone: str = "UTC"  # the IANA zone the server's scheduled votes run in


class Presence(Protocol):
    """Whether a member is still in a server, asked of Discord (the bot has no members intent, so it asks when it
    matters); None when Discord could not say."""

    async def member_present(self, guild_id: int, member_id: int) -> bool | None: ...


class NoPresence:
    """A world where nobody can say (the core alone, scripts): every owner counts as present."""

    async def member_present(self, guild_id: int, member_id: int) -> bool | None:
        return None


OWNER_LEFT_TEXT = ("The lock's owner is no longer a member of this server, so nobody here can act on the lock until "
                   "they come back and run `/chastify resume` here. Nothing was changed.")


def mentions(pauses: list[LockPause]) -> str:
    return ", ".join(f"<@{p.user_id}>" for p in pauses)


def chastify_problem(err: ChastifyError) -> str:
    """A member-facing explanation of a Chastify error, saying what to do."""
    if isinstance(err, TokenError):
        return (f"Chastify rejected the token ({err.code}). Create a new DEV token in Chastify's "
                "Developer API page and run `/chastify link` again.")
    if isinstance(err, InsufficientScope):
        return ("The token lacks a scope the bot needs (it must be allowed to read and write the lock). Create a "
                "DEV token with read and write access and run `/chastify link` again.")
    if isinstance(err, LockMismatch):
        return "Chastify now reports a different active lock than the linked one; the owner should link again."
    if isinstance(err, LockGone):
        return "There is no active lock for this token (the lock has ended). Link again when a new lock starts."
    if isinstance(err, RateLimited):
        return f"Chastify is rate limiting; try again in {format_duration(max(1, int(err.retry_after or 1)))}."
    if isinstance(err, ChastifyUnavailable):
        return "Chastify could not be reached just now; nothing was changed. Try again in a minute."
    return f"Chastify answered with an error ({err.code}); nothing was changed."




class Part:
    """What every part of the core shares: its collaborators (built once, by ``bot.wiring``) and the few helpers
    several parts use (telling the owner, saying votes were cancelled, auditing a refusal)."""

    def __init__(self, *, settings: Settings, store: Store, vault: Vault, client: ChastifyClient,
                 limiter: ActionLimiter, clock: Clock, consent: Consent, outbox: Outbox, events: Events,
                 presence: Presence) -> None:
        self.settings = settings
        self.store = store
        self.vault = vault
        self.client = client
        self.limiter = limiter
        self.clock = clock
        self.consent = consent
        self.outbox = outbox
        self.events = events
        self.presence = presence

    async def _tell_owner(self, link: Link, message: str) -> None:
        if not self.events.subscribers(OwnerNotice):
            log.warning("nobody to tell the owner", extra={"guild": link.guild_id, "lock": link.lock_id})
        await self.events.publish(OwnerNotice(link, message))

    async def _notify_cancelled(self, link: Link, ids: list[int], reason: str) -> None:
        if ids:
            await self.events.publish(VotesCancelled(link, ids, reason))

    async def _lock_title(self, lock_id: str) -> str:
        links = await self.store.links.list_for_lock(lock_id)
        return next((link.title for link in links if link.title), "a lock")

    async def _refusal(self, place: Place, link: Link, actor: Member | None, action: Action, why: str, *,
                       source: str = "direct") -> None:
        await self.store.audit.add(guild_id=place.guild_id, link_id=link.id, actor_id=actor.id if actor else None,
                                   source=source, action_summary=action.summary(), outcome="refused", detail=why)
        log.info("action refused", extra={"guild": place.guild_id, "lock": link.lock_id, "outcome": "refused"})

    async def audit_refusal(self, place: Place, link: Link, actor: Member | None, action: Action, why: str, *,
                            source: Literal["direct", "vote", "board"] = "direct") -> None:
        """Write a refusal (the reason as the member was given it) to the audit log; ``/chastify history`` shows
        it among the refusals."""
        await self._refusal(place, link, actor, action, why, source=source)
