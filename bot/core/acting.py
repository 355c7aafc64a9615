"""Acting on a lock directly: the checks, the gate, and the outbox."""

from __future__ import annotations

import logging
import uuid
from typing import Any, Literal

from bot import permissions
from bot.actions import Action, log_description, log_title
from bot.chastify import limiter_key
from bot.core.linking import Linking
from bot.core.part import OWNER_LEFT_TEXT, Part
from bot.durations import format_duration
from bot.errors import Refused
from bot.events import ActionFinished, LockNews
from bot.members import Member, Place
from bot.outcomes import SendResult
from bot.policy import Decision
from bot.store.models import Link
from bot.text import escape_markdown

log = logging.getLogger("bot.core.acting")


class Acting(Part):
    """A direct action by the owner or a trusted member: checked (trust, the lock's consent, the per-minute budget,
    the owner still there), recorded, sent once, logged; an uncertain outcome is shown to the owner."""

    def __init__(self, *, linking: Linking, **parts: Any) -> None:
        super().__init__(**parts)
        self.linking = linking
        self._unsubscribe = self.events.subscribe(ActionFinished, self._on_action_finished)

    def aclose(self) -> None:
        self._unsubscribe()

    async def precheck(self, place: Place, actor: Member, link: Link, action: Action) -> None:
        """Every check a direct action must pass, without sending anything (raises the refusal)."""
        acts = await self.linking.may_act(link, actor)
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
        if actor.id != link.owner_id and not await self.linking.owner_still_here(link):
            raise Refused(OWNER_LEFT_TEXT, limit="owner_gone")
        title = log_title(action, source="direct", actor=actor.name)
        result = await self.outbox.submit(
            link=link, source="direct", action=action, log_title=title,
            log_description=log_description(guild_name=place.guild_name, channel_name=place.channel_name,
                                            reason=reason),
            key=f"direct:{uuid.uuid4().hex}", actor_id=actor.id, reason=reason)
        if result.status in ("done", "pending", "uncertain"):
            said = {"done": "applied", "pending": "queued", "uncertain": "sent, outcome uncertain"}[result.status]
            await self.events.publish(LockNews(
                link.lock_id, place.guild_id, "direct_action", actor_id=actor.id,
                text=f"{escape_markdown(actor.name)} used **{action.shown()}** on your lock "
                     f"**{escape_markdown(link.title or 'your lock')}** in {escape_markdown(place.guild_name)} "
                     f"({said})."))
        return result

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

    def _check_rate(self, link: Link, needed: int = 2) -> None:
        """Each action is one Chastify call plus one custom log: refuse rather than queue when the lock's
        per-minute budget is spent."""
        key = limiter_key(self.vault.decrypt(link.token_ciphertext), link.lock_id)
        if self.limiter.remaining(key) < needed:
            wait = max(1, int(self.limiter.wait_time(key) + 0.999))
            raise Refused(f"This lock has used its Chastify budget of {self.limiter.per_minute} actions a minute. "
                          f"Try again in {format_duration(wait)}.", limit="rate")
