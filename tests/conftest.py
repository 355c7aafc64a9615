"""Shared fixtures: the Chastify stand-in over loopback and the real bot inside simcord.

The stand-in follows Discord's clock (simcord's virtual time once the env runs), so advancing simcord's
time moves the lock's timer too. Add locks after the env has started (inside tests or the `world` fixture).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
import pytest
from cryptography.fernet import Fernet
from hypothesis import settings as hypothesis_settings

from bot.app import create_bot
from bot.config import Settings, load_settings
from sandbox.chastify import StandIn
from sandbox.chastify.testing import fake_clock, make_standin  # noqa: F401  (fixtures)

# CI (CI=true) explores the same hypothesis examples every run, so a submission passes or fails on its own code;
# a developer's run draws new examples each time and finds what CI would not
hypothesis_settings.register_profile("ci", derandomize=True)
if os.environ.get("CI", "").lower() == "true":
    hypothesis_settings.load_profile("ci")


class SharedClock:
    """The stand-in's clock: real time until the simcord env runs, then the env's virtual time (read from the
    stand-in's own thread, where discord.utils.utcnow is not virtualised)."""

    def __init__(self) -> None:
        self.env: Any = None

    def __call__(self) -> float:
        return self.env.now().timestamp() if self.env is not None else time.time()


@pytest.fixture
def shared_clock() -> SharedClock:
    return SharedClock()


@pytest.fixture
def chastify(shared_clock: SharedClock) -> Iterator[StandIn]:
    with StandIn(clock=shared_clock) as server:
        yield server


def reply(result: Any) -> Any:
    """What the member sees last for an interaction: the newest followup, else the response."""
    return result.followups[-1] if result.followups else result.response


@pytest.fixture
def bot_settings(tmp_path: Path, chastify: StandIn, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in ("DISCORD_TOKEN", "CHASTIFY_BOT_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return load_settings(
        None,
        storage={"database_path": tmp_path / "data" / "bot.db", "key": Fernet.generate_key().decode()},
        chastify={"base_url": chastify.base_url, "max_retries": 2},
        votes={"min_account_age_days": 0, "tally_debounce_seconds": 2.0},
    )


@pytest.fixture
async def simcord_bot(bot_settings: Settings) -> AsyncIterator[discord.Client]:
    # simcord detaches the bot but does not close it: close it so its database thread ends and the
    # test process can exit.
    bot = create_bot(bot_settings)
    yield bot
    if not bot.is_closed():
        await bot.close()


@dataclass
class World:
    env: Any
    guild: Any
    channel: Any
    owner: Any
    friend: Any
    stranger: Any
    admin: Any
    chastify: StandIn

    @property
    def bot(self) -> Any:
        return self.env.bot

    async def link(self, member: Any = None, token: str = "dev-token-owner", **lock: Any) -> Any:
        """Give ``member`` an active lock on the stand-in and link it through the real modal."""
        member = member or self.owner
        fake = self.chastify.add_lock(token, **lock)
        shown = await member.slash(self.channel, "chastify link")
        assert shown.modal is not None, "the link command must answer with a modal"
        done = await member.submit_modal(shown, {"dev_token": token})
        return fake, done


@pytest.fixture
async def world(simcord_env: Any, chastify: StandIn, shared_clock: SharedClock) -> World:
    env = simcord_env
    shared_clock.env = env
    guild = env.create_guild(name="Lock Club")
    channel = guild.create_text_channel("general")
    admins = guild.create_role("Admins", permissions=discord.Permissions(manage_guild=True))
    owner = guild.add_member(env.create_user("wearer_wendy"))
    friend = guild.add_member(env.create_user("friend_fred"))
    stranger = guild.add_member(env.create_user("stranger_sam"))
    admin = guild.add_member(env.create_user("admin_ada"), roles=[admins])
    await env.bot.tree.sync()
    return World(env, guild, channel, owner, friend, stranger, admin, chastify)


def pytest_unconfigure(config: pytest.Config) -> None:
    """A thread left running by a test (a bot never closed keeps its database thread) would keep the test
    process alive after the last test, and CI would wait for it until its time ran out: fail loudly instead."""
    left = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon and t.is_alive()]
    for t in left:
        t.join(timeout=2)
    left = [t for t in left if t.is_alive()]
    if left:
        print(f"\nthreads left running after the tests (a bot or database never closed?): "
              f"{', '.join(t.name for t in left)}", flush=True)
        os._exit(int(pytest.ExitCode.TESTS_FAILED))
