"""Scenario 8: ballot ingestion over a real loopback websocket.

A minimal fake Discord runs in a process of its own: a REST root (``/users/@me``, the application, message reads
and edits) and a gateway websocket that speaks as Discord does (HELLO, IDENTIFY, heartbeats and their ACKs,
READY, one GUILD_CREATE per guild, a MESSAGE_CREATE per vote message), every frame JSON compressed into one
zlib stream with a sync flush per message (``compress=zlib-stream``, what discord.py asks for). Each bot runs in
a fresh process and connects to it as it would to Discord (discord.py 2.7 opens
``DiscordWebSocket.DEFAULT_GATEWAY``, patched here to the loopback address, and ``Route.BASE`` for REST).

When a bot is ready, the gateway sends the same ``MESSAGE_REACTION_ADD/REMOVE`` frames as scenario 1, compressed
ahead of time so its own work does not pace the bot. The clock starts when the first frame is written and stops
in the bot's process when its last reaction event has been handled: every listener done and, for the real bot,
every ballot committed (``time.perf_counter`` is the system's monotonic clock on Linux, so the two processes'
stamps compare). The real bot's database is then checked ballot by ballot against the script.

Three bots, in turn, each run in a fresh process:
- ``real``: ``bot.app.create_bot`` with every cog, SQLite on a temp file, the votes proposed through
  ``VoteService.propose`` after READY;
- ``bare``: a ``commands.Bot`` built with the same client options as ours (intents, no message cache, mentions)
  and two raw reaction listeners that count, so the ratio measures only our own work;
- ``default``: a ``commands.Bot`` with discord.py's defaults (its 1,000-message cache, filled by the vote
  messages' MESSAGE_CREATEs as on a live server).

The fake Discord also stamps every vote message edit it receives: how stale a vote's tally gets under this load
is the time from a vote's last reaction frame to the edit that follows it.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import time
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench.world import (
    BOARD,
    DECISION,
    Script,
    emoji_payload,
    expected_ballots,
    listeners_done,
    user_payload,
    voter_id,
)

BOT_ID = 900_000_000_000_000_001
APP_ID = 900_000_000_000_000_002
HEARTBEAT_MS = 41_250
_SNOWFLAKE_2025 = 1_300_000_000_000_000_000


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


# ============================================================================================ the world


@dataclass
class WsWorld:
    """Guilds, their vote channel and the vote messages, as plain ids (nothing here imports discord)."""

    guild_ids: list[int]
    channel_ids: list[int]
    message_ids: list[int]  # by vote index
    guild_of: list[int]  # by vote index
    kinds: list[str]  # by vote index

    @classmethod
    def build(cls, guilds: int, guild_of: list[int], kinds: list[str]) -> WsWorld:
        gids = [_SNOWFLAKE_2025 + (g << 22) for g in range(guilds)]
        cids = [gid + 1 for gid in gids]
        mids = [_SNOWFLAKE_2025 + (1 << 40) + (i << 22) for i in range(len(guild_of))]
        return cls(gids, cids, mids, guild_of, kinds)

    def reaction_frames(self, script: Script) -> list[tuple[str, dict[str, Any]]]:
        members: dict[tuple[int, int], dict[str, Any]] = {}
        emojis = {e: emoji_payload(e) for e in DECISION + BOARD}
        out: list[tuple[str, dict[str, Any]]] = []
        for s in script.steps:
            g = self.guild_of[s.vote]
            uid = voter_id(g, s.voter)
            data: dict[str, Any] = {"user_id": str(uid), "channel_id": str(self.channel_ids[g]),
                                    "message_id": str(self.message_ids[s.vote]), "emoji": emojis[s.emoji],
                                    "burst": False, "type": 0, "guild_id": str(self.guild_ids[g])}
            if s.added:
                member = members.get((g, s.voter))
                if member is None:
                    member = members[(g, s.voter)] = _member(uid)
                data["member"] = member
                out.append(("MESSAGE_REACTION_ADD", data))
            else:
                out.append(("MESSAGE_REACTION_REMOVE", data))
        return out


def _bot_user() -> dict[str, Any]:
    return {**user_payload(BOT_ID), "username": "Chastify Bench", "global_name": None, "bot": True}


def _member(uid: int) -> dict[str, Any]:
    return {"roles": [], "nick": None, "joined_at": "2025-06-01T00:00:00+00:00", "premium_since": None,
            "deaf": False, "mute": False, "pending": False, "flags": 0, "communication_disabled_until": None,
            "avatar": None, "user": user_payload(uid)}


def _guild_create(gid: int, cid: int, index: int) -> dict[str, Any]:
    everyone = {"id": str(gid), "name": "@everyone", "permissions": "1071698660929", "position": 0, "color": 0,
                "hoist": False, "managed": False, "mentionable": False, "flags": 0, "icon": None,
                "unicode_emoji": None}
    channel = {"id": str(cid), "type": 0, "guild_id": str(gid), "name": "votes", "position": 0,
               "permission_overwrites": [], "nsfw": False, "parent_id": None, "topic": None,
               "last_message_id": None, "rate_limit_per_user": 0}
    bot_member = {**_member(BOT_ID), "user": _bot_user()}
    return {"id": str(gid), "name": f"Lock Club {index}", "icon": None, "splash": None, "discovery_splash": None,
            "owner_id": str(gid + 7), "afk_channel_id": None, "afk_timeout": 300, "verification_level": 0,
            "default_message_notifications": 0, "explicit_content_filter": 0, "roles": [everyone], "emojis": [],
            "stickers": [], "features": [], "mfa_level": 0, "application_id": None, "system_channel_id": None,
            "system_channel_flags": 0, "rules_channel_id": None, "vanity_url_code": None, "description": None,
            "banner": None, "premium_tier": 0, "premium_subscription_count": 0, "preferred_locale": "en-US",
            "public_updates_channel_id": None, "nsfw_level": 0, "premium_progress_bar_enabled": False,
            "joined_at": "2025-06-01T00:00:00+00:00", "large": False, "unavailable": False, "member_count": 1,
            "voice_states": [], "members": [bot_member], "channels": [channel], "threads": [], "presences": [],
            "stage_instances": [], "guild_scheduled_events": [], "soundboard_sounds": []}


def _message(channel_id: int, message_id: int, guild_id: int | None = None,
             embeds: list[Any] | None = None, components: list[Any] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(message_id), "channel_id": str(channel_id), "author": _bot_user(), "content": "",
        "timestamp": _iso(time.time() - 60), "edited_timestamp": None, "tts": False, "mention_everyone": False,
        "mentions": [], "mention_roles": [], "attachments": [], "embeds": embeds or [{"title": "Vote"}],
        "reactions": [], "pinned": False, "type": 0, "flags": 0, "components": components or []}
    if guild_id is not None:
        data["guild_id"] = str(guild_id)
    return data


# ============================================================================================ the fake Discord


def _json(data: Any, status: int = 200) -> Any:
    """discord.py parses a body as JSON only when the content type is exactly ``application/json``."""
    from aiohttp import web

    return web.Response(body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"})


class _Stream:
    """One connection's zlib stream: every message ends with a sync flush, as Discord's do."""

    def __init__(self) -> None:
        self._z = zlib.compressobj()
        self.seq = 0

    def frame(self, op: int, d: Any, t: str | None = None) -> bytes:
        payload: dict[str, Any] = {"op": op, "d": d, "s": None, "t": t}
        if op == 0:
            self.seq += 1
            payload["s"] = self.seq
        raw = json.dumps(payload, separators=(",", ":")).encode()
        return self._z.compress(raw) + self._z.flush(zlib.Z_SYNC_FLUSH)


class FakeDiscord:
    def __init__(self, world: WsWorld, frames: list[tuple[str, dict[str, Any]]]) -> None:
        self.world = world
        self.frames = frames
        self.port = 0
        self.ready: asyncio.Event = asyncio.Event()
        self.go: asyncio.Event = asyncio.Event()
        self.sent: tuple[float, float] | None = None
        self.sent_done = asyncio.Event()
        self.unknown: list[str] = []
        self._streamer: asyncio.Task[None] | None = None
        self.edits: dict[int, list[float]] = defaultdict(list)  # message id -> perf stamps of its edits
        self._channel_guild = dict(zip(world.channel_ids, world.guild_ids, strict=True))

    def reset(self) -> None:
        self.ready = asyncio.Event()
        self.go = asyncio.Event()
        self.sent = None
        self.sent_done = asyncio.Event()
        self.edits.clear()

    # ------------------------------------------------------------------ REST
    async def rest(self, request: Any) -> Any:
        path = request.match_info["tail"]
        parts = path.strip("/").split("/")
        if path == "users/@me":
            return _json(_bot_user())
        if path == "oauth2/applications/@me":
            return _json({"id": str(APP_ID), "name": "Chastify Bench", "icon": None, "description": "",
                                      "bot_public": True, "bot_require_code_grant": False, "flags": 0,
                                      "verify_key": "0" * 64, "owner": _bot_user(), "team": None})
        if parts[0] == "gateway":
            return _json({"url": f"ws://127.0.0.1:{self.port}", "shards": 1, "session_start_limit":
                                      {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}})
        if len(parts) == 4 and parts[0] == "channels" and parts[2] == "messages":
            channel_id, message_id = int(parts[1]), int(parts[3])
            guild_id = self._channel_guild.get(channel_id)
            if request.method == "GET":
                return _json(_message(channel_id, message_id, guild_id))
            if request.method == "PATCH":
                self.edits[message_id].append(time.perf_counter())
                body = await request.json()
                return _json(_message(channel_id, message_id, guild_id, body.get("embeds"),
                                                  body.get("components")))
        self.unknown.append(f"{request.method} {path}")
        return _json({"message": "Unknown", "code": 0}, status=404)

    # ------------------------------------------------------------------ the gateway
    async def gateway(self, request: Any) -> Any:
        from aiohttp import WSMsgType, web

        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        stream = _Stream()
        # one writer at a time: frames must leave in the order the zlib stream compressed them
        writing = asyncio.Lock()
        await ws.send_bytes(stream.frame(10, {"heartbeat_interval": HEARTBEAT_MS}))
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                break
            op = json.loads(msg.data).get("op")
            if op == 1:  # heartbeat (during the stream, its ACK waits for the last frame)
                async with writing:
                    await ws.send_bytes(stream.frame(11, None))
            elif op == 2:  # IDENTIFY
                async with writing:
                    await self._hello_world(ws, stream)
                self._streamer = asyncio.create_task(self._stream_when_told(ws, stream, writing))
        return ws

    async def _hello_world(self, ws: Any, stream: _Stream) -> None:
        w = self.world
        ws_url = f"ws://127.0.0.1:{self.port}"
        await ws.send_bytes(stream.frame(0, {
            "v": 10, "user": _bot_user(), "guilds": [{"id": str(g), "unavailable": True} for g in w.guild_ids],
            "session_id": "bench-session", "resume_gateway_url": ws_url, "shard": [0, 1],
            "application": {"id": str(APP_ID), "flags": 0}, "private_channels": [], "relationships": [],
            "presences": [], "geo_ordered_rtc_regions": [], "user_settings": {}}, "READY"))
        for g, (gid, cid) in enumerate(zip(w.guild_ids, w.channel_ids, strict=True)):
            await ws.send_bytes(stream.frame(0, _guild_create(gid, cid, g), "GUILD_CREATE"))
        for i, mid in enumerate(w.message_ids):
            g = w.guild_of[i]
            await ws.send_bytes(stream.frame(0, _message(w.channel_ids[g], mid, w.guild_ids[g]), "MESSAGE_CREATE"))
        self.ready.set()

    async def _stream_when_told(self, ws: Any, stream: _Stream, writing: asyncio.Lock) -> None:
        try:
            await self.go.wait()
            async with writing:
                # compressed before the clock starts: the timed part only writes them
                chunks = [stream.frame(0, data, event) for event, data in self.frames]
                t0 = time.perf_counter()
                for chunk in chunks:
                    await ws.send_bytes(chunk)
                self.sent = (t0, time.perf_counter())
        finally:
            self.sent_done.set()


def _last_frame_stamps(frames: list[tuple[str, dict[str, Any]]], t0: float, t1: float) -> dict[int, float]:
    """When each vote's last reaction frame left, interpolated over the write (frames leave at a steady pace)."""
    last: dict[int, int] = {}
    for i, (_, data) in enumerate(frames):
        last[int(data["message_id"])] = i
    n = max(1, len(frames) - 1)
    return {mid: t0 + (t1 - t0) * i / n for mid, i in last.items()}


