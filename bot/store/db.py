"""The SQLite connection, transactions and versioned migrations.

One connection serves the whole bot (SQLite allows one writer anyway). Every statement goes through
:class:`Database`, which serialises access with an :class:`asyncio.Lock`: a transaction holds the lock from
``BEGIN`` to ``COMMIT`` so two tasks never interleave statements inside one transaction. A task that is
already inside a transaction may open another one: it becomes a SAVEPOINT of the outer one (an error
inside rolls back only the inner part). Do not start a transaction in one task and await another task
that uses the store inside it: the second task would wait for the lock forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import sqlite3
import stat
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import aiosqlite

__all__ = ["MEMORY", "Database", "Db", "Migration", "Row", "StoreError", "load_migrations"]

MEMORY = ":memory:"
_MIGRATION_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")

Params = Sequence[Any]


class _NoCallArguments(logging.Filter):
    """aiosqlite logs each call it runs on its thread at DEBUG as ``executing %s`` with the call itself as the
    argument, whose repr holds the SQL and ITS PARAMETERS (encrypted tokens, reasons, task texts). Keep the
    record but show only the call's name (``execute``, ``commit``) and an error's type, never its arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(_call_name(arg) for arg in args)
        return True


def _call_name(arg: object) -> str:
    if isinstance(arg, BaseException):
        return type(arg).__name__
    func = getattr(arg, "func", arg)  # functools.partial(conn.execute, sql, params) -> conn.execute
    name = getattr(func, "__name__", None)
    return name if isinstance(name, str) else type(arg).__name__


_AIOSQLITE_LOG = logging.getLogger("aiosqlite")
if not any(isinstance(f, _NoCallArguments) for f in _AIOSQLITE_LOG.filters):
    _AIOSQLITE_LOG.addFilter(_NoCallArguments())


class StoreError(Exception):
    """The database cannot be opened or migrated."""


class Row(Protocol):
    """A result row of either database (``sqlite3.Row``, ``asyncpg.Record``): by position or column name."""

    def __getitem__(self, key: Any, /) -> Any: ...

    def keys(self) -> Any: ...


