"""The central error handler, loaded as the first extension: every application command and modal error of the
bot is answered here, once (see ``cogs/_errors.py`` for the messages)."""

from __future__ import annotations

from discord.ext import commands

from cogs._errors import install_error_handler


async def setup(bot: commands.Bot) -> None:
    install_error_handler(bot.tree)


async def teardown(bot: commands.Bot) -> None:
    bot.tree.on_error = type(bot.tree).on_error.__get__(bot.tree)  # type: ignore[method-assign]