def _serve_discord(conn: Connection, world: WsWorld, frames: list[tuple[str, dict[str, Any]]]) -> None:
    from aiohttp import web

    async def main() -> None:
        fake = FakeDiscord(world, frames)
        app = web.Application()
        app.router.add_get("/", fake.gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", fake.rest)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        fake.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        loop = asyncio.get_running_loop()
        conn.send(fake.port)
        try:
            while True:
                op, arg = await loop.run_in_executor(None, conn.recv)
                if op == "stop":
                    return
                if op == "reset":
                    fake.reset()
                    conn.send(None)
                elif op == "wait_ready":
                    await asyncio.wait_for(fake.ready.wait(), arg)
                    conn.send(None)
                elif op == "go":
                    fake.go.set()
                    await fake.sent_done.wait()
                    conn.send(fake.sent)
                elif op == "edits":
                    assert fake.sent is not None
                    last = _last_frame_stamps(frames, *fake.sent)
                    conn.send(({m: list(v) for m, v in fake.edits.items()}, last, list(fake.unknown)))
        finally:
            conn.send(None)
            await runner.cleanup()

    asyncio.run(main())


class DiscordProcess:
    """``with DiscordProcess(world, frames) as discord_:`` the fake Discord in a child process."""

    def __init__(self, world: WsWorld, frames: list[tuple[str, dict[str, Any]]]) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve_discord, args=(child, world, frames), daemon=True)
        self.port = 0

    def __enter__(self) -> DiscordProcess:
        self._proc.start()
        self.port = int(self._conn.recv())
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._conn.send(("stop", None))
            self._conn.recv()
        finally:
            self._proc.join(10)
            if self._proc.is_alive():
                self._proc.kill()

    def call(self, op: str, arg: Any = None) -> Any:
        self._conn.send((op, arg))
        return self._conn.recv()


