"""Deciding a vote and applying what passed: a decision's action once, a board's net change in one clamped
action per application; every action through the outbox (which asks the lock's consent right before it sends)."""

from __future__ import annotations

import uuid
from typing import Literal

from bot.actions import DURATION_BOUNDS, Action, ActionKind, log_description, log_title
from bot.clock import Clock
from bot.durations import format_signed
from bot.events import ActionFinished
from bot.outcomes import SendResult
from bot.services import Core
from bot.store.models import Tally
from bot.voting.ballots import Ballots
from bot.voting.display import Display
from bot.voting.live import LiveTally
from bot.voting.rules import Outcome, Verdict, at_deadline, board_net
from bot.voting.state import QUEUED, OpenVote

Final = Literal["passed", "failed", "refused", "cancelled"]


class Closing:
    """Turns a vote that is being decided into its final status and the text its message shows. The caller holds
    the vote's lock and has stopped its ballots (``closing``)."""

    def __init__(self, core: Core, clock: Clock, ballots: Ballots, live: LiveTally, display: Display) -> None:
        self.core = core
        self.store = core.store
        self.clock = clock
        self.ballots = ballots
        self.live = live
        self.display = display

    async def decision(self, ov: OpenVote, verdict: Verdict | None) -> str:
        tally = await self.ballots.stored_tally(ov.id)
        verdict = verdict or at_deadline(tally, ov.rules)
        if verdict.outcome is Outcome.FAILED:
            text = f"Failed: {verdict.reason}."
            await self.store.votes.set_status(ov.id, "failed", outcome_reason=text)
            return text
        if not await self.store.votes.set_status(ov.id, "applying"):
            return "Closed elsewhere."
        return await self.apply_decision(ov.id, ov.guild_id, ov.channel_id, ov.link_id, ov.action, tally,
                                         f"Passed ({verdict.reason})")

    async def board(self, ov: OpenVote) -> str:
        if not await self.store.votes.set_status(ov.id, "applying"):
            return "Closed elsewhere."
        text, status = await self.apply_board(ov, final=True)
        await self.store.votes.set_status(ov.id, status, from_status="applying", outcome_reason=text)
        return text

    async def finish_applying(self) -> list[int]:
        """At start, the votes a crash caught while applying: a decision is applied once (the outbox key is the
        vote's, so an action already recorded is never recorded again); a board is closed as it stands (every
        application was recorded before it was sent). Returns their ids, to be shown."""
        finished = []
        for vote in await self.store.votes.list_open(statuses="applying"):
            if vote.kind == "decision" and vote.action_json:
                t = await self.store.ballots.tally(vote.id)
                await self.apply_decision(vote.id, vote.guild_id, vote.channel_id, vote.link_id,
                                          Action.from_json(vote.action_json), t,
                                          f"Passed ({t.votes_for} for, {t.votes_against} against)")
            else:
                await self.store.votes.set_status(
                    vote.id, "passed", from_status="applying",
                    outcome_reason="Closed; the bot restarted while applying the net change: see the lock's "
                                   "history for what was applied.")
            finished.append(vote.id)
        return finished

    async def apply_decision(self, vote_id: int, guild_id: int, channel_id: int, link_id: int,
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
        text = f"{head} but not applied: {result.message}" if refused else outcome_text(head, result)
        await self.store.votes.set_status(vote_id, status_of(result), from_status="applying", outcome_reason=text)
        return text

    async def apply_board(self, ov: OpenVote, *, final: bool) -> tuple[str, Final]:
        """Apply the part of the board's net change not applied yet, in ONE action clamped to the owner's limits.
        ``applied_net`` counts what was actually sent; what the limits held back is tried again next time.
        Returns the text to show and the status the board ends with when ``final``."""
        t = await self.ballots.stored_tally(ov.id)
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
            self.live.changed(ov)  # shows "applied so far"
        return outcome_text(head, result), status_of(result)

    async def queued_result(self, event: ActionFinished) -> int | None:
        """An action that was queued (Chastify rate limiting or unreachable) reached its end later: the vote's
        text says how it ended. Returns the vote to show again, if any."""
        entry, result = event.entry, event.result
        if entry.source not in ("vote", "board") or entry.source_id is None:
            return None
        vote = await self.store.votes.get(entry.source_id)
        if vote is None or not vote.outcome_reason or QUEUED not in vote.outcome_reason or vote.status != "passed":
            return None
        head = vote.outcome_reason.partition(QUEUED)[0]
        text = outcome_text(head, result)
        if await self.store.votes.set_status(vote.id, status_of(result), from_status="passed", outcome_reason=text):
            return vote.id
        return None


def outcome_text(head: str, result: SendResult) -> str:
    if result.status == "done":
        return f"{head}: applied."
    if result.status == "pending":
        return f"{head}{QUEUED}{result.message}"
    if result.status == "uncertain":
        return f"{head}: {result.message}"
    return f"{head}: not applied: {result.message}"


def status_of(result: SendResult) -> Final:
    if result.status == "refused":
        return "refused"
    if result.status == "cancelled":
        return "cancelled"
    if result.status == "failed":
        return "failed"
    return "passed"  # done, queued or uncertain: the vote passed; the text says what became of the action
