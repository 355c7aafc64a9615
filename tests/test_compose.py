"""compose.yaml, tested without a container engine: its services, commands and environment are read and each bot
service's environment is loaded by the real settings model (the variables the file takes from the operator's
environment filled with stand-ins), so a typo in a key or a value the bot would refuse fails here. The two-process
test (tests/safety/test_two_processes.py) proves the behaviour the file sets up."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import load_settings
from bot.store.store import is_postgres_url

REPO = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((REPO / "compose.yaml").read_text())
OPERATOR = {"DISCORD_TOKEN": "not-a-real-discord-token", "POSTGRES_PASSWORD": "not-a-real-password",
            "CHASTIFY_BOT_STORAGE__KEY": "b" * 43 + "="}
BOTS = sorted(name for name in COMPOSE["services"] if name.startswith("bot-"))


def substituted(value: str) -> str:
    """Compose's ``${NAME}`` and ``${NAME:?message}`` with the operator's stand-in values."""
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in OPERATOR, f"compose.yaml takes {name} from the environment: the README must name it"
        return OPERATOR[name]

    return re.sub(r"\$\{([A-Z0-9_]+)(?::\?[^}]*)?\}", one, value)


def settings_of(service: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    for name in list(__import__("os").environ):
        if name.startswith("CHASTIFY_BOT_") or name == "DISCORD_TOKEN":
            monkeypatch.delenv(name)
    for name, value in service["environment"].items():
        monkeypatch.setenv(name, substituted(str(value)))
    return load_settings(None)


def test_postgres_and_two_bot_processes_with_health_checks_and_volumes():
    services = COMPOSE["services"]
    assert set(services) == {"db", "bot-0", "bot-1"}
    db = services["db"]
    assert db["image"].startswith("postgres:") and db["healthcheck"]["test"][0] == "CMD-SHELL"
    assert "pg_isready" in db["healthcheck"]["test"][1]
    assert any(v.endswith(":/var/lib/postgresql/data") for v in db["volumes"])
    for name in BOTS:
        bot = services[name]
        assert bot["build"] == "."
        assert bot["command"] == ["python", "-m", "bot", "run"]  # the Dockerfile's CMD
        assert bot["healthcheck"]["test"] == ["CMD", "python", "-m", "bot", "check", "--offline"]  # its HEALTHCHECK
        assert bot["depends_on"]["db"]["condition"] == "service_healthy"
        assert any(v.endswith(":/data") for v in bot["volumes"])
    named = {v.split(":")[0] for s in services.values() for v in s.get("volumes", [])}
    assert named <= set(COMPOSE["volumes"])  # every volume is declared, so data survives a `compose down`
    dockerfile = (REPO / "Dockerfile").read_text()
    assert 'CMD ["python", "-m", "bot", "run"]' in dockerfile and '"bot", "check", "--offline"]' in dockerfile


def test_each_bot_is_one_shard_of_the_same_count_on_the_same_database(monkeypatch):
    seen: list[int] = []
    urls, counts, keys = set(), set(), set()
    for name in BOTS:
        settings = settings_of(COMPOSE["services"][name], monkeypatch)
        discord = settings.discord
        assert discord.token is not None and discord.shard_ids is not None and discord.shard_count is not None
        seen += discord.shard_ids
        counts.add(discord.shard_count)
        assert settings.database.url is not None
        url = settings.database.url.get_secret_value()
        assert is_postgres_url(url) and "@db:5432/" in url  # the db service, by its name in the compose network
        urls.add(url)
        assert settings.storage.key is not None
        keys.add(settings.storage.key.get_secret_value())
    assert len(counts) == 1 and sorted(seen) == list(range(counts.pop()))  # every shard run once, by one process
    assert len(urls) == 1 and len(keys) == 1  # one database, one key: each process reads the others' tokens


def test_the_readme_says_how_to_run_it():
    readme = (REPO / "README.md").read_text()
    assert "docker compose up" in readme and "docs/scaling.md" in readme
    header = "\n".join(line for line in (REPO / "compose.yaml").read_text().splitlines() if line.startswith("#"))
    for name in OPERATOR:
        assert name in header, f"compose.yaml's header must say that {name} is needed"
