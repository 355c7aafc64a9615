"""Typed repositories: the only place with SQL besides the migrations.

Each write method is one transaction. To make several writes one logical operation, wrap them in
``async with store.transaction():`` (the repositories join the open transaction).

SQL text is built only from ``?`` placeholders and whitelisted column names, never from values: that is why
the f-string queries carry ``noqa: S608``.
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import json
import re
import sqlite3
import weakref
from collections.abc import AsyncIterator, Callable, Hashable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, ClassVar, Generic, TypeVar

from .db import Db, Row
from .models import (
    LINK_STATES,
    OUTBOX_SOURCES,
    OUTBOX_STATUSES,
    TRUST_KINDS,
    VOTE_KINDS,
    VOTE_STATUSES,
    AuditEntry,
    Ballot,
    BallotChange,
    GuildSettings,
    LimitsRow,
    Link,
    LockPause,
    LockPerson,
    OutboxEntry,
    Tally,
    TrustEntry,
    Vote,
    VoteSchedule,
    from_row,
)
from .pg import IntegrityViolation

# a constraint said no, in either database
INTEGRITY_ERRORS = (sqlite3.IntegrityError, IntegrityViolation)

__all__ = [
    "INTEGRITY_ERRORS",
    "AuditRepo",
    "BallotRepo",
    "Clock",
    "ConsentRepo",
    "GuildSettingsRepo",
    "LinkRepo",
    "OutboxRepo",
    "TrustRepo",
    "VoteRepo",
    "VoteScheduleRepo",
]

Clock = Callable[[], float]

_LOCK_ID = re.compile(r"^[0-9a-fA-F]{24}$")
# SQLite's default limit on host parameters is 32766; stay far below it.
_IN_CHUNK = 500


def _statuses(value: str | Iterable[str], allowed: frozenset[str], what: str) -> tuple[str, ...]:
    items = (value,) if isinstance(value, str) else tuple(value)
    if not items:
        raise ValueError(f"at least one {what} is needed")
    for item in items:
        if item not in allowed:
            raise ValueError(f"unknown {what} {item!r}; expected one of {', '.join(sorted(allowed))}")
    return items


# how long a slot of a lock's shared Chastify budget is held: Chastify's minute, as the in-process limiter counts it
# (each request takes its slot right before it leaves, so it reaches Chastify in the same order and moments later)
BUDGET_WINDOW = 60.0

# 1 / -1: for / against (✅ ❌, 🔼 🔽); 1 to 6: a wheel's option number
BALLOT_CHOICES = frozenset({-1, 1, 2, 3, 4, 5, 6})


def _vote(row: Row) -> Vote:
    vote = from_row(Vote, row)
    return dataclasses.replace(vote, anonymous=bool(vote.anonymous))


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def _chunks(items: builtins.list[int], size: int = _IN_CHUNK) -> Iterable[builtins.list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _Repo:
    async def _insert_id(self, sql: str, params: Sequence[Any]) -> int:
        """Run one INSERT and return the new row's id (``RETURNING id``: both databases, one trip)."""
        rows = await self._db.returning(sql + " RETURNING id", params)
        return int(rows[0][0])

    def __init__(self, db: Db, clock: Clock) -> None:
        self._db = db
        self._clock = clock


_V = TypeVar("_V")
_MISS: Any = object()


class _ReadCache(Generic[_V]):
    """Rows read on every reaction or tally refresh and written rarely (guild settings, links, votes), kept in
    memory after a read.

    The bot is the database's only writer and every write of these tables goes through its repository, which
    wraps it in :meth:`changing`: the written row (or the whole cache) is dropped before the write starts and
    again once it has committed or rolled back; deleting a link also drops the votes cache (its votes go with
    it). A read is kept only if no write of the table began meanwhile (the generation did not move) and it did
    not run inside a transaction (which could still roll back).

    On PostgreSQL nothing is kept: several bot processes (shards) write the same rows, and a vote cancelled by
    another process's safeword must read as cancelled here at once.
    """

    _of_db: ClassVar[weakref.WeakKeyDictionary[Db, dict[str, _ReadCache[Any]]]] = weakref.WeakKeyDictionary()

    def __init__(self, db: Db, table: str) -> None:
        self._db = db
        self._rows: dict[Hashable, _V] = {}
        self._generation = 0
        self._of_db.setdefault(db, {})[table] = self

    def of(self, table: str) -> _ReadCache[Any] | None:
        """The cache of another table of the same database."""
        return self._of_db.get(self._db, {}).get(table)

    def get(self, key: Hashable) -> _V:
        return self._rows.get(key, _MISS)  # type: ignore[no-any-return]

    @property
    def generation(self) -> int:
        return self._generation

    def keep(self, generation: int, key: Hashable, value: _V) -> None:
        if generation == self._generation and not self._db._holds_transaction() and self._db.dialect == "sqlite":
            self._rows[key] = value

    def forget(self, key: Hashable = _MISS) -> None:
        """Drop one row (or every row when no key is given)."""
        self._generation += 1
        if key is _MISS:
            self._rows.clear()
        else:
            self._rows.pop(key, None)

    @asynccontextmanager
    async def changing(self, key: Hashable = _MISS) -> AsyncIterator[None]:
        self.forget(key)
        try:
            yield
        finally:
            self.forget(key)


def _changing_all(cache: _ReadCache[Any] | None) -> contextlib.AbstractAsyncContextManager[None]:
    return cache.changing() if cache is not None else contextlib.nullcontext()


# ============================================================================================ settings