# ============================================================================================ the bots


@dataclass
class BotJob:
    kind: str  # real / quiet (real, its tally edits switched off) / bare / default
    port: int
    events: int
    draw_tallies: bool = True
    workdir: str = ""
    key: str = ""
    chastify_url: str = ""
    guilds: int = 0
    links_per_guild: int = 0
    guild_of: list[int] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    guild_ids: list[int] = field(default_factory=list)
    channel_ids: list[int] = field(default_factory=list)
    message_ids: list[int] = field(default_factory=list)


def _bot_main(conn: Connection, job: BotJob) -> None:
    from bench.common import quiet_logs

    with quiet_logs():
        asyncio.run(_bot_run(conn, job))


async def _bot_run(conn: Connection, job: BotJob) -> None:
    import discord
    import yarl
    from discord.ext import commands

    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(f"ws://127.0.0.1:{job.port}/")
    seen = 0
    done = asyncio.Event()
    ready = asyncio.Event()

    async def count(payload: Any) -> None:
        nonlocal seen
        seen += 1
        if seen == job.events:
            done.set()

    async def on_ready() -> None:
        ready.set()

    bot: Any
    if job.kind in ("real", "quiet"):
        from bench.common import bench_settings
        from bot.app import create_bot

        bot = create_bot(bench_settings(Path(job.workdir) / "bot.db", job.chastify_url, key=job.key))
    elif job.kind == "bare":
        # the options ChastifyBot passes to commands.Bot, and nothing else
        bot = commands.Bot(command_prefix=commands.when_mentioned, intents=discord.Intents.default(),
                           allowed_mentions=discord.AllowedMentions.none(), help_command=None, max_messages=None)
    else:
        bot = commands.Bot(command_prefix=commands.when_mentioned, intents=discord.Intents.default())
    discord.http.Route.BASE = f"http://127.0.0.1:{job.port}/api/v10"
    bot.add_listener(count, "on_raw_reaction_add")
    bot.add_listener(count, "on_raw_reaction_remove")
    bot.add_listener(on_ready, "on_ready")
    await bot.login("bench-not-a-token")
    runner = asyncio.create_task(bot.connect(reconnect=False))
    try:
        await asyncio.wait_for(ready.wait(), 120)
        service = None
        vote_ids: list[int] = []
        if job.kind in ("real", "quiet"):
            service, vote_ids = await _open_votes(bot, job)
        await _quiet()
        if service is not None and not job.draw_tallies:
            # where the time goes: the same bot with its live tally edits switched off
            async def no_edit(snapshot: Any) -> None:
                return None

            service.live.display.show = no_edit
        conn.send(("ready", vote_ids))
        await asyncio.wait_for(done.wait(), 600)
        await listeners_done()
        if service is not None:
            await service.flush_ballots()
            async with service.store.transaction():
                pass  # a barrier: every flush already queued on the database has committed
        t1 = time.perf_counter()
        rows: list[tuple[int, int, int]] = []
        if service is not None:
            rows = [(int(r[0]), int(r[1]), int(r[2])) for r in await service.store.db.fetchall(
                "SELECT vote_id, voter_id, choice FROM ballots")]
            # let the last debounced redraws leave: the fake Discord measures how stale each tally got
            while service.live.tasks():
                await asyncio.wait(service.live.tasks())
        conn.send(("done", t1, seen, rows))
    finally:
        await bot.close()
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


