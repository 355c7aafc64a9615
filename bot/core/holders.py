"""The people who hold a lock (its wearer and keyholder): their limits, their safeword and their resume."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping
from typing import Any

from bot.chastify import CustomLog
from bot.core.linking import Linking
from bot.core.part import Part, ResumeResult, SafewordResult, mentions
from bot.errors import NotAllowed, NotLinked, UserError
from bot.events import LockNews
from bot.members import Member, Place
from bot.outcomes import cancelled_text
from bot.policy import OwnerLimits
from bot.store.models import Link
from bot.text import escape_markdown

log = logging.getLogger("bot.core.holders")


class Holders(Part):
    """What the people who hold a lock say about it: their limits, the safeword (lock-wide, at once) and resume."""

    def __init__(self, *, linking: Linking, **parts: Any) -> None:
        super().__init__(**parts)
        self.linking = linking
        self._background: set[asyncio.Task[None]] = set()

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
            if first:
                await self.events.publish(LockNews(
                    lock_id, place.guild_id, "paused", urgent=True, actor_id=who.id,
                    text=f"**{escape_markdown(titles[-1])}** was paused with the safeword by "
                         f"{escape_markdown(who.name)}: nothing happens to it, in any server, until they lift it."))
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
            if not others:
                await self.events.publish(LockNews(
                    pause.lock_id, place.guild_id, "resumed", urgent=True, actor_id=who.id,
                    text=f"**{escape_markdown(title)}** was resumed by {escape_markdown(who.name)}: votes and "
                         "trusted people can act on it again."))
            for link in await self.store.links.list_for_lock(pause.lock_id):
                await self.store.audit.add(guild_id=link.guild_id, link_id=link.id, actor_id=who.id,
                                           source="safeword", action_summary="resume",
                                           outcome="still paused" if others else "resumed")
        unheld: list[str] = []
        self.linking.mark_present(place.guild_id, who.id)  # they are here: they just ran a command
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
                    f"**{await self._lock_title(person.lock_id)}** was paused by {mentions(by_others)}. Only the "
                    "person who said the safeword can lift it, with `/chastify resume`.")
        raise UserError("Your lock is not paused: there is nothing to resume.")

    async def note_on_lock(self, link: Link, title: str, description: str) -> bool:
        """One line in the lock's Chastify history, for something that is not an action (a pause, a veto).
        Best effort: what it reports is already in force. True when Chastify took it. It takes a slot of the
        lock's budget that every bot process shares, waiting (in the background it runs in) for one if needed."""
        for _ in range(3):
            wait = await self.store.outbox.reserve_budget(link.lock_id, 1, per_minute=self.limiter.per_minute)
            if wait <= 0:
                break
            await asyncio.sleep(min(wait, 60.0))
        else:
            log.warning("lock log not written: no room in the lock's budget",
                        extra={"guild": link.guild_id, "lock": link.lock_id})
            return False
        try:
            api = self.client.dev(self.vault.decrypt(link.token_ciphertext), link.lock_id)
            await api.custom_log(CustomLog(title=title, role="extension", description=description))
        except Exception as err:
            log.warning("lock log not written: %s", type(err).__name__,
                        extra={"guild": link.guild_id, "lock": link.lock_id})
            return False
        return True

    async def _safeword_log(self, link: Link, role: str) -> None:
        """One line on the lock (best effort: the pause itself is already in force)."""
        who = f"The lock's {role}" if role in ("wearer", "keyholder") else "Someone who holds this lock"
        await self.note_on_lock(link, "Discord: paused by the owner",
                                f"{who} paused every Discord server's access to this lock with the safeword.")

    def _spawn(self, coro: Awaitable[None]) -> None:
        async def run() -> None:
            await coro

        task = asyncio.create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def settle(self, wait_at_most: float | None = None) -> None:
        """Wait for background work (the safeword's log line) to finish; with ``wait_at_most`` (seconds), at most
        that long, then stop what is left (a log line still waiting for room in the lock's budget is not written)."""
        if wait_at_most is not None and self._background:
            _, left = await asyncio.wait(list(self._background), timeout=wait_at_most)
            for task in left:
                log.warning("a lock log line was not written: the bot stopped while it waited")
                task.cancel()
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)
