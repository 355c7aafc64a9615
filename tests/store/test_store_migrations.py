from __future__ import annotations

import os
import stat
from importlib import resources
from pathlib import Path

import aiosqlite
import pytest

from bot.store import Database, Migration, Store, StoreError, load_migrations
from bot.store import db as db_module

TABLES = {"guild_settings", "links", "trust", "votes", "ballots", "outbox", "audit"}
INDEXES = {
    "votes_open_by_deadline",
    "votes_by_link_status",
    "votes_by_proposer",
    "outbox_by_status",
    "audit_by_link",
    "audit_by_guild",
}


def migration_files() -> list[str]:
    folder = resources.files("bot.store").joinpath("migrations")
    return sorted(e.name for e in folder.iterdir() if e.name.endswith(".sql"))


async def test_migrates_from_empty_to_latest() -> None:
    db = await Database.open(":memory:")
    try:
        assert await db.user_version() == len(migration_files()) == len(load_migrations())
        rows = await db.fetchall("SELECT type, name FROM sqlite_master")
        tables = {r["name"] for r in rows if r["type"] == "table"}
        indexes = {r["name"] for r in rows if r["type"] == "index"}
        assert tables >= TABLES
        assert indexes >= INDEXES
    finally:
        await db.close()


async def test_reopen_keeps_data_and_does_not_rerun(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    async with await Store.open(path) as store:
        await store.audit.add(guild_id=1, source="test", action_summary="hello", outcome="applied")
    async with await Store.open(path) as store:
        assert await store.db.user_version() == len(migration_files())
        assert [e.action_summary for e in await store.audit.list_for_guild(1)] == ["hello"]


async def test_pragmas(tmp_path: Path) -> None:
    async with await Database.open(tmp_path / "bot.db") as db:
        assert (await db.fetchone("PRAGMA journal_mode"))[0] == "wal"
        assert (await db.fetchone("PRAGMA foreign_keys"))[0] == 1
        assert (await db.fetchone("PRAGMA busy_timeout"))[0] == 5000
        assert (await db.fetchone("PRAGMA synchronous"))[0] == 1  # NORMAL


async def test_database_file_is_created_private(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "bot.db"
    async with await Database.open(path):
        pass
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for side in path.parent.iterdir():
        assert stat.S_IMODE(side.stat().st_mode) & 0o077 == 0, side


async def test_existing_database_file_with_wide_mode_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    path.touch()
    os.chmod(path, 0o644)
    async with await Database.open(path):
        pass
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_database_newer_than_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    async with aiosqlite.connect(path) as conn:
        await conn.execute("PRAGMA user_version = 99")
        await conn.commit()
    with pytest.raises(StoreError, match="schema version 99"):
        await Database.open(path)


async def test_failed_migration_rolls_back_completely(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bot.db"
    real = load_migrations()
    async with await Database.open(path):
        pass
    bad = Migration(
        len(real) + 1,
        f"{len(real) + 1:03d}_broken.sql",
        "CREATE TABLE half_done (x INTEGER);\nINSERT INTO no_such_table VALUES (1);",
    )
    monkeypatch.setattr(db_module, "load_migrations", lambda: [*real, bad])
    with pytest.raises(StoreError, match="broken"):
        await Database.open(path)
    monkeypatch.undo()
    async with await Database.open(path) as db:
        assert await db.user_version() == len(real)
        assert await db.fetchone("SELECT 1 FROM sqlite_master WHERE name = 'half_done'") is None


def test_migration_files_are_numbered_without_gaps() -> None:
    names = migration_files()
    assert names, "no migration files found (package data missing?)"
    for i, name in enumerate(names, start=1):
        assert name.startswith(f"{i:03d}_"), name


async def test_migration_004_merges_consent_per_lock_without_loss(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Two servers' links of one lock, made under schema 3: their pause merges (paused if any was), their limits
    merge strictly, and the outbox rows keep counting for the lock after a link is removed."""
    from bot.config import LimitsSettings
    from bot.consent import Consent

    path = tmp_path / "bot.db"
    real = load_migrations()
    monkeypatch.setattr(db_module, "load_migrations", lambda: real[:3])
    lock, other = "a" * 24, "b" * 24
    async with await Database.open(path) as db:
        assert await db.user_version() == 3
        for gid, owner, lock_id, state, limits in (
                (1, 10, lock, "paused", '{"max_add_per_day": 7200, "max_add_per_action": 3600}'),
                (2, 20, lock, "active", '{"max_add_per_day": 14400, "max_add_per_action": 600}'),
                (3, 10, other, "active", None)):
            await db.execute(
                "INSERT INTO links (guild_id, owner_id, token_ciphertext, lock_id, role, title, state, limits_json, "
                "created_at, updated_at) VALUES (?, ?, x'00', ?, 'wearer', 'T', ?, ?, 1, 1)",
                (gid, owner, lock_id, state, limits))
        await db.execute(
            "INSERT INTO outbox (link_id, guild_id, source, action_json, status, created_at, updated_at, "
            "idempotency_key) VALUES (2, 2, 'direct', ?, 'done', 5, 5, 'k')",
            ('{"action": {"kind": "add_time", "seconds": 600}, "log_title": "t"}',))
    monkeypatch.undo()
    async with await Store.open(path, clock=lambda: 10.0) as store:
        assert await store.db.user_version() == len(real)
        assert [p.user_id for p in await store.consent.pauses(lock)] == [10]
        assert sorted(p.user_id for p in await store.consent.people(lock)) == [10, 20]  # 006: who holds it
        assert not await store.consent.is_paused(other)
        assert {link.state for link in await store.links.list_all()} == {"active"}
        consent = Consent(store, LimitsSettings(), clock=lambda: 10.0)
        limits = await consent.limits(lock)
        assert (limits.max_add_per_day, limits.max_add_per_action) == (7200, 600)
        assert await consent.added_last_24h(lock) == 600
        [link_b] = await store.links.find_in_guild(2, lock)
        await store.links.delete(link_b.id)
        assert await consent.added_last_24h(lock) == 600  # removing a link does not reset the lock's budget


async def test_migration_010_keeps_votes_and_ballots_and_their_cascade(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Votes and ballots are rebuilt (a new vote kind, wheel options): every row survives, the ballots still
    belong to their vote (deleting a link still deletes its votes and their ballots), and old votes read as
    reaction votes that are not anonymous."""
    path = tmp_path / "bot.db"
    real = load_migrations()
    monkeypatch.setattr(db_module, "load_migrations", lambda: real[:9])
    async with await Database.open(path) as db:
        await db.execute(
            "INSERT INTO links (guild_id, owner_id, token_ciphertext, lock_id, role, title, state, created_at, "
            "updated_at) VALUES (1, 10, x'00', ?, 'wearer', 'T', 'active', 1, 1)", ("a" * 24,))
        await db.execute(
            "INSERT INTO votes (guild_id, link_id, kind, action_json, proposer_id, channel_id, message_id, created_at,"
            " deadline, status, quorum, majority, remind_at) VALUES (1, 1, 'decision', '{}', 5, 6, 7, 1, 99, 'open', "
            "2, 0.5, 50)")
        await db.execute("INSERT INTO ballots (vote_id, voter_id, choice, updated_at) VALUES (1, 11, 1, 2), "
                         "(1, 12, -1, 3)")
    monkeypatch.undo()
    async with await Store.open(path, clock=lambda: 10.0) as store:
        assert await store.db.user_version() == len(real)
        vote = await store.votes.get(1)
        assert vote is not None and (vote.kind, vote.message_id, vote.deadline, vote.remind_at) == \
            ("decision", 7, 99, 50)
        assert (vote.style, vote.anonymous, vote.seed) == ("reactions", False, None)
        assert [(b.voter_id, b.choice) for b in await store.ballots.list(1)] == [(11, 1), (12, -1)]
        await store.ballots.set(1, 13, 4)  # a wheel's option numbers are ballots now
        assert (await store.db.fetchone("PRAGMA foreign_key_check")) is None
        assert {r["name"] for r in await store.db.fetchall("SELECT name FROM sqlite_master WHERE type = 'index'")} \
            >= {"votes_open_by_deadline", "votes_by_link_status", "votes_by_guild_status", "votes_by_proposer"}
        assert await store.links.delete(1)
        assert await store.votes.get(1) is None and await store.ballots.list(1) == []


ENTRIES_BEFORE_012 = [  # (action_json, the seconds it adds)
    ('{"action": {"kind": "add_time", "seconds": 600, "reason": null}}', 600),
    ('{"action": {"kind": "remove_time", "seconds": 300, "reason": null}}', 0),
    ('{"action": {"kind": "freeze", "seconds": 900, "reason": null}}', 0),
    ("{}", 0),
]


async def _entries_before_012(db: object) -> None:
    await db.execute(  # type: ignore[attr-defined]
        "INSERT INTO links (guild_id, owner_id, token_ciphertext, lock_id, role, title, state, created_at, "
        "updated_at) VALUES (1, 10, ?, ?, 'wearer', 'T', 'active', 1, 1)", (b"\x00", "a" * 24))
    for i, (action, _) in enumerate(ENTRIES_BEFORE_012):
        await db.execute(  # type: ignore[attr-defined]
            "INSERT INTO outbox (link_id, lock_id, guild_id, source, action_json, status, created_at, updated_at, "
            "idempotency_key) VALUES (1, ?, 1, 'direct', ?, 'done', 5, 5, ?)", ("a" * 24, action, f"k{i}"))


async def test_migration_012_stores_what_each_recorded_entry_added(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The owner's 24 h budget is one sum over a stored column: entries recorded before it existed get their
    seconds added from their action (only time added counts; a remove, a freeze or an unreadable action adds 0)."""
    from bot.config import LimitsSettings
    from bot.consent import Consent

    path = tmp_path / "bot.db"
    real = load_migrations()
    monkeypatch.setattr(db_module, "load_migrations", lambda: real[:11])
    async with await Database.open(path) as db:
        await _entries_before_012(db)
    monkeypatch.undo()
    async with await Store.open(path, clock=lambda: 10.0) as store:
        rows = await store.db.fetchall("SELECT idempotency_key, time_added FROM outbox ORDER BY id")
        assert [(r[0], r[1]) for r in rows] == [(f"k{i}", added) for i, (_, added) in enumerate(ENTRIES_BEFORE_012)]
        assert await Consent(store, LimitsSettings(), lambda: 10.0).added_last_24h("a" * 24) == 600


# ---------------------------------------------------------------------------------------------- PostgreSQL
async def test_postgres_migrates_to_the_same_version_and_the_same_tables_and_columns(pg_server) -> None:
    """The PostgreSQL migrations are the same versions as SQLite's and end in the same tables, columns and
    indexes; migrating twice (a second process starting) changes nothing."""
    from bot.store.pg import PgDatabase, load_pg_migrations
    from tests.support.postgres import fresh_database

    url = fresh_database(pg_server)
    assert [m.name for m in load_pg_migrations()] == [m.name for m in load_migrations()]
    lite = await Database.open(":memory:")
    pg = await PgDatabase.open(url)
    again = await PgDatabase.open(url)
    try:
        assert await pg.user_version() == await again.user_version() == len(load_migrations())
        lite_tables = {r["name"] for r in await lite.fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
        pg_tables = {r["table_name"] for r in await pg.fetchall(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")} - {"schema_version"}
        assert pg_tables == lite_tables
        for table in sorted(lite_tables):
            lite_cols = {r["name"]: bool(r["notnull"]) or bool(r["pk"])
                         for r in await lite.fetchall(f"PRAGMA table_info({table})")}
            pg_cols = {r["column_name"]: r["is_nullable"] == "NO" for r in await pg.fetchall(
                "SELECT column_name, is_nullable FROM information_schema.columns WHERE table_name = ?", (table,))}
            assert pg_cols == lite_cols, table
        lite_indexes = {r["name"] for r in await lite.fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'")}
        pg_indexes = {r["indexname"] for r in await pg.fetchall(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}
        assert lite_indexes <= pg_indexes
    finally:
        await lite.close()
        await pg.close()
        await again.close()


async def test_postgres_migration_012_stores_what_each_recorded_entry_added(pg_server,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.config import LimitsSettings
    from bot.consent import Consent
    from bot.store import pg as pg_module
    from tests.support.postgres import fresh_database

    url = fresh_database(pg_server)
    real = pg_module.load_pg_migrations()
    monkeypatch.setattr(pg_module, "load_pg_migrations", lambda: real[:11])
    db = await pg_module.PgDatabase.open(url)
    try:
        await _entries_before_012(db)
    finally:
        await db.close()
    monkeypatch.undo()
    async with await Store.open(url, clock=lambda: 10.0) as store:
        rows = await store.db.fetchall("SELECT idempotency_key, time_added FROM outbox ORDER BY id")
        assert [(r[0], r[1]) for r in rows] == [(f"k{i}", added) for i, (_, added) in enumerate(ENTRIES_BEFORE_012)]
        assert await Consent(store, LimitsSettings(), lambda: 10.0).added_last_24h("a" * 24) == 600


async def test_two_processes_starting_together_migrate_once(pg_server) -> None:
    """Shard processes start at the same moment: their migrations are serialised by an advisory lock taken before
    anything else (even the version table: a concurrent CREATE TABLE IF NOT EXISTS fails in PostgreSQL)."""
    import asyncio

    from bot.store.pg import PgDatabase
    from tests.support.postgres import fresh_database

    url = fresh_database(pg_server)
    for _ in range(3):
        opened = await asyncio.gather(*(PgDatabase.open(url) for _ in range(4)))
        try:
            assert {await db.user_version() for db in opened} == {len(load_migrations())}
        finally:
            for db in opened:
                await db.close()
        url = fresh_database(pg_server)
