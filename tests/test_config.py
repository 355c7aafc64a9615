from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from bot.config import (
    ConfigError,
    Settings,
    load_settings,
    setting_keys,
    settings_reference_markdown,
)

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "config.example.toml"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No stray env vars or ./config.toml from the developer's machine."""
    for name in list(os.environ):
        if name.upper().startswith("CHASTIFY_BOT_") or name.upper() == "DISCORD_TOKEN":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file() -> None:
    s = load_settings()
    assert s.votes.quorum == 3 and s.votes.majority == 0.5 and s.votes.window_seconds == 3600
    assert s.chastify.base_url == "https://chastify.net" and s.chastify.actions_per_minute == 20
    assert s.storage.database_path == Path("data/bot.db")
    assert s.storage.key_file is None and s.storage.effective_key_file == Path("data/bot.key")
    assert s.discord.token is None and s.logging.level == "INFO" and s.logging.json_output is None
    assert s.limits.max_freeze == 14400


def test_toml_file_is_read(tmp_path: Path) -> None:
    cfg = write(
        tmp_path / "bot.toml",
        """
[votes]
quorum = 5
majority = 0.66

[storage]
database_path = "/srv/bot/bot.db"

[logging]
level = "debug"
json = false
""",
    )
    s = load_settings(cfg)
    assert s.votes.quorum == 5 and s.votes.majority == 0.66
    assert s.votes.window_seconds == 3600  # untouched keys keep their default
    assert s.storage.effective_key_file == Path("/srv/bot/bot.key")
    assert s.logging.level == "DEBUG" and s.logging.json_output is False
    assert s.logging.use_json(stderr_is_tty=False) is False


def test_config_path_from_env_and_from_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "config.toml", "[votes]\nquorum = 4\n")
    assert load_settings().votes.quorum == 4
    other = write(tmp_path / "other.toml", "[votes]\nquorum = 6\n")
    monkeypatch.setenv("CHASTIFY_BOT_CONFIG", str(other))
    assert load_settings().votes.quorum == 6
    assert load_settings(tmp_path / "config.toml").votes.quorum == 4  # the argument wins


def test_missing_explicit_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml does not exist"):
        load_settings(tmp_path / "nope.toml")
    monkeypatch.setenv("CHASTIFY_BOT_CONFIG", str(tmp_path / "gone.toml"))
    with pytest.raises(ConfigError, match=r"gone\.toml does not exist \(from env CHASTIFY_BOT_CONFIG\)"):
        load_settings()


def test_env_overrides_toml_including_nested(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write(tmp_path / "c.toml", "[votes]\nquorum = 4\nwindow_seconds = 600\n")
    monkeypatch.setenv("CHASTIFY_BOT_VOTES__QUORUM", "7")
    monkeypatch.setenv("chastify_bot_chastify__base_url", "http://127.0.0.1:8080/")
    s = load_settings(cfg)
    assert s.votes.quorum == 7 and s.votes.window_seconds == 600
    assert s.chastify.base_url == "http://127.0.0.1:8080"
    assert load_settings(cfg, votes={"quorum": 9}).votes.quorum == 9  # keyword overrides beat env


def test_discord_token_from_plain_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write(tmp_path / "c.toml", '[discord]\ntoken = "file-discord-token"\n')
    assert load_settings(cfg).require_discord_token().get_secret_value() == "file-discord-token"
    monkeypatch.setenv("DISCORD_TOKEN", "env-discord-token")
    s = load_settings(cfg)
    assert s.require_discord_token().get_secret_value() == "env-discord-token"
    assert "env-discord-token" not in repr(s) and "env-discord-token" not in str(s)
    monkeypatch.setenv("CHASTIFY_BOT_DISCORD__TOKEN", "prefixed-discord-token")
    assert load_settings(cfg).require_discord_token().get_secret_value() == "prefixed-discord-token"


def test_missing_discord_token_names_key_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "   ")  # blank counts as unset
    s = load_settings()
    assert s.discord.token is None
    with pytest.raises(ConfigError) as info:
        s.require_discord_token()
    assert "discord.token" in str(info.value) and "DISCORD_TOKEN" in str(info.value)


@pytest.mark.parametrize(
    ("toml", "key", "value", "accepted"),
    [
        ("[votes]\nmajority = 1.5", "votes.majority", "1.5", "0.5 <= x < 1"),
        ("[votes]\nmajority = 0.3", "votes.majority", "0.3", "0.5 <= x < 1"),
        ("[votes]\nwindow_seconds = 10", "votes.window_seconds", "10", "from 60 to 604800"),
        ("[votes]\nquorum = 0", "votes.quorum", "0", ">= 1"),
        ('[votes]\nquorum = "three"', "votes.quorum", "'three'", "a whole number"),
        ("[chastify]\nactions_per_minute = 21", "chastify.actions_per_minute", "21", "from 1 to 20"),
        ("[chastify]\nread_timeout = 0", "chastify.read_timeout", "0", "> 0"),
        ('[chastify]\nbase_url = "ftp://chastify.net"', "chastify.base_url", "'ftp://chastify.net'", "http"),
        ('[logging]\nlevel = "verbose"', "logging.level", "'verbose'", "DEBUG, INFO, WARNING, ERROR"),
        ("[limits]\nmax_freeze = 90000", "limits.max_freeze", "90000", "from 0 to 86400"),
        ("votes = 3", "votes", "3", "[votes]"),
    ],
)
def test_bad_value_message_names_key_value_and_accepted(
    tmp_path: Path, toml: str, key: str, value: str, accepted: str
) -> None:
    cfg = write(tmp_path / "c.toml", toml + "\n")
    with pytest.raises(ConfigError) as info:
        load_settings(cfg)
    message = str(info.value)
    assert f"{key} = {value}" in message
    assert accepted in message
    assert str(cfg) in message


