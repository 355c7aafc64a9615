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
import heapq
import logging
import uuid
from collections.abc import Awaitable
from typing import Any, Literal

from bot import permissions
from bot.actions import DURATION_BOUNDS, Action, ActionKind, log_description, log_title
from bot.durations import format_duration, format_signed
from bot.errors import NotAllowed, Refused, UserError
from bot.events import ActionFinished, VotesCancelled
from bot.members import Member, Place
from bot.outcomes import SendResult, cancelled_text
from bot.policy import effective_quorum
from bot.services import Core
from bot.store.models import BallotChange, Link, Tally, Vote
from bot.text import escape_markdown
from bot.voting.display import CurrentReactions, Display, MessageGone
from bot.voting.rules import Outcome, Rules, Verdict, at_deadline, board_net, early
from bot.voting.state import BOARD_EMOJI, DECISION_EMOJI, MAX_WINDOW, MIN_WINDOW, QUEUED, OpenVote, Snapshot

log = logging.getLogger("bot.voting")

class VoteService:
    """Votes and boards on the locks of every server: proposals, ballots, live tallies, deadlines, closing, and
    catching up after a restart. ``display`` is the Discord side (``cogs/votes.py``); the default shows nothing."""

    def __init__(self, core: Core, display: Display | None = None) -> None:
        self.core = core
        self.store = core.store
        self.clock = core.clock
        self.display: Display = display if display is not None else Display()
        self.open: dict[int, OpenVote] = {}
        self.by_message: dict[int, int] = {}
        self._pending: list[BallotChange] = []
        self._flush_lock = asyncio.Lock()
        self._pending_gen = 0  # which buffer _pending is: bumped whenever a flush takes it
        self._written_gen = 0  # every buffer older than this one is in the database
        self._dirty: set[int] = set()
        self._refreshers: dict[int, asyncio.Task[None]] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._timer: asyncio.Task[None] | None = None
        self._timer_at: float | None = None
        self._running = False
        self._closing: set[asyncio.Task[None]] = set()
        # after a start: open votes whose message's reactions were not read yet, and the reads under way
        self._unreconciled: set[int] = set()
        self._catching: dict[int, asyncio.Task[None]] = {}
        self._catch_up_all: asyncio.Task[int] | None = None
        self._unsubscribe = [core.events.subscribe(VotesCancelled, self._cancelled_elsewhere),
                             core.events.subscribe(ActionFinished, self._outbox_result)]

    # ================================================================== proposing
    async def propose(self, place: Place, proposer: Member, link: Link, action: Action, *,
                      window: int | None, channel_id: int) -> OpenVote:
        """Check and record a decision vote. The caller posts the message and calls :meth:`attach`."""
        rules, window_s = await self._admission(place, proposer, link, window, action)
        try:
            # refuse now what the owner's limits would refuse at the end anyway (the gate audits it)
            await self.core.gate(place, link, action, source="vote", actor=proposer)
        except UserError:
            await self.store.votes.note_refused_proposal(place.guild_id, proposer.id)  # starts the cooldown
            raise
        vote = await self.store.votes.create(
            guild_id=place.guild_id, link_id=link.id, kind="decision", action_json=action.to_json(),
            proposer_id=proposer.id, channel_id=channel_id, deadline=self.clock() + window_s,
            quorum=rules.quorum, majority=rules.majority, instant_pass=rules.instant_pass)
        return self._remember(vote, fresh=True)

    async def propose_board(self, place: Place, proposer: Member, link: Link, *, add_per_vote: int,
                            remove_per_vote: int, window: int | None, channel_id: int) -> OpenVote:
        if add_per_vote <= 0 and remove_per_vote <= 0:
            raise UserError("A board needs time per 🔼 or per 🔽 (or both).")
        side = (Action(kind=ActionKind.ADD_TIME, seconds=add_per_vote) if add_per_vote > 0
                else Action(kind=ActionKind.REMOVE_TIME, seconds=remove_per_vote))
        rules, window_s = await self._admission(place, proposer, link, window, side, source="board")
        limits = await self.core.limits(link)
        why = None
        if add_per_vote > 0 and ActionKind.ADD_TIME not in limits.vote_allowed:
            why = ("The lock owner does not allow votes to add time on this lock "
                   "(open the board with `add_per_vote: 0`).")
        elif remove_per_vote > 0 and ActionKind.REMOVE_TIME not in limits.vote_allowed:
            why = ("The lock owner does not allow votes to remove time on this lock "
                   "(open the board with `remove_per_vote: 0`).")
        if why is not None:
            await self.core.audit_refusal(place, link, proposer, side, why, source="board")
            await self.store.votes.note_refused_proposal(place.guild_id, proposer.id)  # starts the cooldown
            raise Refused(why, limit="allowed")
        vote = await self.store.votes.create(
            guild_id=place.guild_id, link_id=link.id, kind="board", action_json=None, proposer_id=proposer.id,
            channel_id=channel_id, deadline=self.clock() + window_s, quorum=rules.quorum, majority=rules.majority,
            add_per_vote=add_per_vote, remove_per_vote=remove_per_vote)
        return self._remember(vote, fresh=True)

    async def _admission(self, place: Place, proposer: Member, link: Link, window: int | None,
                         proposed: Action, *, source: Literal["vote", "board"] = "vote") -> tuple[Rules, int]:
        """The checks every proposal passes: the lock's state, the cooldown, the voter role, the window, the
        open-vote cap (and in the callers the owner's limits). A paused, ended or broken lock is said first: the
        member must hear that the owner said no, not that waiting would help. Every refusal but the cooldown's
        starts the member's cooldown like a posted vote, so refused proposals cannot be sent in a stream; every
        refusal is audited with the reason the member is given (what ``/chastify history`` shows)."""
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
                await self.store.votes.note_refused_proposal(place.guild_id, proposer.id)
                raise
        last = await self.store.votes.last_attempt_at(place.guild_id, proposer.id)
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
            await self.store.votes.note_refused_proposal(place.guild_id, proposer.id)
            raise
        limits = await self.core.limits(fresh)
        return Rules(quorum=effective_quorum(g.quorum, limits), majority=g.majority,
                     instant_pass=g.instant_pass), window_s

    def _remember(self, vote: Vote, *, fresh: bool = False) -> OpenVote:
        ov = OpenVote(
            id=vote.id, guild_id=vote.guild_id, link_id=vote.link_id, kind=vote.kind, channel_id=vote.channel_id,
            message_id=vote.message_id, deadline=vote.deadline,
            rules=Rules(vote.quorum, vote.majority, vote.instant_pass),
            action=Action.from_json(vote.action_json) if vote.action_json else None,
            add_per_vote=vote.add_per_vote or 0, remove_per_vote=vote.remove_per_vote or 0,
            applied_net=vote.applied_net_seconds, last_flush=vote.last_flush_at or vote.created_at)
        if fresh:
            ov.set_voters({})  # a new vote has no ballots: nothing to load
        self.open[vote.id] = ov
        if vote.message_id is not None:
            self.by_message[vote.message_id] = vote.id
        self._schedule(vote.deadline, vote.id, "deadline")
        if ov.kind == "board":
            self._schedule(ov.last_flush + self.core.settings.votes.board_flush_seconds, vote.id, "flush")
        return ov

    async def attach(self, vote_id: int, channel_id: int, message_id: int) -> None:
        """Remember the message that shows the vote."""
        await self.store.votes.set_message(vote_id, message_id, channel_id=channel_id)
        ov = self.open.get(vote_id)
        if ov is not None:
            ov.message_id, ov.channel_id = message_id, channel_id
            self.by_message[message_id] = vote_id

    async def discard(self, vote_id: int, why: str) -> None:
        """Drop a vote whose message could not be posted: it never ran, so nobody saw it."""
        ov = self.open.get(vote_id)
        if ov is not None:
            self._forget(ov)
        await self.store.votes.set_status(vote_id, "cancelled", outcome_reason=f"Cancelled: {why}.")

    # ================================================================== ballots
    def vote_for_message(self, message_id: int) -> OpenVote | None:
        vote_id = self.by_message.get(message_id)
        return self.open.get(vote_id) if vote_id is not None else None

    async def eligible(self, ov: OpenVote, member: Member) -> str | None:
        """None when the member's ballot counts, else why not."""
        if member.is_bot:
            return "bots do not vote"
        g = await self.core.vote_rules(ov.guild_id)
        if g.voter_role_id is not None and g.voter_role_id not in member.role_ids:
            return "only members with the voter role vote"
        link = await self.store.links.get_by_id(ov.link_id)
        if link is not None and member.id == link.owner_id and not (await self.core.limits(link)).allow_owner_vote:
            return "the lock's owner does not vote on their own lock"
        if member.created_at > self.clock() - g.min_account_age_days * 86400:
            return f"accounts younger than {g.min_account_age_days} days do not vote"
        return None

    async def reaction(self, message_id: int, member: Member, emoji: str, added: bool) -> bool:
        """A reaction was added or removed. Returns True when a ballot changed."""
        ov = self.vote_for_message(message_id)
        if ov is None:
            return False
        choice = (DECISION_EMOJI if ov.kind == "decision" else BOARD_EMOJI).get(emoji)
        if choice is None:
            return False
        async with ov.ballot_order:
            if ov.closing:
                return False
            voters = await self._voters(ov)
            current = voters.get(member.id)
            if added:
                if current == choice or await self.eligible(ov, member) is not None:
                    return False
                ov.cast(member.id, choice)
                self._pending.append(BallotChange(ov.id, member.id, choice))
            else:
                if current != choice:
                    return False  # removing the reaction they had switched away from changes nothing
                ov.cast(member.id, None)
                self._pending.append(BallotChange(ov.id, member.id, None))
        if ov.kind == "decision" and self._early_verdict(ov) is not None:
            self._spawn_close(ov.id, "early")  # the close draws the outcome: no tally redraw on the way
        else:
            self._changed(ov)
        return True

    async def _voters(self, ov: OpenVote) -> dict[int, int]:
        if ov.voters is None:
            loaded = {b.voter_id: b.choice for b in await self.store.ballots.list(ov.id)}
            if ov.voters is None:  # a reconciliation may have filled them meanwhile
                ov.set_voters(loaded)
        assert ov.voters is not None
        return ov.voters

    def _early_verdict(self, ov: OpenVote) -> Verdict | None:
        return early(ov.tally, ov.rules, max_more_voters=self._more_voters(ov))

    def _more_voters(self, ov: OpenVote) -> int | None:
        total = self.display.potential_voters(ov.guild_id)
        if total is None:
            return None
        # the bot itself never votes; everyone else who has not voted yet may still come
        return max(0, total - 1 - len(ov.voters or {}))

    async def flush_ballots(self) -> None:
        """Write the buffered ballot changes in one transaction. Group commit: a caller that finds a write under
        way waits for it, then returns at once if a write took its changes meanwhile."""
        if not self._pending and not self._flush_lock.locked():
            return
        mine = self._pending_gen
        async with self._flush_lock:
            if mine < self._written_gen or not self._pending:
                return  # an earlier caller wrote the buffer holding this caller's changes
            taken = self._pending_gen
            batch, self._pending = self._pending, []
            self._pending_gen += 1
            try:
                await self.store.ballots.apply_many(batch)
            except BaseException:
                self._pending = batch + self._pending  # not written: keep them for the next flush
                raise
            self._written_gen = taken + 1

    async def reconcile(self, vote_id: int, current: CurrentReactions) -> None:
        """Make a vote's ballots match its message's current reactions (reactions added or removed while the
        bot was down). A member with both reactions keeps the ballot stored before; with none stored, neither
        counts. A member who left keeps a stored ballot they still react with."""
        ov = self.open.get(vote_id)
        if ov is None:
            return
        emptied = False
        async with ov.lock, ov.ballot_order:
            if ov.closing or vote_id not in self.open:
                return
            await self.flush_ballots()
            stored = {b.voter_id: b.choice for b in await self.store.ballots.list(vote_id)}
            result: dict[int, int] = {}
            for voter, choices in current.choices.items():
                if not choices:
                    continue
                member = current.members.get(voter)
                if member is None:
                    if stored.get(voter) in choices:
                        result[voter] = stored[voter]
                    continue
                if await self.eligible(ov, member) is not None:
                    continue
                if stored.get(voter) in choices:
                    result[voter] = stored[voter]
                elif len(choices) == 1:
                    result[voter] = next(iter(choices))
            if result != stored:
                await self.store.ballots.replace_all(vote_id, result)
            emptied = ov.voters is not None and not result and bool(ov.voters)
            ov.set_voters(result)
        if result != stored or emptied:
            self._changed(ov)
        if ov.kind == "decision" and self._early_verdict(ov) is not None:
            self._spawn_close(ov.id, "early")

    async def catch_up(self, vote_id: int) -> None:
        """After a start, before a vote is decided or applies anything: read its message's reactions once and
        reconcile its ballots with them. Returns at once for a vote already caught up (or not loaded at start).
        A vote whose message was deleted is cancelled; when the reactions cannot be read, the stored ballots
        stand."""
        if vote_id not in self._unreconciled:
            return
        task = self._catching.get(vote_id)
        if task is None:
            task = asyncio.create_task(self._catch_up_one(vote_id), name=f"vote-catch-up-{vote_id}")
            self._catching[vote_id] = task
        await asyncio.shield(task)

    async def _catch_up_one(self, vote_id: int) -> None:
        try:
            ov = self.open.get(vote_id)
            if ov is None:
                return
            try:
                current = await self.display.current_reactions(ov)
            except MessageGone:
                await self._cancel_quietly(ov, "Cancelled: the vote message was deleted.")
                return
            except Exception:
                log.exception("could not read the reactions of vote %s; its stored ballots stand", vote_id)
                return
            if current is not None:
                await self.reconcile(vote_id, current)
        finally:
            self._unreconciled.discard(vote_id)
            self._catching.pop(vote_id, None)

    async def reconcile_all(self) -> int:
        """Catch every open vote up with its message's reactions, soonest deadline first (the background work
        :meth:`start` begins). Returns how many votes were caught up."""
        waiting = sorted((self.open[v] for v in self._unreconciled if v in self.open), key=lambda ov: ov.deadline)
        for ov in waiting:
            await self.catch_up(ov.id)
        return len(waiting)

    # ================================================================== live tally (debounced)
    def _changed(self, ov: OpenVote) -> None:
        self._dirty.add(ov.id)
        if ov.id not in self._refreshers:
            self._refreshers[ov.id] = asyncio.create_task(self._refresh_loop(ov.id), name=f"vote-refresh-{ov.id}")

    async def _refresh_loop(self, vote_id: int) -> None:
        """Leading edge: show at once; then at most one edit per debounce period while reactions come in."""
        delay = self.core.settings.votes.tally_debounce_seconds
        try:
            while vote_id in self._dirty:
                self._dirty.discard(vote_id)
                await self.flush_ballots()
                await self._show(vote_id)
                await asyncio.sleep(delay)
        finally:
            if self._refreshers.get(vote_id) is asyncio.current_task():
                del self._refreshers[vote_id]

    async def _show(self, vote_id: int, result: str | None = None) -> None:
        snap = await self.snapshot(vote_id, result)
        if snap is not None:
            try:
                await self.display.show(snap)
            except Exception:
                log.exception("could not update the vote message", extra={"vote": vote_id})

    async def snapshot(self, vote_id: int, result: str | None = None) -> Snapshot | None:
        vote = await self.store.votes.get(vote_id)
        if vote is None:
            return None
        link = await self.store.links.get_by_id(vote.link_id)
        ov = self.open.get(vote_id)
        if ov is not None and ov.voters is not None:
            tally, net = ov.tally, ov.net
        else:
            t = await self.store.ballots.tally(vote_id)
            tally = t
            net = board_net(t.votes_for, t.votes_against, vote.add_per_vote or 0, vote.remove_per_vote or 0)
        action = Action.from_json(vote.action_json) if vote.action_json else None
        return Snapshot(vote, link, action, tally, net, closed=vote.status not in ("open", "applying"),
                        result=result or vote.outcome_reason)

    async def tallies(self, votes: list[OpenVote]) -> dict[int, Tally]:
        """Current tallies of open votes: from memory where loaded, else from the database in one query."""
        out = {ov.id: ov.tally for ov in votes if ov.voters is not None}
        missing = [ov.id for ov in votes if ov.voters is None]
        if missing:
            for vote_id, t in (await self.store.ballots.tally_many(missing)).items():
                out[vote_id] = t
        return out

    # ================================================================== deadlines
    def _schedule(self, when: float, vote_id: int, what: str) -> None:
        heapq.heappush(self._heap, (when, vote_id, what))
        if self._running and (self._timer_at is None or when < self._timer_at):
            self._start_timer(when)

    def _start_timer(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = when
        self._timer = asyncio.create_task(self._timer_loop(), name="vote-deadlines")

    async def _timer_loop(self) -> None:
        while self._heap:
            when, vote_id, what = self._heap[0]
            delay = when - self.clock()
            if delay > 0:
                self._timer_at = when
                await asyncio.sleep(delay)
                continue
            heapq.heappop(self._heap)
            ov = self.open.get(vote_id)
            if ov is None:
                continue
            if what == "deadline" and ov.deadline <= self.clock():
                self._spawn_close(vote_id, "deadline")
            elif what == "flush" and ov.kind == "board":
                self._spawn_flush(ov)
        self._timer_at = None
        self._timer = None

    def _spawn(self, coro: Awaitable[object], name: str) -> None:
        async def run() -> None:
            await coro

        task = asyncio.create_task(run(), name=name)
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _spawn_close(self, vote_id: int, why: Literal["deadline", "early"]) -> None:
        self._spawn(self.close(vote_id, why), f"vote-close-{vote_id}")

    def _spawn_flush(self, ov: OpenVote) -> None:
        every = self.core.settings.votes.board_flush_seconds

        async def run() -> None:
            await self.catch_up(ov.id)
            async with ov.lock:
                # the close applies whatever is left: no separate call in its last period
                if ov.id in self.open and not ov.closing and ov.deadline - self.clock() > every:
                    await self._apply_board(ov, final=False)
            if ov.id in self.open:
                self._schedule(self.clock() + every, ov.id, "flush")

        self._spawn(run(), f"board-flush-{ov.id}")

    # ================================================================== closing
    async def close(self, vote_id: int, why: Literal["deadline", "early"] = "deadline") -> str | None:
        """Close the vote once: decide, apply through the policy gate and the outbox, show the outcome.
        An early close that no longer holds (a ballot changed meanwhile) leaves the vote open: returns None."""
        await self.catch_up(vote_id)  # after a restart: count what changed while the bot was down first
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
                        self._changed(ov)  # a ballot changed meanwhile: the vote runs on, show its tally
                        return None
                ov.closing = True
            await self.flush_ballots()
            if ov.kind == "board":
                text = await self._close_board(ov)
            else:
                text = await self._close_decision(ov, verdict)
            self._forget(ov)
        await self._show(vote_id)  # every outcome above was stored with its text
        return text

    async def _close_decision(self, ov: OpenVote, verdict: Verdict | None) -> str:
        t = await self.store.ballots.tally(ov.id)
        tally = t
        verdict = verdict or at_deadline(tally, ov.rules)
        if verdict.outcome is Outcome.FAILED:
            text = f"Failed: {verdict.reason}."
            await self.store.votes.set_status(ov.id, "failed", outcome_reason=text)
            return text
        if not await self.store.votes.set_status(ov.id, "applying"):
            return "Closed elsewhere."
        return await self._apply_decision(ov.id, ov.guild_id, ov.channel_id, ov.link_id, ov.action, tally,
                                          f"Passed ({verdict.reason})")

    async def _apply_decision(self, vote_id: int, guild_id: int, channel_id: int, link_id: int,
                              action: Action | None, tally: Tally, head: str) -> str:
        """A passed vote in status 'applying': through the policy gate and the outbox, once (the outbox key is
        the vote's), then its final status."""
        assert action is not None
        link = await self.store.links.get_by_id(link_id)
        if link is None:
            text = f"{head} but not applied: the lock was unlinked."
            await self.store.votes.set_status(vote_id, "cancelled", from_status="applying", outcome_reason=text)
            return text
        if not await self.core.owner_still_here(link):  # also after a restart finishing a vote caught applying
            text = f"{head} but not applied: the lock's owner is no longer a member of this server."
            await self.store.votes.set_status(vote_id, "cancelled", from_status="applying", outcome_reason=text)
            return text
        place = self.display.place(guild_id, channel_id)
        # the outbox asks the policy gate (with the owner's limits as they are now) as it records the action
        result = await self.core.outbox.submit(
            link=link, source="vote", source_id=vote_id, action=action, key=f"vote:{vote_id}",
            log_title=log_title(action, source="vote", votes_for=tally.votes_for,
                                votes_against=tally.votes_against),
            log_description=log_description(guild_name=place.guild_name, channel_name=place.channel_name,
                                            reason=action.reason))
        refused = result.status == "refused"
        text = f"{head} but not applied: {result.message}" if refused else _outcome_text(head, result)
        await self.store.votes.set_status(vote_id, _status_of(result), from_status="applying", outcome_reason=text)
        return text

    async def _close_board(self, ov: OpenVote) -> str:
        if not await self.store.votes.set_status(ov.id, "applying"):
            return "Closed elsewhere."
        text, status = await self._apply_board(ov, final=True)
        await self.store.votes.set_status(ov.id, status, from_status="applying", outcome_reason=text)
        return text

    async def _apply_board(self, ov: OpenVote, *, final: bool) -> tuple[str, str]:
        """Apply the part of the board's net change not applied yet, in ONE action clamped to the owner's limits.
        ``applied_net`` counts what was actually sent; what the limits held back is tried again next time.
        Returns the text to show and the status the board ends with when ``final``."""
        await self.flush_ballots()
        t = await self.store.ballots.tally(ov.id)
        net = board_net(t.votes_for, t.votes_against, ov.add_per_vote, ov.remove_per_vote)
        prev = ov.applied_net
        change = net - prev
        head = f"Net {format_signed(net)} ({t.votes_for} 🔼, {t.votes_against} 🔽)"
        if change == 0:
            return (f"{head}: {'applied.' if net else 'nothing to apply.'}", "passed")
        link = await self.store.links.get_by_id(ov.link_id)
        if link is None:
            return f"{head}: the lock was unlinked; nothing more was applied.", "cancelled"
        if not await self.core.owner_still_here(link):  # a board's flushes too, not only its close
            return f"{head}: the lock's owner is no longer a member of this server; nothing more was applied.", \
                "cancelled"
        add, remove = await self.core.consent.board_allowance(link)
        clamped = max(-remove, min(add, change))
        kind = ActionKind.ADD_TIME if clamped > 0 else ActionKind.REMOVE_TIME
        bound = DURATION_BOUNDS[kind][1]
        clamped = max(-bound, min(bound, clamped))
        earlier = f"; {format_signed(prev)} applied earlier" if prev else ""
        if clamped == 0:
            return (f"{head}{earlier}: not applied: the owner's limits allow no more "
                    f"{'time added' if change > 0 else 'time removed'} by votes now.", "refused")
        if clamped != change:
            head += f"; the owner's limits allowed {format_signed(clamped)} of {format_signed(change)}"
        head += earlier
        new = prev + clamped
        # remember what will be applied BEFORE sending, so a crash can never apply it twice
        if not await self.store.votes.record_flush(ov.id, applied_net_seconds=new, expected_applied=prev):
            return "Closed elsewhere.", "passed"
        ov.applied_net, ov.last_flush = new, self.clock()
        action = Action(kind=kind, seconds=abs(clamped))
        place = self.display.place(ov.guild_id, ov.channel_id)
        result = await self.core.outbox.submit(
            link=link, source="board", source_id=ov.id, action=action, key=f"board:{ov.id}:{uuid.uuid4().hex}",
            log_title=log_title(action, source="board", votes_for=t.votes_for, votes_against=t.votes_against),
            log_description=log_description(guild_name=place.guild_name, channel_name=place.channel_name,
                                            reason=None))
        if result.status in ("failed", "cancelled", "refused"):
            # surely not applied: the next application (or nobody) tries it again
            if await self.store.votes.record_flush(ov.id, applied_net_seconds=prev, expected_applied=new):
                ov.applied_net = prev
        if not final and result.status == "done":
            self._changed(ov)  # shows "applied so far"
        return _outcome_text(head, result), _status_of(result)

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
        ov = self.vote_for_message(message_id)
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
            await self._show(ov.id)
        return ok

    async def _cancelled_elsewhere(self, event: VotesCancelled) -> None:
        """The core cancelled these votes in the database (safeword, unlink, lock gone, owner gone)."""
        reason = event.reason
        for vote_id in event.vote_ids:
            ov = self.open.get(vote_id)
            if ov is not None:
                async with ov.ballot_order:
                    ov.closing = True
                self._forget(ov)
            await self._show(vote_id, cancelled_text(reason))

    async def _outbox_result(self, event: ActionFinished) -> None:
        """An action that was queued (Chastify rate limiting or unreachable) reached its end later: the vote's
        message says how it ended."""
        entry, result = event.entry, event.result
        if entry.source in ("vote", "board") and entry.source_id is not None:
            vote = await self.store.votes.get(entry.source_id)
            if vote is not None and vote.outcome_reason and QUEUED in vote.outcome_reason \
                    and vote.status == "passed":
                head = vote.outcome_reason.partition(QUEUED)[0]
                text = _outcome_text(head, result)
                if await self.store.votes.set_status(vote.id, _status_of(result), from_status="passed",
                                                     outcome_reason=text):
                    await self._show(vote.id)

    def _forget(self, ov: OpenVote) -> None:
        self.open.pop(ov.id, None)
        if ov.message_id is not None:
            self.by_message.pop(ov.message_id, None)
        self._dirty.discard(ov.id)
        task = self._refreshers.pop(ov.id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    # ================================================================== lifecycle
    async def load(self) -> list[OpenVote]:
        """At start: every open vote back in memory with its deadline on the heap (its ballots stay in SQLite
        until needed). Nothing is acted on until :meth:`start`."""
        loaded = [self._remember(vote) for vote in await self.store.votes.list_open()]
        self._unreconciled = {ov.id for ov in loaded if ov.message_id is not None}
        return loaded

    async def start(self) -> None:
        """Act on deadlines from now on; finish the votes a crash caught while applying (once: the outbox key
        is the vote's, so an action already recorded is never recorded again); and, in the background, catch
        every loaded vote up with its message's reactions, soonest deadline first. Readiness does not wait for
        those reads (a server with thousands of open votes would wait minutes on Discord's rate limits): a
        vote is caught up before it is decided or applies anything (:meth:`catch_up`), so a deadline that
        passed while the bot was down is judged on the reactions as they are now."""
        for vote in await self.store.votes.list_open(statuses="applying"):
            if vote.kind == "decision" and vote.action_json:
                t = await self.store.ballots.tally(vote.id)
                await self._apply_decision(vote.id, vote.guild_id, vote.channel_id, vote.link_id,
                                           Action.from_json(vote.action_json), t,
                                           f"Passed ({t.votes_for} for, {t.votes_against} against)")
            else:
                await self.store.votes.set_status(
                    vote.id, "passed", from_status="applying",
                    outcome_reason="Closed; the bot restarted while applying the net change: see the lock's "
                                   "history for what was applied.")
            await self._show(vote.id)
        self._running = True
        if self._heap and self._timer is None:
            self._start_timer(self._heap[0][0])
        if self._unreconciled:
            self._catch_up_all = asyncio.create_task(self.reconcile_all(), name="vote-catch-up")

    async def aclose(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._running = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer, self._timer_at = None, None
        pending: list[asyncio.Task[Any]] = [*self._refreshers.values(), *self._closing, *self._catching.values()]
        if self._catch_up_all is not None:
            pending.append(self._catch_up_all)
        for task in pending:
            task.cancel()
        await self.flush_ballots()

    def open_for_guild(self, guild_id: int) -> list[OpenVote]:
        return sorted((v for v in self.open.values() if v.guild_id == guild_id), key=lambda v: v.deadline)


def _outcome_text(head: str, result: SendResult) -> str:
    if result.status == "done":
        return f"{head}: applied."
    if result.status == "pending":
        return f"{head}{QUEUED}{result.message}"
    if result.status == "uncertain":
        return f"{head}: {result.message}"
    return f"{head}: not applied: {result.message}"


def _status_of(result: SendResult) -> Literal["passed", "failed", "refused", "cancelled"]:
    if result.status == "refused":
        return "refused"
    if result.status == "cancelled":
        return "cancelled"
    if result.status == "failed":
        return "failed"
    return "passed"  # done, queued or uncertain: the vote passed; the text says what became of the action

