"""Helpers shared by the vote tests (``tests/test_voting*.py``, ``tests/cogs/test_votes*.py``); no tests here.

Import the fixtures into a test module to use them there::

    from tests.test_voting_kit import bot_settings, within_rate_limit  # noqa: F401

``bot_settings`` overrides the conftest's: no proposal cooldown, no account-age minimum, and a tally debounce
longer than simcord's settle horizon (5 s), so that after the first edit a burst of reactions is shown only
when a test advances the virtual clock, never by a real-time wait.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import discord
import pytest
from cryptography.fernet import Fernet

from bot.app import ChastifyBot
from bot.config import Settings, load_settings
from sandbox.chastify import StandIn
from sandbox.chastify.server import RecordedRequest

DEBOUNCE = 10.0
APPLY_TIME = "/api/apps/v1/lock/apply-time"
ACTION = "/api/apps/v1/action"
CUSTOM_LOG = "/api/apps/v1/logs/custom"


def vote_settings(tmp_path: Path, chastify: StandIn, monkeypatch: pytest.MonkeyPatch, **votes: Any) -> Settings:
    for name in ("DISCORD_TOKEN", "CHASTIFY_BOT_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return load_settings(
        None,
        storage={"database_path": tmp_path / "data" / "bot.db", "key": Fernet.generate_key().decode()},
        chastify={"base_url": chastify.base_url, "max_retries": 2},
        votes={"min_account_age_days": 0, "tally_debounce_seconds": DEBOUNCE, "proposal_cooldown_seconds": 0,
               **votes},
    )


@pytest.fixture
def bot_settings(tmp_path: Path, chastify: StandIn, monkeypatch: pytest.MonkeyPatch) -> Settings:
    return vote_settings(tmp_path, chastify, monkeypatch)


@pytest.fixture(autouse=True)
def within_rate_limit(chastify: StandIn) -> Iterator[None]:
    """No vote test may make the stand-in answer 429: the bot stays within Chastify's rate limit."""
    yield
    assert chastify.rate_limited_count == 0, "the stand-in rate limited the bot"


# ---------------------------------------------------------------------------------------------- the world
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


def message(channel: Any, message_id: int) -> discord.Message:
    """The message as it is now (after every edit)."""
    found = [m for m in channel.history() if m.id == message_id]
    assert found, f"message {message_id} is gone"
    return found[0]


def embed_of(channel: Any, message_id: int) -> discord.Embed:
    got = message(channel, message_id)
    assert len(got.embeds) == 1
    return got.embeds[0]


def fields(embed: discord.Embed) -> dict[str, str]:
    return {f.name or "": f.value or "" for f in embed.fields}


def outcome(channel: Any, message_id: int) -> tuple[str, str] | None:
    """(status, text) of a closed vote's embed, None while it is open."""
    for name, value in fields(embed_of(channel, message_id)).items():
        if name.startswith("Outcome · "):
            return name.removeprefix("Outcome · "), value
    return None


def edits(env: Any, message_id: int) -> int:
    """How many times the bot edited this message (PATCH requests)."""
    return sum(1 for r in env.http_requests if r.method == "PATCH" and r.path.endswith(f"/messages/{message_id}"))


def reached(chastify: StandIn, path: str) -> list[RecordedRequest]:
    """Requests to ``path`` the stand-in applied."""
    return [r for r in chastify.action_requests() if r.path == path]


def writes(chastify: StandIn) -> list[RecordedRequest]:
    """Every lock action or custom log the stand-in received, applied or not."""
    return [r for r in chastify.requests if r.kind == "action"]


def reply_text(result: Any) -> str:
    shown = result.followups[-1] if result.followups else result.response
    return shown.content or ""


class DowntimeBot(ChastifyBot):
    """A fresh bot for ``env.restart_bot`` that first runs ``while_down``: the gateway events it causes arrive
    before any cog is loaded and reach nobody, as if the bot had been down when they happened."""

    def __init__(self, settings: Settings, while_down: Callable[[], None]) -> None:
        super().__init__(settings)
        self._while_down = while_down

    async def setup_hook(self) -> None:
        self._while_down()
        await super().setup_hook()


# bots started by crash_and_restart; ``close_restarted_bots`` closes them once the env is gone (the conftest
# closes only the first bot), so no database thread outlives its test and keeps the test process alive
RESTARTED: list[ChastifyBot] = []


@pytest.fixture(autouse=True)
async def close_restarted_bots() -> AsyncIterator[None]:
    """Autouse where imported: set up before the env, so torn down after it."""
    yield
    while RESTARTED:
        bot = RESTARTED.pop()
        if not bot.is_closed():
            await bot.close()


async def crash_and_restart(world: Any, settings: Settings, while_down: Callable[[], None] = lambda: None) -> None:
    """Stop the bot without any goodbye (ballots still buffered in memory are lost, as in a crash), let
    ``while_down`` change the world, then start a fresh bot on the same database."""
    old = world.env.bot
    new = DowntimeBot(settings, while_down)
    RESTARTED.append(new)
    await world.env.restart_bot(new)
    # the old process is gone: release its database and HTTP client without flushing anything
    await old._client.aclose()
    await old._store.close()


def set_reaction(world: Any, member: Any, message: Any, emoji: str, reacted: bool) -> None:
    """Change a reaction directly in simcord's backend (no permission check, no settle): for ``while_down``."""
    world.env.backend.set_reaction(message.channel.id, message.id, emoji, member.id, reacted)
