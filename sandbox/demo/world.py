"""The demo world shared by the browser demo and the scripted story.

One Chastify stand-in on loopback holding one lock (reachable with :data:`DEMO_TOKEN`), the real bot built by
``bot.app.create_bot`` inside simcord, a demo server with a few members, and settings that suit a demo
(quorum 2, two-minute votes, no minimum account age). The database and the key live in a temporary directory
that is removed at the end; the Discord token is never needed (simcord is the Discord).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import simcord
from cryptography.fernet import Fernet

from bot.app import ChastifyBot, create_bot
from bot.config import ENV_PREFIX, Settings, load_settings
from sandbox.chastify import FakeLock, StandIn

DEMO_TOKEN = "dev-token-demo"  # the stand-in's demo token, not a secret
LOCK_TITLE = "Demo Weekend Lock"
GUILD_NAME = "Lock Club (demo)"
CHANNEL_NAME = "votes"
VOTE_WINDOW_SECONDS = 120
QUORUM = 2
BOT_NAME = "Chastify Bot"


class EnvClock:
    """The stand-in's clock: real time until the simcord env runs, then the env's virtual time.

    The stand-in answers on its own thread, where ``discord.utils.utcnow`` is not virtualised, so it reads
    ``env.now()`` directly.
    """

    def __init__(self) -> None:
        self.env: Any = None

    def __call__(self) -> float:
        return self.env.now().timestamp() if self.env is not None else time.time()


def demo_settings(data_dir: Path, chastify_url: str, *, log_level: str = "WARNING") -> Settings:
    """Settings for the demo: a temp database, a generated key, the stand-in, short votes.

    The demo reads no config file and ignores ``CHASTIFY_BOT_*`` / ``DISCORD_TOKEN`` from the environment,
    so a real installation's settings (or token) never leak into it.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    empty = data_dir / "demo.toml"
    empty.write_text("# the demo's settings are given in code (sandbox/demo/world.py)\n", encoding="utf-8")
    with _without_bot_env():
        return load_settings(
            empty,
            discord={"token": None},
            storage={"database_path": data_dir / "bot.db", "key": Fernet.generate_key().decode(), "key_file": None},
            chastify={"base_url": chastify_url, "max_retries": 1},
            votes={
                "quorum": QUORUM,
                "window_seconds": VOTE_WINDOW_SECONDS,
                "min_account_age_days": 0,
                "proposal_cooldown_seconds": 0,
                "tally_debounce_seconds": 0.5,  # snappy in the browser; each reaction waits this long to settle
            },
            limits={"min_vote_quorum": QUORUM},
            logging={"level": log_level},
        )


@contextmanager
def _without_bot_env() -> Iterator[None]:
    hidden = {k: v for k, v in os.environ.items() if k.upper().startswith(ENV_PREFIX) or k == "DISCORD_TOKEN"}
    for name in hidden:
        del os.environ[name]
    try:
        yield
    finally:
        os.environ.update(hidden)


@dataclass
class DemoWorld:
    env: Any
    standin: StandIn
    lock: FakeLock
    settings: Settings
    guild: Any
    channel: Any
    owner: Any  # wears the lock, links it
    friend: Any  # trusted by the owner in the story
    voters: list[Any]
    admin: Any

    @property
    def members(self) -> list[Any]:
        return [self.owner, self.friend, *self.voters, self.admin]

    @property
    def bot(self) -> ChastifyBot:
        bot: ChastifyBot = self.env.bot
        return bot

    @property
    def lock_page_url(self) -> str:
        return f"{self.standin.base_url}/sandbox/locks/{self.lock.id}?refresh=2"


@asynccontextmanager
async def demo_world(*, standin_port: int = 0, check_errors: bool = True,
                     log_level: str = "WARNING") -> AsyncIterator[DemoWorld]:
    """Start the stand-in and the bot inside simcord; yield the world; tear everything down."""
    clock = EnvClock()
    with tempfile.TemporaryDirectory(prefix="chastify-demo-") as tmp:
        data_dir = Path(tmp) / "data"
        async with StandIn(clock=clock, host="127.0.0.1", port=standin_port) as standin:
            settings = demo_settings(data_dir, standin.base_url, log_level=log_level)
            bot = create_bot(settings)
            try:
                async with simcord.run(bot, check_errors=check_errors) as env:
                    clock.env = env
                    try:
                        yield await _populate(env, standin, settings)
                    finally:
                        clock.env = None
            finally:
                # simcord detaches the bot but does not close it: close the database, the outbox and the HTTP
                # client here (an open aiosqlite connection keeps a thread that would block the exit)
                await bot.close()


async def _populate(env: Any, standin: StandIn, settings: Settings) -> DemoWorld:
    """The demo lock on the stand-in; the demo server, its channel and members in simcord."""
    import discord

    lock = standin.add_lock(DEMO_TOKEN, title=LOCK_TITLE, remaining=2 * 86400,
                            wearer="wearer_wendy", keyholder="keyholder_kim")
    guild = env.create_guild(name=GUILD_NAME)
    channel = guild.create_text_channel(CHANNEL_NAME)
    admins = guild.create_role("Admins", permissions=discord.Permissions(manage_guild=True))
    owner = guild.add_member(env.create_user("wearer_wendy", global_name="Wendy (wears the lock)"))
    friend = guild.add_member(env.create_user("friend_fred", global_name="Fred (friend)"))
    voters = [guild.add_member(env.create_user(name, global_name=label))
              for name, label in (("voter_vic", "Vic (voter)"), ("voter_val", "Val (voter)"),
                                  ("voter_vera", "Vera (voter)"))]
    admin = guild.add_member(env.create_user("admin_ada", global_name="Ada (admin)"), roles=[admins])
    await env.bot.tree.sync()
    with contextlib.suppress(discord.HTTPException):
        await env.bot.user.edit(username=BOT_NAME)  # simcord names every bot "TestBot"
    return DemoWorld(env=env, standin=standin, lock=lock, settings=settings, guild=guild, channel=channel,
                     owner=owner, friend=friend, voters=voters, admin=admin)
