"""Settings: one typed model read from a TOML file and overridden by environment variables.

Sources, highest priority first:

1. keyword arguments to :func:`load_settings` (tests),
2. environment variables ``CHASTIFY_BOT_<SECTION>__<KEY>`` (e.g. ``CHASTIFY_BOT_VOTES__QUORUM=5``),
   plus the plain ``DISCORD_TOKEN`` for ``discord.token``,
3. the TOML file: the ``path`` argument, else env ``CHASTIFY_BOT_CONFIG``, else ``./config.toml`` if present,
4. the defaults below.

Secrets are :class:`~pydantic.SecretStr`; read them with ``get_secret_value()`` only where they are used.
Any bad value raises :class:`ConfigError` naming the dotted key, the value and what is accepted.
"""

from __future__ import annotations

import difflib
import os
import tomllib
import types
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin
from urllib.parse import urlsplit

import annotated_types
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from bot.shards import Shards

__all__ = [
    "CONFIG_PATH_ENV",
    "DEFAULT_CONFIG_FILE",
    "ENV_PREFIX",
    "EXTRA_ENV_ALLOWED",
    "ChastifySettings",
    "ConfigError",
    "DiscordSettings",
    "LimitsSettings",
    "LoggingSettings",
    "Settings",
    "StorageSettings",
    "VoteSettings",
    "load_settings",
    "resolve_config_path",
    "setting_keys",
    "settings_reference_markdown",
]

ENV_PREFIX = "CHASTIFY_BOT_"
ENV_DELIMITER = "__"
CONFIG_PATH_ENV = "CHASTIFY_BOT_CONFIG"
DEFAULT_CONFIG_FILE = Path("config.toml")
DISCORD_TOKEN_ENV = "DISCORD_TOKEN"  # noqa: S105
# Env vars with our prefix that are not settings keys but are still allowed.
EXTRA_ENV_ALLOWED = frozenset({CONFIG_PATH_ENV})

# Keys whose values must never appear in an error message.
_SECRET_KEYS = frozenset({"discord.token", "storage.key", "database.url"})  # the URL may hold a password


# How long a vote may run, in seconds: the one place for the bounds (config, `/chastify settings`, proposals).
VOTE_WINDOW_MIN = 60
VOTE_WINDOW_MAX = 7 * 86400


class ConfigError(Exception):
    """The configuration cannot be used. The message is meant for the person running the bot."""


_SECTION = ConfigDict(extra="forbid", frozen=True)


def _check_http_url(value: str) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http:// or https:// URL with a host")
    return value.rstrip("/")


class DiscordSettings(BaseModel):
    model_config = _SECTION

    token: SecretStr | None = Field(
        default=None,
        description="Discord bot token. Needed only to run the real bot. Also read from env DISCORD_TOKEN.",
    )
    api_base: str = Field(
        default="https://discord.com/api",
        description="Discord HTTP API base URL (change only for a test double).",
    )
    application_id: int | None = Field(
        default=None,
        ge=1,
        description="Discord application id, used to print the invite URL.",
    )

    shard_count: int | None = Field(
        default=None,
        ge=1,
        description="How many shards the bot runs as, in all processes together (unset: one connection, not "
        "sharded). Several processes need database.url (PostgreSQL).",
    )
    shard_ids: list[int] | None = Field(
        default=None,
        description="The shards THIS process runs, e.g. [0, 1] (unset: all of shard_count). Each guild's votes "
        "and schedules run in the process that owns its shard.",
    )

    @field_validator("token", mode="before")
    @classmethod
    def _blank_token_is_unset(cls, value: object) -> object:
        return _blank_to_none(value)

    @field_validator("shard_ids")
    @classmethod
    def _shards_fit(cls, value: list[int] | None, info: ValidationInfo) -> list[int] | None:
        # a field validator (not one of the whole table): its error quotes only the shard ids, never the token
        if value is None:
            return None
        count = info.data.get("shard_count")
        if count is None:
            raise ValueError("discord.shard_ids needs discord.shard_count (how many shards in all)")
        if not value or len(set(value)) != len(value) or any(not 0 <= i < count for i in value):
            raise ValueError(f"discord.shard_ids must be distinct shard numbers from 0 to {count - 1}, e.g. [0]")
        return value

    @property
    def shards(self) -> Shards:
        return Shards(self.shard_count, tuple(self.shard_ids) if self.shard_ids is not None else None)

    @field_validator("api_base")
    @classmethod
    def _api_base_is_url(cls, value: str) -> str:
        return _check_http_url(value)


