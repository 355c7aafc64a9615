"""``python -m bot check``: is this installation healthy? Prints each problem and how to fix it.

Checks the configuration, the database (opens and migrates), the key (present, owner-only, decrypts every
stored token: a link that may still act and cannot be decrypted is a problem, named by server, owner and lock;
a missing key file is generated only when no such link exists) and, unless ``--offline``, that each linked
token still works with Chastify. Exit status 0 when healthy, 1 when anything needs attention (the Docker
HEALTHCHECK runs ``check --offline``).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from bot.chastify import ChastifyClient, ChastifyError, ChastifyUnavailable, Timeouts
from bot.config import Settings, database_target
from bot.keycheck import LIVE_STATES, KeyProblem, describe, load_vault, undecryptable_message, unreadable
from bot.services import chastify_problem
from bot.store import Store
from bot.store.db import StoreError
from bot.store.store import is_postgres_url
from bot.vault import Vault

_LEAK_ADVICE = {
    "the key file": "anyone who could read it can decrypt the stored Chastify tokens; if that may have happened, "
                    "ask the lock owners to create new DEV tokens and run /chastify link again",
    "the database": "it holds the encrypted tokens and the vote history",
}


def _loose_mode(path: Path) -> int | None:
    """The file's mode if group or others have any access to it, else None (also when it does not exist)."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None
    return mode if mode & 0o077 else None


async def run_check(settings: Settings, *, online: bool = True, out: list[str] | None = None) -> int:
    lines: list[str] = [] if out is None else out
    problems = 0

    def say(ok: bool, text: str) -> None:
        nonlocal problems
        problems += 0 if ok else 1
        lines.append(("ok      " if ok else "PROBLEM ") + text)

    def finish() -> int:
        lines.append("healthy" if problems == 0 else f"{problems} problem(s) found")
        _print(lines)
        return 0 if problems == 0 else 1

    say(True, "configuration is valid")
    if settings.discord.token is None:
        say(False, "discord.token is not set; set env DISCORD_TOKEN before `python -m bot run`")
    db_path = settings.storage.database_path
    key_in_env = settings.storage.key is not None
    key_file = settings.storage.effective_key_file
    files = [(db_path, "the database")] + ([] if key_in_env else [(key_file, "the key file")])
    # Read the modes first: opening the database or the key file tightens them to 0600.
    loose = {path: _loose_mode(path) for path, _ in files}
    target = database_target(settings)
    where = "PostgreSQL (database.url)" if is_postgres_url(target) else str(db_path)  # the URL may hold a password
    try:
        store = await Store.open(target)
    except StoreError as err:
        say(False, f"database: {err}")
        return finish()
    try:
        say(True, f"database {where} opens (schema version {await store.db.user_version()})")
        links = await store.links.list_all()
        try:
            vault, created = load_vault(settings, links,
                                        create=not any(link.state in LIVE_STATES for link in links))
        except KeyProblem as err:
            say(False, f"key: {err}")
            return finish()
        if key_in_env:
            say(True, "the token key comes from storage.key (env CHASTIFY_BOT_STORAGE__KEY)")
        elif created:
            say(True, f"created a new key file at {key_file}; back it up (without it linked tokens cannot be read)")
        for path, what in files:
            mode = loose[path]
            if mode is None:
                say(True, f"{what} {path} is owner-only")
            elif _loose_mode(path) is None:
                say(False, f"{what} {path} was readable by others (mode {mode:o}); it is now 0600. "
                           f"{_LEAK_ADVICE[what][:1].upper()}{_LEAK_ADVICE[what][1:]}.")
            else:
                say(False, f"{what} {path} is readable by others (mode {mode:o}); fix: chmod 600 {path} "
                           f"({_LEAK_ADVICE[what]})")
        bad = unreadable(vault, links)
        live = [link for link in bad if link.state in LIVE_STATES]
        source = "storage.key" if key_in_env else f"the key file {key_file}"
        if live:
            say(False, undecryptable_message(source, vault, live) + " Or run `python -m bot run --new-key` once: "
                       "those links are marked broken and their owners must run /chastify link again.")
        else:
            say(True, f"the tokens of all {sum(link.state in LIVE_STATES for link in links)} links that may still "
                      "act decrypt")
        for link in bad:
            if link.state not in LIVE_STATES:
                say(True, f"{describe(link)} is {link.state} and its token cannot be decrypted; its owner must "
                          "link again")
        if online and links:
            await _check_tokens(settings, store, vault, {link.id for link in bad}, say)
    finally:
        await store.close()
    return finish()


async def _check_tokens(settings: Settings, store: Store, vault: Vault, skip: set[int],
                        say: Callable[[bool, str], None]) -> None:
    c = settings.chastify
    async with ChastifyClient(c.base_url, timeouts=Timeouts(c.connect_timeout, c.read_timeout, c.total_timeout),
                              max_retries=0) as client:
        for link in await store.links.list_all():
            if link.id in skip or link.state != "active":
                continue
            try:
                await client.dev(vault.decrypt(link.token_ciphertext), link.lock_id).session()
            except ChastifyUnavailable:
                say(True, f"Chastify at {c.base_url} is not reachable from here; tokens not checked")
                return
            except ChastifyError as err:
                say(False, f"link {link.id} (server {link.guild_id}, owner {link.owner_id}): {chastify_problem(err)}")
            else:
                say(True, f"link {link.id} (server {link.guild_id}): token works")


def _print(lines: list[str]) -> None:
    for line in lines:
        print(line)