class GuildSettingsRepo(_Repo):
    """Per-server settings; a missing row or NULL column means "use the config default"."""

    FIELDS = frozenset(
        {
            "vote_channel_id",
            "voter_role_id",
            "window_seconds",
            "quorum",
            "majority",
            "instant_pass",
            "proposal_cooldown_seconds",
            "max_open_per_lock",
            "min_account_age_days",
            "reminder_fraction",
            "reminder_role_id",
            "ballot_style",
            "time_zone",
        }
    )

    def __init__(self, db: Db, clock: Clock) -> None:
        super().__init__(db, clock)
        self._cache: _ReadCache[GuildSettings] = _ReadCache(db, "guild_settings")

    def cached(self, guild_id: int) -> GuildSettings | None:
        """The server's settings if the read cache holds them now (None: ask :meth:`get`)."""
        hit = self._cache.get(guild_id)
        return None if hit is _MISS else hit

    async def get(self, guild_id: int) -> GuildSettings:
        cached = self._cache.get(guild_id)
        if cached is not _MISS:
            return cached
        generation = self._cache.generation
        row = await self._db.fetchone("SELECT * FROM guild_settings WHERE guild_id = ?", (guild_id,))
        settings = GuildSettings.from_row(row) if row is not None else GuildSettings(guild_id=guild_id)
        self._cache.keep(generation, guild_id, settings)
        return settings

    async def update(self, guild_id: int, **fields: Any) -> GuildSettings:
        """Set the given fields (``None`` resets one to the default). Unknown names raise ValueError."""
        unknown = set(fields) - self.FIELDS
        if unknown:
            raise ValueError(
                f"unknown guild setting(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(self.FIELDS))}"
            )
        cols = sorted(fields)
        values = [int(v) if isinstance(v, bool) else v for v in (fields[c] for c in cols)]
        assignments = "".join(f"{c} = excluded.{c}, " for c in cols)
        sql = (
            f"INSERT INTO guild_settings (guild_id, {''.join(c + ', ' for c in cols)}updated_at) "  # noqa: S608
            f"VALUES (?, {''.join('?, ' for _ in cols)}?) "
            f"ON CONFLICT (guild_id) DO UPDATE SET {assignments}updated_at = excluded.updated_at"
        )
        async with self._cache.changing(guild_id), self._db.transaction():
            try:
                await self._db.execute(sql, (guild_id, *values, self._clock()))
            except INTEGRITY_ERRORS as exc:
                raise ValueError(f"invalid guild setting value: {exc}") from exc
            return await self.get(guild_id)

    async def reset(self, guild_id: int) -> bool:
        """Forget every per-server setting of ``guild_id``."""
        async with self._cache.changing(guild_id):
            changed, _ = await self._db.execute("DELETE FROM guild_settings WHERE guild_id = ?", (guild_id,))
        return changed > 0


# ============================================================================================ links


class LinkRepo(_Repo):
    def __init__(self, db: Db, clock: Clock) -> None:
        super().__init__(db, clock)
        self._cache: _ReadCache[Link | None] = _ReadCache(db, "links")

    async def upsert(
        self,
        *,
        guild_id: int,
        owner_id: int,
        token_ciphertext: bytes,
        lock_id: str,
        role: str,
        title: str | None = None,
        owner_name: str | None = None,
    ) -> Link:
        """Link (or relink) the owner's lock: replaces token, lock, role and title, sets state 'active'.

        A relink keeps the link id, so trust entries and owner limits survive.
        """
        if not _LOCK_ID.match(lock_id):
            raise ValueError("lock_id must be 24 hexadecimal characters")
        now = self._clock()
        async with self._cache.changing(), self._db.transaction():
            await self._db.execute(
                "INSERT INTO links (guild_id, owner_id, token_ciphertext, lock_id, role, title, state, "
                "created_at, updated_at, owner_name) VALUES (?, ?, ?, ?, ?, ?, 'active', ?, ?, ?) "
                "ON CONFLICT (guild_id, owner_id) DO UPDATE SET token_ciphertext = excluded.token_ciphertext, "
                "lock_id = excluded.lock_id, role = excluded.role, title = excluded.title, state = 'active', "
                "updated_at = excluded.updated_at, owner_name = excluded.owner_name",
                (guild_id, owner_id, token_ciphertext, lock_id, role, title, now, now, owner_name),
            )
            link = await self.get(guild_id, owner_id)
        assert link is not None
        return link

    async def get(self, guild_id: int, owner_id: int) -> Link | None:
        row = await self._db.fetchone("SELECT * FROM links WHERE guild_id = ? AND owner_id = ?", (guild_id, owner_id))
        return _link(row) if row is not None else None

    def cached_by_id(self, link_id: int) -> Link | None:
        """The link if the read cache holds it now (None: unknown here, ask :meth:`get_by_id`)."""
        hit = self._cache.get(link_id)
        return None if hit is _MISS else hit

    async def get_by_id(self, link_id: int) -> Link | None:
        cached = self._cache.get(link_id)
        if cached is not _MISS:
            return cached
        generation = self._cache.generation
        row = await self._db.fetchone("SELECT * FROM links WHERE id = ?", (link_id,))
        link = _link(row) if row is not None else None
        self._cache.keep(generation, link_id, link)
        return link

    async def list_for_guild(self, guild_id: int, states: str | Iterable[str] | None = None) -> list[Link]:
        sql = "SELECT * FROM links WHERE guild_id = ?"
        params: list[Any] = [guild_id]
        if states is not None:
            wanted = _statuses(states, LINK_STATES, "link state")
            sql += f" AND state IN ({_marks(len(wanted))})"
            params.extend(wanted)
        rows = await self._db.fetchall(sql + " ORDER BY id", params)
        return [_link(r) for r in rows]

    async def list_all(self) -> list[Link]:
        """Every link in every server (e.g. to check at start that the vault key decrypts them)."""
        return [_link(r) for r in await self._db.fetchall("SELECT * FROM links ORDER BY id")]

    async def set_state(self, link_id: int, state: str, *, expected: str | Iterable[str] | None = None) -> bool:
        """Set the state; with ``expected``, only if the current state is one of those. True if changed."""
        _statuses(state, LINK_STATES, "link state")
        sql = "UPDATE links SET state = ?, updated_at = ? WHERE id = ?"
        params: list[Any] = [state, self._clock(), link_id]
        if expected is not None:
            wanted = _statuses(expected, LINK_STATES, "link state")
            sql += f" AND state IN ({_marks(len(wanted))})"
            params.extend(wanted)
        async with self._cache.changing(link_id):
            changed, _ = await self._db.execute(sql, params)
        return changed > 0

    async def list_for_lock(self, lock_id: str) -> list[Link]:
        """Every link of one Chastify lock, in every server."""
        rows = await self._db.fetchall("SELECT * FROM links WHERE lock_id = ? ORDER BY id", (lock_id,))
        return [_link(r) for r in rows]

    async def list_for_owner(self, owner_id: int) -> list[Link]:
        """Every link whose token is this member's own, in every server."""
        rows = await self._db.fetchall("SELECT * FROM links WHERE owner_id = ? ORDER BY id", (owner_id,))
        return [_link(r) for r in rows]

    async def find_in_guild(self, guild_id: int, lock_id: str) -> list[Link]:
        """The links of ``lock_id`` in one server (one, unless older data holds two)."""
        rows = await self._db.fetchall(
            "SELECT * FROM links WHERE guild_id = ? AND lock_id = ? ORDER BY id", (guild_id, lock_id))
        return [_link(r) for r in rows]

    async def set_title(self, link_id: int, title: str | None) -> bool:
        async with self._cache.changing(link_id):
            changed, _ = await self._db.execute(
                "UPDATE links SET title = ?, updated_at = ? WHERE id = ?", (title, self._clock(), link_id)
            )
        return changed > 0

    async def delete(self, link_id: int) -> bool:
        """Delete the link and its token. Its trust entries and votes (with ballots) go with it; its outbox rows
        stay (with no link: they are the lock's 24 h budget), and so do audit rows."""
        async with self._cache.changing(link_id), _changing_all(self._cache.of("votes")):
            changed, _ = await self._db.execute("DELETE FROM links WHERE id = ?", (link_id,))
        return changed > 0


