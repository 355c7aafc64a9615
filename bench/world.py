"""A big, busy Discord world for the benches: guilds and vote messages inside simcord, gateway payloads
shaped like simcord's own (``simcord/backend/ops/reactions.py`` and ``backend/serializers.py``).

Reaction events are fed straight into discord.py's ``ConnectionState.parsers`` (the same seam simcord's
gateway uses), skipping simcord's per-action settling so the bench times the bot, not the harness.
"""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import discord
from discord.ext import commands

from bot.actions import Action, ActionKind

DECISION = ("✅", "❌")
BOARD = ("🔼", "🔽")
_EPOCH_2020 = datetime(2020, 1, 1, tzinfo=UTC)


def voter_id(guild_index: int, voter: int) -> int:
    """A stable snowflake from 2020 (old enough for any minimum account age)."""
    return discord.utils.time_snowflake(_EPOCH_2020) + (guild_index << 20) + voter


def user_payload(user_id: int) -> dict[str, Any]:
    name = f"voter{user_id % 10_000_000}"
    return {"id": str(user_id), "username": name, "discriminator": "0", "global_name": name, "avatar": None,
            "bot": False, "system": False, "public_flags": 0, "verified": True, "mfa_enabled": False,
            "locale": "en-US", "flags": 0}


def member_payload(user_id: int, roles: Iterable[int] = ()) -> dict[str, Any]:
    return {"roles": [str(r) for r in roles], "nick": None, "joined_at": "2025-06-01T00:00:00+00:00",
            "premium_since": None, "deaf": False, "mute": False, "pending": False, "flags": 0,
            "communication_disabled_until": None, "avatar": None, "user": user_payload(user_id)}


def emoji_payload(emoji: str) -> dict[str, Any]:
    return {"id": None, "name": emoji}


# ============================================================================================ the script


@dataclass(frozen=True, slots=True)
class Step:
    """One reaction change: a member of guild ``guild`` adds or removes ``emoji`` on vote ``vote``."""

    vote: int  # index into the world's votes
    voter: int  # index inside the guild's member pool
    emoji: str
    added: bool


@dataclass
class Script:
    steps: list[Step]
    kinds: dict[str, int]  # new / switch / retract / cleanup event counts
    ballot_changes: int  # events that change a ballot under the bot's rules


def make_script(vote_kinds: list[str], vote_guild: list[int], *, events: int, voters_per_guild: int,
                seed: int = 6, mix: tuple[float, float, float] = (0.55, 0.25, 0.20)) -> Script:
    """A coherent stream of reaction changes (nobody removes a reaction they do not have, nobody adds one twice):
    new ballots, switches (add the other emoji, and half the time remove the old one as a separate event) and
    retractions, over uniformly chosen votes."""
    rng = random.Random(seed)
    n = len(vote_kinds)
    # per vote: voters with no reaction are everyone not in `has`; `single` = exactly one reaction = their ballot
    has: list[dict[int, set[str]]] = [{} for _ in range(n)]
    single: list[list[int]] = [[] for _ in range(n)]
    where: list[dict[int, int]] = [{} for _ in range(n)]
    steps: list[Step] = []
    kinds = {"new": 0, "switch": 0, "retract": 0, "cleanup": 0}
    ballot: dict[tuple[int, int], str] = {}
    changes = 0

    def add_single(v: int, voter: int) -> None:
        where[v][voter] = len(single[v])
        single[v].append(voter)

    def drop_single(v: int, voter: int) -> None:
        i = where[v].pop(voter)
        last = single[v].pop()
        if last != voter:
            single[v][i] = last
            where[v][last] = i

    def emit(v: int, voter: int, emoji: str, added: bool) -> None:
        nonlocal changes
        steps.append(Step(v, voter, emoji, added))
        key = (v, voter)
        if added:
            if ballot.get(key) != emoji:
                ballot[key] = emoji
                changes += 1
        elif ballot.get(key) == emoji:
            del ballot[key]
            changes += 1

    while len(steps) < events:
        v = rng.randrange(n)
        pair = DECISION if vote_kinds[v] == "decision" else BOARD
        roll = rng.random()
        if roll < mix[0] or not single[v]:
            voter = rng.randrange(voters_per_guild)
            if voter in has[v]:
                continue
            emoji = pair[rng.random() < 0.35]
            has[v][voter] = {emoji}
            add_single(v, voter)
            emit(v, voter, emoji, True)
            kinds["new"] += 1
        elif roll < mix[0] + mix[1]:
            voter = single[v][rng.randrange(len(single[v]))]
            (old,) = has[v][voter]
            new = pair[1] if old == pair[0] else pair[0]
            has[v][voter].add(new)
            drop_single(v, voter)
            emit(v, voter, new, True)
            kinds["switch"] += 1
            if rng.random() < 0.5 and len(steps) < events:
                has[v][voter].discard(old)
                add_single(v, voter)
                emit(v, voter, old, False)
                kinds["cleanup"] += 1
        else:
            voter = single[v][rng.randrange(len(single[v]))]
            (old,) = has[v][voter]
            drop_single(v, voter)
            del has[v][voter]
            emit(v, voter, old, False)
            kinds["retract"] += 1
    return Script(steps, kinds, changes)


