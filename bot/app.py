"""Builds the bot: ``create_bot(settings)`` -> a ``commands.Bot`` whose ``setup_hook`` opens the database,
the token vault and the Chastify client, builds the core (``bot.wiring``) and loads the extensions by name;
``close()`` closes them all.

One of the two modules of ``bot/`` that import discord (the other is the CLI). It imports no cog: the Discord
layer (commands, listeners, the central error handler) is the extensions in ``EXTENSIONS``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import discord
from discord.ext import commands

from bot.chastify import ActionLimiter, ChastifyClient, Timeouts
from bot.clock import Clock
from bot.config import Settings, database_target
from bot.keycheck import open_vault
from bot.services import Core
from bot.store import Store
from bot.wiring import build_core

log = logging.getLogger("bot.app")

# the Discord layer, loaded by name: the central error handler first, then the commands
EXTENSIONS = ("cogs.errors", "cogs.chastify", "cogs.notify", "cogs.lock", "cogs.votes")

# Least permissions the bot needs (see README): view channels, send messages, embed links,
# read message history (to reconcile reactions after a restart), add reactions (the ✅ ❌ 🔼 🔽 it puts on votes).
INVITE_PERMISSIONS = discord.Permissions(
    view_channel=True, send_messages=True, embed_links=True, read_message_history=True, add_reactions=True,
)


def discord_clock() -> float:
    """Discord's notion of now (simcord makes it virtual in tests)."""
    return discord.utils.utcnow().timestamp()


class DiscordPresence:
    """Whether a member is still in a server, asked of Discord (one REST call; the core caches the answer)."""

    def __init__(self, bot: discord.Client) -> None:
        self._bot = bot

    async def member_present(self, guild_id: int, member_id: int) -> bool | None:
        guild = self._bot.get_guild(guild_id)
        if guild is None:
            return False  # the bot itself is no longer there
        try:
            await guild.fetch_member(member_id)
        except discord.NotFound:
            return False
        except discord.HTTPException as err:
            log.warning("could not fetch a lock owner's membership (%s)", type(err).__name__,
                        extra={"guild": guild_id})
            return None
        return True


class ChastifyBot(commands.Bot):
    core: Core

    def __init__(self, settings: Settings, *, clock: Clock = discord_clock, new_key: bool = False) -> None:
        discord_settings = settings.discord
        shard_options: dict[str, Any] = {}
        if isinstance(self, commands.AutoShardedBot):
            shard_options = {"shard_count": discord_settings.shard_count, "shard_ids": discord_settings.shard_ids}
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            # every event the bot reads is a raw one (reactions, deletes) and it fetches what it needs: discord.py's
            # default cache of 1,000 messages would only cost memory and a scan per event
            max_messages=None,
            **shard_options,
        )
        self.settings = settings
        self.clock = clock
        self.new_key = new_key  # `python -m bot run --new-key`: go on past tokens the key cannot read (bot.keycheck)
        self._store: Store | None = None
        self._client: ChastifyClient | None = None
        self._immediate: dict[str, list[Callable[..., None]]] = {}

    async def setup_hook(self) -> None:
        settings = self.settings
        store = await Store.open(database_target(settings), clock=self.clock)
        self._store = store
        # refuses (KeyProblem) when links exist that the key cannot read, unless started with --new-key
        vault = (await open_vault(settings, store, new_key=self.new_key)).vault
        limiter = ActionLimiter(per_minute=settings.chastify.actions_per_minute, clock=self.clock)
        c = settings.chastify
        self._client = ChastifyClient(
            c.base_url,
            timeouts=Timeouts(connect=c.connect_timeout, read=c.read_timeout, total=c.total_timeout),
            limiter=limiter, max_retries=c.max_retries)
        self.core = build_core(settings, store=store, vault=vault, client=self._client, limiter=limiter,
                               clock=self.clock, presence=DiscordPresence(self))
        for ext in EXTENSIONS:
            await self.load_extension(ext)
        await self.core.outbox.recover()

    def on_now(self, event: str, handler: Callable[..., None]) -> Callable[[], None]:
        """Run ``handler(*args)`` for every ``event`` (a discord.py event name without ``on_``) right as the gateway
        delivers it, in its order, before any listener task: for work that must not wait (a ballot). Returns
        the way to stop."""
        handlers = self._immediate.setdefault(event, [])
        handlers.append(handler)

        def stop() -> None:
            if handler in handlers:
                handlers.remove(handler)

        return stop

    def dispatch(self, event_name: str, /, *args: Any, **kwargs: Any) -> None:
        for handler in self._immediate.get(event_name, ()):
            try:
                handler(*args, **kwargs)
            except Exception:
                log.exception("an immediate handler of %s failed", event_name)
        super().dispatch(event_name, *args, **kwargs)

    async def close(self) -> None:
        try:
            for ext in list(self.extensions):
                await self.unload_extension(ext)
            if hasattr(self, "core"):
                await self.core.outbox.close()
                await self.core.aclose()
            if self._client is not None:
                await self._client.aclose()
            if self._store is not None:
                await self._store.close()
        finally:
            await super().close()


class ShardedChastifyBot(ChastifyBot, commands.AutoShardedBot):
    """The bot running ``discord.shard_ids`` of ``discord.shard_count`` shards in one process (discord.py's
    AutoShardedBot); the guilds it owns are those on its shards (``bot.shards``)."""


def create_bot(settings: Settings, **kwargs: Any) -> ChastifyBot:
    """The bot for these settings: sharded when ``discord.shard_count`` is set. ``discord.api_base`` points
    discord.py at another Discord API root."""
    base = settings.discord.api_base.rstrip("/")
    if base != "https://discord.com/api":
        discord.http.Route.BASE = base
    if settings.discord.shard_count is not None:
        return ShardedChastifyBot(settings, **kwargs)
    return ChastifyBot(settings, **kwargs)


def invite_url(application_id: int) -> str:
    return discord.utils.oauth_url(application_id, permissions=INVITE_PERMISSIONS,
                                   scopes=("bot", "applications.commands"))
