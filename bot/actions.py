"""What an action on a lock is, its hard bounds, how it reads in Discord and in the lock's history.

Direct commands, decision votes and time boards all build an :class:`Action`; the policy gate
(`bot.policy`) judges it and the outbox (`bot.outbox`) sends it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, model_validator

from bot.chastify import FREEZE_DEFAULT, DevApi
from bot.durations import format_duration, format_signed
from bot.text import REASON_MAX, TASK_MAX, check_visible, escape_markdown


class ActionKind(StrEnum):
    ADD_TIME = "add_time"
    REMOVE_TIME = "remove_time"
    FREEZE = "freeze"
    UNFREEZE = "unfreeze"
    PILLORY = "pillory"
    END_PILLORY = "end_pillory"
    HYGIENE = "hygiene_opening"
    TASK_ASSIGN = "task_assign"
    TASK_START_TIMER = "task_start_timer"
    TASK_COMPLETE = "task_complete"


# Hard bounds for a duration per kind (seconds): (minimum, maximum). The owner's limits are stricter.
DURATION_BOUNDS: dict[ActionKind, tuple[int, int]] = {
    ActionKind.ADD_TIME: (1, 30 * 86400),
    ActionKind.REMOVE_TIME: (1, 30 * 86400),
    ActionKind.FREEZE: (60, 86400),
    ActionKind.PILLORY: (60, 86400),
    ActionKind.HYGIENE: (60, 4 * 3600),
    ActionKind.TASK_ASSIGN: (0, 7 * 86400),
}
DURATION_REQUIRED = {ActionKind.ADD_TIME, ActionKind.REMOVE_TIME, ActionKind.PILLORY}
POINTS_MAX = 1000

LABELS: dict[ActionKind, str] = {
    ActionKind.ADD_TIME: "add time",
    ActionKind.REMOVE_TIME: "remove time",
    ActionKind.FREEZE: "freeze",
    ActionKind.UNFREEZE: "unfreeze",
    ActionKind.PILLORY: "pillory",
    ActionKind.END_PILLORY: "end pillory",
    ActionKind.HYGIENE: "hygiene opening",
    ActionKind.TASK_ASSIGN: "assign a task",
    ActionKind.TASK_START_TIMER: "start the task timer",
    ActionKind.TASK_COMPLETE: "complete the task",
}


class Action(BaseModel):
    """One change to a lock. ``seconds`` is always positive; the kind says the direction."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ActionKind
    seconds: int | None = None
    reason: str | None = None
    task_text: str | None = None
    points: int | None = None
    verification: bool = False
    successful: bool | None = None

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> Action:
        if info.mode == "python":
            # A new action: its member texts must be visible text (bot.text.check_visible raises TextError, a
            # UserError that pydantic lets through, so the member sees its message). An action read back from
            # the database (JSON: the outbox, votes) is never refused by a rule newer than the action.
            for text, field in ((self.reason, "reason"), (self.task_text, "task text")):
                if text is not None:
                    check_visible(text, field=field, multiline=True)
        bounds = DURATION_BOUNDS.get(self.kind)
        if self.seconds is not None:
            if bounds is None:
                raise ValueError(f"{LABELS[self.kind]} takes no duration")
            low, high = bounds
            if not low <= self.seconds <= high:
                raise ValueError(
                    f"{LABELS[self.kind]} takes a duration from {format_duration(low)} to {format_duration(high)}"
                )
        elif self.kind in DURATION_REQUIRED:
            raise ValueError(f"{LABELS[self.kind]} needs a duration")
        if self.reason is not None and len(self.reason) > REASON_MAX:
            raise ValueError(f"the reason is at most {REASON_MAX} characters")
        if self.kind is ActionKind.TASK_ASSIGN:
            if not self.task_text or len(self.task_text) > TASK_MAX:
                raise ValueError(f"a task needs a text of 1 to {TASK_MAX} characters")
            if self.points is not None and not 0 <= self.points <= POINTS_MAX:
                raise ValueError(f"task points go from 0 to {POINTS_MAX}")
        elif self.task_text is not None:
            raise ValueError("only a task takes a task text")
        if self.kind is ActionKind.TASK_COMPLETE and self.successful is None:
            raise ValueError("completing a task needs successful true or false")
        return self

    # -- reading ---------------------------------------------------------------------------------
    @property
    def time_delta(self) -> int:
        """Seconds this action adds to the timer (negative removes); 0 for other kinds."""
        if self.kind is ActionKind.ADD_TIME:
            return self.seconds or 0
        if self.kind is ActionKind.REMOVE_TIME:
            return -(self.seconds or 0)
        return 0

    def summary(self) -> str:
        """Short text for embeds and log titles, e.g. ``+1h``, ``freeze 30m``, ``task: Drink water``."""
        k = self.kind
        if k in (ActionKind.ADD_TIME, ActionKind.REMOVE_TIME):
            return format_signed(self.time_delta)
        if k is ActionKind.FREEZE:
            return f"freeze {format_duration(self.seconds)}" if self.seconds else "freeze (1h default)"
        if k is ActionKind.PILLORY:
            return f"pillory {format_duration(self.seconds or 0)}"
        if k is ActionKind.HYGIENE:
            return f"hygiene opening {format_duration(self.seconds)}" if self.seconds else "hygiene opening"
        if k is ActionKind.TASK_ASSIGN:
            text = self.task_text or ""
            short = text if len(text) <= 60 else text[:57] + "..."
            return f"task: {short}"
        if k is ActionKind.TASK_COMPLETE:
            return "task completed" if self.successful else "task failed"
        return LABELS[k]

    def shown(self) -> str:
        """:meth:`summary` for Discord messages: a task's text (typed by a member) cannot render as markdown.
        Log titles on Chastify keep the plain summary."""
        return escape_markdown(self.summary()) if self.kind is ActionKind.TASK_ASSIGN else self.summary()

    def to_json(self) -> str:
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def from_json(cls, data: str) -> Action:
        return cls.model_validate_json(data)

    @property
    def freeze_seconds(self) -> int:
        """How long a freeze lasts: its duration, or Chastify's default (1 h) when none was given."""
        return self.seconds or FREEZE_DEFAULT

    def chastify_call(self) -> tuple[str, Any]:
        """The Chastify action name and params that carry this action out (sent via POST /action,
        except time changes which go through POST /lock/apply-time: see ``bot.outbox``)."""
        k = self.kind
        if k is ActionKind.ADD_TIME:
            return "add_time", self.seconds
        if k is ActionKind.REMOVE_TIME:
            return "remove_time", self.seconds
        if k is ActionKind.FREEZE:
            return "freeze", {"durationSeconds": self.freeze_seconds}
        if k is ActionKind.UNFREEZE:
            return "unfreeze", {}
        if k is ActionKind.PILLORY:
            params: dict[str, Any] = {"durationSeconds": self.seconds}
            if self.reason:
                params["reason"] = self.reason
            return "pillory", params
        if k is ActionKind.END_PILLORY:
            return "pillory.end", {}
        if k is ActionKind.HYGIENE:
            return "hygienic_unlock.start", ({"durationSeconds": self.seconds} if self.seconds else {})
        if k is ActionKind.TASK_ASSIGN:
            return "task.assign", {
                "actor": "extension",
                "taskText": self.task_text,
                "points": self.points or 0,
                "verificationRequired": self.verification,
                "durationSeconds": self.seconds or 0,
            }
        if k is ActionKind.TASK_START_TIMER:
            return "task.start_timer", {}
        complete: dict[str, Any] = {"successful": bool(self.successful)}
        if self.reason:
            complete["reason"] = self.reason
        return "task.complete", complete


