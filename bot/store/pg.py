"""The PostgreSQL database behind the same store (``database.url = "postgresql://..."``), through asyncpg.

The repositories write their SQL once, with ``?`` placeholders, in the subset both databases understand (``ON
CONFLICT``, ``RETURNING``, ``COUNT(*) FILTER``); this class turns ``?`` into ``$1, $2, ...``. Where the two
dialects differ (JSON batches of ballots) a repository asks :attr:`dialect`.

Same semantics as :class:`bot.store.db.Database`: one connection, its statements serialised by an
:class:`asyncio.Lock`; a transaction holds the lock from BEGIN to COMMIT and a nested one is a SAVEPOINT. So
inside one process every transaction sees the one before it, exactly as with SQLite. (Several processes on one
PostgreSQL each hold their own connection; what must hold across them takes row or advisory locks.)

Migrations: ``bot/store/migrations/postgres/NNN_*.sql``, the same versions as SQLite's, each applied in one
transaction under an advisory lock (two processes starting together never both migrate), recorded in
``schema_version``.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

import asyncpg

from .db import Migration, StoreError

__all__ = ["IntegrityViolation", "PgDatabase", "load_pg_migrations"]

IntegrityViolation = asyncpg.exceptions.IntegrityConstraintViolationError
_MIGRATION_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
_MIGRATE_LOCK = 0x43_48_41_53  # "CHAS": the advisory lock two starting processes take around migrating
Params = Sequence[Any]


def load_pg_migrations() -> list[Migration]:
    """The PostgreSQL migration scripts, numbered 1..N without gaps (the same versions as SQLite's)."""
    folder = resources.files("bot.store").joinpath("migrations").joinpath("postgres")
    found = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match is not None:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise StoreError(f"PostgreSQL migrations must be numbered without gaps; found {migration.name} "
                             f"where {expected:03d}_*.sql was expected")
    return found


@functools.lru_cache(maxsize=1024)
def placeholders(sql: str) -> str:
    """``?`` placeholders as PostgreSQL's ``$1, $2, ...`` (outside quoted text)."""
    out: list[str] = []
    n = 0
    quoted = False
    for ch in sql:
        if ch == "'":
            quoted = not quoted
        if ch == "?" and not quoted:
            n += 1
            out.append(f"${n}")
        else:
            out.append(ch)
    return "".join(out)


def _rowcount(status: str) -> int:
    """Rows changed, from a command status such as ``UPDATE 3``, ``INSERT 0 1`` or ``DELETE 2``."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class PgDatabase:
    """An open PostgreSQL database. Create with :meth:`open`; close with :meth:`close`."""

    dialect = "postgres"

    def __init__(self, conn: asyncpg.Connection, url: str) -> None:
        self._conn = conn
        self.url = url
        self.path = None
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None
        self._tx: list[Any] = []
        self._closed = False

    def __repr__(self) -> str:
        return "PgDatabase(<url hidden>)"  # the URL may hold a password

    @classmethod
    async def open(cls, url: str) -> PgDatabase:
        try:
            conn = await asyncpg.connect(url)
        except (OSError, asyncpg.PostgresError) as exc:
            raise StoreError(f"cannot connect to the PostgreSQL database: {type(exc).__name__}: {exc}") from exc
        db = cls(conn, url)
        try:
            await db._migrate()
        except BaseException:
            await conn.close()
            raise
        return db

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        async with self._lock:
            await self._conn.close()

    async def __aenter__(self) -> PgDatabase:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ migrations
    async def user_version(self) -> int:
        row = await self.fetchone("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        assert row is not None
        return int(row[0])

    async def _migrate(self) -> None:
        migrations = load_pg_migrations()
        async with self._lock, self._conn.transaction():
            # the lock first: two processes starting together must not even create the version table at once
            # (CREATE TABLE IF NOT EXISTS is not safe against a concurrent one)
            await self._conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATE_LOCK)
            await self._conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT PRIMARY KEY, "
                                     "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
            current = int(await self._conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_version"))
            if current > len(migrations):
                raise StoreError(f"the database has schema version {current}, newer than this bot knows "
                                 f"({len(migrations)}); run a newer version of the bot or restore a backup")
            for migration in migrations[current:]:
                try:
                    async with self._conn.transaction():  # a savepoint: one migration all or nothing
                        await self._conn.execute(migration.sql)
                        await self._conn.execute("INSERT INTO schema_version (version) VALUES ($1)",
                                                 migration.version)
                except asyncpg.PostgresError as exc:
                    raise StoreError(f"migration {migration.name} failed and was rolled back: {exc}") from exc

    # ------------------------------------------------------------------ access
    def _holds_transaction(self) -> bool:
        return self._owner is not None and self._owner is asyncio.current_task()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """BEGIN ... COMMIT (ROLLBACK on any exception). Nested use = SAVEPOINT."""
        if self._holds_transaction():
            async with self._conn.transaction():
                yield self._conn
            return
        async with self._lock:
            self._owner = asyncio.current_task()
            try:
                async with self._conn.transaction():
                    yield self._conn
            finally:
                self._owner = None

    @asynccontextmanager
    async def _using(self) -> AsyncIterator[asyncpg.Connection]:
        if self._holds_transaction():
            yield self._conn
        else:
            async with self._lock:
                yield self._conn

    async def fetchone(self, sql: str, params: Params = ()) -> asyncpg.Record | None:
        async with self._using() as conn:
            row: asyncpg.Record | None = await conn.fetchrow(placeholders(sql), *params)
            return row

    async def fetchall(self, sql: str, params: Params = ()) -> list[asyncpg.Record]:
        async with self._using() as conn:
            return list(await conn.fetch(placeholders(sql), *params))

    async def execute(self, sql: str, params: Params = ()) -> tuple[int, int | None]:
        """One write statement: (rows changed, None). PostgreSQL has no last rowid: an insert that needs its id
        says ``RETURNING id`` and uses :meth:`returning`."""
        async with self._using() as conn:
            return _rowcount(await conn.execute(placeholders(sql), *params)), None

    async def returning(self, sql: str, params: Params = (), *, durable: bool = False) -> list[asyncpg.Record]:
        """One write statement with a RETURNING clause. Every commit is durable in PostgreSQL (``durable`` is
        for SQLite's sake)."""
        return await self.fetchall(sql, params)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> int:
        rows = list(rows)
        async with self.transaction() as conn:
            await conn.executemany(placeholders(sql), rows)
        return len(rows)
