"""Services the cogs call: linking, who may act, direct actions, owner limits and the safeword.

Cogs turn Discord objects into :class:`Member` and :class:`Place` and render what comes back;
every rule lives here or below (``bot.policy``, ``bot.voting.rules``, ``bot.outbox``).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from bot import permissions
from bot.actions import Action, log_description, log_title
from bot.chastify import (
    ActionLimiter,
    ChastifyClient,
    ChastifyError,
    ChastifyUnavailable,
    CustomLog,
    InsufficientScope,
    LockGone,
    LockMismatch,
    RateLimited,
    Session,
    TokenError,
    limiter_key,
)
from bot.clock import Clock
from bot.config import Settings
from bot.consent import Consent
from bot.durations import format_duration
from bot.errors import NotAllowed, NotLinked, Refused, UserError
from bot.events import ActionFinished, Events, LinkGone, OwnerNotice, VotesCancelled
from bot.members import Member, Place
from bot.outbox import Outbox
from bot.outcomes import SendResult, cancelled_text
from bot.policy import Decision, LockState, OwnerLimits
from bot.store import Store
from bot.store.models import AuditEntry, GuildSettings, Link, LockPause, TrustEntry
from bot.vault import Vault, VaultError, normalize_token

log = logging.getLogger("bot.services")


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


class Presence(Protocol):
    """Whether a member is still in a server, asked of Discord (the bot has no members intent, so it asks when it
    matters); None when Discord could not say."""

    async def member_present(self, guild_id: int, member_id: int) -> bool | None: ...


class NoPresence:
    """A world where nobody can say (the core alone, scripts): every owner counts as present."""

    async def member_present(self, guild_id: int, member_id: int) -> bool | None:
        return None


def _owner_left_text(link: Link) -> str:
    return ("The lock's owner is no longer a member of this server, so nobody here can act on the lock until they "
            "come back and run `/chastify resume` here. Nothing was changed.")


def _people(pauses: list[LockPause]) -> str:
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


class Core:
    """Everything the cogs need, built once per process by ``bot.wiring.build_core``."""

    def __init__(self, *, settings: Settings, store: Store, vault: Vault, client: ChastifyClient,
                 limiter: ActionLimiter, clock: Clock, consent: Consent, outbox: Outbox, events: Events,
                 presence: Presence) -> None:
        self.settings = settings
        self.store = store
        self.vault = vault
        self.client = client
        self.limiter = limiter
        self._rules: dict[int, tuple[GuildSettings, GuildRules]] = {}
        self.clock = clock
        self.consent = consent
        self.outbox = outbox
        self.events = events
        self.presence = presence
        self._unsubscribe = [events.subscribe(LinkGone, self._on_link_gone_event),
                             events.subscribe(ActionFinished, self._on_action_finished)]
        self._background: set[asyncio.Task[None]] = set()
        self._presence: dict[tuple[int, int], tuple[float, bool]] = {}

    # ------------------------------------------------------------------ links
    async def link(self, place: Place, owner: Member, raw_token: str) -> LinkResult:
        try:
            token = normalize_token(raw_token)
        except ValueError as err:
            raise UserError(f"That token was not accepted: {err}. Nothing was saved.") from None
        api = self.client.dev(token)
        try:
            session = await api.session()
        except ChastifyError as err:
            await self.store.audit.add(guild_id=place.guild_id, source="link", actor_id=owner.id,
                                       action_summary="link", outcome="refused", detail=err.code)
            raise UserError(f"Could not link: {chastify_problem(err)} Nothing was saved.") from None
        if session.scopes and "locks:write" not in session.scopes:
            # a read-only token would link fine and then fail every action
            await self.store.audit.add(guild_id=place.guild_id, source="link", actor_id=owner.id,
                                       action_summary="link", outcome="refused", detail="insufficient_scope")
            raise UserError(f"Could not link: {chastify_problem(InsufficientScope())} Nothing was saved.")
        role = session.role or "wearer"
        # the token proved this member holds the lock: from now on their safeword and their limits count on it,
        # whatever becomes of the link (a refused second link included)
        await self.store.consent.add_person(session.lock_id, owner.id, role)
        old = await self.store.links.get(place.guild_id, owner.id)
        taken = [other for other in await self.store.links.find_in_guild(place.guild_id, session.lock_id)
                 if other.owner_id != owner.id]
        if taken:
            other = taken[0]
            await self.store.audit.add(guild_id=place.guild_id, source="link", actor_id=owner.id,
                                       action_summary="link", outcome="refused", detail="lock already linked here")
            raise Refused(
                f"**{session.lock_data.lock_title or 'This lock'}** is already linked in this server by "
                f"<@{other.owner_id}>{f' ({other.owner_name})' if other.owner_name else ''}. One lock has one link "
                "per server: ask them to trust you with `/chastify trust` instead. Your token was not saved, but "
                f"you are now known as the lock's {role}: `/chastify safeword` and `/chastify limits` work for you "
                "on this lock, in every server.",
                limit="one_link")
        if old is not None and old.lock_id != session.lock_id:
            # actions still queued for the old lock must never be sent to the new one
            await self.outbox.cancel_pending(old.id, "the owner linked another lock")
        link = await self.store.links.upsert(
            guild_id=place.guild_id, owner_id=owner.id, token_ciphertext=self.vault.encrypt(token),
            lock_id=session.lock_id, role=session.role or "wearer", title=session.lock_data.lock_title,
            owner_name=owner.name)
        if old is not None and old.lock_id != link.lock_id:
            ids = await self.store.votes.cancel_open_for_link(
                link.id, cancelled_text("the owner linked another lock"))
            await self._notify_cancelled(link, ids, "the owner linked another lock")
            # the person's own limits come with them to their next lock, unless they already chose some there
            mine = await self.consent.own_limits(old.lock_id, owner.id)
            if mine and not await self.consent.own_limits(link.lock_id, owner.id):
                await self.consent.set_limits(link.lock_id, owner.id, mine)
        await self.store.audit.add(guild_id=place.guild_id, link_id=link.id, actor_id=owner.id, source="link",
                                   action_summary="link", outcome="linked",
                                   detail="relinked" if old else None)
        log.info("lock linked", extra={"guild": place.guild_id, "lock": link.lock_id, "outcome": "linked"})
        return LinkResult(link, session, replaced=old is not None)

    async def unlink(self, place: Place, actor: Member, owner_id: int) -> tuple[Link, list[int]]:
        link = await self.store.links.get(place.guild_id, owner_id)
        if link is None:
            raise NotLinked("That member has no lock linked in this server." if owner_id != actor.id
                            else "You have no lock linked in this server.")
        permissions.require_unlink(actor, owner_id)
        reason = "the lock was unlinked"
        await self.outbox.cancel_pending(link.id, reason)
        ids = await self.store.votes.cancel_open_for_link(link.id, cancelled_text(reason))
        await self.store.links.delete(link.id)
        await self.store.audit.add(guild_id=place.guild_id, link_id=None, actor_id=actor.id, source="link",
                                   action_summary=f"unlink lock {link.lock_id}", outcome="unlinked")
        await self._notify_cancelled(link, ids, reason)
        return link, ids

    async def links(self, guild_id: int) -> list[Link]:
        return await self.store.links.list_for_guild(guild_id)

    async def resolve(self, guild_id: int, lock: str | None) -> Link:
        """The link named by a ``lock`` option (a link id, as autocomplete gives), or the only one."""
        links = await self.store.links.list_for_guild(guild_id)
        if not links:
            raise NotLinked("No lock is linked in this server yet. The lock's owner can run `/chastify link`.")
        if lock is None or not lock.strip():
            if len(links) == 1:
                return links[0]
            raise UserError(f"{len(links)} locks are linked here: pick one with the `lock` option.")
        for link in links:
            if str(link.id) == lock.strip() or link.lock_id == lock.strip():
                return link
        matches = [link for link in links if link.title and link.title.lower() == lock.strip().lower()]
        if len(matches) == 1:
            return matches[0]
        raise NotLinked("That lock is not linked in this server. Pick one from the list the `lock` option offers.")

    async def owned_link(self, guild_id: int, owner: Member) -> Link:
        link = await self.store.links.get(guild_id, owner.id)
        if link is None:
            raise NotLinked("You have no lock linked in this server. Link one with `/chastify link`.")
        return link

    async def status(self, link: Link) -> StatusView:
        state = await self.consent.state(link)
        votes = await self.store.votes.count_open_for_lock(link.lock_id)
        if link.state == "ended":
            return StatusView(link, None, "This lock has ended.", state, votes)
        if link.state == "broken":
            return StatusView(link, None, "The owner's token no longer works; the owner must link again.", state,
                              votes)
        try:
            api = self.client.dev(self.vault.decrypt(link.token_ciphertext), link.lock_id)
            session = await api.session()
        except VaultError:
            return StatusView(link, None, "The stored token cannot be decrypted (the bot's key changed).", state,
                              votes)
        except ChastifyError as err:
            await self._classify_failure(link, err)
            return StatusView(link, None, chastify_problem(err), state, votes)
        if session.lock_data.lock_title and session.lock_data.lock_title != link.title:
            await self.store.links.set_title(link.id, session.lock_data.lock_title)
        return StatusView(link, session, None, state, votes)

    async def change_settings(self, guild_id: int, actor: Member, changes: Mapping[str, Any], *,
                              reset: bool = False) -> GuildRules:
        """A server's vote settings (Manage Server): forget them all first with ``reset``, then set ``changes``;
        returns the rules now in force."""
        permissions.require_manage_server(actor)
        if reset:
            await self.store.settings.reset(guild_id)
        if changes:
            await self.store.settings.update(guild_id, **changes)
        return await self.vote_rules(guild_id)

    async def vote_rules(self, guild_id: int) -> GuildRules:
        g = await self.store.settings.get(guild_id)
        # asked on every reaction: the rules are built once per settings row the store hands out (a changed
        # row is a new object)
        hit = self._rules.get(guild_id)
        if hit is not None and hit[0] is g:
            return hit[1]
        rules = self._build_rules(g)
        self._rules[guild_id] = (g, rules)
        return rules

    def _build_rules(self, g: GuildSettings) -> GuildRules:
        d = self.settings.votes

        def pick(value: Any, default: Any) -> Any:
            return default if value is None else value

        return GuildRules(
            channel_id=g.vote_channel_id, voter_role_id=g.voter_role_id,
            window_seconds=pick(g.window_seconds, d.window_seconds), quorum=pick(g.quorum, d.quorum),
            majority=pick(g.majority, d.majority), instant_pass=pick(g.instant_pass, d.instant_pass),
            proposal_cooldown_seconds=pick(g.proposal_cooldown_seconds, d.proposal_cooldown_seconds),
            max_open_per_lock=pick(g.max_open_per_lock, d.max_open_per_lock),
            min_account_age_days=pick(g.min_account_age_days, d.min_account_age_days))

    # ------------------------------------------------------------------ trust
    async def trust(self, link: Link, kind: Literal["role", "member"], target_id: int) -> bool:
        return await self.store.trust.add(link.id, kind, target_id)

    async def untrust(self, link: Link, kind: Literal["role", "member"], target_id: int) -> bool:
        return await self.store.trust.remove(link.id, kind, target_id)

    async def trusted(self, link: Link) -> list[TrustEntry]:
        return await self.store.trust.list(link.id)

    async def may_act(self, link: Link, member: Member) -> bool:
        return member.id == link.owner_id or await self.store.trust.is_trusted(link.id, member.id, member.role_ids)


    # ------------------------------------------------------------------ limits and safeword
    async def limits(self, link: Link) -> OwnerLimits:
        """The limits in force on the link's lock (the strictest of everyone who linked it)."""
        return await self.consent.limits(link.lock_id)

    async def set_limits(self, link: Link, limits: OwnerLimits | Mapping[str, Any]) -> OwnerLimits:
        """The link's owner changes their own limits on the lock (an OwnerLimits counts only the fields it was
        given). Returns the limits now in force on the lock, which are stricter where another person who linked
        it chose so."""
        update = limits.model_dump(exclude_unset=True) if isinstance(limits, OwnerLimits) else dict(limits)
        return await self.consent.set_limits(link.lock_id, link.owner_id, update)

    async def my_lock(self, place: Place, who: Member) -> tuple[str, str]:
        """The lock a member's own commands (`/chastify limits`) are about: (lock id, title). Theirs linked in this
        server first, then one they hold that is linked here by the other person, then the newest they hold."""
        mine = await self.store.consent.locks_of(who.id)
        if not mine:
            raise NotLinked("You have no lock linked with your own token. Link it with `/chastify link`.")
        here = await self.store.links.list_for_guild(place.guild_id)
        held = {p.lock_id for p in mine}
        pick = next((link.lock_id for link in here if link.owner_id == who.id), None) \
            or next((link.lock_id for link in here if link.lock_id in held), None) or mine[0].lock_id
        return pick, await self._lock_title(pick)

    async def lock_limits(self, lock_id: str) -> OwnerLimits:
        return await self.consent.limits(lock_id)

    async def set_my_limits(self, lock_id: str, who: Member, update: Mapping[str, Any]) -> OwnerLimits:
        """A person who holds the lock changes their own choices; returns the limits now in force on it."""
        return await self.consent.set_limits(lock_id, who.id, update)

    async def safeword(self, place: Place, who: Member) -> SafewordResult:
        """Pause at once every lock the member's own token is linked to, in every server: nobody can act, open
        votes and boards are cancelled everywhere, unsent actions are cancelled. Said in any server.

        Everything that matters happens before this returns; the line in the lock's Chastify log is written in
        the background so a slow Chastify never delays the pause. An action already on the wire at this instant
        cannot be called back (see the README's "Safety model" section)."""
        mine = await self.store.consent.locks_of(who.id)
        if not mine:
            raise NotLinked("You have no lock linked with your own token, in any server. The safeword pauses a lock "
                            "you hold; to stop a vote here, ask the lock's owner or a moderator.")
        why = "the owner used the safeword"
        lock_ids = [p.lock_id for p in mine]
        for lock_id in lock_ids:
            self.consent.hold(lock_id, who.id)  # before any await: nothing for these locks leaves from now on
        titles: list[str] = []
        newly = False
        actions = 0
        votes: list[int] = []
        for lock_id in lock_ids:
            first = await self.consent.pause(lock_id, who.id, place.guild_id)
            newly = newly or first
            actions += await self.outbox.cancel_pending_lock(lock_id, why)
            links = await self.store.links.list_for_lock(lock_id)
            for link in links:
                ids = await self.store.votes.cancel_open_for_link(link.id, cancelled_text(why))
                votes += ids
                await self.store.audit.add(guild_id=link.guild_id, link_id=link.id, actor_id=who.id,
                                           source="safeword", action_summary="safeword", outcome="paused",
                                           detail=f"{len(ids)} votes cancelled")
                await self._notify_cancelled(link, ids, why)
            titles.append(next((link.title for link in links if link.title), None) or "your lock")
            log.info("safeword", extra={"guild": place.guild_id, "lock": lock_id, "outcome": "paused"})
            # the line on the lock goes with the token of the person who said it, else with any token it has here
            writer = next((link for link in links if link.owner_id == who.id), links[0] if links else None)
            if first and writer is not None:
                role = next(p.role for p in mine if p.lock_id == lock_id)
                self._spawn(self._safeword_log(writer, role))
        return SafewordResult(titles, newly, actions, votes)

    async def resume(self, place: Place, who: Member) -> ResumeResult:
        """Lift the member's own safeword on every lock they paused, from any server, and the hold on their link
        here if it was held because they had left the server. A pause someone else said stays."""
        resumed: list[str] = []
        still: list[str] = []
        for pause in await self.store.consent.paused_by(who.id):
            _, others = await self.consent.unpause(pause.lock_id, who.id)
            title = await self._lock_title(pause.lock_id)
            (still if others else resumed).append(title)
            for link in await self.store.links.list_for_lock(pause.lock_id):
                await self.store.audit.add(guild_id=link.guild_id, link_id=link.id, actor_id=who.id,
                                           source="safeword", action_summary="resume",
                                           outcome="still paused" if others else "resumed")
        unheld: list[str] = []
        self._presence[(place.guild_id, who.id)] = (self.clock(), True)  # they are here: they just ran a command
        here = await self.store.links.get(place.guild_id, who.id)
        if here is not None and here.state == "paused" \
                and await self.store.links.set_state(here.id, "active", expected="paused"):
            unheld.append(here.title or "your lock")
            await self.store.audit.add(guild_id=place.guild_id, link_id=here.id, actor_id=who.id, source="link",
                                       action_summary="resume", outcome="resumed",
                                       detail="the owner is back in this server")
        if resumed or still or unheld:
            return ResumeResult(resumed, still, unheld)
        mine = await self.store.consent.locks_of(who.id)
        if not mine:
            raise NotLinked("You have no lock linked with your own token, in any server.")
        for person in mine:
            by_others = [p for p in await self.store.consent.pauses(person.lock_id) if p.user_id != who.id]
            if by_others:
                raise NotAllowed(
                    f"**{await self._lock_title(person.lock_id)}** was paused by {_people(by_others)}. Only the "
                    "person who said the safeword can lift it, with `/chastify resume`.")
        raise UserError("Your lock is not paused: there is nothing to resume.")

    async def _lock_title(self, lock_id: str) -> str:
        links = await self.store.links.list_for_lock(lock_id)
        return next((link.title for link in links if link.title), "a lock")

    async def _safeword_log(self, link: Link, role: str) -> None:
        """One line on the lock (best effort: the pause itself is already in force)."""
        who = f"The lock's {role}" if role in ("wearer", "keyholder") else "Someone who holds this lock"
        try:
            api = self.client.dev(self.vault.decrypt(link.token_ciphertext), link.lock_id)
            await api.custom_log(CustomLog(
                title="Discord: paused by the owner", role="extension",
                description=f"{who} paused every Discord server's access to this lock with the safeword."))
        except Exception as err:  # best effort: the pause itself is already in force
            log.warning("safeword log not written: %s", type(err).__name__,
                        extra={"guild": link.guild_id, "lock": link.lock_id})

    def _spawn(self, coro: Awaitable[None]) -> None:
        async def run() -> None:
            await coro

        task = asyncio.create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def aclose(self) -> None:
        """Stop listening and let background work finish (the outbox is closed by whoever built it)."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        await self.settle()

    async def settle(self) -> None:
        """Wait for background work (the safeword's log line) to finish."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    # ------------------------------------------------------------------ acting
    async def precheck(self, place: Place, actor: Member, link: Link, action: Action) -> None:
        """Every check a direct action must pass, without sending anything (raises the refusal)."""
        acts = await self.may_act(link, actor)
        if not acts:
            await self._refusal(place, link, actor, action, "not the owner and not trusted")
        permissions.require_act(acts)
        await self.gate(place, link, action, source="direct", actor=actor)
        try:
            self._check_rate(link)
        except Refused as err:  # refused actions are audited too
            await self._refusal(place, link, actor, action, str(err))
            raise

    async def act(self, place: Place, actor: Member, link: Link, action: Action, *,
                  reason: str | None = None) -> SendResult:
        """A direct action by the owner or a trusted member: checked, recorded, sent once, logged."""
        await self.precheck(place, actor, link, action)
        if actor.id != link.owner_id and not await self.owner_still_here(link):
            raise Refused(_owner_left_text(link), limit="owner_gone")
        title = log_title(action, source="direct", actor=actor.name)
        return await self.outbox.submit(
            link=link, source="direct", action=action, log_title=title,
            log_description=log_description(guild_name=place.guild_name, channel_name=place.channel_name,
                                            reason=reason),
            key=f"direct:{uuid.uuid4().hex}", actor_id=actor.id, reason=reason)

    async def gate(self, place: Place, link: Link, action: Action, *, source: Literal["direct", "vote", "board"],
                   actor: Member | None = None) -> None:
        """The lock's consent; raises Refused (and audits it) when the owner's rules say no.

        Callers use it to refuse early (before a vote is posted, before a command is acknowledged); the outbox
        asks the same consent again, under the lock's send lock, when the action is recorded and again right
        before each send attempt, so nothing reaches Chastify without passing it."""
        fresh = await self.store.links.get_by_id(link.id) or link
        decision = await self.judge(fresh, action, source)
        if not decision.allowed:
            await self._refusal(place, fresh, actor, action, decision.reason, source=source)
            raise Refused(decision.reason, limit=decision.limit)

    async def judge(self, link: Link, action: Action, source: Literal["direct", "vote", "board"]) -> Decision:
        """What the lock's consent says about this action now."""
        return await self.consent.judge(link, action, source)

    async def _on_action_finished(self, event: ActionFinished) -> None:
        """An action ended: an uncertain one is shown to the owner with the lock's current state."""
        link, entry, result = event.link, event.entry, event.result
        if result.status == "uncertain":
            source = {"direct": "a command", "vote": "a vote", "board": "a time board"}.get(entry.source, "the bot")
            await self._tell_owner(link, f"An action from {source} on your lock "
                                         f"**{link.title or link.lock_id}** needs your attention. {result.message}")

    async def _tell_owner(self, link: Link, message: str) -> None:
        if not self.events.subscribers(OwnerNotice):
            log.warning("nobody to tell the owner", extra={"guild": link.guild_id, "lock": link.lock_id})
        await self.events.publish(OwnerNotice(link, message))

    def _check_rate(self, link: Link, needed: int = 2) -> None:
        """Each action is one Chastify call plus one custom log: refuse rather than queue when the lock's
        per-minute budget is spent."""
        key = limiter_key(self.vault.decrypt(link.token_ciphertext), link.lock_id)
        if self.limiter.remaining(key) < needed:
            wait = max(1, int(self.limiter.wait_time(key) + 0.999))
            raise Refused(f"This lock has used its Chastify budget of {self.limiter.per_minute} actions a minute. "
                          f"Try again in {format_duration(wait)}.", limit="rate")

    # ------------------------------------------------------------------ the owner must still be there
    PRESENCE_TTL = 60.0  # seconds a "still a member" answer is trusted

    async def owner_still_here(self, link: Link) -> bool:
        """Whether the link's owner is still a member of its server (a REST fetch, cached briefly). When they are
        not, the link is held: its votes and queued actions are cancelled, and nobody there can act until they come
        back and run `/chastify resume`. Discord not answering counts as present (logged): the check never stops
        the bot on Discord's hiccups, the lock's own pause and limits are what protect the person."""
        key = (link.guild_id, link.owner_id)
        hit = self._presence.get(key)
        now = self.clock()
        if hit is not None and now - hit[0] < self.PRESENCE_TTL:
            present = hit[1]
        else:
            answer = await self.presence.member_present(*key)
            if answer is None:
                log.warning("could not confirm the lock owner is still a member",
                            extra={"guild": link.guild_id, "lock": link.lock_id})
                return True
            present = answer
            self._presence[key] = (now, present)
        if not present:
            await self.hold_link(link, "the lock's owner is no longer a member of this server")
        return present

    async def hold_link(self, link: Link, why: str) -> list[int]:
        """Hold one server's link (its owner left, or the bot was removed from the server): its open votes and
        queued actions are cancelled and nothing is sent for it until the owner runs `/chastify resume` there."""
        held = await self.store.links.set_state(link.id, "paused", expected="active")
        await self.outbox.cancel_pending(link.id, why)
        ids = await self.store.votes.cancel_open_for_link(link.id, cancelled_text(why))
        if held or ids:
            await self.store.audit.add(guild_id=link.guild_id, link_id=link.id, actor_id=None, source="bot",
                                       action_summary="hold link", outcome="held",
                                       detail=f"{why}; {len(ids)} votes cancelled")
        await self._notify_cancelled(link, ids, why)
        return ids

    async def guild_gone(self, guild_id: int) -> int:
        """The bot was removed from a server: every link there is held, its votes and queue cancelled."""
        links = await self.store.links.list_for_guild(guild_id)
        for link in links:
            await self.hold_link(link, "the bot was removed from this server")
        return len(links)

    def forget_presence(self, guild_id: int, member_id: int) -> None:
        self._presence.pop((guild_id, member_id), None)

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
        permissions.require_history(reader, await self.may_act(link, reader))
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

    # ------------------------------------------------------------------ internals
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

    async def _classify_failure(self, link: Link, err: ChastifyError) -> None:
        if isinstance(err, TokenError):
            await self._on_link_gone(link, "broken", "The owner's Chastify token was rejected.")
        elif isinstance(err, LockGone):
            await self._on_link_gone(link, "ended", "This lock has ended on Chastify.")

    async def _on_link_gone(self, link: Link, state: Literal["ended", "broken"], message: str) -> None:
        if not await self.store.links.set_state(link.id, state, expected=("active", "paused")):
            return  # already marked: say it once
        await self.outbox.cancel_pending(link.id, message)
        await self._on_link_gone_event(LinkGone(link, state, message))

    async def _on_link_gone_event(self, event: LinkGone) -> None:
        """A link was just marked ended or broken (here or by the outbox): its votes go, the owner is told."""
        link, state, message = event.link, event.state, event.message
        ids = await self.store.votes.cancel_open_for_link(link.id, cancelled_text(message))
        await self.store.audit.add(guild_id=link.guild_id, link_id=link.id, actor_id=None, source="chastify",
                                   action_summary=f"link {state}", outcome=state, detail=message)
        await self._notify_cancelled(link, ids, message)
        what = f"Your lock **{link.title or link.lock_id}**: {message}"
        if state == "broken" and "/chastify link" not in message:
            what += " Create a new DEV token and run `/chastify link` again."
        elif state == "ended":
            what += " Its open votes were cancelled. Link your next lock with `/chastify link`."
        await self._tell_owner(link, what)

    async def _notify_cancelled(self, link: Link, ids: list[int], reason: str) -> None:
        if ids:
            await self.events.publish(VotesCancelled(link, ids, reason))