class Payload(BaseModel):
    """What an outbox row carries: the action and the custom log to write once it is applied."""

    model_config = ConfigDict(frozen=True)

    action: Action
    log_title: str
    log_description: str | None = None


async def perform(api: DevApi, action: Action) -> Any:
    """Carry one action out on Chastify with the fewest calls: time through /lock/apply-time, freeze and unfreeze
    through /lock/*, everything else through /action (``Action.chastify_call``). The one place an action becomes
    a Chastify call."""
    if action.kind in (ActionKind.ADD_TIME, ActionKind.REMOVE_TIME):
        return await api.apply_time(action.time_delta)
    if action.kind is ActionKind.FREEZE:
        return await api.lock_freeze(action.freeze_seconds)
    if action.kind is ActionKind.UNFREEZE:
        return await api.lock_unfreeze()
    name, params = action.chastify_call()
    return await api.action(name, params)


def log_title(action: Action, *, source: str, actor: str | None = None,
              votes_for: int = 0, votes_against: int = 0, wheel_option: int | None = None) -> str:
    """The custom-log title written on the lock, at most 180 characters."""
    summary = action.summary()
    if wheel_option is not None:
        title = f"Discord wheel: option {wheel_option} won: {summary}"
    elif source == "vote":
        title = f"Discord vote: {summary} ({votes_for} for, {votes_against} against)"
    elif source == "board":
        title = f"Discord board: {summary} ({votes_for} up, {votes_against} down)"
    else:
        title = f"Discord: {summary} by {actor or 'a trusted member'}"
    return title if len(title) <= 180 else title[:177] + "..."


def log_description(*, guild_name: str, channel_name: str | None, reason: str | None,
                    draw: str | None = None) -> str:
    """``draw``: a wheel's draw (``bot.voting.draw.format_draw``: the option, the tally and the seed)."""
    where = f"On the Discord server {guild_name}" + (f", in #{channel_name}" if channel_name else "") + "."
    text = where + (f"\nReason: {reason}" if reason else "")
    if draw:
        text += f"\nDraw: {draw}"
    return text[:2000]
