"""The command line as an operator uses it: ``python -m bot check | invite | run`` in a subprocess, configured
by environment variables only (as in the Docker image), plus the two log formats.

Each subprocess runs in a temp directory (so no ./config.toml is read) with the repository on PYTHONPATH and
without any CHASTIFY_BOT_* / DISCORD_TOKEN from the developer's environment.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import pty
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from aiohttp import web
from cryptography.fernet import Fernet

from bot.logs import JsonFormatter, TextFormatter, setup_logging
from bot.store import Store
from bot.vault import Vault
from sandbox.chastify import StandIn

REPO = Path(__file__).resolve().parents[1]
FAKE_DISCORD_TOKEN = "discord-token-for-tests"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.upper().startswith("CHASTIFY_BOT_") and k != "DISCORD_TOKEN"}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def bot_cli(cwd: Path, *args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env=clean_env(**env),
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def base_env(data_dir: Path) -> dict[str, str]:
    """What `docker run -e DISCORD_TOKEN=... -v botdata:/data IMAGE` gives the bot."""
    return {"DISCORD_TOKEN": FAKE_DISCORD_TOKEN, "CHASTIFY_BOT_STORAGE__DATABASE_PATH": str(data_dir / "bot.db")}


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def seed_links(db: Path, key: bytes, links: list[tuple[str, str]]) -> None:
    """Links (token, lock id) stored the way /chastify link stores them, encrypted with ``key``."""
    store = await Store.open(db)
    try:
        vault = Vault(key)
        for owner, (token, lock_id) in enumerate(links, start=1):
            await store.links.upsert(guild_id=1000 + owner, owner_id=owner, token_ciphertext=vault.encrypt(token),
                                     lock_id=lock_id, role="wearer", title=f"lock {owner}")
    finally:
        await store.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------------------------- check
def test_check_healthy_fresh_install(tmp_path: Path, data_dir: Path, base_env: dict[str, str]) -> None:
    done = bot_cli(tmp_path, "check", "--offline", **base_env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "healthy"
    assert "created a new key file" in done.stdout
    assert mode_of(data_dir / "bot.key") == 0o600
    assert mode_of(data_dir / "bot.db") == 0o600
    again = bot_cli(tmp_path, "check", "--offline", **base_env)
    assert again.returncode == 0, again.stdout
    assert "PROBLEM" not in again.stdout
    assert "the key file" in again.stdout and "is owner-only" in again.stdout


def test_check_world_readable_key_file_is_a_problem(tmp_path: Path, data_dir: Path, base_env: dict[str, str]) -> None:
    assert bot_cli(tmp_path, "check", "--offline", **base_env).returncode == 0
    key_file = data_dir / "bot.key"
    key_file.chmod(0o644)
    done = bot_cli(tmp_path, "check", "--offline", **base_env)
    assert done.returncode == 1, done.stdout
    problem = [line for line in done.stdout.splitlines() if line.startswith("PROBLEM")]
    assert len(problem) == 1, done.stdout
    assert f"the key file {key_file} was readable by others (mode 644)" in problem[0]
    assert "/chastify link again" in problem[0]  # what to do about it
    assert done.stdout.splitlines()[-1] == "1 problem(s) found"
    assert mode_of(key_file) == 0o600  # tightened on the way
    assert bot_cli(tmp_path, "check", "--offline", **base_env).returncode == 0


def test_check_wrong_key_is_a_problem(tmp_path: Path, data_dir: Path, base_env: dict[str, str]) -> None:
    old_key, new_key = Fernet.generate_key(), Fernet.generate_key()
    asyncio.run(seed_links(data_dir / "bot.db", old_key, [("dev-token-alice-secret", "a" * 24)]))
    data_dir.joinpath("bot.key").write_bytes(new_key + b"\n")
    data_dir.joinpath("bot.key").chmod(0o600)
    done = bot_cli(tmp_path, "check", "--offline", **base_env)
    assert done.returncode == 1, done.stdout
    problem = [line for line in done.stdout.splitlines() if line.startswith("PROBLEM")]
    assert len(problem) == 1, done.stdout
    assert problem[0].startswith(f"PROBLEM 1 linked lock(s) have tokens that the key file {data_dir / 'bot.key'} ")
    assert 'link 1 (server 1001, owner 1, lock "lock 1" / ' + "a" * 24 + ")" in problem[0]
    assert "restore the old key file" in problem[0] and "python -m bot run --new-key" in problem[0]
    assert "dev-token-alice-secret" not in done.stdout + done.stderr


def test_check_reports_a_revoked_token_found_on_chastify(tmp_path: Path, data_dir: Path,
                                                        base_env: dict[str, str]) -> None:
    key = Fernet.generate_key()
    with StandIn() as chastify:
        good = chastify.add_lock("dev-token-good-one", title="Good lock")
        revoked = chastify.add_lock("dev-token-revoked-one", title="Old lock")
        chastify.revoke("dev-token-revoked-one")
        asyncio.run(seed_links(data_dir / "bot.db", key,
                               [("dev-token-good-one", good.id), ("dev-token-revoked-one", revoked.id)]))
        env = {**base_env, "CHASTIFY_BOT_STORAGE__KEY": key.decode(),
               "CHASTIFY_BOT_CHASTIFY__BASE_URL": chastify.base_url}
        done = bot_cli(tmp_path, "check", **env)
        offline = bot_cli(tmp_path, "check", "--offline", **env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "ok      link 1 (server 1001): token works" in done.stdout
    assert "PROBLEM link 2 (server 1002, owner 2): Chastify rejected the token (revoked_token)" in done.stdout
    assert "/chastify link" in done.stdout  # how to fix it
    assert "the token key comes from storage.key" in done.stdout
    for token in ("dev-token-good-one", "dev-token-revoked-one"):
        assert token not in done.stdout + done.stderr
    assert offline.returncode == 0, offline.stdout  # --offline never asks Chastify
    assert "token works" not in offline.stdout


def test_check_with_chastify_unreachable_does_not_fail(tmp_path: Path, data_dir: Path,
                                                      base_env: dict[str, str]) -> None:
    key = Fernet.generate_key()
    asyncio.run(seed_links(data_dir / "bot.db", key, [("dev-token-alice", "b" * 24)]))
    env = {**base_env, "CHASTIFY_BOT_STORAGE__KEY": key.decode(),
           "CHASTIFY_BOT_CHASTIFY__BASE_URL": f"http://127.0.0.1:{free_port()}",
           "CHASTIFY_BOT_CHASTIFY__CONNECT_TIMEOUT": "2"}
    done = bot_cli(tmp_path, "check", **env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "is not reachable from here; tokens not checked" in done.stdout


def test_check_without_a_discord_token(tmp_path: Path, data_dir: Path) -> None:
    done = bot_cli(tmp_path, "check", "--offline", CHASTIFY_BOT_STORAGE__DATABASE_PATH=str(data_dir / "bot.db"))
    assert done.returncode == 1
    assert "PROBLEM discord.token is not set; set env DISCORD_TOKEN" in done.stdout


def test_bad_configuration_exits_2_with_the_key_named(tmp_path: Path, base_env: dict[str, str]) -> None:
    done = bot_cli(tmp_path, "check", "--offline", **base_env, CHASTIFY_BOT_VOTES__QUORUM="zero")
    assert done.returncode == 2
    assert done.stderr.startswith("Configuration error:")
    assert "votes.quorum" in done.stderr


def test_run_without_a_token_says_how_to_set_it(tmp_path: Path, data_dir: Path) -> None:
    done = bot_cli(tmp_path, "run", CHASTIFY_BOT_STORAGE__DATABASE_PATH=str(data_dir / "bot.db"))
    assert done.returncode == 2
    assert "DISCORD_TOKEN" in done.stderr
    assert not data_dir.exists()  # nothing was created


# ------------------------------------------------------------------------------------------------ invite
def test_invite_prints_the_url_with_least_permissions(tmp_path: Path) -> None:
    done = bot_cli(tmp_path, "invite", CHASTIFY_BOT_DISCORD__APPLICATION_ID="123456789012345678")
    assert done.returncode == 0, done.stderr
    url = done.stdout.strip()
    assert url.startswith("https://discord.com/oauth2/authorize?client_id=123456789012345678")
    # view channels 1024 + send 2048 + embed links 16384 + read history 65536 + add reactions 64
    assert "permissions=85056" in url
    assert "scope=bot+applications.commands" in url


def test_invite_without_application_id_says_where_to_find_it(tmp_path: Path) -> None:
    done = bot_cli(tmp_path, "invite")
    assert done.returncode == 2
    assert "CHASTIFY_BOT_DISCORD__APPLICATION_ID" in done.stderr
    assert "developer portal" in done.stderr


# ------------------------------------------------------------------------------------------------ run
GATEWAY_SHIM = """
# Test-only: point discord.py's gateway (normally wss://gateway.discord.gg) at the tests' fake one.
import os
if os.environ.get("TEST_DISCORD_GATEWAY"):
    import yarl
    import discord.gateway
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["TEST_DISCORD_GATEWAY"])
"""


class FakeDiscord:
    """Just enough of Discord for discord.py to log in (HTTP) and become ready (gateway: HELLO, IDENTIFY,
    READY, heartbeats), over loopback. ``accept=False`` answers the login with 401."""

    def __init__(self, *, accept: bool = True) -> None:
        self.accept = accept
        self.paths: list[str] = []
        self.identified = asyncio.Event()
        self.runner: web.AppRunner | None = None
        self.port = 0

    @staticmethod
    def _json(data: Any, status: int = 200) -> web.Response:
        # exactly "application/json", without "; charset=...": discord.py compares the header verbatim
        return web.Response(body=json.dumps(data).encode(), status=status, content_type="application/json")

    USER: ClassVar[dict[str, Any]] = {
        "id": "111111111111111111", "username": "chastify-bot", "discriminator": "0", "avatar": None,
        "bot": True, "global_name": None, "flags": 0, "verified": True, "mfa_enabled": False}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.paths.append(request.path)
        if request.path == "/gateway":
            return await self.gateway(request)
        if not self.accept:
            return self._json({"message": "401: Unauthorized", "code": 0}, status=401)
        if request.path.endswith("/users/@me"):
            return self._json(self.USER)
        if request.path.endswith("/oauth2/applications/@me"):
            return self._json({"id": "222222222222222222", "name": "Chastify bot", "description": "",
                               "icon": None, "bot_public": True, "bot_require_code_grant": False,
                               "owner": self.USER, "verify_key": "00", "flags": 0})
        return self._json({"message": "404: Not Found", "code": 0}, status=404)

    async def gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None}))
        async for msg in ws:
            data = json.loads(msg.data)
            if data["op"] == 2:  # IDENTIFY
                self.identified.set()
                ready = {"v": 10, "user": self.USER, "guilds": [], "session_id": "fake-session",
                         "resume_gateway_url": f"ws://127.0.0.1:{self.port}/gateway",
                         "application": {"id": "222222222222222222", "flags": 0}}
                await ws.send_str(json.dumps({"op": 0, "t": "READY", "s": 1, "d": ready}))
            elif data["op"] == 1:  # HEARTBEAT
                await ws.send_str(json.dumps({"op": 11, "d": None, "s": None, "t": None}))
        return ws

    async def __aenter__(self) -> FakeDiscord:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self.runner.addresses[0][1])
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self.runner is not None
        await self.runner.cleanup()

    def env(self, shim_dir: Path) -> dict[str, str]:
        shim_dir.mkdir(exist_ok=True)
        (shim_dir / "sitecustomize.py").write_text(GATEWAY_SHIM)
        return {"CHASTIFY_BOT_DISCORD__API_BASE": f"http://127.0.0.1:{self.port}/api",
                "TEST_DISCORD_GATEWAY": f"ws://127.0.0.1:{self.port}/gateway",
                "PYTHONPATH": f"{shim_dir}{os.pathsep}{REPO}"}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_run_starts_and_stops_cleanly_on_a_signal(tmp_path: Path, data_dir: Path,
                                                        base_env: dict[str, str], sig: signal.Signals) -> None:
    """The image's CMD, `python -m bot run`: it logs in, opens /data, and `docker stop` (SIGTERM) closes it."""
    async with FakeDiscord() as discord_api:
        env = clean_env(**base_env, **discord_api.env(tmp_path / "shim"), PYTHONUNBUFFERED="1")
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", cwd=tmp_path, env=env,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            await asyncio.wait_for(discord_api.identified.wait(), 30)
            await asyncio.sleep(1.0)  # READY handled (on_ready: the votes cog catches up)
            proc.send_signal(sig)
            out, err = await asyncio.wait_for(proc.communicate(), 20)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    logs = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
    assert proc.returncode == 0, err.decode()[-3000:]
    messages = [entry["msg"] for entry in logs]
    assert any("has connected to Gateway" in m for m in messages), messages
    assert "stop signal received; closing" in messages
    assert messages[-1] == "closed"
    assert all({"ts", "level", "logger", "msg"} <= entry.keys() for entry in logs)
    assert FAKE_DISCORD_TOKEN not in err.decode() + out.decode()
    assert mode_of(data_dir / "bot.db") == 0o600 and mode_of(data_dir / "bot.key") == 0o600
    with sqlite3.connect(data_dir / "bot.db") as conn:  # migrated, and not left locked
        assert conn.execute("PRAGMA user_version").fetchone()[0] > 0


