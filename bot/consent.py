"""The lock's consent: its pause (safewords), its owner limits and its rolling 24 h budget.

All of it is keyed by the pinned Chastify lock id, never by a link, a server or a process: the same lock reached
through the wearer's link in one server and the keyholder's in another has one pause, one set of limits and one
budget. Every path that acts (direct commands, votes, boards, queued retries, a restart's recovery) is judged here
by :meth:`Consent.judge`, and the outbox asks it again right before each send attempt.

The pause lives in the database (``lock_pauses``). A safeword said in this process is also held in memory at
once, before its first await (:meth:`hold`), and the outbox's guarded requests read that synchronously right
before they are handed to the HTTP client: no await separates that answer from the hand-over (connecting may still
take a moment; a request handed over cannot be called back).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from bot.actions import Action
from bot.clock import Clock
from bot.config import LimitsSettings
from bot.policy import (
    DAY,
    ConsentCard,
    Decision,
    LockState,
    OwnerLimits,
    board_allowance,
    check,
    chosen_strictest,
    strictest,
)
from bot.store import Store
from bot.store.models import Link

Source = Literal["direct", "vote", "board"]
# what counts against the daily budget: anything that may have been, or may yet be, applied
BUDGET_STATUSES = ("pending", "sent", "done", "uncertain")

PAUSED_TEXT = "the lock was paused with the safeword"


class Consent:
    def __init__(self, store: Store, defaults: LimitsSettings, clock: Clock) -> None:
        self._store = store
        self._defaults = OwnerLimits(
            max_add_per_action=defaults.max_add_per_action, max_add_per_day=defaults.max_add_per_day,
            max_freeze=defaults.max_freeze, max_pillory=defaults.max_pillory,
            min_vote_quorum=defaults.min_vote_quorum)
        self._clock = clock
        self._held: dict[str, set[int]] = {}  # lock id -> who said a safeword on it in this process

    # ------------------------------------------------------------------ the pause
    def hold(self, lock_id: str, user_id: int) -> None:
        """``user_id`` is saying the safeword in this process: from now on no guarded request for the lock leaves."""
        self._held.setdefault(lock_id, set()).add(user_id)

    def held(self, lock_id: str) -> bool:
        """Synchronous: was a safeword said for this lock in this process and not lifted since?"""
        return bool(self._held.get(lock_id))

    def guard(self, lock_id: str) -> str | None:
        """The outbox's last word before a request is handed to the HTTP client (see ``ChastifyClient`` guarded
        writes). It covers safewords said in this process; the database's pause is read right before the claim."""
        return f"not sent: {PAUSED_TEXT}" if self.held(lock_id) else None

    async def pause(self, lock_id: str, user_id: int, guild_id: int | None) -> bool:
        """Record ``user_id``'s safeword. True if nobody had paused the lock before."""
        self.hold(lock_id, user_id)
        return await self._store.consent.pause(lock_id, user_id, guild_id)

    async def unpause(self, lock_id: str, user_id: int) -> tuple[bool, bool]:
        """Lift ``user_id``'s own safeword. Returns (they had one, the lock is still paused by someone else)."""
        lifted = await self._store.consent.unpause(lock_id, user_id)
        holders = self._held.get(lock_id)
        if holders is not None:
            holders.discard(user_id)  # only this person's: a safeword someone else is saying now stays held
            if not holders:
                del self._held[lock_id]
        return lifted, await self.is_paused(lock_id)

    async def is_paused(self, lock_id: str) -> bool:
        return self.held(lock_id) or await self._store.consent.is_paused(lock_id)

    async def state(self, link: Link) -> LockState:
        """What the gate sees for this link: the lock's pause first, then the link's own state."""
        if await self.is_paused(link.lock_id):
            return "paused"
        if link.state == "paused":
            return "away"
        return link.state

    # ------------------------------------------------------------------ limits
    @property
    def defaults(self) -> OwnerLimits:
        return self._defaults

    async def limits(self, lock_id: str) -> OwnerLimits:
        """The limits in force on the lock: for each field the strictest of what each person who holds it chose,
        a person who chose nothing standing for the default."""
        rows = await self._store.consent.limits(lock_id)
        chose = {row.setter_id for row in rows}
        silent: list[dict[str, Any]] = [{} for p in await self._store.consent.people(lock_id) if p.user_id not in chose]
        return strictest(self._defaults, [*(row.fields() for row in rows), *silent])

    async def own_limits(self, lock_id: str, setter_id: int) -> dict[str, Any]:
        """The fields this person chose on the lock (merged strictly if older data holds several rows)."""
        rows = [row.fields() for row in await self._store.consent.limits(lock_id) if row.setter_id == setter_id]
        chosen = chosen_strictest(rows)
        return OwnerLimits.model_validate(chosen).model_dump(mode="json", include=set(chosen))

    async def set_limits(self, lock_id: str, setter_id: int, update: Mapping[str, Any]) -> OwnerLimits:
        """Change the fields ``setter_id`` chose (validated; a bad value raises pydantic's ValidationError and
        changes nothing) and return the limits now in force on the lock."""
        mine = {**await self.own_limits(lock_id, setter_id), **update}
        checked = OwnerLimits.model_validate(mine)
        await self._store.consent.set_limits(lock_id, setter_id,
                                             checked.model_dump(mode="json", include=set(mine)))
        return await self.limits(lock_id)

    # ------------------------------------------------------------------ the 24 h budget
    async def added_last_24h(self, lock_id: str, *, exclude_id: int | None = None) -> int:
        """Seconds added to the lock in the last 24 h by every link and server, counting what may have been
        applied or is still queued, so the owner's daily cap holds even with unknown outcomes."""
        return await self._store.outbox.added_since(lock_id, self._clock() - DAY, BUDGET_STATUSES,
                                                    exclude_id=exclude_id)

    # ------------------------------------------------------------------ judging
    async def judge(self, link: Link, action: Action, source: Source, *, exclude_id: int | None = None) -> Decision:
        """What the owner's rules say about this action on this lock now (``exclude_id``: an outbox entry being
        re-checked before its send, which must not count against itself)."""
        return check(action, source=source, state=await self.state(link), limits=await self.limits(link.lock_id),
                     added_last_24h=await self.added_last_24h(link.lock_id, exclude_id=exclude_id))

    async def card(self, link: Link) -> ConsentCard:
        """The lock's consent card as it stands now (what `/chastify status` shows)."""
        limits = await self.limits(link.lock_id)
        left = max(0, limits.max_add_per_day - await self.added_last_24h(link.lock_id))
        return ConsentCard(state=await self.state(link), limits=limits, left_today=left)

    async def board_allowance(self, link: Link) -> tuple[int, int]:
        return board_allowance(state=await self.state(link), limits=await self.limits(link.lock_id),
                               added_last_24h=await self.added_last_24h(link.lock_id))
