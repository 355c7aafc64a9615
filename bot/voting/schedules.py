"""Scheduled and recurring votes: a vote that opens by itself, once at a time, daily at HH:MM or weekly on a day,
in the server's time zone (``/chastify settings time_zone``, an IANA name; UTC unless set).

Rules:
- A schedule stores what it opens (a :class:`Plan`: a decision's action, a board's time per vote, or a wheel's
  options and mode; its window and ballot style) and its rule (``bot.voting.calendar``). Its next opening is
  stored too (``next_at``) and moves on once per opening, by compare-and-set: an opening is acted on at most once,
  also across a restart or a second process.
- When an opening comes, the vote opens like any other: the lock's pause, its card and limits, the window and the
  server's cap on open votes are asked as for a member's proposal. Only a proposer's cooldown and voter role are
  not (nobody is at the keyboard; who made the schedule had Manage Server or held the lock).
- A paused lock skips the opening: nothing opens, the schedule notes "skipped: the lock is paused", and the next
  opening comes as usual.
- After a restart, an opening that came while the bot was down opens at once if it is still within its window
  (the vote then runs for what is left of it, at least the shortest window), otherwise it is skipped and noted.
- A changed time zone moves every schedule of the server to its next opening in the new zone.
- Removing the link removes its schedules.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot import permissions
from bot.actions import Action, ActionKind
from bot.clock import Clock
from bot.durations import format_duration
from bot.errors import UserError
from bot.events import SettingsChanged
from bot.members import Member
from bot.services import Core
from bot.store.models import Link, VoteSchedule
from bot.voting.calendar import Rule, next_opening
from bot.voting.deadlines import Deadlines
from bot.voting.draw import Mode
from bot.voting.options import (
    WheelOption,
    format_options,
    options_from_json,
    options_to_json,
    parse_option,
    parse_options,
)
from bot.voting.state import MIN_WINDOW

log = logging.getLogger("bot.voting")


class Plan(BaseModel):
    """What a schedule opens: ``kind`` with its action (decision), time per vote (board) or options and mode
    (wheel); the window (None: the server's when it opens) and the ballot style (None: the server's)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["decision", "board", "wheel"]
    action: Action | None = None
    add_per_vote: int = 0
    remove_per_vote: int = 0
    options_json: str | None = None
    mode: Mode | None = None
    window: int | None = None
    style: Literal["reactions", "buttons"] | None = None
    anonymous: bool = False

    @property
    def options(self) -> list[WheelOption]:
        return options_from_json(self.options_json) if self.options_json else []

    @classmethod
    def wheel(cls, options: list[WheelOption], mode: Mode, **kw: object) -> Plan:
        return cls(kind="wheel", options_json=options_to_json(options), mode=mode, **kw)

    def describe(self) -> str:
        if self.kind == "decision" and self.action is not None:
            what = f"vote on {self.action.shown()}"
        elif self.kind == "board":
            parts = [f"🔼 +{format_duration(self.add_per_vote)}" if self.add_per_vote else "",
                     f"🔽 -{format_duration(self.remove_per_vote)}" if self.remove_per_vote else ""]
            what = "time board (" + ", ".join(p for p in parts if p) + ")"
        else:
            what = f"{self.mode} wheel: {format_options(self.options)}"
        extra = []
        if self.window is not None:
            extra.append(f"open {format_duration(self.window)}")
        if self.anonymous:
            extra.append("anonymous")
        elif self.style is not None:
            extra.append(self.style)
        return what + (f" ({', '.join(extra)})" if extra else "")


WHAT_HELP = {
    "decision": "For a vote, `what` is one action: `+1h`, `-30m`, `freeze 1h`, `freeze`, `unfreeze` or "
                "`pillory 10m`.",
    "board": "For a board, `what` is the time per 🔼 and/or per 🔽: `+10m, -5m` (or only one of them).",
    "wheel": "For a wheel, `what` is 2 to 6 options separated by commas, e.g. `+30m, +2h, freeze 1h, nothing`.",
}


