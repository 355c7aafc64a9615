"""Community votes: decision votes (✅ ❌) and time boards (🔼 🔽), restart-safe and within the rate limit.

Rules (the README's "Votes and boards" section has them all in one table):
- Eligible voters: not bots; the voter role when one is set; not the lock's owner unless the owner allows it;
  accounts at least ``min_account_age_days`` old. Reactions of anyone else are ignored.
- One ballot per member and vote: the latest reaction wins; removing it retracts the ballot.
- A member who leaves the server keeps the ballot they cast (Discord keeps their reaction too).
- Ballots are kept in memory for the live tally and written to SQLite in groups (on every tally refresh and
  before a vote closes); after a restart each vote's ballots are rebuilt from its message's reactions (in the
  background, soonest deadline first) before that vote is decided or applies anything.
- Decision votes pass on quorum and a share of ✅ strictly above the majority (a tie fails), see
  ``bot.voting.rules``. Passed actions go through the same policy gate as direct actions, are applied once and
  logged on the lock with their tally.
- Boards apply their net change in ONE apply-time call (and one custom log) at close, and on boards longer than
  twice ``board_flush_seconds`` every ``board_flush_seconds`` before that (never in the last
  ``board_flush_seconds``); each application is clamped to the owner's limits and what the limits held back is
  tried again at the next application.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from typing import Any, Literal

from bot import permissions
from bot.actions import Action
from bot.errors import UserError
from bot.events import ActionFinished, VotesCancelled
from bot.members import Member, Place
from bot.outcomes import cancelled_text
from bot.services import Core
from bot.store.models import Link, Tally, Vote, VoteSchedule
from bot.text import escape_markdown
from bot.voting.ballots import Ballots
from bot.voting.catchup import CatchUp
from bot.voting.closing import Closing
from bot.voting.deadlines import Deadlines, Due
from bot.voting.display import CurrentReactions, Display
from bot.voting.draw import Mode
from bot.voting.live import LiveTally
from bot.voting.news import VoteNews
from bot.voting.options import WheelOption
from bot.voting.proposals import SERVER_STYLE, BallotChoice, Proposals
from bot.voting.registry import OpenVotes
from bot.voting.rules import Verdict, early
from bot.voting.schedules import Plan, Schedules
from bot.voting.state import OpenVote, Snapshot, emoji_choices
from bot.voting.veto import Vetoes

log = logging.getLogger("bot.voting")


class VoteService:
    """Votes and boards on the locks of every server, the one object the Discord side calls. It builds its parts
    (each in its own module, each given what it needs) and does what needs several of them: a ballot that may
    close a vote early, closing under the vote's locks, cancelling, a vote loaded after a restart.

    - ``Proposals``: the checks a proposal passes, the vote recorded;
    - ``OpenVotes``: the votes open in memory, by id and by message;
    - ``Ballots``: eligibility, one ballot per member, the tally, group-committed writes;
    - ``LiveTally``: the vote message kept up to date (debounced) through the ``display``;
    - ``Deadlines``: one timer for every deadline and board application;
    - ``CatchUp``: after a restart, each vote's reactions read back before it is decided;
    - ``Closing``: the decision and what is applied, through the outbox;
    - ``Vetoes``: a passed vote vetoed by the lock's people during its veto window;
    - ``VoteNews``: what the lock's people are told (a vote opened, closed, waiting for their veto).

    ``display`` is the Discord side (``cogs/votes.py``); the default shows nothing."""

    def __init__(self, core: Core, display: Display | None = None) -> None:
        self.core = core
        self.store = core.store
        self.clock = core.clock
        self.display: Display = display if display is not None else Display()
        settings = core.settings.votes
        self.open = OpenVotes()
        self.proposals = Proposals(core, core.clock)
        self.ballots = Ballots(core, core.clock)
        self.live = LiveTally(core.store, self.open, self.ballots, self.display,
                              debounce_seconds=settings.tally_debounce_seconds)
        self.deadlines = Deadlines(core.clock, self._due)
        self.catching_up = CatchUp(self.open, self.display, reconcile=self.reconcile,
                                   message_gone=lambda ov: self._cancel_quietly(
                                       ov, "Cancelled: the vote message was deleted."))
        self.closing = Closing(core, core.clock, self.ballots, self.live, self.display,
                               apply_at=lambda when, vote_id: self.deadlines.schedule(when, vote_id, "apply"))
        self._board_every = settings.board_flush_seconds
        self.news = VoteNews(core, self.display)
        self.vetoes = Vetoes(core, core.clock, self.live, self.display,
                             spawn=lambda coro, name: self._spawn(coro, name))
        self.schedules = Schedules(core, core.clock, opener=self._open_scheduled,
                                   noter=lambda s, text: self.display.note(
                                       s.guild_id, s.channel_id, f"⏭️ Scheduled vote (schedule #{s.id}) {text}."))
        self._tasks: set[asyncio.Task[None]] = set()
        self._unsubscribe = [core.events.subscribe(VotesCancelled, self._cancelled_elsewhere),
                             core.events.subscribe(ActionFinished, self._outbox_result)]

    # ================================================================== proposing
    async def propose(self, place: Place, proposer: Member, link: Link, action: Action, *,
                      window: int | None, channel_id: int, ballots: BallotChoice = SERVER_STYLE,
                      schedule_id: int | None = None) -> OpenVote:
        """Check and record a decision vote. The caller posts the message and calls :meth:`attach`."""
        vote = await self.proposals.decision(place, proposer, link, action, window=window, channel_id=channel_id,
                                             ballots=ballots, schedule_id=schedule_id)
        return self._remember(vote, fresh=True)

    async def propose_board(self, place: Place, proposer: Member, link: Link, *, add_per_vote: int,
                            remove_per_vote: int, window: int | None, channel_id: int,
                            ballots: BallotChoice = SERVER_STYLE, schedule_id: int | None = None) -> OpenVote:
        vote = await self.proposals.board(place, proposer, link, add_per_vote=add_per_vote,
                                          remove_per_vote=remove_per_vote, window=window, channel_id=channel_id,
                                          ballots=ballots, schedule_id=schedule_id)
        return self._remember(vote, fresh=True)

    async def propose_wheel(self, place: Place, proposer: Member, link: Link, options: Sequence[WheelOption], *,
                            mode: Mode, window: int | None, channel_id: int, ballots: BallotChoice = SERVER_STYLE,
                            schedule_id: int | None = None) -> OpenVote:
        """Check and record a wheel vote (its seed made now, only the commitment shown until it closes)."""
        vote = await self.proposals.wheel(place, proposer, link, options, mode=mode, window=window,
                                          channel_id=channel_id, ballots=ballots, schedule_id=schedule_id)
        return self._remember(vote, fresh=True)

    async def _open_scheduled(self, s: VoteSchedule, plan: Plan, link: Link, window: int) -> int:
        """A schedule's opening: the plan proposed in the schedule's name (every check of a proposal but the
        proposer's cooldown and voter role), then posted. Returns the vote's number; UserError when it may not
        open or could not be posted."""
        place = self.display.place(s.guild_id, s.channel_id)
        creator = Member(id=s.creator_id, name=f"schedule #{s.id}")
        ballots = BallotChoice(plan.style, plan.anonymous)
        if plan.kind == "decision":
            assert plan.action is not None
            ov = await self.propose(place, creator, link, plan.action, window=window, channel_id=s.channel_id,
                                    ballots=ballots, schedule_id=s.id)
        elif plan.kind == "board":
            ov = await self.propose_board(place, creator, link, add_per_vote=plan.add_per_vote,
                                          remove_per_vote=plan.remove_per_vote, window=window,
                                          channel_id=s.channel_id, ballots=ballots, schedule_id=s.id)
        else:
            assert plan.mode is not None
            ov = await self.propose_wheel(place, creator, link, plan.options, mode=plan.mode, window=window,
                                          channel_id=s.channel_id, ballots=ballots, schedule_id=s.id)
        await self.publish(ov)
        return ov.id

    async def publish(self, ov: OpenVote) -> None:
        """Post a recorded vote through the display and remember its message; a vote that could not be posted
        is dropped (nobody saw it) and UserError says so."""
        snap = await self.live.snapshot(ov.id)
        message_id = await self.display.post(snap) if snap is not None else None
        if message_id is None:
            await self.discard(ov.id, "the vote message could not be posted")
            raise UserError(f"the bot could not post the vote in <#{ov.channel_id}> (it needs View Channel, Send "
                            "Messages, Embed Links and Add Reactions there)")
        await self.attach(ov.id, ov.channel_id, message_id)

    def _remember(self, vote: Vote, *, fresh: bool = False) -> OpenVote:
        ov = self.open.add(vote, fresh=fresh)
        self.deadlines.schedule(vote.deadline, vote.id, "deadline")
        if ov.kind == "board":
            self.deadlines.schedule(ov.last_flush + self._board_every, vote.id, "flush")
        if vote.remind_at is not None and vote.reminded_at is None:
            self.deadlines.schedule(vote.remind_at, vote.id, "remind")
        return ov

    async def attach(self, vote_id: int, channel_id: int, message_id: int) -> None:
        """Remember the message that shows the vote."""
        await self.store.votes.set_message(vote_id, message_id, channel_id=channel_id)
        self.open.attach(vote_id, channel_id, message_id)
        await self.news.opened(vote_id)

    async def discard(self, vote_id: int, why: str) -> None:
        """Drop a vote whose message could not be posted: it never ran, so nobody saw it."""
        ov = self.open.get(vote_id)
        if ov is not None:
            self._forget(ov)
        await self.store.votes.set_status(vote_id, "cancelled", outcome_reason=f"Cancelled: {why}.")

    # ================================================================== ballots
    async def reaction(self, message_id: int, member: Member, emoji: str, added: bool) -> bool:
        """A reaction was added or removed. Returns True when a ballot changed. On a vote with buttons,
        reactions are only reactions."""
        ov = self.open.for_message(message_id)
        if ov is None or ov.style != "reactions":
            return False
        choice = emoji_choices(ov.kind).get(emoji)
        if choice is None or choice not in ov.choices():
            return False
        return await self._ballot(ov, member, choice, added)

    def reaction_now(self, message_id: int, member: Member, emoji: str, added: bool) -> None:
        """:meth:`reaction` as the gateway delivers it, in order and without a task of its own: a ballot whose
        vote, settings and link are in memory is counted right here; otherwise (or while an earlier ballot change
        of the vote, a close or a reconciliation is under way) it waits its turn in a task."""
        ov = self.open.for_message(message_id)
        if ov is None or ov.style != "reactions":
            return
        choice = emoji_choices(ov.kind).get(emoji)
        if choice is None or choice not in ov.choices():
            return
        # not while anything holds the vote (a close or a reconciliation, which may wait for ballot_order next)
        if not ov.closing and not ov.waiting_ballots and not ov.ballot_order.locked() and not ov.lock.locked():
            changed = self.ballots.cast_now(ov, member, choice, added)
            if changed is not None:
                if changed:
                    self._ballot_changed(ov)
                return
        ov.waiting_ballots += 1
        self._spawn(self._ballot_in_turn(ov, member, choice, added), f"vote-ballot-{ov.id}")

    async def _ballot_in_turn(self, ov: OpenVote, member: Member, choice: int, added: bool) -> None:
        try:
            await self._ballot(ov, member, choice, added)
        except Exception:
            log.exception("a ballot of vote %s could not be counted", ov.id)
        finally:
            ov.waiting_ballots -= 1

    async def button(self, vote_id: int, member: Member, choice: int | None, *,
                     message_id: int | None = None) -> int | None:
        """A ballot button: ``choice`` (the latest click wins; clicking your ballot again keeps it) or None to
        retract. ``message_id``: the message the button is on, which must be the vote's own. Written to the
        database before it returns (the member is told it counts). Returns the member's ballot now (None: none).
        Raises UserError saying why a click does not count."""
        ov = self.open.get(vote_id)
        if ov is not None and message_id is not None and ov.message_id != message_id:
            raise UserError(f"This button is on an old message, not on vote #{vote_id}'s. Nothing was changed.")
        if ov is None:
            vote = await self.store.votes.get(vote_id)
            state = f"is {vote.status}" if vote is not None else "no longer exists"
            raise UserError(f"Vote #{vote_id} {state}: ballots are closed. Nothing was changed.")
        if choice is not None and choice not in ov.choices():
            raise UserError("That button is not one of this vote's choices. Nothing was changed.")
        if choice is not None:
            why = await self.ballots.eligible(ov, member)
            if why is not None:
                raise UserError(f"Your ballot does not count on vote #{vote_id}: {why}.")
        current = (await self.ballots.voters(ov)).get(member.id)
        if choice is None and current is None:
            return None
        changed = await self._ballot(ov, member, current if choice is None else choice, choice is not None)
        if ov.closing and not changed:
            raise UserError(f"Vote #{vote_id} is closing: ballots are closed. Nothing was changed.")
        await self.ballots.flush()
        return (ov.voters or {}).get(member.id)

    async def _ballot(self, ov: OpenVote, member: Member, choice: int | None, added: bool) -> bool:
        """One ballot change, by reaction or button, under the vote's ballot order; a decision that can no longer
        change closes early, else the live tally is redrawn. Returns True when the ballot changed."""
        assert choice is not None
        async with ov.ballot_order:
            if ov.closing or not await self.ballots.cast(ov, member, choice, added):
                return False
        self._ballot_changed(ov)
        return True

    def _ballot_changed(self, ov: OpenVote) -> None:
        if ov.kind == "decision" and self._early_verdict(ov) is not None:
            self._spawn_close(ov.id, "early")  # the close draws the outcome: no tally redraw on the way
        else:
            self.live.changed(ov)

    async def reconcile(self, vote_id: int, current: CurrentReactions) -> None:
        """Make a vote's ballots match its message's current reactions (reactions added or removed while the
        bot was down)."""
        ov = self.open.get(vote_id)
        if ov is None:
            return
        async with ov.lock, ov.ballot_order:
            if ov.closing or vote_id not in self.open:
                return
            changed = await self.ballots.reconcile(ov, current)
        if changed:
            self.live.changed(ov)
        if ov.kind == "decision" and self._early_verdict(ov) is not None:
            self._spawn_close(ov.id, "early")

    async def flush_ballots(self) -> None:
        await self.ballots.flush()

    async def tallies(self, votes: list[OpenVote]) -> dict[int, Tally]:
        return await self.ballots.tallies(votes)

    async def snapshot(self, vote_id: int, result: str | None = None) -> Snapshot | None:
        return await self.live.snapshot(vote_id, result)

    def open_for_guild(self, guild_id: int) -> list[OpenVote]:
        return self.open.for_guild(guild_id)

    def _early_verdict(self, ov: OpenVote) -> Verdict | None:
        total = self.display.potential_voters(ov.guild_id)
        # the bot itself never votes; everyone else who has not voted yet may still come
        more = None if total is None else max(0, total - 1 - len(ov.voters or {}))
        return early(ov.tally, ov.rules, max_more_voters=more)

    # ================================================================== deadlines
    def _due(self, vote_id: int, what: Due) -> None:
        if what == "apply":  # a passed vote, no longer open: its veto window ended
            self._spawn(self._after_veto_window(vote_id), f"vote-apply-{vote_id}")
            return
        ov = self.open.get(vote_id)
        if ov is None:
            return
        if what == "remind":
            self._spawn(self._remind(ov), f"vote-remind-{vote_id}")
        if what == "deadline" and ov.deadline <= self.clock():
            self._spawn_close(vote_id, "deadline")
        elif what == "flush" and ov.kind == "board":
            self._spawn(self._board_application(ov), f"board-flush-{ov.id}")

    async def _board_application(self, ov: OpenVote) -> None:
        await self.catching_up.one(ov.id)
        async with ov.lock:
            # the close applies whatever is left: no separate call in its last period; and on a lock with a
            # veto window, only the close applies (after the window), so the owner can veto the whole board
            if ov.id in self.open and not ov.closing and ov.deadline - self.clock() > self._board_every \
                    and not await self.closing.veto_minutes(ov.link_id):
                await self.closing.apply_board(ov, final=False)
        if ov.id in self.open:
            self.deadlines.schedule(self.clock() + self._board_every, ov.id, "flush")

    async def _remind(self, ov: OpenVote) -> None:
        """Once per vote (also across a restart): the vote closes soon."""
        if ov.closing or ov.id not in self.open or not await self.store.votes.mark_reminded(ov.id):
            return
        snap = await self.live.snapshot(ov.id)
        if snap is not None:
            try:
                await self.display.remind(snap, (await self.core.vote_rules(ov.guild_id)).reminder_role_id)
            except Exception:
                log.exception("could not post the reminder", extra={"vote": ov.id})

    async def _after_veto_window(self, vote_id: int) -> None:
        try:
            shown = await self.closing.after_veto_window(vote_id)
        except Exception:  # the vote stays 'applying': the next start finishes it once (its outbox key is the vote's)
            log.exception("could not apply a vote after its veto window", extra={"vote": vote_id})
            return
        if shown is not None:
            await self.live.show(vote_id)
            await self.news.closed(vote_id)

    def _spawn(self, coro: Awaitable[object], name: str) -> None:
        async def run() -> None:
            await coro

        task = asyncio.create_task(run(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _spawn_close(self, vote_id: int, why: Literal["deadline", "early"]) -> None:
        self._spawn(self.close(vote_id, why), f"vote-close-{vote_id}")

    @property
    def busy(self) -> bool:
        """A close, a board application, a scheduled opening or a tally redraw is under way."""
        return bool(self._tasks) or self.live.busy or bool(self.schedules.tasks())

    # ================================================================== closing
    async def close(self, vote_id: int, why: Literal["deadline", "early"] = "deadline") -> str | None:
        """Close the vote once: decide, apply through the policy gate and the outbox, show the outcome.
        An early close that no longer holds (a ballot changed meanwhile) leaves the vote open: returns None."""
        await self.catching_up.one(vote_id)  # after a restart: count what changed while the bot was down first
        ov = self.open.get(vote_id)
        if ov is None:
            return None
        link = await self.store.links.get_by_id(ov.link_id)
        if link is not None and not await self.core.owner_still_here(link):
            return None  # the link is held: this vote was cancelled with a message saying why
        async with ov.lock:
            if vote_id not in self.open:
                return None
            async with ov.ballot_order:
                verdict = None
                if why == "early":
                    verdict = self._early_verdict(ov)
                    if verdict is None:
                        self.live.changed(ov)  # a ballot changed meanwhile: the vote runs on, show its tally
                        return None
                ov.closing = True
            await self.ballots.flush()
            if ov.kind == "board":
                text = await self.closing.board(ov)
            elif ov.kind == "wheel":
                text = await self.closing.wheel(ov)
            else:
                text = await self.closing.decision(ov, verdict)
            self._forget(ov)
        await self.live.show(vote_id)  # every outcome above was stored with its text
        await self.news.closed(vote_id)
        return text

    async def veto(self, vote_id: int, actor: Member, *, message_id: int | None = None) -> str:
        """One of the lock's people vetoes a passed vote waiting for its veto window (see ``Vetoes.veto``)."""
        return await self.vetoes.veto(vote_id, actor, message_id=message_id)

    # ================================================================== cancelling
    async def cancel(self, vote_id: int, actor: Member, *, guild_id: int | None = None) -> Vote:
        """Cancel an open vote (its proposer, the lock's owner or Manage Server); ``guild_id``: only a vote of
        that server."""
        vote = await self.store.votes.get(vote_id)
        if vote is None or (guild_id is not None and vote.guild_id != guild_id):
            raise UserError(f"There is no vote #{vote_id} in this server (see `/vote list`).")
        link = await self.store.links.get_by_id(vote.link_id)
        permissions.require_cancel_vote(actor, vote.proposer_id, link)
        ov = self.open.get(vote_id)
        if ov is None or not await self._cancel_quietly(ov, f"Cancelled by {escape_markdown(actor.name)}."):
            fresh = await self.store.votes.get(vote_id)
            raise UserError(f"Vote #{vote_id} is already closed ({fresh.status if fresh else vote.status}).")
        return vote

    async def message_deleted(self, message_id: int) -> bool:
        """Someone deleted a vote's message: nobody can vote any more, so the vote is cancelled."""
        ov = self.open.for_message(message_id)
        return ov is not None and await self._cancel_quietly(ov, "Cancelled: the vote message was deleted.")

    async def _cancel_quietly(self, ov: OpenVote, text: str) -> bool:
        async with ov.lock:
            if ov.id not in self.open:
                return False
            async with ov.ballot_order:
                ov.closing = True
            ok = await self.store.votes.set_status(ov.id, "cancelled", outcome_reason=text)
            self._forget(ov)
        if ok:
            await self.live.show(ov.id)
        return ok

    async def _cancelled_elsewhere(self, event: VotesCancelled) -> None:
        """The core cancelled these votes in the database (safeword, unlink, lock gone, owner gone)."""
        for vote_id in event.vote_ids:
            ov = self.open.get(vote_id)
            if ov is not None:
                async with ov.ballot_order:
                    ov.closing = True
                self._forget(ov)
            await self.live.show(vote_id, cancelled_text(event.reason))

    async def _outbox_result(self, event: ActionFinished) -> None:
        """A queued action of a vote reached its end later: the vote's message says how it ended."""
        vote_id = await self.closing.queued_result(event)
        if vote_id is not None:
            await self.live.show(vote_id)

    def _forget(self, ov: OpenVote) -> None:
        self.open.drop(ov)
        self.live.forget(ov.id)

    # ================================================================== lifecycle
    async def load(self) -> list[OpenVote]:
        """At start: every open vote back in memory with its deadline scheduled (its ballots stay in SQLite
        until needed). Nothing is acted on until :meth:`start`."""
        mine = self.core.settings.discord.shards.owns  # a guild's votes run in the process owning its shard
        loaded = [self._remember(vote) for vote in await self.store.votes.list_open() if mine(vote.guild_id)]
        self.catching_up.loaded(loaded)
        return loaded

    async def start(self) -> None:
        """Act on deadlines from now on; finish the votes a crash caught while applying; and, in the background,
        catch every loaded vote up with its message's reactions, soonest deadline first. Readiness does not wait
        for those reads (a server with thousands of open votes would wait minutes on Discord's rate limits): a
        vote is caught up before it is decided or applies anything, so a deadline that passed while the bot was
        down is judged on the reactions as they are now."""
        for vote_id in await self.closing.finish_applying():
            await self.live.show(vote_id)
            await self.news.closed(vote_id)
        self.deadlines.start()
        self.catching_up.start()
        await self.schedules.start()

    async def aclose(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self.deadlines.stop()
        self.schedules.stop()
        self.live.aclose()
        pending: list[asyncio.Task[Any]] = [*self._tasks, *self.catching_up.tasks(), *self.schedules.tasks()]
        for task in pending:
            task.cancel()
        await self.ballots.flush()
