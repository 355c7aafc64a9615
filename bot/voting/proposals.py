"""Proposing a vote or a board: every check a proposal passes, then the vote recorded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bot import permissions
from bot.actions import Action, ActionKind
from bot.clock import Clock
from bot.durations import format_duration
from bot.errors import NotAllowed, Refused, UserError
from bot.members import Member, Place
from bot.policy import WHEELS_REFUSED, card_refusal, effective_quorum
from bot.services import Core
from bot.store.models import Link, Vote
from bot.voting.draw import Mode, commitment, new_seed
from bot.voting.options import WheelOption, options_to_json
from bot.voting.rules import Rules
from bot.voting.state import MAX_WINDOW, MIN_WINDOW


@dataclass(frozen=True)
class BallotChoice:
    """How members vote on a new vote: ``style`` None takes the server's; ``anonymous`` needs buttons."""

    style: Literal["reactions", "buttons"] | None = None
    anonymous: bool = False


SERVER_STYLE = BallotChoice()  # the server's style, not anonymous


class Proposals:
    """Checks and records proposals. Every refusal is audited with the words the member is given (what
    ``/chastify history`` shows) and starts the member's cooldown like a posted vote, so refused proposals
    cannot be sent in a stream (the cooldown's own refusal excepted: trying early never pushes the wait out)."""

    def __init__(self, core: Core, clock: Clock) -> None:
        self.core = core
        self.store = core.store
        self.clock = clock

    async def decision(self, place: Place, proposer: Member, link: Link, action: Action, *,
                       window: int | None, channel_id: int, ballots: BallotChoice = SERVER_STYLE,
                       schedule_id: int | None = None) -> Vote:
        style, anonymous = await self._style(place.guild_id, ballots)
        rules, window_s = await self._admission(place, proposer, link, window, action,
                                                scheduled=schedule_id is not None)
        try:
            # refuse now what the owner's limits would refuse at the end anyway (the gate audits it)
            await self.core.gate(place, link, action, source="vote", actor=proposer)
        except UserError:
            await self._note_refused(place.guild_id, proposer.id, schedule_id is not None)  # starts the cooldown
            raise
        return await self.store.votes.create(
            guild_id=place.guild_id, link_id=link.id, kind="decision", action_json=action.to_json(),
            proposer_id=proposer.id, channel_id=channel_id, deadline=self.clock() + window_s,
            quorum=rules.quorum, majority=rules.majority, instant_pass=rules.instant_pass,
            remind_at=await self._remind_at(place.guild_id, window_s), style=style, anonymous=anonymous,
            schedule_id=schedule_id)

    async def wheel(self, place: Place, proposer: Member, link: Link, options: Sequence[WheelOption], *,
                    mode: Mode, window: int | None, channel_id: int, ballots: BallotChoice = SERVER_STYLE,
                    schedule_id: int | None = None) -> Vote:
        """A wheel: 2 to 6 options, each within the lock's card and limits now (each is asked of the gate, as a
        decision's action is), decided at the close by ``mode``. Its seed is made now; only its commitment is
        shown until the close."""
        style, anonymous = await self._style(place.guild_id, ballots)
        first = next(o.action for o in options if o.action is not None)
        rules, window_s = await self._admission(place, proposer, link, window, first,
                                                scheduled=schedule_id is not None)
        if not (await self.core.limits(link)).allow_wheels:
            await self.core.audit_refusal(place, link, proposer, first, WHEELS_REFUSED, source="vote")
            await self._note_refused(place.guild_id, proposer.id, schedule_id is not None)
            raise Refused(WHEELS_REFUSED, limit="allowed")
        for number, option in enumerate(options, start=1):
            if option.action is None:
                continue
            try:
                await self.core.gate(place, link, option.action, source="vote", actor=proposer)
            except Refused as err:
                await self._note_refused(place.guild_id, proposer.id, schedule_id is not None)
                raise Refused(f"Option {number} ({option.label}) cannot be on this wheel: {err} Nothing was "
                              "proposed; leave that option out or change it.", limit=err.limit) from None
            except UserError:
                await self._note_refused(place.guild_id, proposer.id, schedule_id is not None)
                raise
        seed = new_seed()
        return await self.store.votes.create(
            guild_id=place.guild_id, link_id=link.id, kind="wheel", action_json=None, proposer_id=proposer.id,
            channel_id=channel_id, deadline=self.clock() + window_s, quorum=rules.quorum, majority=rules.majority,
            remind_at=await self._remind_at(place.guild_id, window_s), style=style, anonymous=anonymous,
            mode=mode, options_json=options_to_json(options), seed=seed, commitment=commitment(seed),
            schedule_id=schedule_id)

    async def _style(self, guild_id: int, ballots: BallotChoice) -> tuple[str, bool]:
        """How members vote on a new vote: as asked, else the server's style; anonymous needs buttons (with
        reactions everyone sees who reacted)."""
        style = ballots.style or ("buttons" if ballots.anonymous
                                  else (await self.core.vote_rules(guild_id)).ballot_style)
        if ballots.anonymous and style != "buttons":
            raise UserError("An anonymous vote uses buttons: with reactions everyone can see who reacted. Choose "
                            "`style: buttons` or leave the style out. Nothing was proposed.")
        return style, ballots.anonymous

    async def board(self, place: Place, proposer: Member, link: Link, *, add_per_vote: int,
                    remove_per_vote: int, window: int | None, channel_id: int,
                    ballots: BallotChoice = SERVER_STYLE, schedule_id: int | None = None) -> Vote:
        if add_per_vote <= 0 and remove_per_vote <= 0:
            raise UserError("A board needs time per 🔼 or per 🔽 (or both).")
        style, anonymous = await self._style(place.guild_id, ballots)
        side = (Action(kind=ActionKind.ADD_TIME, seconds=add_per_vote) if add_per_vote > 0
                else Action(kind=ActionKind.REMOVE_TIME, seconds=remove_per_vote))
        rules, window_s = await self._admission(place, proposer, link, window, side, source="board",
                                                scheduled=schedule_id is not None)
        limits = await self.core.limits(link)
        why = None
        if not limits.allow_boards:
            why = card_refusal(limits, "board")
        elif add_per_vote > 0 and ActionKind.ADD_TIME not in limits.vote_allowed:
            why = f"{card_refusal(limits, 'vote', ActionKind.ADD_TIME)} Open the board with `add_per_vote: 0`."
        elif remove_per_vote > 0 and ActionKind.REMOVE_TIME not in limits.vote_allowed:
            why = f"{card_refusal(limits, 'vote', ActionKind.REMOVE_TIME)} Open the board with `remove_per_vote: 0`."
        if why is not None:
            await self.core.audit_refusal(place, link, proposer, side, why, source="board")
            await self._note_refused(place.guild_id, proposer.id, schedule_id is not None)  # starts the cooldown
            raise Refused(why, limit="allowed")
        return await self.store.votes.create(
            guild_id=place.guild_id, link_id=link.id, kind="board", action_json=None, proposer_id=proposer.id,
            channel_id=channel_id, deadline=self.clock() + window_s, quorum=rules.quorum, majority=rules.majority,
            add_per_vote=add_per_vote, remove_per_vote=remove_per_vote,
            remind_at=await self._remind_at(place.guild_id, window_s), style=style, anonymous=anonymous,
            schedule_id=schedule_id)

    async def _note_refused(self, guild_id: int, proposer_id: int, scheduled: bool) -> None:
        """A refused proposal starts its proposer's cooldown, unless a schedule proposed it (nobody typed it)."""
        if not scheduled:
            await self.store.votes.note_refused_proposal(guild_id, proposer_id)

    async def _remind_at(self, guild_id: int, window_s: int) -> float | None:
        """When a vote proposed now reminds: when the server's share of its window is left (None: never)."""
        share = (await self.core.vote_rules(guild_id)).reminder_fraction
        return self.clock() + window_s * (1 - share) if share > 0 else None

    async def _admission(self, place: Place, proposer: Member, link: Link, window: int | None,
                         proposed: Action, *, source: Literal["vote", "board"] = "vote",
                         scheduled: bool = False) -> tuple[Rules, int]:
        """The checks every proposal passes: the lock's state, the cooldown, the voter role, the window, the
        open-vote cap (and in the callers the owner's limits). A paused, ended or broken lock is said first: the
        member must hear that the owner said no, not that waiting would help. A scheduled vote (``scheduled``)
        has no proposer at the keyboard: the cooldown and the voter role are not asked (who made the schedule
        had Manage Server or held the lock); everything else is."""
        fresh = await self.store.links.get_by_id(link.id) or link
        g = await self.core.vote_rules(place.guild_id)

        async def refused(err: UserError) -> UserError:
            await self.core.audit_refusal(place, fresh, proposer, proposed, str(err), source=source)
            return err

        if await self.core.consent.state(fresh) != "active":
            try:
                # the policy gate words (and audits, under what was proposed) the refusal for a paused, ended or
                # broken lock
                await self.core.gate(place, fresh, proposed, source=source, actor=proposer)
            except UserError:
                await self._note_refused(place.guild_id, proposer.id, scheduled)
                raise
        last = None if scheduled else await self.store.votes.last_attempt_at(place.guild_id, proposer.id)
        if last is not None and g.proposal_cooldown_seconds > 0:
            at, was_refused = last
            wait = at + g.proposal_cooldown_seconds - self.clock()
            if wait > 0:  # not recorded as an attempt: trying again early never pushes the wait out
                every = format_duration(g.proposal_cooldown_seconds)
                again = format_duration(max(1, int(wait + 0.999)))
                raise await refused(Refused(
                    f"Your last proposal here was refused, and refused proposals count too: this server allows one "
                    f"proposal per member every {every}. You can propose again in {again}." if was_refused else
                    f"You proposed a vote recently; this server allows one proposal per member every {every}. "
                    f"You can propose again in {again}.", limit="cooldown"))
        try:
            try:
                if not scheduled:
                    permissions.require_voter_role(proposer, g.voter_role_id)
            except NotAllowed as err:
                raise await refused(err) from None
            window_s = g.window_seconds if window is None else window
            if not MIN_WINDOW <= window_s <= MAX_WINDOW:
                raise await refused(UserError(
                    f"A vote runs from {format_duration(MIN_WINDOW)} to {format_duration(MAX_WINDOW)} "
                    f"(asked: {format_duration(window_s)})."))
            if await self.store.votes.count_open_for_lock(link.lock_id) >= g.max_open_per_lock:
                raise await refused(Refused(
                    f"This lock already has {g.max_open_per_lock} open vote(s), the most this server allows "
                    "(votes on it in every server count). Wait for one to close (see `/vote list`).",
                    limit="max_open"))
        except UserError:
            await self._note_refused(place.guild_id, proposer.id, scheduled)
            raise
        limits = await self.core.limits(fresh)
        return Rules(quorum=effective_quorum(g.quorum, limits), majority=g.majority,
                     instant_pass=g.instant_pass), window_s
