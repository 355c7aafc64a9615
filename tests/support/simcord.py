"""The real bot inside simcord against the stand-in: the ``world`` fixture, and readers for what a member sees
(no assertions of their own beyond the shape they promise).

The stand-in follows Discord's clock (simcord's virtual time once the env runs), so advancing simcord's time moves
the lock's timer too. Add locks after the env has started (inside tests or the ``world`` fixture).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import discord
import pytest

from bot.app import create_bot
from bot.config import Settings
from sandbox.chastify import StandIn
from tests.support.clock import SharedClock


# ---------------------------------------------------------------------------------------------- the world
@pytest.fixture
async def started_bots() -> AsyncIterator[list[discord.Client]]:
    """Every bot a test ran in simcord: the first, then those it restarted into. simcord detaches a bot but does
    not close it: they are closed here, once the env is gone (this fixture is set up before it), so no database
    thread outlives its test and keeps the test process alive."""
    bots: list[discord.Client] = []
    yield bots
    first, restarted = bots[:1], bots[1:]
    for bot in first + restarted[::-1]:
        if not bot.is_closed():
            await bot.close()


@pytest.fixture
def simcord_bot(bot_settings: Settings, started_bots: list[discord.Client]) -> discord.Client:
    bot = create_bot(bot_settings)
    started_bots.append(bot)
    return bot


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
    started_bots: list[discord.Client] = field(default_factory=list)

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
async def world(simcord_env: Any, chastify: StandIn, shared_clock: SharedClock,
                started_bots: list[discord.Client]) -> World:
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
    return World(env, guild, channel, owner, friend, stranger, admin, chastify, started_bots)


# ---------------------------------------------------------------------------------------------- interactions
def messages(result: Any) -> list[Any]:
    """Every message the member got for one interaction: the response, then the followups."""
    return ([result.response] if result.response is not None else []) + list(result.followups)


def reply(result: Any) -> Any:
    """What the member sees last for an interaction: the newest followup, else the response."""
    return result.followups[-1] if result.followups else result.response


def reply_text(result: Any) -> str:
    return reply(result).content or ""


def refusal(result: Any) -> str:
    """The text of an ephemeral refusal; fails unless every message of the interaction is ephemeral and
    the last one carries the ⛔ marker."""
    seen = messages(result)
    assert seen, "the member saw nothing"
    assert all(m.ephemeral for m in seen), [(m.ephemeral, m.content) for m in seen]
    text = seen[-1].content
    assert text.startswith("⛔ "), text
    return text


def public(result: Any) -> Any:
    """The one public message of an interaction (fails if there is none or more than one)."""
    shown = [m for m in messages(result) if not m.ephemeral]
    assert len(shown) == 1, [(m.ephemeral, m.content) for m in messages(result)]
    return shown[0]


def public_text(result: Any) -> str:
    msg = public(result)
    parts = [msg.content]
    for embed in msg.embeds:
        parts += [embed.title or "", embed.description or ""]
        parts += [f"{f.name}: {f.value}" for f in embed.fields]
        if embed.footer and embed.footer.text:
            parts.append(embed.footer.text)
    return "\n".join(p for p in parts if p)


# ---------------------------------------------------------------------------------------------- messages
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


def message_posts(env: Any, since: int = 0) -> list[Any]:
    """The bodies of every message the bot sent or edited (interaction callbacks, followups, channel posts)."""
    out = []
    for r in env.http_requests[since:]:
        body = r.json if isinstance(r.json, dict) else None
        if body is None:
            continue
        if "/callback" in r.path:
            body = body.get("data") or {}
        if "content" in body or "embeds" in body:
            out.append(body)
    return out
