"""The veto window: a passed vote waits, and the lock's people may veto it (``Closing`` applies it after)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from bot.actions import Action
from bot.clock import Clock
from bot.durations import format_signed
from bot.errors import NotAllowed, Refused, UserError
from bot.members import Member
from bot.services import Core
from bot.text import escape_markdown
from bot.voting.display import Display
from bot.voting.live import LiveTally
from bot.voting.options import options_from_json


class Vetoes:
    """Vetoes by the lock's people. ``spawn(coro, name)`` runs background work (the line on the lock)."""

    def __init__(self, core: Core, clock: Clock, live: LiveTally, display: Display, *,
                 spawn: Callable[[Coroutine[Any, Any, object], str], None]) -> None:
        self.core = core
        self.store = core.store
        self.clock = clock
        self.live = live
        self.display = display
        self.spawn = spawn

    async def veto(self, vote_id: int, actor: Member, *, message_id: int | None = None) -> str:
        """One of the lock's people vetoes a passed vote during its veto window, from any server where the lock
        is linked (the vote may be in a server they are not in): nothing is applied; the veto is audited with the
        tally and written on the lock (in the background: the answer never waits on Chastify). Refused for anyone
        else and after the window. ``message_id``: the button's message, which must be the vote's."""
        vote = await self.store.votes.get(vote_id)
        link = await self.store.links.get_by_id(vote.link_id) if vote is not None else None
        if vote is None or link is None or (message_id is not None and vote.message_id != message_id):
            raise UserError(f"There is no vote #{vote_id} to veto (the vote message's footer shows its number).")
        if not await self.core.is_holder(link, actor):
            raise NotAllowed("Only the lock's owner (whoever linked it with their own token) can veto a vote on it.")
        if vote.status != "applying" or vote.apply_at is None or vote.apply_at <= self.clock():
            raise Refused(f"Vote #{vote_id} can no longer be vetoed: its veto window has closed "
                          f"({vote.outcome_reason or vote.status}).", limit="veto_window")
        t = await self.store.ballots.tally(vote_id)
        if vote.kind == "wheel":
            n = len(options_from_json(vote.options_json or "[]"))
            counts = await self.store.ballots.counts(vote_id)
            counted = "tally " + ",".join(str(counts.get(i, 0)) for i in range(1, n + 1))
        elif vote.kind == "decision":
            counted = f"{t.votes_for} for, {t.votes_against} against"
        else:
            counted = f"{t.votes_for} 🔼, {t.votes_against} 🔽"
        earlier = (f"nothing more was applied ({format_signed(vote.applied_net_seconds)} applied earlier)"
                   if vote.applied_net_seconds else "nothing was applied")
        text = f"Vetoed by {escape_markdown(actor.name)} ({counted}): {earlier}."
        if not await self.store.votes.veto(vote_id, text):
            raise Refused(f"Vote #{vote_id} can no longer be vetoed: its veto window has closed.",
                          limit="veto_window")
        action = Action.from_json(vote.action_json) if vote.action_json else None
        summary = action.summary() if action is not None else "time board"
        if vote.kind == "wheel":
            options = options_from_json(vote.options_json or "[]")
            number = vote.drawn_option or 0
            summary = f"wheel option {number}: {options[number - 1].label}" if 1 <= number <= len(options) \
                else "wheel"
        await self.store.audit.add(guild_id=vote.guild_id, link_id=link.id, actor_id=actor.id,
                                   source="board" if vote.kind == "board" else "vote", action_summary=summary,
                                   outcome="vetoed", detail=f"vote #{vote_id}: {counted}")
        await self.live.show(vote_id)
        place = self.display.place(vote.guild_id, vote.channel_id)
        self.spawn(self.core.note_on_lock(link, f"Discord: vote vetoed by the owner ({summary})",
                                           f"Vote #{vote_id} in {place.guild_name} passed ({counted}) and was "
                                           f"vetoed by the lock's owner during the veto window; {earlier}."),
                    f"veto-log-{vote_id}")
        return text