def test_all_bad_values_in_one_message(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", "[votes]\nmajority = 2\nquorum = -1\n[chastify]\nmax_retries = 99\n")
    with pytest.raises(ConfigError) as info:
        load_settings(cfg)
    message = str(info.value)
    for key in ("votes.majority", "votes.quorum", "chastify.max_retries"):
        assert key in message
    assert message.count("\n  - ") == 3


def test_bad_env_value_names_key_and_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHASTIFY_BOT_VOTES__QUORUM", "lots")
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert "votes.quorum = 'lots'" in message and "CHASTIFY_BOT_VOTES__QUORUM" in message


def test_secret_values_are_not_echoed(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", '[storage]\nkey = 123456789\n[discord]\ntoken = ["dev-secret-list"]\n')
    with pytest.raises(ConfigError) as info:
        load_settings(cfg)
    message = str(info.value)
    assert "storage.key = <hidden>" in message and "discord.token = <hidden>" in message
    assert "123456789" not in message and "dev-secret-list" not in message


def test_unknown_keys_are_caught_with_a_suggestion(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", "[votes]\nquorom = 3\n\n[vote]\nquorum = 3\n")
    with pytest.raises(ConfigError) as info:
        load_settings(cfg)
    message = str(info.value)
    assert "votes.quorom = 3: unknown key; did you mean votes.quorum?" in message
    assert "vote: unknown section or key; did you mean [votes]?" in message


def test_unknown_env_vars_are_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHASTIFY_BOT_VOTE__QUORUM", "3")
    with pytest.raises(ConfigError, match="did you mean CHASTIFY_BOT_VOTES__QUORUM"):
        load_settings()
    monkeypatch.delenv("CHASTIFY_BOT_VOTE__QUORUM")
    monkeypatch.setenv("CHASTIFY_BOT_VOTES__QUOROM", "3")
    with pytest.raises(ConfigError, match="QUOROM"):
        load_settings()


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", "[votes]\nquorum = 3\nmajority = = 0.6\n")
    with pytest.raises(ConfigError) as info:
        load_settings(cfg)
    message = str(info.value)
    assert str(cfg) in message and "line 3" in message


def test_malformed_json_section_env_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHASTIFY_BOT_VOTES", "{quorum")
    with pytest.raises(ConfigError, match="votes"):
        load_settings()


def test_logging_json_auto() -> None:
    s = load_settings()
    assert s.logging.use_json(stderr_is_tty=True) is False
    assert s.logging.use_json(stderr_is_tty=False) is True
    assert load_settings(logging={"json": True}).logging.use_json(stderr_is_tty=True) is True


# ------------------------------------------------------------------------------- example file & docs


def _example_keys() -> dict[str, str]:
    """dotted key -> raw value text, for every key in the example, commented out or not."""
    section = ""
    found: dict[str, str] = {}
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        header = re.match(r"^\[(\w+)\]\s*$", line)
        if header:
            section = header.group(1)
            continue
        entry = re.match(r"^#?\s?(\w+)\s*=\s*(.+)$", line)
        if entry and section:
            found[f"{section}.{entry.group(1)}"] = entry.group(2)
    return found


def test_example_documents_every_key() -> None:
    documented = _example_keys()
    missing = [key for key in setting_keys() if key not in documented]
    assert not missing, f"config.example.toml lacks: {missing}"
    unknown = [key for key in documented if key not in setting_keys()]
    assert not unknown, f"config.example.toml has keys Settings does not: {unknown}"


def test_example_loads_and_shows_the_defaults() -> None:
    assert load_settings(EXAMPLE) == Settings()
    defaults: dict[str, Any] = Settings().model_dump(by_alias=True)
    for key, raw in _example_keys().items():
        section, name = key.split(".")
        default = defaults[section][name]
        if default is None or raw.strip() == '"..."':
            continue  # an unset key, shown commented out with an example value
        value = tomllib.loads(f"v = {raw}")["v"]
        assert value == (str(default) if isinstance(default, Path) else default), key


def test_reference_markdown_covers_every_key() -> None:
    table = settings_reference_markdown()
    assert table.startswith("| key | env var | default | description |")
    for key in setting_keys():
        assert f"| `{key}` |" in table
    assert "`CHASTIFY_BOT_VOTES__QUORUM`" in table and "`DISCORD_TOKEN`" in table
    assert "`<database dir>/bot.key`" in table
    for _section, model in Settings.model_fields.items():
        sub = model.annotation
        assert sub is not None
        for name, info in sub.model_fields.items():  # type: ignore[union-attr]
            assert info.description, f"{name} has no description"
