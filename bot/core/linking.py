"""Links: linking and unlinking, who is trusted, a link's status, server settings, and the link held or gone."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

from bot import permissions
from bot.chastify import (
    ChastifyError,
    InsufficientScope,
    LockGone,
    TokenError,
)
from bot.core.part import GuildRules, LinkResult, Part, StatusView, chastify_problem
from bot.errors import NotLinked, Refused, UserError
from bot.events import LinkGone, SettingsChanged
from bot.members import Member, Place
from bot.outcomes import cancelled_text
from bot.store.models import GuildSettings, Link, TrustEntry
from bot.vault import VaultError, normalize_token

log = logging.getLogger("bot.core.linking")


class Linking(Part):
    """Links between a server and a lock: making them (one per lock per server), trust, status, the server's vote
    settings, and what happens when a link's owner leaves, the bot leaves, or Chastify says the link is gone."""

    def __init__(self, **parts: Any) -> None:
        super().__init__(**parts)
        self._rules: dict[int, tuple[GuildSettings, GuildRules]] = {}
        self._presence: dict[tuple[int, int], tuple[float, bool]] = {}
        self._unsubscribe = self.events.subscribe(LinkGone, self._on_link_gone_event)

    def mark_present(self, guild_id: int, member_id: int) -> None:
        """The member just ran a command in that server: they are there."""
        self._presence[(guild_id, member_id)] = (self.clock(), True)

    def aclose(self) -> None:
        self._unsubscribe()

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
        # told (and their messages redrawn, buttons gone) while the votes still exist: deleting the link deletes them
        await self._notify_cancelled(link, ids, reason)
        await self.store.links.delete(link.id)
        await self.store.audit.add(guild_id=place.guild_id, link_id=None, actor_id=actor.id, source="link",
                                   action_summary=f"unlink lock {link.lock_id}", outcome="unlinked")
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
        return StatusView(link, session, None, state, votes, await self.consent.card(link))

    async def change_settings(self, guild_id: int, actor: Member, changes: Mapping[str, Any], *,
                              reset: bool = False) -> GuildRules:
        """A server's vote settings (Manage Server): forget them all first with ``reset``, then set ``changes``;
        returns the rules now in force."""
        permissions.require_manage_server(actor)
        if reset:
            await self.store.settings.reset(guild_id)
        if changes:
            await self.store.settings.update(guild_id, **changes)
        if changes or reset:
            await self.events.publish(SettingsChanged(guild_id, time_zone=reset or "time_zone" in changes))
        return await self.vote_rules(guild_id)

    def vote_rules_now(self, guild_id: int) -> GuildRules | None:
        """:meth:`vote_rules` without waiting, when the server's settings are in the read cache (else None)."""
        g = self.store.settings.cached(guild_id)
        return None if g is None else self._rules_of(guild_id, g)

    async def vote_rules(self, guild_id: int) -> GuildRules:
        return self._rules_of(guild_id, await self.store.settings.get(guild_id))

    def _rules_of(self, guild_id: int, g: GuildSettings) -> GuildRules:
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
            min_account_age_days=pick(g.min_account_age_days, d.min_account_age_days),
            reminder_fraction=pick(g.reminder_fraction, d.reminder_fraction), reminder_role_id=g.reminder_role_id,
            ballot_style=pick(g.ballot_style, d.ballot_style), time_zone=pick(g.time_zone, "UTC"))

    async def trust(self, link: Link, kind: Literal["role", "member"], target_id: int) -> bool:
        return await self.store.trust.add(link.id, kind, target_id)

    async def untrust(self, link: Link, kind: Literal["role", "member"], target_id: int) -> bool:
        return await self.store.trust.remove(link.id, kind, target_id)

    async def trusted(self, link: Link) -> list[TrustEntry]:
        return await self.store.trust.list(link.id)

    async def is_holder(self, link: Link, member: Member) -> bool:
        """Is ``member`` one of the lock's people (someone who proved a token for it, in any server)?"""
        if member.id == link.owner_id:
            return True
        return any(p.user_id == member.id for p in await self.store.consent.people(link.lock_id))

    async def may_act(self, link: Link, member: Member) -> bool:
        return member.id == link.owner_id or await self.store.trust.is_trusted(link.id, member.id, member.role_ids)

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