def _link(row: Row) -> Link:
    return from_row(Link, row)


# ============================================================================================ trust


class TrustRepo(_Repo):
    async def add(self, link_id: int, kind: str, target_id: int) -> bool:
        """Trust a role or member. False if it was already trusted."""
        _statuses(kind, TRUST_KINDS, "trust kind")
        changed, _ = await self._db.execute(
            "INSERT INTO trust (link_id, kind, target_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (link_id, kind, target_id),
        )
        return changed > 0

    async def remove(self, link_id: int, kind: str, target_id: int) -> bool:
        changed, _ = await self._db.execute(
            "DELETE FROM trust WHERE link_id = ? AND kind = ? AND target_id = ?", (link_id, kind, target_id)
        )
        return changed > 0

    async def list(self, link_id: int) -> builtins.list[TrustEntry]:
        rows = await self._db.fetchall(
            "SELECT link_id, kind, target_id FROM trust WHERE link_id = ? ORDER BY kind, target_id", (link_id,)
        )
        return [from_row(TrustEntry, r) for r in rows]

    async def is_trusted(self, link_id: int, member_id: int, role_ids: Iterable[int] = ()) -> bool:
        """True if the member, or one of ``role_ids``, is trusted on the link."""
        roles = builtins.list(dict.fromkeys(role_ids))[: _IN_CHUNK - 2]
        sql = "SELECT 1 FROM trust WHERE link_id = ? AND ((kind = 'member' AND target_id = ?)"
        if roles:
            sql += f" OR (kind = 'role' AND target_id IN ({_marks(len(roles))}))"
        row = await self._db.fetchone(sql + ") LIMIT 1", (link_id, member_id, *roles))
        return row is not None

    async def clear(self, link_id: int) -> int:
        changed, _ = await self._db.execute("DELETE FROM trust WHERE link_id = ?", (link_id,))
        return changed


# ============================================================================================ votes


