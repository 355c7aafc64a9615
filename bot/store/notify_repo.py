"""Notifications to the people who hold a lock: their choices (``notify_prefs``) and the news held for them
(``notify_pending``: DMs held for quiet hours, news waiting for the next Chastify notification). Migration 009."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, get_args

from .models import from_row
from .repos import _chunks, _marks, _Repo

__all__ = ["CHASTIFY_TARGETS", "ChastifyTarget", "HeldNews", "NotifyChannel", "NotifyPrefs", "NotifyRepo"]

ChastifyTarget = Literal["off", "wearer", "keyholder", "both"]
NotifyChannel = Literal["dm", "chastify"]
CHASTIFY_TARGETS: tuple[str, ...] = get_args(ChastifyTarget)
_CHANNELS: frozenset[str] = frozenset(get_args(NotifyChannel))
# the columns `NotifyRepo.update` may write (SQL is built from these names only, never from values)
_PREF_FIELDS = frozenset({"dm", "chastify", "quiet_start", "quiet_end", "timezone", "dm_failed_at",
                          "chastify_sent_at"})


@dataclass(frozen=True, slots=True)
class NotifyPrefs:
    """One person's choices for one lock (the defaults when they never chose)."""

    lock_id: str
    user_id: int
    dm: bool = True
    chastify: ChastifyTarget = "off"
    quiet_start: int | None = None  # minutes after midnight, in ``timezone``
    quiet_end: int | None = None
    timezone: str | None = None
    dm_failed_at: float | None = None  # a DM could not be delivered: DMs wait until they run /chastify notify
    chastify_sent_at: float | None = None
    updated_at: float | None = None  # None: never chose anything (no row)

    @property
    def quiet(self) -> tuple[int, int] | None:
        if self.quiet_start is None or self.quiet_end is None:
            return None
        return self.quiet_start, self.quiet_end


@dataclass(frozen=True, slots=True)
class HeldNews:
    id: int
    lock_id: str
    user_id: int
    channel: NotifyChannel
    guild_id: int
    kind: str
    text: str
    url: str | None
    urgent: bool
    created_at: float


def _prefs(row: Any) -> NotifyPrefs:
    return NotifyPrefs(lock_id=row["lock_id"], user_id=row["user_id"], dm=bool(row["dm"]), chastify=row["chastify"],
                       quiet_start=row["quiet_start"], quiet_end=row["quiet_end"], timezone=row["timezone"],
                       dm_failed_at=row["dm_failed_at"], chastify_sent_at=row["chastify_sent_at"],
                       updated_at=row["updated_at"])


def _channel(channel: str) -> str:
    if channel not in _CHANNELS:
        raise ValueError(f"unknown notification channel {channel!r}; expected dm or chastify")
    return channel


class NotifyRepo(_Repo):
    # ------------------------------------------------------------------ preferences
    async def get(self, lock_id: str, user_id: int) -> NotifyPrefs:
        row = await self._db.fetchone("SELECT * FROM notify_prefs WHERE lock_id = ? AND user_id = ?",
                                      (lock_id, user_id))
        return _prefs(row) if row is not None else NotifyPrefs(lock_id, user_id)

    async def update(self, lock_id: str, user_id: int, **fields: Any) -> NotifyPrefs:
        """Change some of a person's choices (the others keep their value, or the default). Returns them all."""
        unknown = set(fields) - _PREF_FIELDS
        if unknown:
            raise ValueError(f"unknown notification setting(s): {', '.join(sorted(unknown))}")
        if "chastify" in fields and fields["chastify"] not in CHASTIFY_TARGETS:
            raise ValueError(f"chastify must be one of {', '.join(CHASTIFY_TARGETS)}")
        if "dm" in fields:
            fields["dm"] = int(bool(fields["dm"]))
        names = sorted(fields)
        now = self._clock()
        columns = ", ".join(["lock_id", "user_id", *names, "updated_at"])
        sets = ", ".join([*(f"{n} = excluded.{n}" for n in names), "updated_at = excluded.updated_at"])
        await self._db.execute(
            f"INSERT INTO notify_prefs ({columns}) VALUES ({_marks(len(names) + 3)}) "  # noqa: S608
            f"ON CONFLICT (lock_id, user_id) DO UPDATE SET {sets}",
            (lock_id, user_id, *(fields[n] for n in names), now))
        return await self.get(lock_id, user_id)

    async def note_dm_failed(self, lock_id: str, user_id: int) -> bool:
        """Record that a DM to this person about this lock could not be delivered. True the first time (until
        :meth:`update` clears it): the caller notes it once."""
        async with self._db.transaction():
            row = await self._db.fetchone(
                "SELECT dm_failed_at FROM notify_prefs WHERE lock_id = ? AND user_id = ?", (lock_id, user_id))
            if row is not None and row["dm_failed_at"] is not None:
                return False
            now = self._clock()
            await self._db.execute(
                "INSERT INTO notify_prefs (lock_id, user_id, dm_failed_at, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (lock_id, user_id) DO UPDATE SET dm_failed_at = excluded.dm_failed_at",
                (lock_id, user_id, now, now))
        return True

    async def mark_chastify_sent(self, lock_id: str, user_id: int, at: float) -> None:
        await self._db.execute(
            "INSERT INTO notify_prefs (lock_id, user_id, chastify_sent_at, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (lock_id, user_id) DO UPDATE SET chastify_sent_at = excluded.chastify_sent_at",
            (lock_id, user_id, at, self._clock()))

    # ------------------------------------------------------------------ held news
    async def hold(self, *, lock_id: str, user_id: int, channel: NotifyChannel, guild_id: int, kind: str, text: str,
                   url: str | None = None, urgent: bool = False) -> int:
        row_id = await self._insert_id(
            "INSERT INTO notify_pending (lock_id, user_id, channel, guild_id, kind, text, url, urgent, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (lock_id, user_id, _channel(channel), guild_id, kind, text, url, int(urgent), self._clock()))
        assert row_id is not None
        return row_id

    async def held(self, lock_id: str, user_id: int, channel: NotifyChannel) -> builtins.list[HeldNews]:
        """What is held for this person, lock and channel, oldest first."""
        rows = await self._db.fetchall(
            "SELECT * FROM notify_pending WHERE lock_id = ? AND user_id = ? AND channel = ? ORDER BY id",
            (lock_id, user_id, _channel(channel)))
        return [_held(r) for r in rows]

    async def waiting(self) -> builtins.list[tuple[str, int, NotifyChannel]]:
        """Every (lock, person, channel) with news held."""
        rows = await self._db.fetchall(
            "SELECT DISTINCT lock_id, user_id, channel FROM notify_pending ORDER BY lock_id, user_id, channel")
        return [(r["lock_id"], r["user_id"], r["channel"]) for r in rows]

    async def drop(self, ids: Iterable[int]) -> int:
        """Forget held news (it was delivered, or it can never be). Returns how many rows went."""
        gone = 0
        for chunk in _chunks(list(ids)):
            changed, _ = await self._db.execute(
                f"DELETE FROM notify_pending WHERE id IN ({_marks(len(chunk))})", tuple(chunk))  # noqa: S608
            gone += changed
        return gone


def _held(row: Any) -> HeldNews:
    item = from_row(HeldNews, row)
    return HeldNews(item.id, item.lock_id, item.user_id, item.channel, item.guild_id, item.kind, item.text, item.url,
                    bool(item.urgent), item.created_at)
