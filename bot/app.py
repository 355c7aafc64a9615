"""Builds the bot: ``create_bot(settings)`` -> a ``commands.Bot`` whose ``setup_hook`` opens the database,
the token vault and the Chastify client and loads every cog; ``close()`` closes them all.

One of the two modules of ``bot/`` that import discord (the other is the CLI).
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord.ext import commands

from bot.chastify import ActionLimiter, ChastifyClient, Timeouts
from bot.clock import Clock
from bot.config import Settings
from bot.keycheck import open_vault
from bot.services import Core
from bot.store import Store

log = logging.getLogger("bot.app")

EXTENSIONS = ("cogs.chastify", "cogs.lock", "cogs.votes")

# Least permissions the bot needs (see README): view channels, send messages, embed links,
# read message history (to reconcile reactions after a restart), add reactions (the ✅ ❌ 🔼 🔽 it puts on votes).
INVITE_PERMISSIONS = discord.Permissions(
    view_channel=True, send_messages=True, embed_links=True, read_message_history=True, add_reactions=True,
)


def discord_clock() -> float:
    """Discord's notion of now (simcord makes it virtual in tests)."""
    return discord.utils.utcnow().timestamp()


class ChastifyBot(commands.Bot):
    core: Core

    def __init__(self, settings: Settings, *, clock: Clock = discord_clock, new_key: bool = False) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
        )
        self.settings = settings
        self.clock = clock
        self.new_key = new_key  # `python -m bot run --new-key`: go on past tokens the key cannot read (bot.keycheck)
        self._store: Store | None = None
        self._client: ChastifyClient | None = None

    async def setup_hook(self) -> None:
        settings = self.settings
        store = await Store.open(settings.storage.database_path, clock=self.clock)
        self._store = store
        # refuses (KeyProblem) when links exist that the key cannot read, unless started with --new-key
        vault = (await open_vault(settings, store, new_key=self.new_key)).vault
        limiter = ActionLimiter(per_minute=settings.chastify.actions_per_minute, clock=self.clock)
        c = settings.chastify
        self._client = ChastifyClient(
            c.base_url,
            timeouts=Timeouts(connect=c.connect_timeout, read=c.read_timeout, total=c.total_timeout),
            limiter=limiter, max_retries=c.max_retries)
        self.core = Core(settings=settings, store=store, vault=vault, client=self._client, limiter=limiter,
                         clock=self.clock)
        for ext in EXTENSIONS:
            await self.load_extension(ext)
        from cogs._errors import install_error_handler

        install_error_handler(self.tree)
        await self.core.outbox.recover()

    async def close(self) -> None:
        try:
            for ext in list(self.extensions):
                await self.unload_extension(ext)
            if hasattr(self, "core"):
                await self.core.outbox.close()
            if self._client is not None:
                await self._client.aclose()
            if self._store is not None:
                await self._store.close()
        finally:
            await super().close()


def create_bot(settings: Settings, **kwargs: Any) -> ChastifyBot:
    """The bot for these settings. ``discord.api_base`` points discord.py at another Discord API root."""
    base = settings.discord.api_base.rstrip("/")
    if base != "https://discord.com/api":
        discord.http.Route.BASE = base
    return ChastifyBot(settings, **kwargs)


def invite_url(application_id: int) -> str:
    return discord.utils.oauth_url(application_id, permissions=INVITE_PERMISSIONS,
                                   scopes=("bot", "applications.commands"))