class VoteRepo(_Repo):
    def __init__(self, db: Db, clock: Clock) -> None:
        super().__init__(db, clock)
        self._cache: _ReadCache[Vote] = _ReadCache(db, "votes")

    async def create(
        self,
        *,
        guild_id: int,
        link_id: int,
        kind: str,
        action_json: str | None,
        proposer_id: int,
        channel_id: int,
        deadline: float,
        quorum: int,
        majority: float,
        instant_pass: int = 0,
        add_per_vote: int | None = None,
        remove_per_vote: int | None = None,
        message_id: int | None = None,
        remind_at: float | None = None,
        style: str = "reactions",
        anonymous: bool = False,
        mode: str | None = None,
        options_json: str | None = None,
        seed: str | None = None,
        commitment: str | None = None,
        schedule_id: int | None = None,
    ) -> Vote:
        """Record a new open vote (``created_at`` = now)."""
        _statuses(kind, VOTE_KINDS, "vote kind")
        async with self._db.transaction():  # no cache to drop: a missing vote is never kept
            vote_id = await self._insert_id(
                "INSERT INTO votes (guild_id, link_id, kind, action_json, proposer_id, channel_id, message_id, "
                "created_at, deadline, status, quorum, majority, instant_pass, add_per_vote, remove_per_vote, "
                "remind_at, style, anonymous, mode, options_json, seed, commitment, schedule_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    guild_id,
                    link_id,
                    kind,
                    action_json,
                    proposer_id,
                    channel_id,
                    message_id,
                    self._clock(),
                    deadline,
                    quorum,
                    majority,
                    instant_pass,
                    add_per_vote,
                    remove_per_vote,
                    remind_at,
                    style,
                    int(anonymous),
                    mode,
                    options_json,
                    seed,
                    commitment,
                    schedule_id,
                ),
            )
            assert vote_id is not None
            vote = await self.get(vote_id)
        assert vote is not None
        return vote

    async def get(self, vote_id: int) -> Vote | None:
        cached = self._cache.get(vote_id)
        if cached is not _MISS:
            return cached
        generation = self._cache.generation
        row = await self._db.fetchone("SELECT * FROM votes WHERE id = ?", (vote_id,))
        if row is None:
            return None
        vote = _vote(row)
        self._cache.keep(generation, vote_id, vote)
        return vote

    async def get_by_message(self, message_id: int) -> Vote | None:
        row = await self._db.fetchone("SELECT * FROM votes WHERE message_id = ?", (message_id,))
        return _vote(row) if row is not None else None

    async def list_open(
        self,
        *,
        guild_id: int | None = None,
        link_id: int | None = None,
        statuses: str | Iterable[str] = "open",
    ) -> list[Vote]:
        """Votes in ``statuses`` (default: open), soonest deadline first; optionally of one guild / link."""
        wanted = _statuses(statuses, VOTE_STATUSES, "vote status")
        sql = f"SELECT * FROM votes WHERE status IN ({_marks(len(wanted))})"  # noqa: S608
        params: list[Any] = list(wanted)
        if guild_id is not None:
            sql += " AND guild_id = ?"
            params.append(guild_id)
        if link_id is not None:
            sql += " AND link_id = ?"
            params.append(link_id)
        rows = await self._db.fetchall(sql + " ORDER BY deadline, id", params)
        return [_vote(r) for r in rows]

    async def list_for_link(self, link_id: int, *, limit: int = 50) -> list[Vote]:
        """The link's votes in any status, newest first."""
        rows = await self._db.fetchall(
            "SELECT * FROM votes WHERE link_id = ? ORDER BY created_at DESC, id DESC LIMIT ?", (link_id, limit)
        )
        return [_vote(r) for r in rows]

    async def set_message(self, vote_id: int, message_id: int, *, channel_id: int | None = None) -> bool:
        """Remember the Discord message that shows the vote (and its channel, if it changed)."""
        async with self._cache.changing(vote_id):
            if channel_id is None:
                changed, _ = await self._db.execute(
                    "UPDATE votes SET message_id = ? WHERE id = ?", (message_id, vote_id)
                )
            else:
                changed, _ = await self._db.execute(
                    "UPDATE votes SET message_id = ?, channel_id = ? WHERE id = ?", (message_id, channel_id, vote_id)
                )
        return changed > 0

    async def set_status(
        self,
        vote_id: int,
        status: str,
        *,
        from_status: str | Iterable[str] = "open",
        outcome_reason: str | None = None,
    ) -> bool:
        """Compare-and-set: move to ``status`` only if the vote is in ``from_status`` (default 'open').

        True for exactly one caller, so a vote is closed (and applied) once.
        """
        _statuses(status, VOTE_STATUSES, "vote status")
        wanted = _statuses(from_status, VOTE_STATUSES, "vote status")
        async with self._cache.changing(vote_id):
            changed, _ = await self._db.execute(
                f"UPDATE votes SET status = ?, outcome_reason = COALESCE(?, outcome_reason) "  # noqa: S608
                f"WHERE id = ? AND status IN ({_marks(len(wanted))})",
                (status, outcome_reason, vote_id, *wanted),
            )
        return changed > 0

    async def mark_reminded(self, vote_id: int) -> bool:
        """The vote's reminder is being posted now: True once, for an open vote not reminded before."""
        async with self._cache.changing(vote_id):
            changed, _ = await self._db.execute(
                "UPDATE votes SET reminded_at = ? WHERE id = ? AND status = 'open' AND reminded_at IS NULL",
                (self._clock(), vote_id))
        return changed > 0

    async def wait_for_veto(self, vote_id: int, apply_at: float, outcome_reason: str) -> bool:
        """A vote that passed waits for the lock's veto window: 'open' -> 'applying' with ``apply_at``."""
        async with self._cache.changing(vote_id):
            changed, _ = await self._db.execute(
                "UPDATE votes SET status = 'applying', apply_at = ?, outcome_reason = ? "
                "WHERE id = ? AND status = 'open'", (apply_at, outcome_reason, vote_id))
        return changed > 0

    async def extend_veto_window(self, vote_id: int, apply_at: float, outcome_reason: str) -> bool:
        """A waiting vote's window starts again (it ran out while the bot was down)."""
        async with self._cache.changing(vote_id):
            changed, _ = await self._db.execute(
                "UPDATE votes SET apply_at = ?, outcome_reason = ? "
                "WHERE id = ? AND status = 'applying' AND apply_at IS NOT NULL", (apply_at, outcome_reason, vote_id))
        return changed > 0

    async def end_veto_window(self, vote_id: int) -> bool:
        """Claim a waiting vote for applying it: True once, and then a veto can no longer take it."""
        async with self._cache.changing(vote_id):
            changed, _ = await self._db.execute(
                "UPDATE votes SET apply_at = NULL WHERE id = ? AND status = 'applying' AND apply_at IS NOT NULL",
                (vote_id,))
        return changed > 0

    async def veto(self, vote_id: int, outcome_reason: str) -> bool:
        """Veto a vote waiting for its veto window: True once, and then it is never applied."""
        async with self._cache.changing(vote_id):
            changed, _ = await self._db.execute(
                "UPDATE votes SET status = 'cancelled', outcome_reason = ? "
                "WHERE id = ? AND status = 'applying' AND apply_at IS NOT NULL", (outcome_reason, vote_id))
        return changed > 0

    async def set_drawn(self, vote_id: int, option: int) -> bool:
        """Remember an open wheel's winning option number, as it closes (a vote cancelled meanwhile keeps none)."""
        async with self._cache.changing(vote_id):
            changed, _ = await self._db.execute(
                "UPDATE votes SET drawn_option = ? WHERE id = ? AND status = 'open'", (option, vote_id))
        return changed > 0

    async def set_deadline(self, vote_id: int, deadline: float) -> bool:
        async with self._cache.changing(vote_id):
            changed, _ = await self._db.execute(
                "UPDATE votes SET deadline = ? WHERE id = ? AND status = 'open'", (deadline, vote_id)
            )
        return changed > 0

    async def record_flush(
        self,
        vote_id: int,
        *,
        applied_net_seconds: int,
        flushed_at: float | None = None,
        expected_applied: int | None = None,
    ) -> bool:
        """Board votes: remember the net seconds applied so far and when. With ``expected_applied``, only if
        the stored value still equals it (compare-and-set)."""
        sql = "UPDATE votes SET applied_net_seconds = ?, last_flush_at = ? WHERE id = ?"
        params: list[Any] = [applied_net_seconds, self._clock() if flushed_at is None else flushed_at, vote_id]
        if expected_applied is not None:
            sql += " AND applied_net_seconds = ?"
            params.append(expected_applied)
        async with self._cache.changing(vote_id):
            changed, _ = await self._db.execute(sql, params)
        return changed > 0

    async def count_open_for_link(self, link_id: int, *, statuses: str | Iterable[str] = ("open", "applying")) -> int:
        """Votes of the link that still take a slot (default: 'open' and 'applying')."""
        wanted = _statuses(statuses, VOTE_STATUSES, "vote status")
        row = await self._db.fetchone(
            f"SELECT COUNT(*) FROM votes WHERE link_id = ? AND status IN ({_marks(len(wanted))})",  # noqa: S608
            (link_id, *wanted),
        )
        return int(row[0]) if row is not None else 0

    async def count_open_for_lock(self, lock_id: str,
                                  *, statuses: str | Iterable[str] = ("open", "applying")) -> int:
        """Votes on the lock that still take a slot, from every link and server."""
        wanted = _statuses(statuses, VOTE_STATUSES, "vote status")
        row = await self._db.fetchone(
            f"SELECT COUNT(*) FROM votes v JOIN links l ON l.id = v.link_id "  # noqa: S608
            f"WHERE l.lock_id = ? AND v.status IN ({_marks(len(wanted))})",
            (lock_id, *wanted),
        )
        return int(row[0]) if row is not None else 0

    async def last_proposal_at(self, guild_id: int, proposer_id: int) -> float | None:
        """When this member last proposed a vote in this server (any status), or None."""
        row = await self._db.fetchone(
            "SELECT MAX(created_at) FROM votes WHERE guild_id = ? AND proposer_id = ?", (guild_id, proposer_id)
        )
        return None if row is None or row[0] is None else float(row[0])

    async def note_refused_proposal(self, guild_id: int, proposer_id: int) -> None:
        """A proposal of this member was refused just now: it starts their proposal cooldown like a posted vote."""
        await self._db.execute(
            "INSERT INTO proposal_attempts (guild_id, proposer_id, refused_at) VALUES (?, ?, ?) "
            "ON CONFLICT (guild_id, proposer_id) DO UPDATE SET refused_at = CASE "
            "WHEN excluded.refused_at > proposal_attempts.refused_at THEN excluded.refused_at "
            "ELSE proposal_attempts.refused_at END",
            (guild_id, proposer_id, self._clock()),
        )

    async def last_attempt_at(self, guild_id: int, proposer_id: int) -> tuple[float, bool] | None:
        """When this member's proposal cooldown in this server started, as ``(time, refused)``: their last
        proposed vote (``refused`` False) or their last refused proposal (True), whichever is later; None when
        neither. A vote dropped because its message could not be posted (cancelled without a message) never ran,
        so it does not count."""
        row = await self._db.fetchone(
            "SELECT t, refused FROM ("
            "SELECT MAX(created_at) AS t, 0 AS refused FROM votes WHERE guild_id = ? AND proposer_id = ? "
            "AND NOT (status = 'cancelled' AND message_id IS NULL) "
            "UNION ALL SELECT refused_at, 1 FROM proposal_attempts WHERE guild_id = ? AND proposer_id = ?"
            ") AS attempts WHERE t IS NOT NULL ORDER BY t DESC, refused LIMIT 1",
            (guild_id, proposer_id, guild_id, proposer_id),
        )
        return None if row is None else (float(row[0]), bool(row[1]))

    async def cancel_open_for_link(self, link_id: int, reason: str) -> builtins.list[int]:
        """Cancel every open vote of the link (e.g. the lock ended), and every passed vote still waiting for its
        veto window. Returns the ids that were cancelled."""
        waiting = "(status = 'open' OR (status = 'applying' AND apply_at IS NOT NULL))"
        async with self._cache.changing(), self._db.transaction():
            rows = await self._db.fetchall(
                f"SELECT id FROM votes WHERE link_id = ? AND {waiting} ORDER BY id", (link_id,)  # noqa: S608
            )
            ids = [int(r[0]) for r in rows]
            if ids:
                await self._db.execute(
                    f"UPDATE votes SET status = 'cancelled', outcome_reason = ? "  # noqa: S608
                    f"WHERE link_id = ? AND {waiting}",
                    (reason, link_id),
                )
        return ids


