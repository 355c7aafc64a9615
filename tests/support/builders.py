"""Changing the simcord world from a test: members, reactions, proposals, and restarting the bot."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.app import ChastifyBot
from bot.config import Settings
from tests.support.simcord import message


def add_members(world: Any, n: int, prefix: str = "voter", roles: tuple[Any, ...] = ()) -> list[Any]:
    return [world.guild.add_member(world.env.create_user(f"{prefix}{i}"), roles=list(roles)) for i in range(n)]


async def react_all(members: list[Any], message: Any, emoji: str) -> None:
    for member in members:
        await member.react(message, emoji)


async def propose(world: Any, who: Any, command: str, channel: Any = None, **options: Any) -> tuple[Any, Any]:
    """Run ``/vote <command>``; returns the interaction result and the vote message (None when refused)."""
    channel = channel or world.channel
    before = {m.id for m in channel.history()}
    result = await who.slash(channel, f"vote {command}", **options)
    posted = [m for m in channel.history() if m.id not in before and m.embeds]
    if result.response is not None and not result.ephemeral:
        return result, message(channel, result.response.id)
    return result, posted[-1] if posted else None


def set_reaction(world: Any, member: Any, message: Any, emoji: str, reacted: bool) -> None:
    """Change a reaction directly in simcord's backend (no permission check, no settle): for ``while_down``."""
    world.env.backend.set_reaction(message.channel.id, message.id, emoji, member.id, reacted)


async def restart_into(world: Any, new: Any) -> None:
    """Stop the bot without any goodbye (what it still buffers in memory is lost, as in a crash) and start ``new``
    (a fresh bot, on the same database or not) in its place. The ``started_bots`` fixture closes both later."""
    old = world.env.bot
    world.started_bots.append(new)
    await world.env.restart_bot(new)
    # the old process is gone: release its database and HTTP client without flushing anything
    await old._client.aclose()
    await old._store.close()


class DowntimeBot(ChastifyBot):
    """A fresh bot for ``env.restart_bot`` that first runs ``while_down``: the gateway events it causes arrive
    before any cog is loaded and reach nobody, as if the bot had been down when they happened."""

    def __init__(self, settings: Settings, while_down: Callable[[], None]) -> None:
        super().__init__(settings)
        self._while_down = while_down

    async def setup_hook(self) -> None:
        self._while_down()
        await super().setup_hook()


async def crash_and_restart(world: Any, settings: Settings, while_down: Callable[[], None] = lambda: None) -> None:
    """Crash the bot (ballots still buffered in memory are lost), let ``while_down`` change the world, then start a
    fresh bot on the same database."""
    await restart_into(world, DowntimeBot(settings, while_down))