async def test_run_with_a_rejected_token_says_what_to_do(tmp_path: Path, base_env: dict[str, str]) -> None:
    async with FakeDiscord(accept=False) as discord_api:
        env = clean_env(**base_env, **discord_api.env(tmp_path / "shim"))
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", cwd=tmp_path, env=env,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 1, err.decode()[-2000:]
    assert "Discord rejected the bot token" in err.decode()
    assert "Traceback" not in err.decode()
    assert FAKE_DISCORD_TOKEN not in err.decode() + out.decode()


# ------------------------------------------------------------------------------------------------ logs
@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    discord_level = logging.getLogger("discord").level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("discord").setLevel(discord_level)


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def _log_through_setup(monkeypatch: pytest.MonkeyPatch, tty: bool, json_output: bool | None = None) -> str:
    stream = _Stream(tty)
    monkeypatch.setattr(sys, "stderr", stream)
    setup_logging("INFO", json_output)
    log = logging.getLogger("bot.test")
    log.info("vote %s closed", 7, extra={"guild": 42, "outcome": "passed", "lock": object()})
    log.debug("not shown at INFO")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    return stream.getvalue()


def test_logs_are_json_lines_when_not_on_a_terminal(monkeypatch: pytest.MonkeyPatch, restore_logging: None) -> None:
    out = _log_through_setup(monkeypatch, tty=False)
    lines = out.splitlines()
    first = json.loads(lines[0])
    assert first["level"] == "INFO" and first["logger"] == "bot.test" and first["msg"] == "vote 7 closed"
    assert first["guild"] == 42 and first["outcome"] == "passed"
    assert first["lock"].startswith("<object object")  # anything else is repr()'d, never breaks the line
    assert first["ts"].endswith("+00:00")
    second = json.loads(lines[1])  # the traceback stays inside one JSON line
    assert second["level"] == "ERROR" and "ValueError: boom" in second["exc"]
    assert len(lines) == 2