# ============================================================================================ ballots


class BallotRepo(_Repo):
    _UPSERT = (
        "INSERT INTO ballots (vote_id, voter_id, choice, updated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (vote_id, voter_id) DO UPDATE SET choice = excluded.choice, updated_at = excluded.updated_at"
    )
    _DELETE = "DELETE FROM ballots WHERE vote_id = ? AND voter_id = ?"
    # the same for a JSON array of [vote_id, voter_id, choice] / [vote_id, voter_id] rows (see apply_many)
    _UPSERT_JSON = (
        "INSERT INTO ballots (vote_id, voter_id, choice, updated_at) "
        "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), ? "
        "FROM json_each(?) WHERE true "
        "ON CONFLICT (vote_id, voter_id) DO UPDATE SET choice = excluded.choice, updated_at = excluded.updated_at"
    )
    _DELETE_JSON = (
        "DELETE FROM ballots WHERE (vote_id, voter_id) IN "
        "(SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?))"
    )

    @staticmethod
    def _check_choice(choice: int) -> int:
        if choice not in BALLOT_CHOICES or isinstance(choice, bool):
            raise ValueError(f"a ballot choice is 1 (for), -1 (against) or a wheel's option 1 to 6, not {choice!r}")
        return int(choice)

    async def set(self, vote_id: int, voter_id: int, choice: int) -> None:
        """Record or change a voter's ballot (the latest choice wins)."""
        await self._db.execute(self._UPSERT, (vote_id, voter_id, self._check_choice(choice), self._clock()))

    async def remove(self, vote_id: int, voter_id: int) -> bool:
        changed, _ = await self._db.execute(self._DELETE, (vote_id, voter_id))
        return changed > 0

    async def get(self, vote_id: int, voter_id: int) -> Ballot | None:
        row = await self._db.fetchone("SELECT * FROM ballots WHERE vote_id = ? AND voter_id = ?", (vote_id, voter_id))
        return from_row(Ballot, row) if row is not None else None

    async def tally(self, vote_id: int) -> Tally:
        row = await self._db.fetchone(
            "SELECT COUNT(*) FILTER (WHERE choice = 1), COUNT(*) FILTER (WHERE choice = -1) FROM ballots "
            "WHERE vote_id = ?",
            (vote_id,),
        )
        assert row is not None
        return Tally(int(row[0]), int(row[1]))

    async def tally_many(self, vote_ids: Iterable[int]) -> dict[int, Tally]:
        """Tallies of several votes at once; votes without ballots count (0, 0)."""
        ids = builtins.list(dict.fromkeys(vote_ids))
        out = {vid: Tally(0, 0) for vid in ids}
        for chunk in _chunks(ids):
            rows = await self._db.fetchall(
                "SELECT vote_id, COUNT(*) FILTER (WHERE choice = 1), COUNT(*) FILTER (WHERE choice = -1) "  # noqa: S608
                "FROM ballots "
                f"WHERE vote_id IN ({_marks(len(chunk))}) GROUP BY vote_id",
                chunk,
            )
            for r in rows:
                out[int(r[0])] = Tally(int(r[1]), int(r[2]))
        return out

    async def counts(self, vote_id: int) -> dict[int, int]:
        """How many ballots each choice has (choices without a ballot left out): a wheel's tally."""
        rows = await self._db.fetchall(
            "SELECT choice, COUNT(*) FROM ballots WHERE vote_id = ? GROUP BY choice", (vote_id,))
        return {int(r[0]): int(r[1]) for r in rows}

    async def list(self, vote_id: int) -> builtins.list[Ballot]:
        rows = await self._db.fetchall("SELECT * FROM ballots WHERE vote_id = ? ORDER BY voter_id", (vote_id,))
        return [from_row(Ballot, r) for r in rows]

    async def replace_all(self, vote_id: int, ballots: Mapping[int, int]) -> None:
        """Make the vote's ballots exactly ``{voter_id: choice}`` (reconciliation after a restart)."""
        now = self._clock()
        rows = [(vote_id, voter, self._check_choice(choice), now) for voter, choice in ballots.items()]
        async with self._db.transaction():
            existing = {
                int(r[0]): int(r[1])
                for r in await self._db.fetchall("SELECT voter_id, choice FROM ballots WHERE vote_id = ?", (vote_id,))
            }
            gone = [(vote_id, voter) for voter in existing if voter not in ballots]
            changed = [row for row in rows if existing.get(row[1]) != row[2]]
            if gone:
                await self._db.executemany(self._DELETE, gone)
            if changed:
                await self._db.executemany(self._UPSERT, changed)

    async def apply_many(self, changes: Iterable[BallotChange | tuple[int, int, int | None]]) -> builtins.set[int]:
        """Apply many reaction events in one transaction; for each (vote, voter) the last event wins.

        ``choice`` 1 / -1 sets the ballot, ``None`` removes it. Events for votes that no longer exist are
        skipped. Returns the ids of the votes that were touched.
        """
        last: dict[tuple[int, int], int | None] = {}
        for vote_id, voter_id, choice in changes:
            last[(vote_id, voter_id)] = None if choice is None else self._check_choice(choice)
        if not last:
            return builtins.set()
        now = self._clock()
        # Each batch is a constant number of statements whatever its size, the rows travelling as one JSON
        # text: executemany would hand the GIL back and forth once per row between the database thread and a
        # busy event loop, and a 10,000-row flush would take seconds instead of milliseconds.
        if self._db.dialect == "postgres":
            return await self._apply_many_pg(last, now)
        async with self._db.transaction():
            wanted = json.dumps(builtins.list({vid for vid, _ in last}))
            rows = await self._db.fetchall("SELECT id FROM votes WHERE id IN (SELECT value FROM json_each(?))",
                                           (wanted,))
            existing: builtins.set[int] = {int(r[0]) for r in rows}
            upserts = [[vid, voter, choice] for (vid, voter), choice in last.items()
                       if choice is not None and vid in existing]
            deletes = [[vid, voter] for (vid, voter), choice in last.items() if choice is None and vid in existing]
            if upserts:
                await self._db.execute(self._UPSERT_JSON, (now, json.dumps(upserts)))
            if deletes:
                await self._db.execute(self._DELETE_JSON, (json.dumps(deletes),))
        return existing

    async def _apply_many_pg(self, last: dict[tuple[int, int], int | None], now: float) -> builtins.set[int]:
        """:meth:`apply_many` on PostgreSQL: the rows travel as arrays (``unnest``), a constant number of
        statements whatever the batch's size."""
        async with self._db.transaction():
            rows = await self._db.fetchall("SELECT id FROM votes WHERE id = ANY(?::bigint[])",
                                           (builtins.list({vid for vid, _ in last}),))
            existing: builtins.set[int] = {int(r[0]) for r in rows}
            up = [(vid, voter, choice) for (vid, voter), choice in last.items()
                  if choice is not None and vid in existing]
            gone = [(vid, voter) for (vid, voter), choice in last.items() if choice is None and vid in existing]
            if up:
                await self._db.execute(
                    "INSERT INTO ballots (vote_id, voter_id, choice, updated_at) "
                    "SELECT v, p, c, ? FROM unnest(?::bigint[], ?::bigint[], ?::bigint[]) AS t (v, p, c) "
                    "ON CONFLICT (vote_id, voter_id) DO UPDATE SET choice = excluded.choice, "
                    "updated_at = excluded.updated_at",
                    (now, [u[0] for u in up], [u[1] for u in up], [u[2] for u in up]))
            if gone:
                await self._db.execute(
                    "DELETE FROM ballots WHERE (vote_id, voter_id) IN "
                    "(SELECT v, p FROM unnest(?::bigint[], ?::bigint[]) AS t (v, p))",
                    ([g[0] for g in gone], [g[1] for g in gone]))
        return existing


