"""Deciding a vote and applying what passed: a decision's action once, a board's net change in one clamped
action per application; every action through the outbox (which asks the lock's consent right before it sends)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Literal

from bot.actions import DURATION_BOUNDS, Action, ActionKind, log_description, log_title
from bot.clock import Clock
from bot.durations import format_signed
from bot.events import ActionFinished
from bot.outcomes import SendResult
from bot.policy import WHEELS_REFUSED
from bot.services import Core
from bot.store.models import Tally, Vote
from bot.voting.ballots import Ballots
from bot.voting.display import Display
from bot.voting.draw import MODES, Draw, draw, format_draw, verify_command
from bot.voting.live import LiveTally
from bot.voting.options import options_from_json
from bot.voting.registry import open_vote_of
from bot.voting.rules import Outcome, Verdict, at_deadline, board_net
from bot.voting.state import QUEUED, VETO_WAIT, OpenVote

Final = Literal["passed", "failed", "refused", "cancelled"]
log = logging.getLogger("bot.voting")
VETO_GRACE = 120  # seconds: the least a waiting vote's people get to veto it after the bot was down


class Closing:
    """Turns a vote that is being decided into its final status and the text its message shows. The caller holds
    the vote's lock and has stopped its ballots (``closing``)."""

    def __init__(self, core: Core, clock: Clock, ballots: Ballots, live: LiveTally, display: Display, *,
                 apply_at: Callable[[float, int], None]) -> None:
        """``apply_at(when, vote_id)``: call :meth:`after_veto_window` for the vote then."""
        self.core = core
        self.store = core.store
        self.clock = clock
        self.ballots = ballots
        self.live = live
        self.display = display
        self.apply_at = apply_at

    async def decision(self, ov: OpenVote, verdict: Verdict | None) -> str:
        tally = await self.ballots.stored_tally(ov.id)
        verdict = verdict or at_deadline(tally, ov.rules)
        if verdict.outcome is Outcome.FAILED:
            text = f"Failed: {verdict.reason}."
            await self.store.votes.set_status(ov.id, "failed", outcome_reason=text)
            return text
        head = f"Passed ({verdict.reason})"
        waiting = await self._wait_for_veto(ov, head)
        if waiting is not None:
            return waiting
        if not await self.store.votes.set_status(ov.id, "applying"):
            return "Closed elsewhere."
        return await self.apply_decision(ov.id, ov.guild_id, ov.channel_id, ov.link_id, ov.action, tally, head)

    async def wheel(self, ov: OpenVote) -> str:
        """A wheel closes: below quorum it fails and nothing is drawn; else the seed committed at the start draws
        the winning option from the tally (``bot.voting.draw``), which is applied like a decision's action (after
        the lock's veto window, if any). The text reveals the seed."""
        await self.ballots.flush()
        vote = await self.store.votes.get(ov.id)
        assert vote is not None and vote.seed is not None
        spun = await self.spin(vote)
        total = sum(spun.tally)
        if total < ov.rules.quorum:
            text = (f"Failed: quorum not reached ({total} of {ov.rules.quorum} votes), nothing was drawn. "
                    f"Seed {vote.seed}.")
            await self.store.votes.set_status(ov.id, "failed", outcome_reason=text)
            return text
        assert spun.winner is not None  # a quorum of at least one ballot was counted
        option = ov.options[spun.winner]
        if not await self.store.votes.set_drawn(ov.id, spun.winner + 1):
            return "Closed elsewhere."
        head = f"Option {spun.winner + 1} ({option.label}) won: {format_draw(spun)}"
        if option.action is None:
            text = f"{head}. Nothing to apply."
            await self.store.votes.set_status(ov.id, "passed", outcome_reason=text)
            return text
        link = await self.store.links.get_by_id(ov.link_id)
        if link is not None and not (await self.core.limits(link)).allow_wheels:  # turned off since it opened
            text = f"{head} but not applied: {WHEELS_REFUSED}"
            await self.store.votes.set_status(ov.id, "refused", outcome_reason=text)
            return text
        waiting = await self._wait_for_veto(ov, head)
        if waiting is not None:
            return waiting
        if not await self.store.votes.set_status(ov.id, "applying", outcome_reason=head):  # a restart reads it
            return "Closed elsewhere."
        return await self.apply_decision(ov.id, ov.guild_id, ov.channel_id, ov.link_id, option.action,
                                         Tally(), head, spun=spun)

    async def spin(self, vote: Vote) -> Draw:
        """A wheel's draw from its seed and its stored ballots: the same every time it is asked (the ballots no
        longer change once it closed), so a restart or the end of a veto window applies the same option."""
        assert vote.seed is not None and vote.mode in MODES and vote.options_json is not None
        options = options_from_json(vote.options_json)
        counts = await self.store.ballots.counts(vote.id)
        return draw(vote.seed, [counts.get(n, 0) for n in range(1, len(options) + 1)], vote.mode)

    async def _applied_later(self, vote: Vote, head: str) -> None:
        """A decision's or a wheel's action applied after its veto window or after a restart. A wheel applies the
        option it drew at its close (``drawn_option``, shown on its message), never a new draw."""
        if vote.kind == "wheel":
            spun = await self.spin(vote)
            options = options_from_json(vote.options_json or "[]")
            number = vote.drawn_option
            if number is None or not 1 <= number <= len(options):
                text = f"{head}: not applied: the drawn option was not recorded."
                await self.store.votes.set_status(vote.id, "failed", from_status="applying", outcome_reason=text)
                log.error("a wheel waiting to apply has no drawn option", extra={"vote": vote.id})
                return
            if spun.winner != number - 1:  # cannot happen: its ballots no longer change once it closed
                log.error("a wheel's draw no longer matches its drawn option", extra={"vote": vote.id})
            await self.apply_decision(vote.id, vote.guild_id, vote.channel_id, vote.link_id,
                                      options[number - 1].action, Tally(), head, spun=spun)
            return
        assert vote.action_json is not None
        t = await self.store.ballots.tally(vote.id)
        await self.apply_decision(vote.id, vote.guild_id, vote.channel_id, vote.link_id,
                                  Action.from_json(vote.action_json), t, head)

    async def board(self, ov: OpenVote) -> str:
        t = await self.ballots.stored_tally(ov.id)
        net = board_net(t.votes_for, t.votes_against, ov.add_per_vote, ov.remove_per_vote)
        if net != ov.applied_net:
            waiting = await self._wait_for_veto(ov, f"Net {format_signed(net)} ({t.votes_for} 🔼, "
                                                    f"{t.votes_against} 🔽)")
            if waiting is not None:
                return waiting
        if not await self.store.votes.set_status(ov.id, "applying"):
            return "Closed elsewhere."
        text, status = await self.apply_board(ov, final=True)
        await self.store.votes.set_status(ov.id, status, from_status="applying", outcome_reason=text)
        return text

    async def veto_minutes(self, link_id: int) -> int:
        """The lock's veto window now (0: none, or the lock was unlinked)."""
        link = await self.store.links.get_by_id(link_id)
        return (await self.core.limits(link)).veto_minutes if link is not None else 0

    async def _wait_for_veto(self, ov: OpenVote, head: str) -> str | None:
        """When the lock has a veto window, the vote passed waits for it ('applying' with ``apply_at``): its
        text says until when. None when there is no window (apply now)."""
        minutes = await self.veto_minutes(ov.link_id)
        if not minutes:
            return None
        when = self.clock() + minutes * 60
        text = self._waiting_text(head, when, minutes)
        if not await self.store.votes.wait_for_veto(ov.id, when, text):
            return "Closed elsewhere."
        self.apply_at(when, ov.id)
        return text

    @staticmethod
    def _waiting_text(head: str, when: float, minutes: int) -> str:
        return f"{head}{VETO_WAIT}<t:{int(when)}:R> unless the lock's owner vetoes it ({minutes} min veto window)."

    async def after_veto_window(self, vote_id: int) -> int | None:
        """A passed vote's veto window ended: claim it (once; a veto can no longer take it) and apply it, a
        decision's action or a board's remaining net change. Returns the vote to show again, if any."""
        vote = await self.store.votes.get(vote_id)
        if vote is None or vote.status != "applying" or vote.apply_at is None:
            return None  # vetoed, cancelled by the safeword, or applied already
        if vote.apply_at > self.clock():
            self.apply_at(vote.apply_at, vote_id)  # early (a restart): wait on
            return None
        if not await self.store.votes.end_veto_window(vote_id):
            return None
        head = (vote.outcome_reason or "Passed").partition(VETO_WAIT)[0]
        if vote.kind != "board":
            await self._applied_later(vote, head)
        else:
            text, status = await self.apply_board(open_vote_of(vote), final=True)
            await self.store.votes.set_status(vote_id, status, from_status="applying", outcome_reason=text)
        return vote_id

    async def finish_applying(self) -> list[int]:
        """At start, the votes a crash caught while applying: a decision is applied once (the outbox key is the
        vote's, so an action already recorded is never recorded again); a board is closed as it stands (every
        application was recorded before it was sent). Returns their ids, to be shown."""
        finished = []
        mine = self.core.settings.discord.shards.owns
        for vote in await self.store.votes.list_open(statuses="applying"):
            if not mine(vote.guild_id):
                continue
            try:
                if await self._finish_one(vote):
                    finished.append(vote.id)
            except Exception:  # one vote that cannot be finished must not keep every other vote (and the bot) down
                log.exception("could not finish a vote caught while applying", extra={"vote": vote.id})
        return finished

    async def _finish_one(self, vote: Vote) -> bool:
        """One vote caught 'applying' at start (see :meth:`finish_applying`); True when it is to be shown."""
        if vote.apply_at is not None:  # waiting for its veto window: applied when it ends
            if vote.apply_at < self.clock() + VETO_GRACE:
                # the window ran out (or nearly) while the bot was down, when nobody could veto: it starts again,
                # as long as the lock's window now (at least VETO_GRACE), and its people are told again
                minutes = max(await self.veto_minutes(vote.link_id), VETO_GRACE // 60)
                when = self.clock() + minutes * 60
                head = (vote.outcome_reason or "Passed").partition(VETO_WAIT)[0]
                if await self.store.votes.extend_veto_window(vote.id, when, self._waiting_text(head, when, minutes)):
                    self.apply_at(when, vote.id)
                    return True
                return False
            self.apply_at(vote.apply_at, vote.id)
            return False
        if vote.kind == "wheel":
            # the outcome text has the draw already ("Option 2 (+1h) won: ..."): only how it ended is added
            await self._applied_later(vote, (vote.outcome_reason or "Drawn").partition(VETO_WAIT)[0])
        elif vote.kind == "decision" and vote.action_json:
            t = await self.store.ballots.tally(vote.id)
            await self._applied_later(vote, f"Passed ({t.votes_for} for, {t.votes_against} against)")
        else:
            await self.store.votes.set_status(
                vote.id, "passed", from_status="applying",
                outcome_reason="Closed; the bot restarted while applying the net change: see the lock's history for "
                               "what was applied.")
        return True

    async def apply_decision(self, vote_id: int, guild_id: int, channel_id: int, link_id: int,
                             action: Action | None, tally: Tally, head: str, *, spun: Draw | None = None) -> str:
        """A passed vote in status 'applying': through the policy gate and the outbox, once (the outbox key is
        the vote's), then its final status. ``spun``: a wheel's draw, which the lock log records (the winning
        option, the tally and the seed, so anyone can check it)."""
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
                                votes_against=tally.votes_against,
                                wheel_option=None if spun is None or spun.winner is None else spun.winner + 1),
            log_description=log_description(guild_name=place.guild_name, channel_name=place.channel_name,
                                            reason=action.reason,
                                            draw=None if spun is None else
                                            f"{format_draw(spun)}. Check it: {verify_command(spun)}"))
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