def test_logs_are_readable_lines_on_a_terminal(monkeypatch: pytest.MonkeyPatch, restore_logging: None) -> None:
    out = _log_through_setup(monkeypatch, tty=True)
    first = out.splitlines()[0]
    assert not first.startswith("{")
    assert "INFO    bot.test: vote 7 closed" in first
    assert "guild=42" in first and "outcome=passed" in first
    assert "Traceback" in out and "ValueError: boom" in out


def test_logging_json_setting_overrides_the_terminal_guess(monkeypatch: pytest.MonkeyPatch,
                                                           restore_logging: None) -> None:
    assert _log_through_setup(monkeypatch, tty=True, json_output=True).startswith("{")
    assert not _log_through_setup(monkeypatch, tty=False, json_output=False).startswith("{")


def test_formatters_directly() -> None:
    record = logging.makeLogRecord({"name": "bot.x", "levelname": "WARNING", "levelno": logging.WARNING,
                                    "msg": "hi %s", "args": ("there",), "vote": 3})
    assert json.loads(JsonFormatter().format(record))["vote"] == 3
    assert TextFormatter().format(record).endswith("bot.x: hi there  vote=3")
    record.stack_info = "Stack (most recent call last):\n  here"
    assert json.loads(JsonFormatter().format(record))["stack"].endswith("here")


def test_cli_logs_json_when_piped_and_text_on_a_terminal(tmp_path: Path, data_dir: Path,
                                                         base_env: dict[str, str]) -> None:
    """`check` on a fresh install logs one warning (a new key file was generated): as JSON into a pipe..."""
    piped = bot_cli(tmp_path, "check", "--offline", **base_env)
    warning = json.loads(piped.stderr.strip().splitlines()[0])
    assert warning["level"] == "WARNING" and warning["logger"] == "bot.vault"
    assert "generated a new token encryption key" in warning["msg"]

    # ...and as a readable line when stderr is a terminal
    for leftover in data_dir.iterdir():
        leftover.unlink()
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "bot", "check", "--offline"], cwd=tmp_path,
                                env=clean_env(**base_env), stdout=subprocess.PIPE, stderr=secondary)
        os.close(secondary)
        proc.communicate(timeout=60)
        chunks = []
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(primary)
    text = b"".join(chunks).decode()
    assert "WARNING bot.vault: generated a new token encryption key" in text
    assert not text.lstrip().startswith("{")