class StorageSettings(BaseModel):
    model_config = _SECTION

    database_path: Path = Field(
        default=Path("data/bot.db"),
        description="SQLite database file (created with mode 0600). Relative paths are from the working directory.",
    )
    key: SecretStr | None = Field(
        default=None,
        description="Fernet key that encrypts linked Chastify tokens. If unset, the key file is used "
        "(and created on first start).",
    )
    key_file: Path | None = Field(
        default=None,
        description="File holding the Fernet key when `storage.key` is unset. Back it up: without it "
        "linked tokens cannot be read.",
        json_schema_extra={"default_text": "<database dir>/bot.key"},
    )

    @field_validator("key", mode="before")
    @classmethod
    def _blank_key_is_unset(cls, value: object) -> object:
        return _blank_to_none(value)

    @property
    def effective_key_file(self) -> Path:
        """``key_file``, or ``bot.key`` next to the database when unset."""
        if self.key_file is not None:
            return self.key_file
        return self.database_path.parent / "bot.key"


class ChastifySettings(BaseModel):
    model_config = _SECTION

    base_url: str = Field(
        default="https://chastify.net",
        description="Chastify base URL; the bot calls `<base_url>/api/apps/v1/...`.",
    )
    connect_timeout: float = Field(default=5.0, gt=0, description="Seconds to wait for a connection.")
    read_timeout: float = Field(default=10.0, gt=0, description="Seconds to wait for a response.")
    total_timeout: float = Field(default=15.0, gt=0, description="Seconds one request may take in all.")
    actions_per_minute: int = Field(
        default=20,
        ge=1,
        le=20,
        description="Lock actions (actions, custom logs, notifications) sent per lock per minute; "
        "Chastify allows at most 20.",
    )
    max_retries: int = Field(
        default=3,
        ge=0,
        le=10,
        description="Retries for a call that surely did not reach Chastify (429, connection refused).",
    )

    @field_validator("base_url")
    @classmethod
    def _base_url_is_url(cls, value: str) -> str:
        return _check_http_url(value)


class DatabaseSettings(BaseModel):
    model_config = _SECTION

    url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL instead of SQLite, e.g. postgresql://bot:secret@db:5432/chastify (several bot "
        "processes share it). Unset: SQLite at storage.database_path.",
    )

    @field_validator("url", mode="before")
    @classmethod
    def _check_url(cls, value: object) -> object:
        value = _blank_to_none(value)
        if value is None:
            return None
        text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        if not text.startswith(("postgresql://", "postgres://")):
            raise ValueError("database.url must start with postgresql:// (leave it unset for SQLite)")
        return text


class VoteSettings(BaseModel):
    model_config = _SECTION

    window_seconds: int = Field(
        default=3600, ge=VOTE_WINDOW_MIN, le=VOTE_WINDOW_MAX, description="How long a vote stays open, in seconds."
    )
    quorum: int = Field(default=3, ge=1, description="Votes needed (for + against) before a vote can pass.")
    majority: float = Field(
        default=0.5,
        ge=0.5,
        lt=1,
        description="A vote passes when MORE than this share of the votes are for it.",
    )
    instant_pass: int = Field(
        default=0,
        ge=0,
        description="Pass at once when this many for-votes are in while the majority holds (0 = off).",
    )
    proposal_cooldown_seconds: int = Field(
        default=300, ge=0, description="Seconds a member waits between two proposals."
    )
    max_open_per_lock: int = Field(default=3, ge=1, description="Open votes allowed per linked lock.")
    min_account_age_days: int = Field(
        default=7, ge=0, description="Discord accounts younger than this many days cannot vote."
    )
    board_flush_seconds: int = Field(
        default=300,
        ge=30,
        description="A board vote applies its net time change at most this often, in seconds.",
    )
    tally_debounce_seconds: float = Field(
        default=2.0,
        ge=0,
        le=60,
        description="Seconds to gather reactions before recounting and editing the vote message.",
    )
    reminder_fraction: float = Field(
        default=0.0,
        ge=0,
        le=0.9,
        description="A vote reminds once when this share of its window is left, e.g. 0.1 for the last 10 % (0 = off).",
    )
    ballot_style: Literal["reactions", "buttons"] = Field(
        default="reactions",
        description="How members vote unless a server or a vote says otherwise: reactions, or buttons (which can "
        "be anonymous).",
    )


