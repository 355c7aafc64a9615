"""The one settings factory: every test that runs the bot (simcord, the core rig, the crash child) builds its
``Settings`` with ``make_settings``. A module changes its bot's settings by overriding the ``bot_settings``
fixture::

    @pytest.fixture
    def bot_settings(tmp_path, chastify, monkeypatch):
        return vote_settings(tmp_path, chastify, monkeypatch, quorum=5)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from bot.config import Settings, load_settings
from sandbox.chastify import StandIn
from tests.support.postgres import current_database

# the vote tests' tally debounce: longer than simcord's settle horizon (5 s), so that after the first edit a burst
# of reactions is shown only when a test advances the virtual clock, never by a real-time wait
VOTE_DEBOUNCE = 10.0


def make_settings(tmp_path: Path, chastify: StandIn | str, monkeypatch: pytest.MonkeyPatch | None = None, /,
                  **overrides: dict[str, Any]) -> Settings:
    """Settings for a bot under test: a database under ``tmp_path/data``, a fresh token key, the stand-in (or a
    base URL) with 2 retries, no account-age minimum and a 2 s tally debounce. ``overrides`` are sections
    (``votes={...}``, ``limits={...}``), merged key by key into those defaults. With ``monkeypatch``,
    DISCORD_TOKEN and CHASTIFY_BOT_CONFIG are unset first, so the developer's environment cannot change them."""
    if monkeypatch is not None:
        for name in ("DISCORD_TOKEN", "CHASTIFY_BOT_CONFIG"):
            monkeypatch.delenv(name, raising=False)
    base_url = chastify if isinstance(chastify, str) else chastify.base_url
    sections: dict[str, dict[str, Any]] = {
        "storage": {"database_path": tmp_path / "data" / "bot.db", "key": Fernet.generate_key().decode()},
        # a test run on both stores (``tests.support.postgres``) gets its PostgreSQL database here
        "database": {"url": current_database()},
        "chastify": {"base_url": base_url, "max_retries": 2},
        "votes": {"min_account_age_days": 0, "tally_debounce_seconds": 2.0},
    }
    for section, values in overrides.items():
        sections[section] = {**sections.get(section, {}), **values}
    return load_settings(None, **sections)


def vote_settings(tmp_path: Path, chastify: StandIn, monkeypatch: pytest.MonkeyPatch | None = None, /,
                  **votes: Any) -> Settings:
    """The vote tests' settings: no proposal cooldown and the ``VOTE_DEBOUNCE`` tally debounce, then ``votes``."""
    return make_settings(tmp_path, chastify, monkeypatch, votes={
        "tally_debounce_seconds": VOTE_DEBOUNCE, "proposal_cooldown_seconds": 0, **votes})


@pytest.fixture
def bot_settings(tmp_path: Path, chastify: StandIn, monkeypatch: pytest.MonkeyPatch) -> Settings:
    return make_settings(tmp_path, chastify, monkeypatch)