class Db(Protocol):
    """What the repositories need of a database: :class:`Database` (SQLite) or ``bot.store.pg.PgDatabase``."""

    dialect: str

    def transaction(self) -> contextlib.AbstractAsyncContextManager[Any]: ...

    def _holds_transaction(self) -> bool: ...

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None: ...

    async def fetchall(self, sql: str, params: Params = ()) -> Sequence[Row]: ...

    async def execute(self, sql: str, params: Params = ()) -> tuple[int, int | None]: ...

    async def returning(self, sql: str, params: Params = (), *, durable: bool = False) -> Sequence[Row]: ...

    async def executemany(self, sql: str, rows: Iterable[Params]) -> int: ...

    async def user_version(self) -> int: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    """The migration scripts shipped in ``bot/store/migrations``, numbered 1..N without gaps."""
    folder = resources.files("bot.store").joinpath("migrations")
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match is None:
            continue
        found.append(Migration(int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise StoreError(
                f"migration files must be numbered 001, 002, ... without gaps; found {migration.name} "
                f"where {expected:03d}_*.sql was expected"
            )
    return found


def _secure_file(path: Path) -> None:
    """Create ``path`` with mode 0600 if missing; tighten it to 0600 if group/other have any access."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    except OSError as exc:
        raise StoreError(f"cannot create or open the database file {path}: {exc}") from exc
    try:
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        if mode & 0o077:
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm", "-journal"):
        side = path.with_name(path.name + suffix)
        try:
            if stat.S_IMODE(side.stat().st_mode) & 0o077:
                side.chmod(0o600)
        except FileNotFoundError:
            pass


class Database:
    """An open SQLite database. Create with :meth:`open`; close with :meth:`close`."""

    dialect = "sqlite"

    def __init__(self, conn: aiosqlite.Connection, path: Path | None) -> None:
        self._conn = conn
        self.path = path
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None
        self._depth = 0
        self._closed = False

    def __repr__(self) -> str:
        return f"Database({str(self.path) if self.path else MEMORY!r})"

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    async def open(cls, path: Path | str) -> Database:
        """Open (creating if needed, mode 0600) and migrate the database at ``path`` (or ``":memory:"``)."""
        file: Path | None = None
        if str(path) != MEMORY:
            file = Path(path)
            try:
                file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            except OSError as exc:
                raise StoreError(f"cannot create the database folder {file.parent}: {exc}") from exc
            _secure_file(file)
        try:
            conn = await aiosqlite.connect(str(file) if file else MEMORY, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the database {path}: {exc}") from exc
        try:
            conn.row_factory = sqlite3.Row
            for pragma in ("busy_timeout = 5000", "journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON"):
                # Close each cursor at once: a PRAGMA that returns a row keeps its statement "in progress"
                # until the cursor is finalised, which would make the first migration's COMMIT fail.
                async with conn.execute(f"PRAGMA {pragma}") as cur:
                    await cur.fetchall()
            db = cls(conn, file)
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

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ migrations

    async def user_version(self) -> int:
        row = await self.fetchone("PRAGMA user_version")
        assert row is not None
        return int(row[0])

    async def _migrate(self) -> None:
        migrations = load_migrations()
        current = await self.user_version()
        if current > len(migrations):
            raise StoreError(
                f"the database {self.path or MEMORY} has schema version {current}, newer than this bot "
                f"knows ({len(migrations)}); run a newer version of the bot or restore a backup"
            )
        for migration in migrations[current:]:
            script = f"BEGIN IMMEDIATE;\n{migration.sql}\n;\nPRAGMA user_version = {migration.version:d};\nCOMMIT;\n"
            try:
                await self._conn.executescript(script)
            except sqlite3.Error as exc:
                if self._conn.in_transaction:
                    await self._conn.execute("ROLLBACK")
                raise StoreError(f"migration {migration.name} failed and was rolled back: {exc}") from exc

    # ------------------------------------------------------------------ access

    def _holds_transaction(self) -> bool:
        return self._owner is not None and self._owner is asyncio.current_task()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on any exception). Nested use = SAVEPOINT."""
        if self._holds_transaction():
            self._depth += 1
            name = f"sp{self._depth}"
            await self._conn.execute(f"SAVEPOINT {name}")
            try:
                yield self._conn
            except BaseException:
                await self._conn.execute(f"ROLLBACK TO {name}")
                await self._conn.execute(f"RELEASE {name}")
                raise
            else:
                await self._conn.execute(f"RELEASE {name}")
            finally:
                self._depth -= 1
            return
        async with self._lock:
            self._owner = asyncio.current_task()
            try:
                await self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                except BaseException:
                    if self._conn.in_transaction:
                        await self._conn.execute("ROLLBACK")
                    raise
                else:
                    await self._conn.execute("COMMIT")
            finally:
                self._owner = None

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[aiosqlite.Connection]:
        if self._holds_transaction():
            yield self._conn
        else:
            async with self._lock:
                yield self._conn

    # Each call below is ONE trip to aiosqlite's thread (execute and fetch together): on a busy event loop every
    # trip costs a wake-up of each thread, so the hot paths (ballots, closing a vote) make as few as they can.
    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        async with self._reading() as conn:
            rows = await conn.execute_fetchall(sql, params)
        for row in rows:
            return row
        return None

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        async with self._reading() as conn:
            return list(await conn.execute_fetchall(sql, params))

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[aiosqlite.Connection]:
        if self._holds_transaction():
            yield self._conn  # part of the caller's transaction
        else:
            async with self.transaction() as conn:
                yield conn

    async def execute(self, sql: str, params: Params = ()) -> tuple[int, int | None]:
        """Run one write statement. Returns (rows changed, last inserted rowid).

        Inside :meth:`transaction` it is part of that transaction; alone it is its own (SQLite runs a single
        statement atomically in autocommit mode), so it needs no BEGIN/COMMIT round trips. Rows changed counts
        what the statement changed (this project's only cascades are deletes of a parent row, which are counted
        only when the parent row itself was deleted)."""
        if self._holds_transaction():
            return await self._execute_one(sql, params)
        async with self._lock:
            return await self._execute_one(sql, params)

    async def returning(self, sql: str, params: Params = (), *, durable: bool = False) -> list[sqlite3.Row]:
        """Run one write statement with a RETURNING clause (one trip); returns the rows it returned.

        ``durable``: the commit is synced to disk before this returns (``synchronous = FULL`` for this statement),
        so it survives a power loss; the outbox's claim uses it because its request leaves right after. Other
        commits run with ``NORMAL``: in WAL mode they can roll back on power loss, never corrupt."""
        if durable and not self._holds_transaction():
            async with self._lock:
                await self._conn.execute("PRAGMA synchronous = FULL")
                try:
                    return list(await self._conn.execute_fetchall(sql, params))
                finally:
                    await self._conn.execute("PRAGMA synchronous = NORMAL")
        if self._holds_transaction():
            return list(await self._conn.execute_fetchall(sql, params))
        async with self._lock:
            return list(await self._conn.execute_fetchall(sql, params))

    async def _execute_one(self, sql: str, params: Params) -> tuple[int, int | None]:
        conn = self._conn
        before = conn.total_changes
        row = await conn.execute_insert(sql, params)
        return conn.total_changes - before, (int(row[0]) if row is not None else None)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> int:
        """Run one write for many parameter rows (one transaction). Returns rows changed."""
        async with self._writing() as conn, conn.executemany(sql, rows) as cur:
            return cur.rowcount