def plan_of(kind: str, what: str, *, mode: Mode = "plurality", window: int | None = None,
            style: Literal["reactions", "buttons"] | None = None, anonymous: bool = False) -> Plan:
    """What a member asked a schedule to open; UserError saying what was wrong and what is accepted."""
    if kind == "wheel":
        return Plan.wheel(parse_options(what), mode, window=window, style=style, anonymous=anonymous)
    parts = re.split(r"[,;|]", what)
    try:
        actions = [parse_option(part, n) for n, part in enumerate(parts, start=1)]
    except UserError as err:
        raise UserError(f"{str(err).split(' Each option')[0]} {WHAT_HELP[kind]} Nothing was scheduled.") from None
    if kind == "decision":
        if len(actions) != 1 or actions[0] is None:
            raise UserError(f"{WHAT_HELP['decision']} Nothing was scheduled.")
        return Plan(kind="decision", action=actions[0], window=window, style=style, anonymous=anonymous)
    add = [a.seconds or 0 for a in actions if a is not None and a.kind is ActionKind.ADD_TIME]
    remove = [a.seconds or 0 for a in actions if a is not None and a.kind is ActionKind.REMOVE_TIME]
    if len(add) > 1 or len(remove) > 1 or len(add) + len(remove) != len(actions) or not actions:
        raise UserError(f"{WHAT_HELP['board']} Nothing was scheduled.")
    if max(add + remove) > 86400:
        raise UserError(f"A board adds or removes at most 1d per vote. {WHAT_HELP['board']} Nothing was scheduled.")
    return Plan(kind="board", add_per_vote=sum(add), remove_per_vote=sum(remove), window=window, style=style,
                anonymous=anonymous)


def rule_of(s: VoteSchedule) -> Rule:
    return Rule(s.rule, s.minute, weekday=s.weekday,  # type: ignore[arg-type]
                date=dt.date.fromisoformat(s.once_date) if s.once_date else None)


# opens the plan's vote on the link now (and posts it), running ``window`` seconds; returns the vote's number.
# Raises UserError when the vote may not open (the words are noted on the schedule).
Opener = Callable[[VoteSchedule, Plan, Link, int], Awaitable[int]]
# posts a short note in the schedule's channel ("skipped: the lock is paused")
Noter = Callable[[VoteSchedule, str], Awaitable[None]]