def expected_ballots(script: Script, vote_ids: list[int], guild_of_vote: list[int]) -> dict[tuple[int, int], int]:
    """The ballots the bot must hold after the script: the latest reaction wins, removing it retracts."""
    choice = {"✅": 1, "❌": -1, "🔼": 1, "🔽": -1}
    out: dict[tuple[int, int], int] = {}
    for s in script.steps:
        key = (vote_ids[s.vote], voter_id(guild_of_vote[s.vote], s.voter))
        c = choice[s.emoji]
        if s.added:
            out[key] = c
        elif out.get(key) == c:
            del out[key]
    return out


# ============================================================================================ the world


@dataclass
class VoteMessage:
    index: int
    guild_index: int
    guild_id: int
    channel_id: int
    message_id: int
    kind: str
    vote_id: int = 0


@dataclass
class World:
    guild_ids: list[int]
    channel_ids: list[int]
    votes: list[VoteMessage] = field(default_factory=list)
    env: Any = None
    guilds: list[Any] = field(default_factory=list)  # simcord guild handles, by index

    def payloads(self, script: Script) -> list[tuple[str, dict[str, Any]]]:
        """The script as gateway dispatches (event name, data), built before any timing starts."""
        members: dict[tuple[int, int], dict[str, Any]] = {}
        emojis = {e: emoji_payload(e) for e in DECISION + BOARD}
        out: list[tuple[str, dict[str, Any]]] = []
        for s in script.steps:
            vm = self.votes[s.vote]
            uid = voter_id(vm.guild_index, s.voter)
            data: dict[str, Any] = {"user_id": str(uid), "channel_id": str(vm.channel_id),
                                    "message_id": str(vm.message_id), "emoji": emojis[s.emoji], "burst": False,
                                    "type": 0, "guild_id": str(vm.guild_id)}
            if s.added:
                key = (vm.guild_index, s.voter)
                member = members.get(key)
                if member is None:
                    member = members[key] = member_payload(uid)
                data["member"] = member
                out.append(("MESSAGE_REACTION_ADD", data))
            else:
                out.append(("MESSAGE_REACTION_REMOVE", data))
        return out


def vote_layout(guilds: int, votes: int, board_share: float = 0.1) -> tuple[list[int], list[str]]:
    """Which guild each vote is in (round robin) and its kind (every 10th a time board)."""
    every = max(1, round(1 / board_share)) if board_share > 0 else 0
    guild_of = [i % guilds for i in range(votes)]
    kinds = ["board" if every and i % every == every - 1 else "decision" for i in range(votes)]
    return guild_of, kinds


