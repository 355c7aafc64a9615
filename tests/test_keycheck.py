"""Key problems are never silent: the token key against the stored links at start-up (``bot.keycheck``), in the
operator's terminal (``python -m bot run [--new-key]``) and for members (``/chastify status`` on a link the new
key could not read). No message and no log line ever carries a token."""

from __future__ import annotations

import asyncio
import logging
import signal
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from bot.app import ChastifyBot, create_bot
from bot.config import Settings, load_settings
from bot.keycheck import KeyProblem, open_vault
from bot.store import Store
from bot.vault import Vault
from tests.support.builders import restart_into
from tests.support.simcord import public_text, refusal
from tests.support.standin import applied_actions
from tests.test_cli import FakeDiscord, bot_cli, clean_env, seed_links

TOKENS = ("dev-token-alice-secret", "dev-token-bob-secret")
LOCK_IDS = ("a" * 24, "b" * 24)


def settings_for(tmp_path: Path, *, key: bytes | None = None) -> Settings:
    storage: dict[str, Any] = {"database_path": tmp_path / "data" / "bot.db"}
    if key is not None:
        storage["key"] = key.decode()
    return load_settings(None, storage=storage)


def key_file(tmp_path: Path) -> Path:
    return tmp_path / "data" / "bot.key"


def write_key(tmp_path: Path, key: bytes) -> None:
    key_file(tmp_path).parent.mkdir(parents=True, exist_ok=True)
    key_file(tmp_path).write_bytes(key + b"\n")
    key_file(tmp_path).chmod(0o600)


async def states(tmp_path: Path) -> list[tuple[int, str]]:
    store = await Store.open(tmp_path / "data" / "bot.db")
    try:
        return [(link.id, link.state) for link in await store.links.list_all()]
    finally:
        await store.close()


def no_secret_in(text: str, *extra: str) -> None:
    for secret in (*TOKENS, *extra):
        assert secret.lower() not in text.lower(), secret