class LimitsSettings(BaseModel):
    model_config = _SECTION

    max_add_per_action: int = Field(
        default=3600, ge=0, description="Default owner limit: most seconds one action may add (0 = none)."
    )
    max_add_per_day: int = Field(
        default=14400, ge=0, description="Default owner limit: most seconds added per 24 hours."
    )
    max_freeze: int = Field(
        default=14400,
        ge=0,
        le=86400,
        description="Default owner limit: longest freeze in seconds (Chastify allows 60..86400; 0 = no freezes).",
    )
    max_pillory: int = Field(
        default=3600, ge=0, description="Default owner limit: longest pillory in seconds (0 = none)."
    )
    min_vote_quorum: int = Field(
        default=3, ge=1, description="Default owner limit: a vote on the lock needs at least this quorum."
    )


class LoggingSettings(BaseModel):
    # `json` would shadow BaseModel.json(): the attribute is `json_output`, the key is `json`.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", description="Log level.")
    json_output: bool | None = Field(
        default=None,
        alias="json",
        description="Log JSON lines. Unset = JSON when stderr is not a terminal.",
    )

    @field_validator("level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().upper() in ("DEBUG", "INFO", "WARNING", "ERROR"):
            return value.strip().upper()
        return value

    @field_validator("json_output", mode="before")
    @classmethod
    def _blank_json_is_auto(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in ("", "auto", "none"):
            return None
        return value

    def use_json(self, stderr_is_tty: bool) -> bool:
        """Whether to log JSON lines, resolving the automatic setting."""
        if self.json_output is None:
            return not stderr_is_tty
        return self.json_output


def _blank_to_none(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        return None
    if isinstance(value, SecretStr) and not value.get_secret_value().strip():
        return None
    return value


# The TOML file chosen by load_settings(); read by settings_customise_sources.
_EXPLICIT_PATH: ContextVar[Path | None] = ContextVar("chastify_bot_config_path", default=None)


def resolve_config_path(path: Path | str | None = None) -> Path | None:
    """The TOML file to read: ``path``, else env ``CHASTIFY_BOT_CONFIG``, else ``./config.toml`` if present."""
    if path is not None:
        return Path(path)
    from_env = os.environ.get(CONFIG_PATH_ENV, "").strip()
    if from_env:
        return Path(from_env)
    if DEFAULT_CONFIG_FILE.is_file():
        return DEFAULT_CONFIG_FILE
    return None


class _DiscordTokenEnv(PydanticBaseSettingsSource):
    """Plain ``DISCORD_TOKEN`` env var, below ``CHASTIFY_BOT_DISCORD__TOKEN`` and above the TOML file."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        value = os.environ.get(DISCORD_TOKEN_ENV, "").strip()
        if not value:
            return {}
        return {"discord": {"token": value}}


class Settings(BaseSettings):
    """All settings. Sections map to TOML tables and to env ``CHASTIFY_BOT_<SECTION>__<KEY>``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_DELIMITER,
        case_sensitive=False,
        extra="forbid",
        frozen=True,
        env_ignore_empty=True,
    )

    discord: DiscordSettings = Field(default_factory=DiscordSettings, description="Discord connection.")
    chastify: ChastifySettings = Field(default_factory=ChastifySettings, description="Chastify API client.")
    storage: StorageSettings = Field(default_factory=StorageSettings, description="Database and key.")
    database: DatabaseSettings = Field(default_factory=DatabaseSettings, description="PostgreSQL, when used.")
    votes: VoteSettings = Field(default_factory=VoteSettings, description="Server-wide vote defaults.")
    limits: LimitsSettings = Field(default_factory=LimitsSettings, description="Default owner limits.")
    logging: LoggingSettings = Field(default_factory=LoggingSettings, description="Logging.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = resolve_config_path(_EXPLICIT_PATH.get())
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, _DiscordTokenEnv(settings_cls)]
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    def require_discord_token(self) -> SecretStr:
        """The Discord token, or ConfigError saying how to set it."""
        if self.discord.token is None:
            raise ConfigError(
                'discord.token is not set: put `token = "..."` under [discord] in the config file, '
                f"or set env {DISCORD_TOKEN_ENV} (or {ENV_PREFIX}DISCORD{ENV_DELIMITER}TOKEN)"
            )
        return self.discord.token


# --------------------------------------------------------------------------------------------- loading


def load_settings(path: Path | str | None = None, **overrides: Any) -> Settings:
    """Read settings (see module doc). Raises ConfigError with one readable message for every problem."""
    resolved = resolve_config_path(path)
    if resolved is not None:
        how = (
            "given as argument"
            if path is not None
            else (f"from env {CONFIG_PATH_ENV}" if os.environ.get(CONFIG_PATH_ENV, "").strip() else "default")
        )
        _check_toml_file(resolved, how=how)
    _check_env_names()
    token = _EXPLICIT_PATH.set(resolved)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, resolved)) from None
    except SettingsError as exc:
        # e.g. CHASTIFY_BOT_VOTES='{bad json' : the env source cannot decode a whole-section value.
        cause = f": {exc.__cause__}" if exc.__cause__ is not None else ""
        raise ConfigError(f"invalid configuration: {exc}{cause}") from None
    finally:
        _EXPLICIT_PATH.reset(token)