def make_guilds(env: Any, guilds: int) -> World:
    gids, cids, handles = [], [], []
    for g in range(guilds):
        guild = env.create_guild(name=f"Lock Club {g}")
        channel = guild.create_text_channel("votes")
        gids.append(guild.id)
        cids.append(channel.id)
        handles.append(guild)
    return World(gids, cids, env=env, guilds=handles)


async def post_messages(bot: discord.Client, world: World, guild_of: list[int], kinds: list[str],
                        embeds: list[discord.Embed] | None = None, *, react: bool = True) -> None:
    """The bot posts one message per vote (so discord.py caches it, as after a real proposal) and adds the
    two reactions it puts on every vote."""
    for i, (g, kind) in enumerate(zip(guild_of, kinds, strict=True)):
        channel = bot.get_channel(world.channel_ids[g])
        assert isinstance(channel, discord.TextChannel), channel
        embed = embeds[i] if embeds else discord.Embed(title=f"Vote {i}")
        message = await channel.send(embed=embed)
        if react:
            for emoji in (DECISION if kind == "decision" else BOARD):
                await message.add_reaction(emoji)
        world.votes.append(VoteMessage(i, g, world.guild_ids[g], channel.id, message.id, kind))


async def link_locks(bot: Any, world: World, locks: int, add_lock: Callable[[str], str],
                     prefix: str) -> tuple[list[Any], list[str]]:
    """``locks`` links recorded as /chastify link records them, lock ``k`` in guild ``k % guilds``, each on a
    new stand-in lock made by ``add_lock(token) -> lock id``. Returns the links and their lock ids."""
    store, vault = bot.core.store, bot.core.vault
    links, lock_ids = [], []
    guilds = len(world.guild_ids)
    for k in range(locks):
        g = k % guilds
        token = f"dev-bench-{prefix}-{k}"
        lock_ids.append(add_lock(token))
        # the owner is a member of the server: a vote closes only while its lock's owner is still there
        owner = world.guilds[g].add_member(world.env.create_user(f"owner-{prefix}-{k}"))
        links.append(await store.links.upsert(
            guild_id=world.guild_ids[g], owner_id=owner.id, token_ciphertext=vault.encrypt(token),
            lock_id=lock_ids[-1], role="wearer", title=f"Lock {k}"))
    return links, lock_ids


def decision_action(i: int) -> Action:
    kinds = (ActionKind.ADD_TIME, ActionKind.FREEZE, ActionKind.PILLORY, ActionKind.REMOVE_TIME)
    kind = kinds[i % len(kinds)]
    return Action(kind=kind, seconds=600, reason=f"bench vote {i}")


def lock_id() -> str:
    return secrets.token_hex(12)


class BareBot(commands.Bot):
    """The baseline: discord.py with no-op raw reaction listeners, same intents as the real bot."""

    def __init__(self) -> None:
        super().__init__(command_prefix=commands.when_mentioned, intents=discord.Intents.default(),
                         help_command=None)
        self.seen = 0

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        self.seen += 1

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        self.seen += 1


async def feed(bot: discord.Client, payloads: list[tuple[str, dict[str, Any]]], *, chunk: int = 100) -> None:
    """Hand the payloads to discord.py's parsers as the gateway reader would, yielding to the loop every
    ``chunk`` events (a websocket read that finds several frames buffered does not yield in between)."""
    parsers = bot._connection.parsers
    add, remove = parsers["MESSAGE_REACTION_ADD"], parsers["MESSAGE_REACTION_REMOVE"]
    for start in range(0, len(payloads), chunk):
        for event, data in payloads[start:start + chunk]:
            (add if event == "MESSAGE_REACTION_ADD" else remove)(data)
        await asyncio.sleep(0)


async def listeners_done() -> None:
    """Wait for every dispatched raw reaction listener task (discord.py names them ``discord.py: <event>``)."""
    while True:
        pending = [t for t in asyncio.all_tasks() if not t.done()
                   and t.get_name().startswith("discord.py: on_raw_reaction")]
        if not pending:
            return
        await asyncio.wait(pending)
