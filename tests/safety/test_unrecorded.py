"""Chastify answered 2xx but the bot could not record it (a database error): the member is told it was applied
and must not be repeated, the owner is told, and a restart turns the entry uncertain, never re-sending it."""

from __future__ import annotations

import sqlite3

import pytest

from tests.support.builders import crash_and_restart
from tests.support.postgres import ON_BOTH_STORES
from tests.support.simcord import reply
from tests.support.standin import APPLY_TIME

pytestmark = ON_BOTH_STORES


def _dms(world) -> list[str]:
    return [e.description or "" for m in world.owner.user.dm_channel.history() for e in m.embeds]


def _texts(message) -> str:
    return "\n".join([message.content or "", *(e.description or "" for e in message.embeds)])


async def test_a_db_failure_after_a_2xx_is_shown_as_applied_never_repeated_and_reconciled_on_restart(
        world, bot_settings, monkeypatch: pytest.MonkeyPatch):
    await world.link(title="Weekend Challenge", remaining=86400)
    await world.owner.slash(world.channel, "chastify trust", who=world.friend)
    outbox = world.bot.core.store.outbox
    real = outbox.transition

    async def failing(entry_id, from_status, to_status, **kw):
        if to_status == "done":
            raise sqlite3.OperationalError("disk I/O error")
        return await real(entry_id, from_status, to_status, **kw)

    monkeypatch.setattr(outbox, "transition", failing)
    answer = _texts(reply(await world.friend.slash(world.channel, "lock add-time", duration="30m")))
    assert "Applied **+30m**" in answer and "do not repeat it" in answer
    [dm] = _dms(world)
    assert "could not record it" in dm and "will not be sent again" in dm
    assert [r.json["deltaSeconds"] for r in world.chastify.action_requests() if r.path == APPLY_TIME] == [1800]

    monkeypatch.undo()
    await crash_and_restart(world, bot_settings)
    [entry] = await world.env.bot.core.store.outbox.list_by_status(("sent", "uncertain", "done", "pending"))
    assert entry.status == "uncertain"
    await world.env.advance_time(600)
    assert [r.json["deltaSeconds"] for r in world.chastify.action_requests() if r.path == APPLY_TIME] == [1800]


async def test_the_claim_before_a_send_is_synced_to_disk(tmp_path):
    """The commit that marks an entry 'sent' runs with synchronous = FULL (survives a power loss); the others
    keep NORMAL."""
    from bot.store import Store

    statements: list[str] = []
    async with await Store.open(tmp_path / "bot.db") as store:
        await store.db._conn.set_trace_callback(statements.append)
        link = await store.links.upsert(guild_id=1, owner_id=2, token_ciphertext=b"x", lock_id="a" * 24,
                                        role="wearer")
        entry_id = await store.outbox.enqueue(link_id=link.id, lock_id=link.lock_id, guild_id=1, source="direct",
                                              action_json="{}", idempotency_key="k")
        statements.clear()
        assert await store.outbox.claim(entry_id) is not None
        assert statements[0] == "PRAGMA synchronous = FULL" and statements[-1] == "PRAGMA synchronous = NORMAL"
        assert "UPDATE outbox SET status = 'sent'" in statements[1]
        assert (await store.db.fetchone("PRAGMA synchronous"))[0] == 1  # NORMAL again for everything else