async def _open_votes(bot: Any, job: BotJob) -> tuple[Any, list[int]]:
    """As scenario 1: links recorded as /chastify link records them, votes proposed through
    ``VoteService.propose`` and attached to the messages the fake Discord announced."""
    from bench.world import decision_action, lock_id
    from bot.members import Member, Place
    from cogs.votes import VotesCog

    cog = next(c for c in bot.cogs.values() if isinstance(c, VotesCog))
    service = cog.service
    store, vault = bot.core.store, bot.core.vault
    links: list[list[Any]] = []
    for g, gid in enumerate(job.guild_ids):
        links.append([await store.links.upsert(
            guild_id=gid, owner_id=voter_id(g, 1_000_000 + k), token_ciphertext=vault.encrypt(f"dev-bench-{g}-{k}"),
            lock_id=lock_id(), role="wearer", title=f"Lock {g}.{k}") for k in range(job.links_per_guild)])
    vote_ids = []
    for i, (g, kind) in enumerate(zip(job.guild_of, job.kinds, strict=True)):
        link = links[g][(i // job.guilds) % job.links_per_guild]
        place = Place(guild_id=job.guild_ids[g], guild_name=f"Lock Club {g}", channel_id=job.channel_ids[g],
                      channel_name="votes")
        proposer = Member(id=voter_id(g, 1_010_000 + i), name=f"proposer{i}", created_at=1.0)
        if kind == "decision":
            ov = await service.propose(place, proposer, link, decision_action(i), window=3600,
                                       channel_id=job.channel_ids[g])
        else:
            ov = await service.propose_board(place, proposer, link, add_per_vote=600, remove_per_vote=300,
                                             window=3600, channel_id=job.channel_ids[g])
        await service.attach(ov.id, job.channel_ids[g], job.message_ids[i])
        await service.snapshot(ov.id)  # steady state: every vote drawn once, the read caches hold it
        vote_ids.append(ov.id)
    return service, vote_ids


async def _quiet() -> None:
    """Until the bot's start-up work (the catch-up read of each vote message, the first redraws) is over."""
    while True:
        pending = [t for t in asyncio.all_tasks() if not t.done() and t.get_name().startswith(
            ("vote-catch-up", "vote-refresh", "vote-tally-flusher", "discord.py: on_"))]
        if not pending:
            return
        await asyncio.wait(pending)


# ============================================================================================ one run


@dataclass
class WsRun:
    kind: str
    seconds: float
    events: int
    write_seconds: float  # how long the fake Discord took to write every frame
    rows: list[tuple[int, int, int]] = field(default_factory=list)
    vote_ids: list[int] = field(default_factory=list)
    edits: dict[int, list[float]] = field(default_factory=dict)
    last_frame: dict[int, float] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    channel_of: dict[int, int] = field(default_factory=dict)  # message id -> channel id
    handled_at: float = 0.0  # when the bot had handled the last event (and committed every ballot)

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds

    def staleness(self) -> list[float]:
        """Per vote message: seconds from its last reaction frame to the first edit after it (the redraw that
        shows its final tally); a vote never redrawn after its last frame counts as the whole remaining run."""
        out = []
        for mid, sent in self.last_frame.items():
            after = [t for t in self.edits.get(mid, []) if t >= sent]
            out.append(min(after) - sent if after else float("inf"))
        return out


    def caught_up(self) -> float:
        """Seconds from the bot handling the last event to the last vote message edit that followed (every vote
        shows its final tally by then); 0 when no edit was still owed."""
        last = max((max(stamps) for stamps in self.edits.values() if stamps), default=self.handled_at)
        return max(0.0, last - self.handled_at)

    def most_edits_per_channel(self, window: float = 5.0) -> int:
        """The most vote message edits the fake Discord received for one channel in any ``window`` seconds."""
        by_channel: dict[int, list[float]] = defaultdict(list)
        for mid, stamps in self.edits.items():
            by_channel[self.channel_of.get(mid, 0)].extend(stamps)
        most = 0
        for stamps in by_channel.values():
            stamps.sort()
            start = 0
            for end, t in enumerate(stamps):
                while t - stamps[start] >= window:
                    start += 1
                most = max(most, end - start + 1)
        return most


def run_bot(discord_: DiscordProcess, job: BotJob, timeout: float = 900) -> WsRun:
    ctx = mp.get_context("spawn")
    conn, child = ctx.Pipe()
    discord_.call("reset")
    proc = ctx.Process(target=_bot_main, args=(child, job), daemon=True)
    proc.start()
    try:
        if not conn.poll(timeout):
            raise TimeoutError(f"the {job.kind} bot did not get ready")
        tag, vote_ids = conn.recv()
        assert tag == "ready", tag
        t0, t_written = discord_.call("go")
        if not conn.poll(timeout):
            raise TimeoutError(f"the {job.kind} bot did not handle every event")
        tag, t1, seen, rows = conn.recv()
        assert tag == "done" and seen == job.events, (tag, seen, job.events)
        edits, last, unknown = discord_.call("edits")
        return WsRun(job.kind, t1 - t0, seen, t_written - t0, rows, vote_ids, edits, last, unknown, handled_at=t1)
    finally:
        proc.join(60)
        if proc.is_alive():
            proc.kill()


def run(size: Any = None, runs: int = 3, log: Any = print) -> dict[str, Any]:
    """``runs`` rounds of the three bots (the order rotates so drift hits each), each in a fresh process."""
    from bench.common import BENCH_KEY, quiet_logs, scratch_dir
    from bench.ingest import IngestSize, script_for
    from sandbox.chastify import StandIn

    size = size or IngestSize()
    script, guild_of, kinds = script_for(size)
    world = WsWorld.build(size.guilds, guild_of, kinds)
    frames = world.reaction_frames(script)
    out: dict[str, list[WsRun]] = {"real": [], "quiet": [], "bare": [], "default": []}
    mismatches: list[int] = []
    with quiet_logs(), scratch_dir("gateway") as root, StandIn() as chastify, DiscordProcess(world, frames) as fake:
        order = ["bare", "real", "default", "quiet"]
        for i in range(runs):
            for kind in order[i % 4:] + order[:i % 4]:
                job = BotJob(kind, fake.port, len(frames))
                if kind in ("real", "quiet"):
                    work = root / f"{kind}{i}"
                    work.mkdir()
                    job = BotJob(kind, fake.port, len(frames), kind == "real", str(work), BENCH_KEY,
                                 chastify.base_url, size.guilds, size.links_per_guild, guild_of, kinds,
                                 world.guild_ids, world.channel_ids, world.message_ids)
                r = run_bot(fake, job)
                r.channel_of = {mid: world.channel_ids[g] for mid, g in zip(world.message_ids, guild_of, strict=True)}
                if kind in ("real", "quiet"):
                    want = expected_ballots(script, r.vote_ids, guild_of)
                    got = {(v, voter): c for v, voter, c in r.rows}
                    wrong = len(set(want.items()) ^ set(got.items()))
                    if wrong:
                        raise AssertionError(f"{wrong} ballots differ from what the script leaves")
                    mismatches.append(wrong)
                    if r.unknown:
                        log(f"  the fake Discord was asked for what it does not serve: {sorted(set(r.unknown))}")
                out[kind].append(r)
                log(f"  websocket run {i + 1}/{runs} {kind}: {r.events} events in {r.seconds:.3f} s "
                    f"({r.events_per_s:,.0f} events/s; frames written in {r.write_seconds:.3f} s)")
    return {"size": size, "script": script, **out, "mismatches": mismatches}


if __name__ == "__main__":  # a quick look: python -m bench.gateway
    from bench.ingest import QUICK

    result = run(QUICK, runs=1)
    for kind in ("bare", "default", "real", "quiet"):
        r = result[kind][0]
        print(kind, f"{r.events_per_s:,.0f} events/s")