# ============================================================================================ schedules


class VoteScheduleRepo(_Repo):
    async def create(self, *, guild_id: int, link_id: int, lock_id: str, channel_id: int, creator_id: int,
                     plan_json: str, rule: str, minute: int, weekday: int | None, once_date: str | None,
                     next_at: float | None) -> VoteSchedule:
        schedule_id = await self._insert_id(
            "INSERT INTO vote_schedules (guild_id, link_id, lock_id, channel_id, creator_id, plan_json, rule, minute, "
            "weekday, once_date, next_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (guild_id, link_id, lock_id, channel_id, creator_id, plan_json, rule, minute, weekday, once_date, next_at,
             self._clock()))
        assert schedule_id is not None
        found = await self.get(schedule_id)
        assert found is not None
        return found

    async def get(self, schedule_id: int) -> VoteSchedule | None:
        row = await self._db.fetchone("SELECT * FROM vote_schedules WHERE id = ?", (schedule_id,))
        return from_row(VoteSchedule, row) if row is not None else None

    async def list_for_guild(self, guild_id: int) -> builtins.list[VoteSchedule]:
        rows = await self._db.fetchall("SELECT * FROM vote_schedules WHERE guild_id = ? ORDER BY id", (guild_id,))
        return [from_row(VoteSchedule, r) for r in rows]

    async def list_all(self) -> builtins.list[VoteSchedule]:
        rows = await self._db.fetchall("SELECT * FROM vote_schedules ORDER BY id")
        return [from_row(VoteSchedule, r) for r in rows]

    async def advance(self, schedule_id: int, *, due_at: float, next_at: float | None, result: str) -> bool:
        """The opening due at ``due_at`` happened (or was skipped): remember what became of it and the next one.
        True once per opening (compare-and-set on ``next_at``), so an opening is never acted on twice."""
        changed, _ = await self._db.execute(
            "UPDATE vote_schedules SET next_at = ?, last_at = ?, last_result = ? WHERE id = ? AND next_at = ?",
            (next_at, due_at, result, schedule_id, due_at))
        return changed > 0

    async def set_result(self, schedule_id: int, result: str) -> None:
        await self._db.execute("UPDATE vote_schedules SET last_result = ? WHERE id = ?", (result, schedule_id))

    async def move(self, schedule_id: int, *, expected: float, next_at: float | None) -> bool:
        """Move a schedule's next opening (a new time zone): only if it is still ``expected`` (compare-and-set, so
        an opening being acted on meanwhile is never moved or armed again)."""
        changed, _ = await self._db.execute(
            "UPDATE vote_schedules SET next_at = ? WHERE id = ? AND next_at = ?", (next_at, schedule_id, expected))
        return changed > 0

    async def remove(self, guild_id: int, schedule_id: int) -> bool:
        changed, _ = await self._db.execute(
            "DELETE FROM vote_schedules WHERE id = ? AND guild_id = ?", (schedule_id, guild_id))
        return changed > 0


# ============================================================================================ outbox


