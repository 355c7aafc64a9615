"""Sharded processes: which guilds a process owns, the shard settings and the bot class they give."""

from __future__ import annotations

import pytest
from discord.ext import commands
from hypothesis import given
from hypothesis import strategies as st

from bot.app import ChastifyBot, ShardedChastifyBot, create_bot
from bot.config import ConfigError, load_settings
from bot.shards import Shards, shard_of


@given(st.integers(0, 2**63 - 1), st.integers(1, 64))
def test_every_guild_is_owned_by_exactly_one_process_of_a_full_set(guild_id, count):
    owners = [k for k in range(count) if Shards(count, (k,)).owns(guild_id)]
    assert owners == [shard_of(guild_id, count)] == [(guild_id >> 22) % count]  # Discord's own rule


def test_an_unsharded_bot_owns_every_guild():
    assert Shards().owns(123) and Shards(4).owns(123)
    assert Shards(2, (0, 1)).describe() == "shards 0, 1 of 2" and Shards().describe() == "not sharded"


def test_shard_settings_make_a_sharded_bot_running_those_shards(tmp_path):
    settings = load_settings(None, discord={"shard_count": 2, "shard_ids": [1]},
                             storage={"database_path": tmp_path / "bot.db"})
    bot = create_bot(settings)
    assert isinstance(bot, ShardedChastifyBot) and isinstance(bot, commands.AutoShardedBot)
    assert (bot.shard_count, bot.shard_ids) == (2, [1])
    assert bot._connection.max_messages is None  # no message cache: every event the bot reads is a raw one
    plain = create_bot(load_settings(None, storage={"database_path": tmp_path / "bot.db"}))
    assert type(plain) is ChastifyBot


@pytest.mark.parametrize(("discord", "says"), [
    ({"shard_ids": [0]}, "discord.shard_ids needs discord.shard_count"),
    ({"shard_count": 2, "shard_ids": [2]}, "distinct shard numbers from 0 to 1"),
    ({"shard_count": 2, "shard_ids": [0, 0]}, "distinct shard numbers from 0 to 1"),
    ({"shard_count": 0}, "discord.shard_count"),
])
def test_bad_shard_settings_say_what_is_accepted_and_never_quote_the_token(discord, says):
    with pytest.raises(ConfigError) as err:
        load_settings(None, discord={**discord, "token": "not-a-real-token-but-secret"})
    assert says in str(err.value) and "not-a-real-token-but-secret" not in str(err.value)


def test_database_url_must_be_postgresql_and_is_never_echoed():
    with pytest.raises(ConfigError) as err:
        load_settings(None, database={"url": "mysql://bot:not-a-real-password@db/chastify"})
    assert "database.url must start with postgresql://" in str(err.value)
    assert "not-a-real-password" not in str(err.value)  # the URL may hold a password