def _check_env_names() -> None:
    """Env vars with our prefix must name a setting: a typo there is as bad as a typo in the file."""
    known = {_env_name(section, key) for section, key, _ in _iter_keys()}
    known |= {f"{ENV_PREFIX}{section.upper()}" for section in _section_models()}
    known |= EXTRA_ENV_ALLOWED
    bad = sorted(name for name in os.environ if name.upper().startswith(ENV_PREFIX) and name.upper() not in known)
    if not bad:
        return
    lines = ["invalid configuration:"]
    for name in bad:
        hint = difflib.get_close_matches(name.upper(), sorted(known), n=1)
        did = f"; did you mean {hint[0]}?" if hint else ""
        lines.append(f"  - env {name}: not a setting{did} (see config.example.toml for every key)")
    raise ConfigError("\n".join(lines))


def _check_toml_file(path: Path, *, how: str) -> None:
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist ({how})")
    if not path.is_file():
        raise ConfigError(f"config file {path} is not a file")
    try:
        with path.open("rb") as fh:
            tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from None


def _section_models() -> dict[str, type[BaseModel]]:
    out: dict[str, type[BaseModel]] = {}
    for name, info in Settings.model_fields.items():
        ann = info.annotation
        assert isinstance(ann, type) and issubclass(ann, BaseModel)
        out[name] = ann
    return out


def _key_name(name: str, info: FieldInfo) -> str:
    return info.alias or name


def _iter_keys() -> Iterator[tuple[str, str, FieldInfo]]:
    """(section, key, field info) for every setting, in declaration order."""
    for section, model in _section_models().items():
        for name, info in model.model_fields.items():
            yield section, _key_name(name, info), info


def _env_name(section: str, key: str) -> str:
    return f"{ENV_PREFIX}{section.upper()}{ENV_DELIMITER}{key.upper()}"


def _format_validation_error(exc: ValidationError, path: Path | None) -> str:
    where = f" (config file {path})" if path is not None else ""
    lines = [f"invalid configuration{where}:"]
    for err in exc.errors():
        lines.append("  - " + _format_one(err))
    return "\n".join(lines)


def _format_one(err: Any) -> str:
    loc = [str(part) for part in err.get("loc", ())]
    dotted = ".".join(loc) or "(top level)"
    sections = _section_models()
    raw_input = err.get("input")
    if err.get("type") == "extra_forbidden":
        return _format_unknown(loc, raw_input, sections)
    value = "<hidden>" if dotted in _SECRET_KEYS else _show(raw_input)
    msg = str(err.get("msg", "invalid"))
    accepted = ""
    if len(loc) == 2 and loc[0] in sections:
        model = sections[loc[0]]
        info = _field_by_key(model, loc[1])
        if info is not None:
            accepted = f"; accepted: {_accepted(info)} (env var {_env_name(loc[0], loc[1])})"
    elif len(loc) == 1 and loc[0] in sections:
        accepted = f"; accepted: a table [{loc[0]}] with keys {', '.join(_keys_of(sections[loc[0]]))}"
    return f"{dotted} = {value}: {msg}{accepted}"


