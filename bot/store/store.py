"""The store facade: one object holding the database and every repository."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from .db import Database, Db
from .notify_repo import NotifyRepo
from .repos import (
    AuditRepo,
    BallotRepo,
    Clock,
    ConsentRepo,
    GuildSettingsRepo,
    LinkRepo,
    OutboxRepo,
    TrustRepo,
    VoteRepo,
    VoteScheduleRepo,
)

__all__ = ["Store", "is_postgres_url"]


def is_postgres_url(target: Path | str) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


class Store:
    """``store.settings``, ``.links``, ``.trust``, ``.votes``, ``.ballots``, ``.outbox``, ``.audit``, ``.consent``,
    ``.notify``.

    ``clock`` returns epoch seconds; it stamps created_at / updated_at (inject simcord's virtual time).
    """

    def __init__(self, db: Db, clock: Clock = time.time) -> None:
        self.db = db
        self.clock = clock
        self.settings = GuildSettingsRepo(db, clock)
        self.links = LinkRepo(db, clock)
        self.trust = TrustRepo(db, clock)
        self.votes = VoteRepo(db, clock)
        self.ballots = BallotRepo(db, clock)
        self.outbox = OutboxRepo(db, clock)
        self.audit = AuditRepo(db, clock)
        self.consent = ConsentRepo(db, clock)
        self.notify = NotifyRepo(db, clock)
        self.schedules = VoteScheduleRepo(db, clock)

    @classmethod
    async def open(cls, path: Path | str, clock: Clock = time.time) -> Store:
        """Open and migrate the database at ``path``: a SQLite file (``":memory:"`` for tests) or a
        ``postgresql://`` URL."""
        if is_postgres_url(path):
            from .pg import PgDatabase

            return cls(await PgDatabase.open(str(path)), clock)
        return cls(await Database.open(path), clock)

    async def close(self) -> None:
        await self.db.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        """Group several repository calls into one transaction (all or nothing)."""
        async with self.db.transaction() as conn:
            yield conn