class OutboxRepo(_Repo):
    _FIELDS = frozenset({"error_code", "error_message", "attempts", "reason", "log_state"})

    async def enqueue(
        self,
        *,
        link_id: int,
        lock_id: str,
        guild_id: int,
        source: str,
        action_json: str,
        idempotency_key: str,
        source_id: int | None = None,
        actor_id: int | None = None,
        reason: str | None = None,
        time_added: int = 0,
    ) -> int:
        """Record an action to send (status 'pending'). ``time_added``: the seconds it adds to the lock's timer
        (what counts against the owner's 24 h budget). Returns its id; if ``idempotency_key`` was already used,
        nothing is inserted and the existing row's id is returned."""
        if time_added < 0:
            raise ValueError("time_added counts seconds added: it is never negative")
        _statuses(source, OUTBOX_SOURCES, "outbox source")
        if not idempotency_key:
            raise ValueError("idempotency_key must not be empty")
        now = self._clock()
        # one statement: on a used key the no-op update makes RETURNING give the existing row's id
        rows = await self._db.returning(
            "INSERT INTO outbox (link_id, lock_id, guild_id, source, source_id, actor_id, action_json, reason, "
            "status, attempts, created_at, updated_at, idempotency_key, time_added) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?) "
            "ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = excluded.idempotency_key RETURNING id",
            (link_id, lock_id, guild_id, source, source_id, actor_id, action_json, reason, now, now,
             idempotency_key, time_added),
        )
        return int(rows[0][0])

    async def get(self, entry_id: int) -> OutboxEntry | None:
        row = await self._db.fetchone("SELECT * FROM outbox WHERE id = ?", (entry_id,))
        return from_row(OutboxEntry, row) if row is not None else None

    async def get_by_key(self, idempotency_key: str) -> OutboxEntry | None:
        row = await self._db.fetchone("SELECT * FROM outbox WHERE idempotency_key = ?", (idempotency_key,))
        return from_row(OutboxEntry, row) if row is not None else None

    async def transition(
        self,
        entry_id: int,
        from_status: str | Iterable[str],
        to_status: str,
        *,
        add_attempt: bool = False,
        **fields: Any,
    ) -> bool:
        """Compare-and-set the status (only if it is in ``from_status``), also setting ``fields``
        (error_code, error_message, attempts, reason). True for exactly one caller."""
        unknown = set(fields) - self._FIELDS
        if unknown:
            raise ValueError(f"unknown outbox field(s) {', '.join(sorted(unknown))}")
        _statuses(to_status, OUTBOX_STATUSES, "outbox status")
        wanted = _statuses(from_status, OUTBOX_STATUSES, "outbox status")
        cols = sorted(fields)
        sets = "".join(f", {c} = ?" for c in cols)
        if add_attempt:
            sets += ", attempts = attempts + 1"
        changed, _ = await self._db.execute(
            f"UPDATE outbox SET status = ?, updated_at = ?{sets} "  # noqa: S608
            f"WHERE id = ? AND status IN ({_marks(len(wanted))})",
            (to_status, self._clock(), *(fields[c] for c in cols), entry_id, *wanted),
        )
        return changed > 0

    async def reserve_budget(self, lock_id: str, slots: int, *, per_minute: int, need: int | None = None,
                             window: float = BUDGET_WINDOW) -> float:
        """Take ``slots`` of the lock's shared per-minute budget (every process's sends count) when ``need``
        (default: ``slots``) are free: 0.0 when taken, else the seconds until they are (nothing taken). One
        transaction, serialised per lock across processes (SQLite's BEGIN IMMEDIATE locks the file; PostgreSQL
        takes an advisory lock on the lock). A slot is held for Chastify's minute (``BUDGET_WINDOW``)."""
        now = self._clock()
        async with self._db.transaction():
            if self._db.dialect == "postgres":
                await self._db.fetchone("SELECT pg_advisory_xact_lock(hashtext(?))", (lock_id,))
            await self._db.execute("DELETE FROM lock_sends WHERE lock_id = ? AND at <= ?", (lock_id, now - window))
            rows = await self._db.fetchall(
                "SELECT at FROM lock_sends WHERE lock_id = ? ORDER BY at", (lock_id,))
            taken = [float(r[0]) for r in rows]
            slots = max(1, min(slots, per_minute))
            room = max(slots, min(need if need is not None else slots, per_minute))
            if len(taken) + room <= per_minute:
                await self._db.executemany("INSERT INTO lock_sends (lock_id, at) VALUES (?, ?)",
                                           [(lock_id, now)] * slots)
                return 0.0
            return max(0.001, taken[len(taken) - per_minute + room - 1] + window - now)

    async def claim(self, entry_id: int) -> OutboxEntry | None:
        """'pending' -> 'sent' and count an attempt. Returns the claimed entry when this caller may now send it,
        None when it was not pending or its lock is paused (one statement: the compare-and-set, the lock's pause
        as the database has it, and the read together, so a safeword said by ANY process before the claim is
        always seen). Synced to disk before it returns: after a power loss the entry is 'sent' (so never sent
        again), not 'pending'."""
        rows = await self._db.returning(
            "UPDATE outbox SET status = 'sent', updated_at = ?, attempts = attempts + 1 "
            "WHERE id = ? AND status = 'pending' "
            "AND NOT EXISTS (SELECT 1 FROM lock_pauses WHERE lock_pauses.lock_id = outbox.lock_id) RETURNING *",
            (self._clock(), entry_id), durable=True)
        return from_row(OutboxEntry, rows[0]) if rows else None

    async def list_by_status(
        self, statuses: str | Iterable[str], *, link_id: int | None = None, lock_id: str | None = None,
        limit: int | None = None,
    ) -> list[OutboxEntry]:
        """Entries in ``statuses`` (of one link, or of every link of one lock), oldest first."""
        wanted = _statuses(statuses, OUTBOX_STATUSES, "outbox status")
        sql = f"SELECT * FROM outbox WHERE status IN ({_marks(len(wanted))})"  # noqa: S608
        params: list[Any] = list(wanted)
        if link_id is not None:
            sql += " AND link_id = ?"
            params.append(link_id)
        if lock_id is not None:
            sql += " AND lock_id = ?"
            params.append(lock_id)
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [from_row(OutboxEntry, r) for r in await self._db.fetchall(sql, params)]

    async def set_log_state(self, entry_id: int, from_state: str, to_state: str) -> bool:
        """Compare-and-set the custom-log state of a done entry. True for exactly one caller."""
        changed, _ = await self._db.execute(
            "UPDATE outbox SET log_state = ?, updated_at = ? WHERE id = ? AND log_state = ?",
            (to_state, self._clock(), entry_id, from_state),
        )
        return changed > 0

    async def list_by_log_state(self, log_state: str) -> list[OutboxEntry]:
        """Done entries whose custom log is in ``log_state``, oldest first."""
        rows = await self._db.fetchall(
            "SELECT * FROM outbox WHERE status = 'done' AND log_state = ? ORDER BY id", (log_state,)
        )
        return [from_row(OutboxEntry, r) for r in rows]

    async def added_since(self, lock_id: str, since: float, statuses: str | Iterable[str], *,
                          exclude_id: int | None = None) -> int:
        """Seconds added to the lock by its entries in ``statuses`` last touched at or after ``since``, from every
        link and server (an entry counts from when it was recorded until a day after it was sent): one sum over
        the stored ``time_added``, on the (lock, updated_at) index."""
        wanted = _statuses(statuses, OUTBOX_STATUSES, "outbox status")
        row = await self._db.fetchone(
            f"SELECT COALESCE(SUM(time_added), 0) FROM outbox WHERE lock_id = ? AND updated_at >= ? "  # noqa: S608
            f"AND id != ? AND status IN ({_marks(len(wanted))})",
            (lock_id, since, -1 if exclude_id is None else exclude_id, *wanted),
        )
        return int(row[0]) if row is not None else 0

    async def applied_for_lock(self, lock_id: str, since: float) -> builtins.list[OutboxEntry]:
        """The lock's actions applied (status 'done') at or after ``since``, from every link and server, oldest
        first: what the chart of the lock's time is drawn from."""
        rows = await self._db.fetchall(
            "SELECT * FROM outbox WHERE lock_id = ? AND status = 'done' AND updated_at >= ? ORDER BY updated_at, id",
            (lock_id, since))
        return [from_row(OutboxEntry, r) for r in rows]


