"""Consent is lock-wide: a hypothesis state machine over ONE Chastify lock reached from two Discord servers.

The world: the wearer (member 100, token A) links the lock in guild 1; the keyholder (member 200, token B, given
access with ``StandIn.share``) links the SAME lock in guild 2; each trusts a friend in their server (101, 201).
The real Core, VoteService, Store and ChastifyClient run against the stand-in over loopback (``tests/safety/rig``),
all on one FakeClock. Rules, each of which may be refused (a UserError is a refusal, never a failure): direct
actions by an owner or a friend in either guild, decision votes and time boards (proposed, attached, ballots,
closed by hand or at their deadline), the safeword and resume by either person said in either guild, unlink and
relink, either person setting their limits, Chastify answering 429 for a while, and time passing.

What must hold, checked after every step and at teardown from what the STAND-IN received (actions and custom
logs answered 2xx/5xx or dropped) and from a model of what was said:

1. per rolling 24 h, the time added to the lock stays within the strictest ``max_add_per_day`` in force;
2. no single add exceeds the strictest ``max_add_per_action`` in force when it was sent;
3. while any person's safeword stands (said in any guild, not yet lifted by that same person's resume; unlink
   and relink lift nothing), no lock action reaches Chastify and no custom log other than
   "Discord: paused..." / "Discord: resumed...".

How the harness keeps that sound:

- Each run owns its event loop (hypothesis state machines are sync): the stand-in, Store and client are made and
  closed inside that loop, and everything is closed in ``teardown`` whatever happened.
- The outbox's retry waits go to :class:`FakeTimers`: a queued action waits until the ``advance`` rule moves the
  clock past its retry time (``advance`` also closes votes whose deadline it passes, in time order). After every
  step all other background work is run to completion, so each request the stand-in records belongs to exactly one
  step, and a request recorded in a step that ends with a pause standing was sent during that pause.
- The limits in force (the model's) are the strictest field across the people whose limits surely still count:
  set while linked and not unlinked or relinked since (an implementation that keeps a person's limits after an
  unlink is only stricter; drawn limits never exceed the config defaults, which apply when nobody's limits
  count). The limits in force can only tighten in a ``set_limits`` step, and that rule only runs when no action
  is queued, so an action is always sent under limits at least as lax as those it was admitted under.
- An action may be admitted (its outbox entry recorded) before it is sent. A send in step ``i`` was admitted no
  earlier than the start of the run of consecutive steps before it that ended with an action still queued
  (``run_start``). Check 1 for each add Y sent at t sums the adds X sent at or before t that surely were
  admitted after t - 24 h (``run_start(X) > t - 24 h``): the gate admitted the last of those with all the others
  in its 24 h window, so their sum must fit the (laxest) daily limit any of them was sent under.
- A resume or safeword that raises changed nothing (that is what a refusal means in this code base); one that
  returns lifted (resume) or set (safeword, by a person with a link somewhere) that person's pause.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from bot.actions import Action, ActionKind
from bot.errors import UserError
from bot.members import Member, Place
from bot.policy import OwnerLimits
from sandbox.chastify import StandIn
from sandbox.chastify.server import RecordedRequest
from tests.safety.rig import Rig, make_rig
from tests.support.clock import FakeClock
from tests.support.standin import CUSTOM_LOG, LOCK_ACTIONS

DAY = 86400
DEFAULT_PER_ACTION = 3600
DEFAULT_PER_DAY = 4 * 3600
ALLOWED_DURING_PAUSE = ("Discord: paused", "Discord: resumed")
SETTLE_SECONDS = 20.0  # real seconds a step's background work may take (it takes milliseconds)


@dataclass(frozen=True)
class Person:
    role: str
    member: Member
    token: str
    guild: int
    friend: Member


PEOPLE = {
    "wearer": Person("wearer", Member(100, "wendy"), "dev-token-wearer-wendy", 1, Member(101, "fred")),
    "keyholder": Person("keyholder", Member(200, "kim"), "dev-token-keyholder-kim", 2, Member(201, "fay")),
}
OWNER_OF_GUILD = {p.guild: p for p in PEOPLE.values()}
PLACES = {1: Place(1, "Guild 1", 11, "general"), 2: Place(2, "Guild 2", 21, "general")}
PROPOSER = Member(399, "paula")
VOTERS = [Member(300 + i, f"voter{i}") for i in range(12)]

persons = st.sampled_from(sorted(PEOPLE))
guilds = st.sampled_from([1, 2])
add_seconds = st.sampled_from([300, 900, 1800, 2700, 3600, 5400, 7200])
windows = st.sampled_from([600, 3600, 4 * 3600])


class FakeTimers:
    """The outbox's retry sleeps: each waits until :meth:`fire` passes its time (the ``advance`` rule)."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self._heap: list[tuple[float, int, asyncio.Future[None], asyncio.Task[Any] | None]] = []
        self._seq = itertools.count()
        self.idle: set[asyncio.Task[Any]] = set()

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        task = asyncio.current_task()
        heapq.heappush(self._heap, (self.clock() + seconds, next(self._seq), future, task))
        if task is not None:
            self.idle.add(task)
        try:
            await future
        finally:
            if task is not None:
                self.idle.discard(task)

    def next_due(self) -> float | None:
        while self._heap and self._heap[0][2].done():
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def fire(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            _, _, future, task = heapq.heappop(self._heap)
            if not future.done():
                future.set_result(None)
                if task is not None:
                    self.idle.discard(task)  # runnable again: settling must wait for it


@dataclass
class Step:
    n: int
    label: str
    start: int  # index of the first stand-in request recorded during the step
    t0: float
    run_start: float  # earliest time an action sent during this step can have been admitted
    lim_start: tuple[int, int]
    end: int = -1
    paused_end: frozenset[str] = frozenset()
    lim_end: tuple[int, int] = (0, 0)
    pending_end: bool = False

    @property
    def limits(self) -> tuple[int, int]:
        """The laxest limits (per action, per day) in force during the step."""
        return max(self.lim_start[0], self.lim_end[0]), max(self.lim_start[1], self.lim_end[1])


@dataclass(frozen=True)
class Add:
    seconds: int
    at: float
    run_start: float
    per_day: int
    step: Step
    request: RecordedRequest


def _reached(r: RecordedRequest) -> bool:
    return r.status == 0 or 200 <= r.status < 300 or r.status >= 500


def _added(r: RecordedRequest) -> int:
    body = r.json if isinstance(r.json, dict) else {}
    if r.path.endswith("/lock/apply-time"):
        delta = body.get("deltaSeconds")
        return delta if isinstance(delta, int) and delta > 0 else 0
    if r.path.endswith("/action") and body.get("name") == "add_time":
        params = body.get("params")
        if isinstance(params, dict):
            params = params.get("seconds")
        return params if isinstance(params, int) and params > 0 else 0
    return 0


def _shown(r: RecordedRequest) -> str:
    body = r.json if isinstance(r.json, dict) else {}
    return f"POST {r.path.removeprefix('/api/apps/v1')} {body} (status {r.status}, clock +{_hours(r.at)})"


def _hours(at: float) -> str:
    return f"{(at - FakeClock().now) / 3600:.2f}h"


class EveryoneHere:
    """Both owners stay members of their servers."""

    async def member_present(self, guild_id: int, member_id: int) -> bool | None:
        return True


class ConsentMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.tmp: tempfile.TemporaryDirectory[str] | None = None
        self.chastify: StandIn | None = None
        self.rig: Rig | None = None
        self.clock = FakeClock()
        self.timers = FakeTimers(self.clock)
        self.steps: list[Step] = []
        self.failed = False
        self.pending = False
        # the model of what was said
        self.linked = {name: False for name in PEOPLE}
        self.limits: dict[str, tuple[int, int] | None] = {name: None for name in PEOPLE}
        self.limits_count = {name: False for name in PEOPLE}  # set while linked, not unlinked/relinked since
        self.paused_by: set[str] = set()
        self.open_votes: dict[int, float] = {}  # vote id -> deadline
        self.message_ids = itertools.count(900_001)

    # ------------------------------------------------------------------ plumbing
    def effective(self) -> tuple[int, int]:
        counted = [v for name, v in self.limits.items() if v is not None and self.limits_count[name]]
        if not counted:
            return DEFAULT_PER_ACTION, DEFAULT_PER_DAY
        return min(v[0] for v in counted), min(v[1] for v in counted)

    def _step(self, label: str, work: Callable[[], Awaitable[None]]) -> None:
        assert self.loop is not None and self.chastify is not None
        prev = self.steps[-1] if self.steps else None
        now = self.clock()
        step = Step(n=len(self.steps), label=label, start=len(self.chastify.requests), t0=now,
                    run_start=prev.run_start if prev is not None and prev.pending_end else now,
                    lim_start=self.effective())
        self.steps.append(step)
        try:
            self.loop.run_until_complete(self._guarded(label, work))
        except BaseException:
            self.failed = True
            raise
        finally:
            step.end = len(self.chastify.requests)
            step.paused_end = frozenset(self.paused_by)
            step.lim_end = self.effective()
            step.pending_end = self.pending

    async def _guarded(self, label: str, work: Callable[[], Awaitable[None]]) -> None:
        try:
            await work()
        except UserError as err:
            event(f"{label.split('(')[0]}: refused ({type(err).__name__})")
        finally:
            await self._settle()
            assert self.rig is not None
            queued = await self.rig.store.outbox.list_by_status(("pending", "sent"))
            self.pending = self.timers.next_due() is not None or bool(queued)

    async def _settle(self) -> None:
        """Run every background task to its end, except retries waiting for the clock."""
        me = asyncio.current_task()
        limit = time.monotonic() + SETTLE_SECONDS
        while True:
            await asyncio.sleep(0)
            busy = [t for t in asyncio.all_tasks() if t is not me and not t.done() and t not in self.timers.idle]
            if not busy:
                return
            if time.monotonic() > limit:
                raise AssertionError(f"background work did not settle in {SETTLE_SECONDS} s (a real-time sleep "
                                     f"the fake clock cannot end?): {busy}")
            await asyncio.wait(busy, timeout=0.01)

    async def _advance(self, seconds: int) -> None:
        """Move the clock, firing the queued retries and closing the votes it passes, in time order."""
        assert self.rig is not None
        target = self.clock() + seconds
        while True:
            due = [d for d in (self.timers.next_due(), min(self.open_votes.values(), default=None)) if d is not None]
            if not due or min(due) > target:
                break
            self.clock.advance(max(0.0, min(due) - self.clock()))
            now = self.clock()
            self.timers.fire(now)
            for vote_id, deadline in sorted(self.open_votes.items(), key=lambda kv: kv[1]):
                if deadline <= now:
                    del self.open_votes[vote_id]
                    try:
                        await self.rig.votes.close(vote_id)
                    except UserError:
                        event("vote deadline: refused")
            await self._settle()
        self.clock.advance(max(0.0, target - self.clock()))
        await self._settle()

    async def _link(self, name: str) -> None:
        assert self.rig is not None
        p = PEOPLE[name]
        result = await self.rig.core.link(PLACES[p.guild], p.member, p.token)
        self.linked[name] = True
        self.limits_count[name] = False  # a relink may or may not keep the limits set before
        await self.rig.core.trust(result.link, "member", p.friend.id)

    # ------------------------------------------------------------------ the world
    @initialize()
    def start(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.tmp = tempfile.TemporaryDirectory(prefix="consent-machine-")
        self.chastify = StandIn(clock=self.clock)
        self.chastify.start()
        fake = self.chastify.add_lock(PEOPLE["wearer"].token, role="wearer", remaining=90 * DAY,
                                      title="Shared lock")
        self.chastify.share(fake, PEOPLE["keyholder"].token, role="keyholder")
        self.lock_id = fake.id
        self.rig = self.loop.run_until_complete(make_rig(
            Path(self.tmp.name), self.chastify, self.clock,
            limits={"max_add_per_action": DEFAULT_PER_ACTION, "max_add_per_day": DEFAULT_PER_DAY},
            presence=EveryoneHere(), outbox_sleep=self.timers.sleep))

        async def both() -> None:
            for name in PEOPLE:
                await self._link(name)

        self._step("setup", both)
        assert all(self.linked.values()), "setting up the two links failed"

    @rule(guild=guilds, who=st.sampled_from(["owner", "friend"]),
          kind=st.sampled_from(["add", "add", "remove", "freeze"]), seconds=add_seconds)
    def act(self, guild: int, who: str, kind: str, seconds: int) -> None:
        self._act(guild, who, kind, seconds)

    @rule(guild=guilds, who=st.sampled_from(["owner", "friend"]), seconds=add_seconds)
    def add_time(self, guild: int, who: str, seconds: int) -> None:
        """Adds are what the budgets are about: drawn more often than the other direct actions."""
        self._act(guild, who, "add", seconds)

    def _act(self, guild: int, who: str, kind: str, seconds: int) -> None:
        owner = OWNER_OF_GUILD[guild]
        actor = owner.member if who == "owner" else owner.friend
        action = Action(kind={"add": ActionKind.ADD_TIME, "remove": ActionKind.REMOVE_TIME,
                              "freeze": ActionKind.FREEZE}[kind], seconds=seconds)

        async def work() -> None:
            assert self.rig is not None
            link = await self.rig.core.owned_link(guild, owner.member)
            result = await self.rig.core.act(PLACES[guild], actor, link, action)
            event(f"act: {result.status}")

        self._step(f"act(guild={guild}, who={who!r}, kind={kind!r}, seconds={seconds})", work)

    @rule(guild=guilds, kind=st.sampled_from(["add", "add", "remove"]), seconds=add_seconds,
          ayes=st.integers(0, 5), nays=st.integers(0, 2), window=windows)
    def open_vote(self, guild: int, kind: str, seconds: int, ayes: int, nays: int, window: int) -> None:
        owner = OWNER_OF_GUILD[guild]
        place = PLACES[guild]
        action = Action(kind=ActionKind.ADD_TIME if kind == "add" else ActionKind.REMOVE_TIME, seconds=seconds)

        async def work() -> None:
            assert self.rig is not None and place.channel_id is not None
            link = await self.rig.core.owned_link(guild, owner.member)
            vote = await self.rig.votes.propose(place, PROPOSER, link, action, window=window,
                                                channel_id=place.channel_id)
            self.open_votes[vote.id] = self.clock() + window
            message_id = next(self.message_ids)
            await self.rig.votes.attach(vote.id, place.channel_id, message_id)
            for voter in VOTERS[:ayes]:
                await self.rig.votes.reaction(message_id, voter, "✅", True)
            for voter in VOTERS[6:6 + nays]:
                await self.rig.votes.reaction(message_id, voter, "❌", True)

        self._step(f"open_vote(guild={guild}, {kind} {seconds}, {ayes} for, {nays} against)", work)

    @rule(guild=guilds, per_up=st.sampled_from([300, 900, 1800, 3600]), per_down=st.sampled_from([0, 600]),
          ups=st.integers(0, 6), downs=st.integers(0, 2), window=windows)
    def open_board(self, guild: int, per_up: int, per_down: int, ups: int, downs: int, window: int) -> None:
        owner = OWNER_OF_GUILD[guild]
        place = PLACES[guild]

        async def work() -> None:
            assert self.rig is not None and place.channel_id is not None
            link = await self.rig.core.owned_link(guild, owner.member)
            board = await self.rig.votes.propose_board(place, PROPOSER, link, add_per_vote=per_up,
                                                       remove_per_vote=per_down, window=window,
                                                       channel_id=place.channel_id)
            self.open_votes[board.id] = self.clock() + window
            message_id = next(self.message_ids)
            await self.rig.votes.attach(board.id, place.channel_id, message_id)
            for voter in VOTERS[:ups]:
                await self.rig.votes.reaction(message_id, voter, "🔼", True)
            for voter in VOTERS[6:6 + downs]:
                await self.rig.votes.reaction(message_id, voter, "🔽", True)

        self._step(f"open_board(guild={guild}, {ups}x{per_up} up, {downs}x{per_down} down)", work)

    @precondition(lambda self: bool(self.open_votes))
    @rule(pick=st.integers(0, 7))
    def close_vote(self, pick: int) -> None:
        vote_id = sorted(self.open_votes)[pick % len(self.open_votes)]
        del self.open_votes[vote_id]

        async def work() -> None:
            assert self.rig is not None
            await self.rig.votes.close(vote_id)

        self._step(f"close_vote(#{vote_id})", work)

    @rule(person=persons, guild=guilds)
    def safeword(self, person: str, guild: int) -> None:
        async def work() -> None:
            assert self.rig is not None
            await self.rig.core.safeword(PLACES[guild], PEOPLE[person].member)
            if self.linked[person]:
                self.paused_by.add(person)

        self._step(f"safeword({person}, guild={guild})", work)

    @precondition(lambda self: bool(self.paused_by))
    @rule(person=persons, guild=guilds)
    def resume(self, person: str, guild: int) -> None:
        async def work() -> None:
            assert self.rig is not None
            await self.rig.core.resume(PLACES[guild], PEOPLE[person].member)
            self.paused_by.discard(person)

        self._step(f"resume({person}, guild={guild})", work)

    @precondition(lambda self: any(self.linked.values()))
    @rule(person=persons)
    def unlink(self, person: str) -> None:
        p = PEOPLE[person]

        async def work() -> None:
            assert self.rig is not None
            await self.rig.core.unlink(PLACES[p.guild], p.member, p.member.id)
            self.linked[person] = False
            self.limits_count[person] = False

        self._step(f"unlink({person})", work)

    @rule(person=persons)
    def relink(self, person: str) -> None:
        self._step(f"relink({person})", lambda: self._link(person))

    # limits only tighten here, and only while no action is queued (see the module docstring)
    @precondition(lambda self: not self.pending)
    @rule(person=persons, per_action=st.sampled_from([600, 1800, 3600]),
          per_day=st.sampled_from([1800, 3600, 7200, 4 * 3600]))
    def set_limits(self, person: str, per_action: int, per_day: int) -> None:
        p = PEOPLE[person]

        async def work() -> None:
            assert self.rig is not None
            link = await self.rig.core.owned_link(p.guild, p.member)
            await self.rig.core.set_limits(link, OwnerLimits(max_add_per_action=per_action,
                                                             max_add_per_day=per_day))
            self.limits[person] = (per_action, per_day)
            self.limits_count[person] = True

        self._step(f"set_limits({person}, per_action={per_action}, per_day={per_day})", work)

    @rule(count=st.integers(1, 6))
    def chastify_busy(self, count: int) -> None:
        """The next ``count`` requests get 429: beyond the client's retries an action is queued."""
        assert self.chastify is not None
        self.chastify.faults.force_429 = count

        async def nothing() -> None:
            return None

        self._step(f"chastify_busy({count})", nothing)

    @rule(seconds=st.one_of(st.sampled_from([60, 3600, 6 * 3600, DAY - 60, DAY, DAY + 60]),
                            st.integers(60, 30 * 3600)))
    def advance(self, seconds: int) -> None:
        self._step(f"advance({seconds})", lambda: self._advance(seconds))

    # ------------------------------------------------------------------ the invariants
    @invariant()
    def consent_holds(self) -> None:
        if self.rig is None or not self.steps:
            return
        try:
            self._check()
        except AssertionError:
            self.failed = True
            raise

    def _check(self) -> None:
        assert self.chastify is not None
        requests = list(self.chastify.requests)
        adds: list[Add] = []
        for step in self.steps:
            end = step.end if step.end >= 0 else len(requests)
            for r in requests[step.start:end]:
                if not _reached(r) or r.lock_id not in (None, self.lock_id):
                    continue
                where = f"during step {step.n} `{step.label}`"
                if r.path in LOCK_ACTIONS:
                    if step.paused_end:
                        raise AssertionError(
                            f"{_shown(r)} reached Chastify {where} while the lock was paused by the "
                            f"{' and the '.join(sorted(step.paused_end))}'s safeword")
                    seconds = _added(r)
                    if seconds:
                        per_action, per_day = step.limits
                        if seconds > per_action:
                            raise AssertionError(
                                f"{_shown(r)} {where} adds {seconds} s; the strictest max_add_per_action in "
                                f"force is {per_action} s")
                        adds.append(Add(seconds, r.at, step.run_start, per_day, step, r))
                elif r.path == CUSTOM_LOG and step.paused_end:
                    title = str((r.json or {}).get("title", "")) if isinstance(r.json, dict) else ""
                    if not title.startswith(ALLOWED_DURING_PAUSE):
                        raise AssertionError(f"custom log {title!r} reached Chastify {where} while the lock was "
                                             "paused")
        for y in adds:
            window = [x for x in adds if x.at <= y.at and x.run_start > y.at - DAY]
            total = sum(x.seconds for x in window)
            allowed = max((x.per_day for x in window), default=0)
            if total > allowed:
                raise AssertionError(
                    f"{total} s were added within 24 h up to clock +{_hours(y.at)}; the strictest max_add_per_day "
                    f"in force allows {allowed} s. The adds:\n" + "\n".join(
                        f"  {x.seconds:>6} s at +{_hours(x.at)} in step {x.step.n} `{x.step.label}`"
                        for x in window))

    # ------------------------------------------------------------------ the end
    def teardown(self) -> None:
        try:
            if self.rig is not None and self.steps and not self.failed:
                # every queued retry and open vote runs out, then the invariants once more
                self._step("teardown: advance 3 days", lambda: self._advance(3 * DAY))
                self.consent_holds()
        finally:
            self._close()

    def _close(self) -> None:
        loop, rig = self.loop, self.rig
        try:
            if loop is not None:
                async def close() -> None:
                    me = asyncio.current_task()
                    left = [t for t in asyncio.all_tasks() if t is not me]
                    for task in left:
                        task.cancel()
                    await asyncio.gather(*left, return_exceptions=True)
                    if rig is not None:
                        await rig.close()

                try:
                    loop.run_until_complete(close())
                    loop.run_until_complete(loop.shutdown_asyncgens())
                finally:
                    loop.close()
        finally:
            self.loop = self.rig = None
            if self.chastify is not None:
                self.chastify.stop()
                self.chastify = None
            if self.tmp is not None:
                self.tmp.cleanup()
                self.tmp = None


@pytest.mark.timeout(600)
def test_consent_is_lock_wide() -> None:
    run_state_machine_as_test(ConsentMachine, settings=settings(
        max_examples=60, stateful_step_count=30, deadline=None, report_multiple_bugs=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]))
