"""``python -m bot check``: is this installation healthy? Prints each problem and how to fix it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from bot.chastify import ChastifyClient, ChastifyError, ChastifyUnavailable, Timeouts
from bot.config import Settings
from bot.services import chastify_problem
from bot.store import Store
from bot.store.db import StoreError
from bot.vault import Vault, VaultError


def _mode_problem(path: Path, what: str) -> str | None:
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return None
    if mode & 0o077:
        return f"{what} {path} is readable by others (mode {mode:o}); fix: chmod 600 {path}"
    return None


async def run_check(settings: Settings, *, online: bool = True, out: list[str] | None = None) -> int:
    lines: list[str] = [] if out is None else out
    problems = 0

    def say(ok: bool, text: str) -> None:
        nonlocal problems
        problems += 0 if ok else 1
        lines.append(("ok      " if ok else "PROBLEM ") + text)

    say(True, "configuration is valid")
    if settings.discord.token is None:
        say(False, "discord.token is not set; set env DISCORD_TOKEN before `python -m bot run`")
    db_path = settings.storage.database_path
    try:
        store = await Store.open(db_path)
    except StoreError as err:
        say(False, f"database: {err}")
        _print(lines)
        return 1
    try:
        say(True, f"database {db_path} opens (schema version {await store.db.user_version()})")
        key_file = settings.storage.effective_key_file
        for path, what in ((db_path, "the database"), (key_file, "the key file")):
            problem = _mode_problem(path, what)
            say(problem is None, problem or f"{what} is owner-only")
        try:
            vault, created = Vault.from_settings(settings.storage.key, key_file)
        except VaultError as err:
            say(False, f"key: {err}")
            _print(lines)
            return 1
        if created:
            say(True, f"created a new key file at {key_file}; back it up")
        links = await store.links.list_all()
        bad = vault.check((link.id, f"server {link.guild_id}, owner {link.owner_id}", link.token_ciphertext)
                          for link in links)
        say(not bad, vault.undecryptable_message(bad) if bad else f"all {len(links)} linked tokens decrypt")
        if online and links:
            c = settings.chastify
            async with ChastifyClient(c.base_url, timeouts=Timeouts(c.connect_timeout, c.read_timeout,
                                                                     c.total_timeout), max_retries=0) as client:
                for link in links:
                    if link.id in {b.link_id for b in bad} or link.state != "active":
                        continue
                    try:
                        await client.dev(vault.decrypt(link.token_ciphertext), link.lock_id).session()
                    except ChastifyUnavailable:
                        say(True, f"Chastify at {c.base_url} is not reachable from here; tokens not checked")
                        break
                    except ChastifyError as err:
                        say(False, f"link {link.id} (server {link.guild_id}): {chastify_problem(err)}")
                    else:
                        say(True, f"link {link.id} (server {link.guild_id}): token works")
    finally:
        await store.close()
    lines.append("healthy" if problems == 0 else f"{problems} problem(s) found")
    _print(lines)
    return 0 if problems == 0 else 1


def _print(lines: list[str]) -> None:
    for line in lines:
        print(line)