# ============================================================================================ consent


class ConsentRepo(_Repo):
    """What protects the person, keyed by the Chastify lock: its pauses (safewords) and its owner limits."""

    async def pause(self, lock_id: str, user_id: int, guild_id: int | None) -> bool:
        """Record ``user_id``'s safeword on the lock. True if it was not paused by anyone before."""
        async with self._db.transaction():
            before = await self._db.fetchone("SELECT 1 FROM lock_pauses WHERE lock_id = ?", (lock_id,))
            await self._db.execute(
                "INSERT INTO lock_pauses (lock_id, user_id, guild_id, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (lock_id, user_id, guild_id, self._clock()))
        return before is None

    async def unpause(self, lock_id: str, user_id: int) -> bool:
        """Lift ``user_id``'s own safeword on the lock. True if they had one."""
        changed, _ = await self._db.execute(
            "DELETE FROM lock_pauses WHERE lock_id = ? AND user_id = ?", (lock_id, user_id))
        return changed > 0

    async def pauses(self, lock_id: str) -> builtins.list[LockPause]:
        rows = await self._db.fetchall(
            "SELECT * FROM lock_pauses WHERE lock_id = ? ORDER BY created_at", (lock_id,))
        return [from_row(LockPause, r) for r in rows]

    async def paused_by(self, user_id: int) -> builtins.list[LockPause]:
        rows = await self._db.fetchall(
            "SELECT * FROM lock_pauses WHERE user_id = ? ORDER BY created_at", (user_id,))
        return [from_row(LockPause, r) for r in rows]

    async def is_paused(self, lock_id: str) -> bool:
        return await self._db.fetchone("SELECT 1 FROM lock_pauses WHERE lock_id = ?", (lock_id,)) is not None

    async def add_person(self, lock_id: str, user_id: int, role: str) -> bool:
        """Record that ``user_id`` proved with their own token that they hold the lock. True if new."""
        changed, _ = await self._db.execute(
            "INSERT INTO lock_people (lock_id, user_id, role, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (lock_id, user_id) DO UPDATE SET role = excluded.role WHERE lock_people.role != excluded.role",
            (lock_id, user_id, role, self._clock()))
        return changed > 0

    async def people(self, lock_id: str) -> builtins.list[LockPerson]:
        rows = await self._db.fetchall(
            "SELECT * FROM lock_people WHERE lock_id = ? ORDER BY created_at, user_id", (lock_id,))
        return [from_row(LockPerson, r) for r in rows]

    async def locks_of(self, user_id: int) -> builtins.list[LockPerson]:
        """The locks this member proved they hold, newest first."""
        rows = await self._db.fetchall(
            "SELECT * FROM lock_people WHERE user_id = ? ORDER BY created_at DESC, lock_id", (user_id,))
        return [from_row(LockPerson, r) for r in rows]

    async def limits(self, lock_id: str) -> builtins.list[LimitsRow]:
        rows = await self._db.fetchall(
            "SELECT lock_id, setter_id, limits_json, updated_at FROM lock_limits WHERE lock_id = ? ORDER BY id",
            (lock_id,))
        return [from_row(LimitsRow, r) for r in rows]

    async def set_limits(self, lock_id: str, setter_id: int, fields: Mapping[str, Any]) -> None:
        """Replace everything ``setter_id`` set on the lock by ``fields`` (only the fields they chose)."""
        text = json.dumps(dict(fields), sort_keys=True, separators=(",", ":"), default=sorted)
        async with self._db.transaction():
            await self._db.execute("DELETE FROM lock_limits WHERE lock_id = ? AND setter_id = ?",
                                   (lock_id, setter_id))
            await self._db.execute(
                "INSERT INTO lock_limits (lock_id, setter_id, limits_json, updated_at) VALUES (?, ?, ?, ?)",
                (lock_id, setter_id, text, self._clock()))


# ============================================================================================ audit


class AuditRepo(_Repo):
    async def add(
        self,
        *,
        guild_id: int,
        source: str,
        action_summary: str,
        outcome: str,
        link_id: int | None = None,
        actor_id: int | None = None,
        detail: str | None = None,
    ) -> int:
        """Append an audit line. ``outcome``: applied, refused, failed, uncertain, cancelled, linked,
        unlinked, ... Returns its id."""
        entry_id = await self._insert_id(
            "INSERT INTO audit (guild_id, link_id, actor_id, source, action_summary, outcome, detail, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (guild_id, link_id, actor_id, source, action_summary, outcome, detail, self._clock()),
        )
        assert entry_id is not None
        return entry_id

    async def list_for_link(self, link_id: int, limit: int = 20) -> list[AuditEntry]:
        """The link's audit lines, newest first."""
        rows = await self._db.fetchall(
            "SELECT * FROM audit WHERE link_id = ? ORDER BY created_at DESC, id DESC LIMIT ?", (link_id, limit)
        )
        return [from_row(AuditEntry, r) for r in rows]

    async def list_actions_for_link(self, link_id: int, limit: int = 20) -> list[AuditEntry]:
        """The link's audit lines except refusals (applied, failed, uncertain, cancelled, linked, ...), newest
        first: however many refusals there are, they never push these out. The index reads only the non-refused
        rows (bounded by what was really done), never the refusals in between (unbounded: anyone can be refused)."""
        # SQLite is told the index; PostgreSQL's planner picks it from the range condition by itself
        hint = "INDEXED BY audit_by_link_outcome " if self._db.dialect == "sqlite" else ""
        rows = await self._db.fetchall(
            f"SELECT * FROM audit {hint}"  # noqa: S608
            "WHERE link_id = ? AND (outcome < 'refused' OR outcome > 'refused') "
            "ORDER BY created_at DESC, id DESC LIMIT ?", (link_id, limit)
        )
        return [from_row(AuditEntry, r) for r in rows]

    async def list_refusals_for_link(self, link_id: int, limit: int = 200) -> list[AuditEntry]:
        """The link's refusals (outcome 'refused'), newest first."""
        rows = await self._db.fetchall(
            "SELECT * FROM audit WHERE link_id = ? AND outcome = 'refused' ORDER BY created_at DESC, id DESC LIMIT ?",
            (link_id, limit),
        )
        return [from_row(AuditEntry, r) for r in rows]

    async def list_for_guild(self, guild_id: int, limit: int = 20) -> list[AuditEntry]:
        """The server's audit lines, newest first."""
        rows = await self._db.fetchall(
            "SELECT * FROM audit WHERE guild_id = ? ORDER BY created_at DESC, id DESC LIMIT ?", (guild_id, limit)
        )
        return [from_row(AuditEntry, r) for r in rows]
