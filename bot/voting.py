"""Community votes: decision votes (✅ ❌) and time boards (🔼 🔽), restart-safe and within the rate limit.

Rules (the README's table is written from these):
- Eligible voters: not bots; the voter role when one is set; not the lock's owner unless the owner allows it;
  accounts at least ``min_account_age_days`` old. Reactions of anyone else are ignored.
- One ballot per member and vote: the latest reaction wins; removing it retracts the ballot.
- A member who leaves the server keeps the ballot they cast (Discord keeps their reaction too).
- Ballots are kept in memory for the live tally and written to SQLite in groups (on every tally refresh and
  before a vote closes); after a crash the ballots are rebuilt from the message's reactions.
- Decision votes pass on quorum and a share of ✅ strictly above the majority (a tie fails), see
  ``bot.votes``. Passed actions go through the same policy gate as direct actions, are applied once and
  logged on the lock with their tally.
- Boards apply their net change in ONE apply-time call (and one custom log) at close, and at most every
  ``board_flush_seconds`` on long boards; the net is clamped to the owner's limits.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from bot.actions import DURATION_BOUNDS, Action, ActionKind, log_description, log_title
from bot.durations import format_duration, format_signed
from bot.errors import NotAllowed, Refused, UserError
from bot.outbox import SendResult
from bot.policy import board_allowance, effective_quorum
from bot.services import Core, Member, Place
from bot.store.models import BallotChange, Link, Vote
from bot.votes import FOR, Outcome, Rules, Tally, at_deadline, board_net, early

log = logging.getLogger("bot.voting")

DECISION_EMOJI = {"✅": FOR, "❌": -1}
BOARD_EMOJI = {"🔼": FOR, "🔽": -1}
MIN_WINDOW = 60
MAX_WINDOW = 7 * 86400


@dataclass
class OpenVote:
    """An open vote as kept in memory while it runs."""

    id: int
    guild_id: int
    link_id: int
    kind: Literal["decision", "board"]
    channel_id: int
    message_id: int | None
    deadline: float
    rules: Rules
    action: Action | None
    add_per_vote: int = 0
    remove_per_vote: int = 0
    applied_net: int = 0
    last_flush: float = 0.0
    # voter id -> choice; None until first needed (loaded lazily, so a restart with a million stored ballots
    # does not read them all)
    voters: dict[int, int] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def tally(self) -> Tally:
        return Tally.of((self.voters or {}).values())

    @property
    def net(self) -> int:
        t = self.tally
        return board_net(t.votes_for, t.votes_against, self.add_per_vote, self.remove_per_vote)


@dataclass(frozen=True)
class Snapshot:
    """Everything the Discord side needs to draw a vote message."""

    vote: Vote
    link: Link | None
    action: Action | None
    tally: Tally
    net: int
    closed: bool
    result: str | None = None


class Display:
    """What the Discord side provides (``cogs/votes.py``). Defaults do nothing, for tests of the core."""

    async def show(self, snapshot: Snapshot) -> None:
        return None

    def place(self, guild_id: int, channel_id: int) -> Place:
        return Place(guild_id=guild_id, guild_name=f"server {guild_id}", channel_id=channel_id)

    def potential_voters(self, guild_id: int) -> int | None:
        return None


class VoteService:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.store = core.store
        self.clock = core.clock
        self.display: Display = Display()
        self.open: dict[int, OpenVote] = {}
        self.by_message: dict[int, int] = {}
        self._pending: list[BallotChange] = []
        self._dirty: set[int] = set()
        self._refreshers: dict[int, asyncio.Task[None]] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._timer: asyncio.Task[None] | None = None
        self._timer_at: float | None = None
        self._closing: set[asyncio.Task[None]] = set()
        core.hooks.votes_cancelled = self._cancelled_elsewhere

    # ================================================================== proposing
    async def propose(self, place: Place, proposer: Member, link: Link, action: Action, *,
                      window: int | None, channel_id: int) -> OpenVote:
        """Check and record a decision vote. The caller posts the message and calls :meth:`attach`."""
        rules, window_s = await self._admission(place, proposer, link, window)
        await self.core.gate(place, link, action, source="vote", actor=proposer)
        vote = await self.store.votes.create(
            guild_id=place.guild_id, link_id=link.id, kind="decision", action_json=action.to_json(),
            proposer_id=proposer.id, channel_id=channel_id, deadline=self.clock() + window_s,
            quorum=rules.quorum, majority=rules.majority, instant_pass=rules.instant_pass)
        return self._remember(vote)

    async def propose_board(self, place: Place, proposer: Member, link: Link, *, add_per_vote: int,
                            remove_per_vote: int, window: int | None, channel_id: int) -> OpenVote:
        rules, window_s = await self._admission(place, proposer, link, window)
        if add_per_vote <= 0 and remove_per_vote <= 0:
            raise UserError("A board needs time per 🔼 or per 🔽 (or both).")
        add, remove = board_allowance(state=link.state, limits=self.core.limits_of(link),
                                      added_last_24h=await self.core.outbox.added_last_24h(link.id))
        if add_per_vote > 0 and add == 0:
            raise Refused("The owner's limits allow no time to be added by votes right now.")
        if remove_per_vote > 0 and remove == 0:
            raise Refused("The owner does not allow votes to remove time on this lock.")
        vote = await self.store.votes.create(
            guild_id=place.guild_id, link_id=link.id, kind="board", action_json=None, proposer_id=proposer.id,
            channel_id=channel_id, deadline=self.clock() + window_s, quorum=rules.quorum, majority=rules.majority,
            add_per_vote=add_per_vote, remove_per_vote=remove_per_vote)
        return self._remember(vote)

    async def _admission(self, place: Place, proposer: Member, link: Link,
                         window: int | None) -> tuple[Rules, int]:
        if link.state != "active":
            decision = self.core.limits_of(link)  # state refusal text lives in the policy gate
            del decision
            await self.core.gate(place, link, Action(kind=ActionKind.UNFREEZE), source="vote", actor=proposer)
        g = await self.core.vote_rules(place.guild_id)
        if g.voter_role_id is not None and g.voter_role_id not in proposer.role_ids:
            raise NotAllowed(f"Only members with the <@&{g.voter_role_id}> role can propose votes here.")
        last = await self.store.votes.last_proposal_at(place.guild_id, proposer.id)
        if last is not None and g.proposal_cooldown_seconds > 0:
            wait = last + g.proposal_cooldown_seconds - self.clock()
            if wait > 0:
                raise Refused(f"You proposed a vote recently; you can propose again in "
                              f"{format_duration(max(1, int(wait + 0.999)))}.", limit="cooldown")
        if await self.store.votes.count_open_for_link(link.id) >= g.max_open_per_lock:
            raise Refused(f"This lock already has {g.max_open_per_lock} open vote(s), the most this server allows. "
                          "Wait for one to close.", limit="max_open")
        window_s = g.window_seconds if window is None else window
        if not MIN_WINDOW <= window_s <= MAX_WINDOW:
            raise UserError(f"A vote runs from {format_duration(MIN_WINDOW)} to {format_duration(MAX_WINDOW)}.")
        limits = self.core.limits_of(link)
        return Rules(quorum=effective_quorum(g.quorum, limits), majority=g.majority,
                     instant_pass=g.instant_pass), window_s

    def _remember(self, vote: Vote) -> OpenVote:
        ov = OpenVote(
            id=vote.id, guild_id=vote.guild_id, link_id=vote.link_id, kind=vote.kind, channel_id=vote.channel_id,
            message_id=vote.message_id, deadline=vote.deadline,
            rules=Rules(vote.quorum, vote.majority, vote.instant_pass),
            action=Action.from_json(vote.action_json) if vote.action_json else None,
            add_per_vote=vote.add_per_vote or 0, remove_per_vote=vote.remove_per_vote or 0,
            applied_net=vote.applied_net_seconds, last_flush=vote.last_flush_at or vote.created_at)
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
        if link is not None and member.id == link.owner_id and not self.core.limits_of(link).allow_owner_vote:
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
        voters = await self._voters(ov)
        current = voters.get(member.id)
        if added:
            if current == choice or await self.eligible(ov, member) is not None:
                return False
            voters[member.id] = choice
            self._pending.append(BallotChange(ov.id, member.id, choice))
        else:
            if current != choice:
                return False  # removing the reaction they had switched away from changes nothing
            del voters[member.id]
            self._pending.append(BallotChange(ov.id, member.id, None))
        self._changed(ov)
        if ov.kind == "decision":
            verdict = early(ov.tally, ov.rules, max_more_voters=self._more_voters(ov))
            if verdict is not None:
                self._spawn_close(ov.id, "early")
        return True

    async def _voters(self, ov: OpenVote) -> dict[int, int]:
        if ov.voters is None:
            ov.voters = {b.voter_id: b.choice for b in await self.store.ballots.list(ov.id)}
        return ov.voters

    def _more_voters(self, ov: OpenVote) -> int | None:
        total = self.display.potential_voters(ov.guild_id)
        if total is None:
            return None
        # the bot itself never votes; everyone else may still come
        return max(0, total - 1 - len(ov.voters or {}))

    async def flush_ballots(self) -> None:
        """Write the buffered ballot changes in one transaction."""
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        await self.store.ballots.apply_many(batch)

    async def reconcile(self, vote_id: int, reactions: dict[int, set[int]], members: dict[int, Member]) -> None:
        """Rebuild a vote's ballots from the message's current reactions (after a restart).
        ``reactions`` maps voter id to the choices they currently react with."""
        ov = self.open.get(vote_id)
        if ov is None:
            return
        await self.flush_ballots()
        stored = {b.voter_id: b.choice for b in await self.store.ballots.list(vote_id)}
        result: dict[int, int] = {}
        for voter, choices in reactions.items():
            member = members.get(voter)
            if not choices or member is None or await self.eligible(ov, member) is not None:
                continue
            if stored.get(voter) in choices:
                result[voter] = stored[voter]
            elif len(choices) == 1:
                result[voter] = next(iter(choices))
            # both reactions present and no stored ballot says which came last: the ballot is not counted
        await self.store.ballots.replace_all(vote_id, result)
        ov.voters = result
        self._changed(ov)

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
            self._refreshers.pop(vote_id, None)

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
            tally = Tally(t.for_, t.against)
            net = board_net(t.for_, t.against, vote.add_per_vote or 0, vote.remove_per_vote or 0)
        action = Action.from_json(vote.action_json) if vote.action_json else None
        return Snapshot(vote, link, action, tally, net, closed=vote.status not in ("open", "applying"),
                        result=result or vote.outcome_reason)

    # ================================================================== deadlines
    def _schedule(self, when: float, vote_id: int, what: str) -> None:
        heapq.heappush(self._heap, (when, vote_id, what))
        if self._timer_at is None or when < self._timer_at:
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

    def _spawn_close(self, vote_id: int, why: str) -> None:
        async def run() -> None:
            await self.close(vote_id, why)

        task = asyncio.create_task(run(), name=f"vote-close-{vote_id}")
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _spawn_flush(self, ov: OpenVote) -> None:
        async def run() -> None:
            async with ov.lock:
                if ov.id in self.open:
                    await self._apply_board(ov, final=False)
            if ov.id in self.open:
                self._schedule(self.clock() + self.core.settings.votes.board_flush_seconds, ov.id, "flush")

        task = asyncio.create_task(run(), name=f"board-flush-{ov.id}")
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    # ================================================================== closing
    async def close(self, vote_id: int, why: str = "deadline") -> str | None:
        """Close the vote once: decide, apply through the policy gate and the outbox, show the outcome."""
        ov = self.open.get(vote_id)
        if ov is None:
            return None
        async with ov.lock:
            if vote_id not in self.open:
                return None
            await self.flush_ballots()
            if ov.kind == "board":
                text = await self._close_board(ov)
            else:
                text = await self._close_decision(ov, why)
            self._forget(ov)
        await self._show(vote_id, text)
        return text

    async def _close_decision(self, ov: OpenVote, why: str) -> str:
        t = await self.store.ballots.tally(ov.id)
        tally = Tally(t.for_, t.against)
        verdict = early(tally, ov.rules, max_more_voters=self._more_voters(ov)) if why == "early" else None
        verdict = verdict or at_deadline(tally, ov.rules)
        if verdict.outcome is Outcome.FAILED:
            text = f"Failed: {verdict.reason}."
            await self.store.votes.set_status(ov.id, "failed", outcome_reason=text)
            return text
        if not await self.store.votes.set_status(ov.id, "applying"):
            return "Closed elsewhere."
        assert ov.action is not None
        link = await self.store.links.get_by_id(ov.link_id)
        if link is None:
            text = "Cancelled: the lock was unlinked."
            await self.store.votes.set_status(ov.id, "cancelled", from_status="applying", outcome_reason=text)
            return text
        place = self.display.place(ov.guild_id, ov.channel_id)
        try:
            await self.core.gate(place, link, ov.action, source="vote")
        except Refused as err:
            text = f"Passed ({verdict.reason}) but not applied: {err}"
            await self.store.votes.set_status(ov.id, "refused", from_status="applying", outcome_reason=text)
            return text
        result = await self.core.outbox.submit(
            link=link, source="vote", source_id=ov.id, action=ov.action, key=f"vote:{ov.id}",
            log_title=log_title(ov.action, source="vote", votes_for=tally.votes_for,
                                votes_against=tally.votes_against),
            log_description=log_description(guild_name=place.guild_name, channel_name=place.channel_name,
                                            reason=ov.action.reason))
        text = _outcome_text(f"Passed ({verdict.reason})", result)
        await self.store.votes.set_status(ov.id, "passed" if result.status != "failed" else "failed",
                                          from_status="applying", outcome_reason=text)
        return text

    async def _close_board(self, ov: OpenVote) -> str:
        if not await self.store.votes.set_status(ov.id, "applying"):
            return "Closed elsewhere."
        text = await self._apply_board(ov, final=True)
        await self.store.votes.set_status(ov.id, "passed", from_status="applying", outcome_reason=text)
        return text

    async def _apply_board(self, ov: OpenVote, *, final: bool) -> str:
        """Apply the board's net change not applied yet, in one action, clamped to the owner's limits."""
        await self.flush_ballots()
        t = await self.store.ballots.tally(ov.id)
        net = board_net(t.for_, t.against, ov.add_per_vote, ov.remove_per_vote)
        change = net - ov.applied_net
        counts = f"{t.for_} 🔼, {t.against} 🔽"
        if change == 0:
            return f"Closed: net {format_signed(net)} ({counts}); nothing more to apply." if final else ""
        link = await self.store.links.get_by_id(ov.link_id)
        if link is None:
            return "Closed: the lock was unlinked; nothing applied."
        add, remove = board_allowance(state=link.state, limits=self.core.limits_of(link),
                                      added_last_24h=await self.core.outbox.added_last_24h(link.id))
        clamped = max(-remove, min(add, change))
        note = "" if clamped == change else f" (the owner's limits allowed {format_signed(clamped)})"
        kind = ActionKind.ADD_TIME if clamped > 0 else ActionKind.REMOVE_TIME
        bound = DURATION_BOUNDS[kind][1]
        clamped = max(-bound, min(bound, clamped))
        if clamped == 0:
            # nothing may be applied now; remember the net so it is not retried on every flush
            await self.store.votes.record_flush(ov.id, applied_net_seconds=net, expected_applied=ov.applied_net)
            ov.applied_net, ov.last_flush = net, self.clock()
            return f"Closed: net {format_signed(net)} ({counts}), but the owner's limits allow none of it now."
        action = Action(kind=kind, seconds=abs(clamped))
        place = self.display.place(ov.guild_id, ov.channel_id)
        flush_no = int(self.clock())
        # remember what will be applied BEFORE sending, so a crash can never apply it twice
        if not await self.store.votes.record_flush(ov.id, applied_net_seconds=net, expected_applied=ov.applied_net):
            return "Closed elsewhere."
        ov.applied_net, ov.last_flush = net, self.clock()
        result = await self.core.outbox.submit(
            link=link, source="board", source_id=ov.id, action=action, key=f"board:{ov.id}:{flush_no}",
            log_title=log_title(action, source="board", votes_for=t.for_, votes_against=t.against),
            log_description=log_description(guild_name=place.guild_name, channel_name=place.channel_name,
                                            reason=None))
        return _outcome_text(f"Net {format_signed(clamped)} ({counts}){note}", result)

    async def cancel(self, vote_id: int, actor: Member) -> Vote:
        vote = await self.store.votes.get(vote_id)
        if vote is None or vote.guild_id is None:
            raise UserError("There is no such vote.")
        link = await self.store.links.get_by_id(vote.link_id)
        allowed = actor.id == vote.proposer_id or actor.manage_guild or (link is not None and link.owner_id == actor.id)
        if not allowed:
            raise NotAllowed("Only the member who proposed the vote, the lock's owner or someone with Manage "
                             "Server can cancel it.")
        ov = self.open.get(vote_id)
        if ov is not None:
            async with ov.lock:
                ok = await self.store.votes.set_status(vote_id, "cancelled",
                                                       outcome_reason=f"Cancelled by {actor.name}.")
                if ok:
                    self._forget(ov)
        else:
            ok = False
        if not ok:
            raise UserError(f"That vote is already closed ({vote.status}).")
        await self._show(vote_id)
        return vote

    async def _cancelled_elsewhere(self, link: Link, ids: list[int], reason: str) -> None:
        for vote_id in ids:
            ov = self.open.get(vote_id)
            if ov is not None:
                self._forget(ov)
            await self._show(vote_id, f"Cancelled: {reason}.")

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
        """At start: every open vote back in memory with its stored ballots and its deadline scheduled.
        Votes caught mid-apply by a crash are settled by the outbox (never re-decided)."""
        loaded = [self._remember(vote) for vote in await self.store.votes.list_open()]
        for vote in await self.store.votes.list_open(statuses="applying"):
            await self.store.votes.set_status(vote.id, "passed", from_status="applying",
                                              outcome_reason="Passed; the bot restarted while applying it: see "
                                                             "the lock's history.")
        return loaded

    async def aclose(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for task in list(self._refreshers.values()) + list(self._closing):
            task.cancel()
        await self.flush_ballots()

    def open_for_guild(self, guild_id: int) -> list[OpenVote]:
        return sorted((v for v in self.open.values() if v.guild_id == guild_id), key=lambda v: v.deadline)


def _outcome_text(head: str, result: SendResult) -> str:
    if result.status == "done":
        return f"{head}: applied."
    if result.status == "pending":
        return f"{head}: queued: {result.message}"
    if result.status == "uncertain":
        return f"{head}: {result.message}"
    return f"{head}: not applied: {result.message}"


VoteHook = Callable[[Snapshot], Awaitable[None]]
