"""The token key against the stored links, at start-up and in ``python -m bot check``: key problems are never
silent.

The bot refuses to start (:class:`KeyProblem`, whose message names the key file and every affected link by
server, owner and lock, never a token) when links that may still act (``active`` or ``paused``) exist and

* the key file is missing: a fresh key would silently make their tokens unreadable, so none is generated;
* the key (file or ``storage.key``) cannot decrypt their tokens: it was changed, or the data is damaged.

Unless the operator asked for it once with ``python -m bot run --new-key``: then a missing key file is generated,
and every link whose token the key cannot decrypt is marked ``broken`` (audited; ``/chastify status`` tells its
owner to link again; the policy gate and the outbox refuse to act on or send for a broken link). A key file that
exists is never replaced or deleted, and no link is deleted.

No discord import: ``bot.app`` calls :func:`open_vault` where it opens the store, ``bot.check`` calls
:func:`load_vault` and :func:`unreadable`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from bot.config import Settings
from bot.store import Store
from bot.store.models import Link
from bot.vault import Vault, VaultError, VaultKeyMissing

__all__ = ["LIVE_STATES", "NEW_KEY_FLAG", "KeyCheck", "KeyProblem", "describe", "load_vault", "open_vault",
           "unreadable"]

log = logging.getLogger("bot.keycheck")

# Links that may still act on a lock, so whose token the bot must be able to read.
LIVE_STATES = ("active", "paused")
NEW_KEY_FLAG = "python -m bot run --new-key"
BROKEN_DETAIL = ("the bot's token key changed (the operator started it with --new-key): the stored token cannot "
                 "be decrypted. The owner must create a new DEV token and run /chastify link again.")


class KeyProblem(Exception):
    """Start-up refused: the key cannot read tokens that links still need. The message says why, names the key
    and the links (never a token) and what the operator can do."""


@dataclass(frozen=True)
class KeyCheck:
    vault: Vault
    created: bool  # a new key file was written just now
    broken: tuple[Link, ...]  # links marked broken just now (only with new_key)
    unreadable: tuple[Link, ...]  # every stored link, any state, whose token this key cannot decrypt


def _plain(text: str, limit: int = 60) -> str:
    """A stored title as one safe line of an operator message (no line breaks or control characters)."""
    flat = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def describe(link: Link) -> str:
    """``link 3 (server 1001, owner 7, lock "Weekend" / 64b0...)``: what an operator needs to find it; no token."""
    lock = f'"{_plain(link.title)}" / {link.lock_id}' if link.title else link.lock_id
    return f"link {link.id} (server {link.guild_id}, owner {link.owner_id}, lock {lock})"


def _listed(links: Sequence[Link]) -> str:
    return "; ".join(describe(link) for link in links)


def _key_source(settings: Settings) -> str:
    if settings.storage.key is not None and settings.storage.key.get_secret_value().strip():
        return "storage.key (env CHASTIFY_BOT_STORAGE__KEY)"
    return f"the key file {settings.storage.effective_key_file}"


def _go_on(what: str) -> str:
    return (f"To go on without those tokens, start once with `{NEW_KEY_FLAG}`: {what}those links are marked broken "
            "and their owners must run /chastify link again. Nothing was changed.")


def load_vault(settings: Settings, links: Sequence[Link], *, create: bool) -> tuple[Vault, bool]:
    """The vault for the settings; a missing key file is generated only when ``create``.

    Raises KeyProblem (naming the key file and the live links) when the key file is missing and may not be
    created, or the key is malformed or unreadable."""
    key_file = settings.storage.effective_key_file
    live = [link for link in links if link.state in LIVE_STATES]
    try:
        return Vault.from_settings(settings.storage.key, key_file, create=create)
    except VaultKeyMissing:
        raise KeyProblem(
            f"the key file {key_file} is missing, but {len(live)} linked lock(s) have tokens encrypted with it: "
            f"{_listed(live)}. Restore the key file from your backup (or set storage.key to the old key) and start "
            f"again. " + _go_on("a new key file is generated, ")
        ) from None
    except VaultError as err:
        needs = f" Linked locks that need the key: {_listed(live)}." if live else ""
        raise KeyProblem(f"{err}.{needs}") from None


def unreadable(vault: Vault, links: Sequence[Link]) -> list[Link]:
    """The links whose stored token ``vault`` cannot decrypt."""
    return [link for link in links if not vault.can_decrypt(link.token_ciphertext)]


def undecryptable_message(source: str, vault: Vault, bad: Sequence[Link]) -> str:
    return (f"{len(bad)} linked lock(s) have tokens that {source} (key fingerprint {vault.fingerprint}) cannot "
            f"decrypt: {_listed(bad)}. The key was changed or the data is damaged: restore the old key file (or the "
            "old storage.key) and start again.")


async def open_vault(settings: Settings, store: Store, *, new_key: bool = False) -> KeyCheck:
    """At start-up: the vault, after checking it can read every link that may still act.

    Without ``new_key`` raises KeyProblem instead of going on with tokens it cannot read. With ``new_key``
    generates a missing key file and marks each such link broken (audited, logged by link, never a token)."""
    links = await store.links.list_all()
    live = [link for link in links if link.state in LIVE_STATES]
    vault, created = load_vault(settings, links, create=new_key or not live)
    source = _key_source(settings)
    bad = unreadable(vault, links)
    bad_live = [link for link in bad if link.state in LIVE_STATES]
    if bad_live and not new_key:
        raise KeyProblem(undecryptable_message(source, vault, bad_live) + " " + _go_on(""))
    broken: list[Link] = []
    for link in bad_live:
        if await store.links.set_state(link.id, "broken", expected=LIVE_STATES):
            await store.audit.add(guild_id=link.guild_id, link_id=link.id, actor_id=None, source="bot",
                                  action_summary="link broken", outcome="broken", detail=BROKEN_DETAIL)
            broken.append(link)
    if broken:
        log.warning("started with --new-key: %d link(s) whose token %s cannot decrypt are now marked broken; their "
                    "owners must run /chastify link again: %s", len(broken), source, _listed(broken))
    elif new_key:
        log.warning("started with --new-key, but %s decrypts every link that may still act: no link was changed",
                    source)
    stale = [link for link in bad if link.state not in LIVE_STATES]
    if stale:
        log.warning("%d link(s) that can no longer act (ended or broken) have tokens %s cannot decrypt; they stay "
                    "as they are until their owners link again: %s", len(stale), source, _listed(stale))
    return KeyCheck(vault, created, tuple(broken), tuple(bad))