def _format_unknown(loc: list[str], raw_input: object, sections: dict[str, type[BaseModel]]) -> str:
    dotted = ".".join(loc)
    if len(loc) == 1:
        known = list(sections)
        hint = difflib.get_close_matches(loc[0], known, n=1)
        did = f"; did you mean [{hint[0]}]?" if hint else ""
        return f"{dotted}: unknown section or key{did} Known sections: {', '.join(known)}"
    section = loc[0]
    if section in sections:
        known = _keys_of(sections[section])
        hint = difflib.get_close_matches(loc[-1], known, n=1)
        did = f"; did you mean {section}.{hint[0]}?" if hint else ""
        return f"{dotted} = {_show(raw_input)}: unknown key{did} Keys in [{section}]: {', '.join(known)}"
    return f"{dotted}: unknown key"


def _keys_of(model: type[BaseModel]) -> list[str]:
    return [_key_name(name, info) for name, info in model.model_fields.items()]


def _field_by_key(model: type[BaseModel], key: str) -> FieldInfo | None:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return info
    return None


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _strip_optional(annotation: Any) -> tuple[Any, bool]:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        optional = len(args) < len(get_args(annotation))
        if len(args) == 1:
            return args[0], optional
    return annotation, False


def _accepted(info: FieldInfo) -> str:
    """Human description of the values a field accepts, from its type and constraints."""
    ann, optional = _strip_optional(info.annotation)
    lo: tuple[str, object] | None = None
    hi: tuple[str, object] | None = None
    for meta in info.metadata:
        if isinstance(meta, annotated_types.Ge):
            lo = (">=", meta.ge)
        elif isinstance(meta, annotated_types.Gt):
            lo = (">", meta.gt)
        elif isinstance(meta, annotated_types.Le):
            hi = ("<=", meta.le)
        elif isinstance(meta, annotated_types.Lt):
            hi = ("<", meta.lt)
    if lo and hi:
        if lo[0] == ">=" and hi[0] == "<=":
            bounds = f" from {lo[1]} to {hi[1]}"
        else:
            bounds = f" with {lo[1]} {'<=' if lo[0] == '>=' else '<'} x {hi[0]} {hi[1]}"
    elif lo is not None:
        bounds = f" {lo[0]} {lo[1]}"
    elif hi is not None:
        bounds = f" {hi[0]} {hi[1]}"
    else:
        bounds = ""
    if get_origin(ann) is Literal:
        text = "one of " + ", ".join(str(a) for a in get_args(ann))
    elif ann is bool:
        text = "true or false"
    elif ann is int:
        text = "a whole number" + bounds
    elif ann is float:
        text = "a number" + bounds
    elif ann is Path:
        text = "a file path"
    elif ann is SecretStr:
        text = "a string (secret)"
    elif ann is str and info.description and "URL" in info.description:
        text = "an http:// or https:// URL"
    elif ann is str:
        text = "a string"
    else:
        text = str(ann)
    if optional:
        text += " (or unset)"
    return text


# --------------------------------------------------------------------------------------------- docs


def _default_text(info: FieldInfo) -> str:
    extra = info.json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get("default_text"), str):
        return str(extra["default_text"])
    default = info.get_default(call_default_factory=True) if info.default is PydanticUndefined else info.default
    if default is None:
        return "unset"
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, str | Path):
        return f'"{default}"'
    return str(default)


def settings_reference_markdown() -> str:
    """A Markdown table of every setting: key, env var, default, description (for the README)."""
    rows = [
        "| key | env var | default | description |",
        "|---|---|---|---|",
    ]
    for section, key, info in _iter_keys():
        dotted = f"{section}.{key}"
        env = f"`{_env_name(section, key)}`"
        if dotted == "discord.token":
            env += f" or `{DISCORD_TOKEN_ENV}`"
        description = (info.description or "").replace("|", "\\|")
        accepted = _accepted(info).replace("|", "\\|")
        rows.append(f"| `{dotted}` | {env} | `{_default_text(info)}` | {description} Accepts {accepted}. |")
    return "\n".join(rows) + "\n"


def setting_keys() -> list[str]:
    """Every dotted key (``votes.quorum``...), for tests and docs."""
    return [f"{section}.{key}" for section, key, _ in _iter_keys()]


def database_target(settings: Settings) -> Path | str:
    """Where the store lives: the PostgreSQL URL when ``database.url`` is set, else the SQLite file."""
    url = settings.database.url
    return url.get_secret_value() if url is not None else settings.storage.database_path