# --------------------------------------------------------------------------------------------- bot.keycheck
async def test_missing_key_file_with_links_refuses_naming_the_key_file_and_each_link(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    old = Fernet.generate_key()
    await seed_links(tmp_path / "data" / "bot.db", old, list(zip(TOKENS, LOCK_IDS, strict=True)))
    settings = settings_for(tmp_path)  # the key file, which was never written (lost)
    store = await Store.open(settings.storage.database_path)
    try:
        with caplog.at_level(logging.DEBUG), pytest.raises(KeyProblem) as info:
            await open_vault(settings, store)
        message = str(info.value)
        assert message.startswith(f"the key file {key_file(tmp_path)} is missing, but 2 linked lock(s) have tokens")
        assert f'link 1 (server 1001, owner 1, lock "lock 1" / {LOCK_IDS[0]})' in message
        assert f'link 2 (server 1002, owner 2, lock "lock 2" / {LOCK_IDS[1]})' in message
        assert "Restore the key file from your backup" in message
        assert "`python -m bot run --new-key`" in message and "Nothing was changed." in message
        assert not key_file(tmp_path).exists()  # no fresh key generated silently
        assert [link.state for link in await store.links.list_all()] == ["active", "active"]
        no_secret_in(message + caplog.text, old.decode())
    finally:
        await store.close()


async def test_wrong_key_with_links_refuses_and_changes_nothing(tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    await seed_links(tmp_path / "data" / "bot.db", old, [(TOKENS[0], LOCK_IDS[0])])
    write_key(tmp_path, new)
    settings = settings_for(tmp_path)
    store = await Store.open(settings.storage.database_path)
    try:
        with caplog.at_level(logging.DEBUG), pytest.raises(KeyProblem) as info:
            await open_vault(settings, store)
        message = str(info.value)
        assert f"1 linked lock(s) have tokens that the key file {key_file(tmp_path)} " in message
        assert f"(key fingerprint {Vault(new).fingerprint}) cannot decrypt" in message
        assert f'link 1 (server 1001, owner 1, lock "lock 1" / {LOCK_IDS[0]})' in message
        assert "restore the old key file" in message and "`python -m bot run --new-key`" in message
        assert key_file(tmp_path).read_bytes().strip() == new  # the key file is never replaced
        assert [link.state for link in await store.links.list_all()] == ["active"]
        no_secret_in(message + caplog.text, old.decode(), new.decode())
    finally:
        await store.close()


async def test_wrong_storage_key_names_the_setting(tmp_path: Path) -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    await seed_links(tmp_path / "data" / "bot.db", old, [(TOKENS[0], LOCK_IDS[0])])
    settings = settings_for(tmp_path, key=new)
    store = await Store.open(settings.storage.database_path)
    try:
        with pytest.raises(KeyProblem, match=r"tokens that storage\.key \(env CHASTIFY_BOT_STORAGE__KEY\)"):
            await open_vault(settings, store)
    finally:
        await store.close()


async def test_an_empty_key_file_with_links_refuses_naming_the_links(tmp_path: Path) -> None:
    await seed_links(tmp_path / "data" / "bot.db", Fernet.generate_key(), [(TOKENS[0], LOCK_IDS[0])])
    key_file(tmp_path).write_bytes(b"\n")
    settings = settings_for(tmp_path)
    store = await Store.open(settings.storage.database_path)
    try:
        with pytest.raises(KeyProblem) as info:
            await open_vault(settings, store, new_key=True)  # the flag never replaces a key file that exists
        assert f"the key file {key_file(tmp_path)} is empty" in str(info.value)
        assert "Linked locks that need the key: link 1 (server 1001, owner 1" in str(info.value)
        assert key_file(tmp_path).read_bytes() == b"\n"
    finally:
        await store.close()


async def test_new_key_generates_the_missing_key_and_marks_the_links_broken(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    old = Fernet.generate_key()
    await seed_links(tmp_path / "data" / "bot.db", old, list(zip(TOKENS, LOCK_IDS, strict=True)))
    settings = settings_for(tmp_path)
    store = await Store.open(settings.storage.database_path)
    try:
        await store.links.set_state(2, "paused")
        with caplog.at_level(logging.DEBUG):
            checked = await open_vault(settings, store, new_key=True)
        assert checked.created and key_file(tmp_path).exists()
        assert [link.id for link in checked.broken] == [1, 2]
        assert [link.state for link in await store.links.list_all()] == ["broken", "broken"]
        audit = await store.audit.list_for_link(1)
        assert [(a.action_summary, a.outcome) for a in audit] == [("link broken", "broken")]
        assert "/chastify link again" in (audit[0].detail or "")
        warning = [r.getMessage() for r in caplog.records if r.name == "bot.keycheck"]
        assert len(warning) == 1 and "2 link(s)" in warning[0] and "now marked broken" in warning[0]
        assert 'link 1 (server 1001, owner 1, lock "lock 1"' in warning[0]
        no_secret_in(caplog.text, old.decode(), key_file(tmp_path).read_text().strip())
        # the next start needs no flag: the broken links no longer need the old key
        again = await open_vault(settings, store)
        assert not again.created and again.broken == () and [link.id for link in again.unreadable] == [1, 2]
    finally:
        await store.close()


async def test_new_key_with_a_wrong_key_keeps_it_and_breaks_only_the_unreadable_links(tmp_path: Path) -> None:
    old, current = Fernet.generate_key(), Fernet.generate_key()
    await seed_links(tmp_path / "data" / "bot.db", old, [(TOKENS[0], LOCK_IDS[0])])
    store = await Store.open(tmp_path / "data" / "bot.db")
    try:  # a second link, made after the key changed, is readable
        await store.links.upsert(guild_id=1002, owner_id=2, token_ciphertext=Vault(current).encrypt(TOKENS[1]),
                                 lock_id=LOCK_IDS[1], role="wearer", title="lock 2")
        write_key(tmp_path, current)
        checked = await open_vault(settings_for(tmp_path), store, new_key=True)
        assert not checked.created and key_file(tmp_path).read_bytes().strip() == current
        assert [(link.id, link.state) for link in await store.links.list_all()] == [(1, "broken"), (2, "active")]
        assert checked.vault.decrypt((await store.links.list_all())[1].token_ciphertext) == TOKENS[1]
    finally:
        await store.close()


async def test_links_that_can_no_longer_act_do_not_block_start_up(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    await seed_links(tmp_path / "data" / "bot.db", Fernet.generate_key(), list(zip(TOKENS, LOCK_IDS, strict=True)))
    store = await Store.open(tmp_path / "data" / "bot.db")
    try:
        await store.links.set_state(1, "ended")
        await store.links.set_state(2, "broken")
        with caplog.at_level(logging.WARNING):
            checked = await open_vault(settings_for(tmp_path), store)  # key file missing: generated
        assert checked.created and checked.broken == ()
        assert "2 link(s) that can no longer act (ended or broken)" in caplog.text  # said, not silent
    finally:
        await store.close()


async def test_first_start_without_links_generates_the_key_file(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "data" / "bot.db")
    try:
        checked = await open_vault(settings_for(tmp_path), store)
        assert checked.created and key_file(tmp_path).exists() and checked.unreadable == ()
    finally:
        await store.close()


async def test_the_bot_start_up_is_refused(tmp_path: Path) -> None:
    """What ``python -m bot run`` runs after logging in: ChastifyBot.setup_hook opens the store, then the check."""
    await seed_links(tmp_path / "data" / "bot.db", Fernet.generate_key(), [(TOKENS[0], LOCK_IDS[0])])
    bot = ChastifyBot(settings_for(tmp_path))
    try:
        with pytest.raises(KeyProblem, match="is missing, but 1 linked lock"):
            await bot.setup_hook()
        assert not hasattr(bot, "core")  # nothing after the check ran: no outbox, no cog
    finally:
        await bot.close()


# --------------------------------------------------------------------------------------------- the CLI
async def _run(tmp_path: Path, *args: str, stop_after_login: bool = False) -> tuple[int, str]:
    """``python -m bot run ARGS`` against the fake Discord; SIGTERM once it identified when ``stop_after_login``."""
    async with FakeDiscord() as discord_api:
        env = clean_env(DISCORD_TOKEN="discord-token-for-tests",
                        CHASTIFY_BOT_STORAGE__DATABASE_PATH=str(tmp_path / "data" / "bot.db"),
                        PYTHONUNBUFFERED="1", **discord_api.env(tmp_path / "shim"))
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", *args, cwd=tmp_path, env=env,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            if stop_after_login:
                await asyncio.wait_for(discord_api.identified.wait(), 30)
                await asyncio.sleep(0.5)
                proc.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(proc.communicate(), 30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode() + err.decode()


async def test_run_refuses_to_start_when_the_key_file_is_lost(tmp_path: Path) -> None:
    old = Fernet.generate_key()
    await seed_links(tmp_path / "data" / "bot.db", old, [(TOKENS[0], LOCK_IDS[0])])
    code, output = await _run(tmp_path)
    assert code == 2, output[-3000:]
    assert f"Start-up refused: the key file {key_file(tmp_path)} is missing" in output
    assert f'link 1 (server 1001, owner 1, lock "lock 1" / {LOCK_IDS[0]})' in output
    assert "python -m bot run --new-key" in output
    assert "Traceback" not in output
    assert not key_file(tmp_path).exists()
    assert await states(tmp_path) == [(1, "active")]
    no_secret_in(output, old.decode(), "discord-token-for-tests")


async def test_run_refuses_to_start_with_a_changed_key(tmp_path: Path) -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    await seed_links(tmp_path / "data" / "bot.db", old, [(TOKENS[0], LOCK_IDS[0])])
    write_key(tmp_path, new)
    code, output = await _run(tmp_path)
    assert code == 2, output[-3000:]
    assert f"Start-up refused: 1 linked lock(s) have tokens that the key file {key_file(tmp_path)}" in output
    assert f'link 1 (server 1001, owner 1, lock "lock 1" / {LOCK_IDS[0]})' in output
    assert await states(tmp_path) == [(1, "active")]
    no_secret_in(output, old.decode(), new.decode())


async def test_run_with_new_key_starts_and_the_links_are_broken(tmp_path: Path) -> None:
    old = Fernet.generate_key()
    await seed_links(tmp_path / "data" / "bot.db", old, [(TOKENS[0], LOCK_IDS[0])])
    code, output = await _run(tmp_path, "--new-key", stop_after_login=True)
    assert code == 0, output[-3000:]
    assert "generated a new token encryption key" in output
    assert "1 link(s) whose token the key file" in output and "now marked broken" in output
    assert await states(tmp_path) == [(1, "broken")]
    with sqlite3.connect(tmp_path / "data" / "bot.db") as conn:
        assert conn.execute("SELECT outcome FROM audit WHERE link_id = 1").fetchall() == [("broken",)]
    no_secret_in(output, old.decode(), key_file(tmp_path).read_text().strip())


def test_check_reports_a_lost_key_file_and_does_not_generate_one(tmp_path: Path) -> None:
    """The Docker HEALTHCHECK (`check --offline`) must not paper over a lost key with a fresh one either."""
    old = Fernet.generate_key()
    asyncio.run(seed_links(tmp_path / "data" / "bot.db", old, [(TOKENS[0], LOCK_IDS[0])]))
    done = bot_cli(tmp_path, "check", "--offline", DISCORD_TOKEN="x",
                   CHASTIFY_BOT_STORAGE__DATABASE_PATH=str(tmp_path / "data" / "bot.db"))
    assert done.returncode == 1, done.stdout + done.stderr
    problem = [line for line in done.stdout.splitlines() if line.startswith("PROBLEM")]
    assert len(problem) == 1 and problem[0].startswith(f"PROBLEM key: the key file {key_file(tmp_path)} is missing")
    assert f'link 1 (server 1001, owner 1, lock "lock 1" / {LOCK_IDS[0]})' in problem[0]
    assert not key_file(tmp_path).exists()
    no_secret_in(done.stdout + done.stderr, old.decode())


def test_check_names_a_broken_link_it_cannot_decrypt_without_failing(tmp_path: Path) -> None:
    asyncio.run(seed_links(tmp_path / "data" / "bot.db", Fernet.generate_key(), [(TOKENS[0], LOCK_IDS[0])]))

    async def mark() -> None:
        store = await Store.open(tmp_path / "data" / "bot.db")
        try:
            await store.links.set_state(1, "broken")
        finally:
            await store.close()

    asyncio.run(mark())
    done = bot_cli(tmp_path, "check", "--offline", DISCORD_TOKEN="x",
                   CHASTIFY_BOT_STORAGE__DATABASE_PATH=str(tmp_path / "data" / "bot.db"))
    assert done.returncode == 0, done.stdout
    assert (f'ok      link 1 (server 1001, owner 1, lock "lock 1" / {LOCK_IDS[0]}) is broken and its token '
            "cannot be decrypted; its owner must link again") in done.stdout


# --------------------------------------------------------------------------------------------- members
async def restart_with_key(world: Any, settings: Settings, key: bytes, *, new_key: bool) -> None:
    """Stop the bot and start a fresh one on the same database with another token key."""
    changed = settings.model_copy(update={"storage": settings.storage.model_copy(
        update={"key": SecretStr(key.decode())})})
    await restart_into(world, create_bot(changed, new_key=new_key))


async def test_after_new_key_the_owner_is_told_to_link_again_and_nothing_is_sent(
        world: Any, bot_settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    lock, _ = await world.link(token=TOKENS[0], title="Weekend Challenge")
    await world.owner.slash(world.channel, "chastify trust", who=world.friend)
    sent_before = len(applied_actions(world.chastify))
    with caplog.at_level(logging.DEBUG):
        await restart_with_key(world, bot_settings, Fernet.generate_key(), new_key=True)

        status = await world.stranger.slash(world.channel, "chastify status")
        assert "The owner's token no longer works; the owner must link again." in public_text(status)

        for member in (world.owner, world.friend):
            acted = await member.slash(world.channel, "lock add-time", duration="10m", reason="late")
            assert "/chastify link" in refusal(acted)
        proposed = await world.friend.slash(world.channel, "vote add-time", duration="10m")
        assert "/chastify link" in refusal(proposed)
        await world.env.advance_time(120)
    assert len(applied_actions(world.chastify)) == sent_before  # nothing reached Chastify for the broken link
    assert [h for h in lock.history if h["type"] != "custom"] == []
    history = await world.owner.slash(world.channel, "chastify history")
    assert "**link broken** · broken" in history.response.embeds[0].description
    no_secret_in(caplog.text)


async def test_without_new_key_a_changed_key_never_reaches_discord(world: Any, bot_settings: Settings) -> None:
    """The refusal at the bot level: a fresh bot on the same database with another key does not set up."""
    await world.link(token=TOKENS[0], title="Weekend Challenge")
    changed = bot_settings.model_copy(update={"storage": bot_settings.storage.model_copy(
        update={"key": SecretStr(Fernet.generate_key().decode())})})
    bot = create_bot(changed)
    try:
        with pytest.raises(KeyProblem) as info:
            await bot.setup_hook()
    finally:
        await bot.close()
    assert 'lock "Weekend Challenge"' in str(info.value)
    assert [link.state for link in await world.bot.core.store.links.list_all()] == ["active"]
    no_secret_in(str(info.value))