class Schedules:
    """Keeps every server's schedules on one timer and opens their votes through ``opener``."""

    MAX_PER_GUILD = 25

    def __init__(self, core: Core, clock: Clock, *, opener: Opener, noter: Noter) -> None:
        self.core = core
        self.store = core.store
        self.clock = clock
        self.opener = opener
        self.noter = noter
        self.timer = Deadlines(clock, self._due)
        self._unsubscribe = core.events.subscribe(SettingsChanged, self._zone_changed)
        self._running: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ members' commands
    async def add(self, guild_id: int, link: Link, channel_id: int, creator: Member, plan: Plan,
                  rule: Rule) -> VoteSchedule:
        """A new schedule (Manage Server or the lock's people); its first opening is the rule's next one from now
        in the server's time zone."""
        permissions.require_schedule(creator, await self.core.is_holder(link, creator))
        if len(await self.store.schedules.list_for_guild(guild_id)) >= self.MAX_PER_GUILD:
            raise UserError(f"This server has {self.MAX_PER_GUILD} schedules, the most it may have. Remove one with "
                            "`/vote schedule remove` first. Nothing was scheduled.")
        zone = (await self.core.vote_rules(guild_id)).time_zone
        first = next_opening(rule, self.clock(), zone)
        if first is None:
            raise UserError(f"{rule.describe()} ({zone}) is already past. Give a date and time still to come. "
                            "Nothing was scheduled.")
        s = await self.store.schedules.create(
            guild_id=guild_id, link_id=link.id, lock_id=link.lock_id, channel_id=channel_id, creator_id=creator.id,
            plan_json=plan.model_dump_json(exclude_none=True), rule=rule.kind, minute=rule.minute,
            weekday=rule.weekday, once_date=rule.date.isoformat() if rule.date else None, next_at=first)
        self.timer.schedule(first, s.id, "deadline")
        return s

    async def of_guild(self, guild_id: int) -> list[VoteSchedule]:
        return await self.store.schedules.list_for_guild(guild_id)

    async def remove(self, guild_id: int, schedule_id: int, actor: Member) -> VoteSchedule:
        """Remove a schedule (whoever made it, Manage Server or the lock's people); votes it opened run on."""
        s = await self.store.schedules.get(schedule_id)
        if s is None or s.guild_id != guild_id:
            raise UserError(f"There is no schedule #{schedule_id} in this server (see `/vote schedule list`).")
        if actor.id != s.creator_id:
            link = await self.store.links.get_by_id(s.link_id)
            permissions.require_schedule(actor, link is not None and await self.core.is_holder(link, actor))
        if not await self.store.schedules.remove(guild_id, schedule_id):
            raise UserError(f"There is no schedule #{schedule_id} in this server (see `/vote schedule list`).")
        return s

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Every stored schedule on the timer; openings missed while the bot was down come due at once."""
        mine = self.core.settings.discord.shards.owns  # a guild's schedules run in the process owning its shard
        for s in await self.store.schedules.list_all():
            if s.next_at is not None and mine(s.guild_id):
                self.timer.schedule(s.next_at, s.id, "deadline")
        self.timer.start()

    def stop(self) -> None:
        self._unsubscribe()
        self.timer.stop()

    # ------------------------------------------------------------------ openings
    def _due(self, schedule_id: int, _what: object) -> None:
        if schedule_id in self._running:
            return
        self._running.add(schedule_id)
        task = asyncio.create_task(self._run(schedule_id), name=f"vote-schedule-{schedule_id}")
        self._tasks.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self._running.discard(schedule_id)
            self._tasks.discard(t)

        task.add_done_callback(done)

    def tasks(self) -> list[asyncio.Task[None]]:
        return list(self._tasks)

    async def _run(self, schedule_id: int) -> None:
        try:
            await self.due(schedule_id)
        except Exception:
            log.exception("a scheduled vote could not be opened", extra={"schedule": schedule_id})

    async def due(self, schedule_id: int) -> str | None:
        """Act on the schedule's opening if it has come: open its vote, or skip it and say why. Returns what
        became of it (None when nothing was due: removed, moved, or not yet)."""
        s = await self.store.schedules.get(schedule_id)
        now = self.clock()
        if s is None or s.next_at is None:
            return None
        if s.next_at > now:
            self.timer.schedule(s.next_at, s.id, "deadline")  # moved later (a new time zone): wait on
            return None
        due_at = s.next_at
        plan = Plan.model_validate_json(s.plan_json)
        rules = await self.core.vote_rules(s.guild_id)
        upcoming = next_opening(rule_of(s), max(due_at, now), rules.time_zone)
        # claim the opening first: whatever happens next, it is never acted on twice
        if not await self.store.schedules.advance(s.id, due_at=due_at, next_at=upcoming, result="opening"):
            return None
        if upcoming is not None:
            self.timer.schedule(upcoming, s.id, "deadline")
        result = await self._open(s, plan, due_at, now, rules.window_seconds)
        await self.store.schedules.set_result(s.id, result)
        if not result.startswith("opened"):
            try:
                await self.noter(s, result)
            except Exception:
                log.exception("could not post a schedule's note", extra={"schedule": s.id})
        return result

    async def _open(self, s: VoteSchedule, plan: Plan, due_at: float, now: float, default_window: int) -> str:
        window = plan.window if plan.window is not None else default_window
        late = now - due_at
        if late >= window:
            return (f"skipped: the bot was not running when it was due (<t:{int(due_at)}:f>) and its "
                    f"{format_duration(window)} window has passed")
        link = await self.store.links.get_by_id(s.link_id)
        if link is None:
            return "skipped: the lock is no longer linked here"
        if link.lock_id != s.lock_id:  # relinked with another lock's token: that lock never agreed to this schedule
            fresh = await self.store.schedules.get(s.id)  # claimed: next_at is already the following opening
            if fresh is not None and fresh.next_at is not None:
                await self.store.schedules.move(s.id, expected=fresh.next_at, next_at=None)
            return ("stopped: the link now reaches another lock than the one this schedule was made for; it opens "
                    "nothing more (remove it, and schedule again for the new lock)")
        state = await self.core.consent.state(link)
        if state == "paused":
            return "skipped: the lock is paused"
        if state != "active":
            return f"skipped: the lock is {state}"
        try:
            vote_id = await self.opener(s, plan, link, max(MIN_WINDOW, int(window - late)))
        except UserError as err:
            return f"skipped: {err}"
        return f"opened vote #{vote_id}"

    async def _zone_changed(self, event: SettingsChanged) -> None:
        """The server's time zone changed: each schedule's next opening is the rule's next one from now in the
        zone now set (a 'once' whose time is then past has no opening left). An opening already due is left to
        :meth:`due`; the move is a compare-and-set, so an opening being acted on is never moved or armed again."""
        if not event.time_zone:
            return
        zone = (await self.core.vote_rules(event.guild_id)).time_zone
        now = self.clock()
        for s in await self.store.schedules.list_for_guild(event.guild_id):
            if s.next_at is None or s.next_at <= now:
                continue
            moved = next_opening(rule_of(s), now, zone)
            if moved != s.next_at and await self.store.schedules.move(s.id, expected=s.next_at, next_at=moved) \
                    and moved is not None:
                self.timer.schedule(moved, s.id, "deadline")
