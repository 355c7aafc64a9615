"""The one central error handler for application commands (and modals): maps each error type to a member
message, answers ephemerally, falls back to a followup when the response is done and to the channel when
the interaction expired."""

from __future__ import annotations

import itertools
import logging
import math
import uuid
import weakref

import discord
from discord import app_commands

from bot.chastify import ChastifyError
from bot.durations import DurationError, format_duration
from bot.errors import UserError
from bot.services import chastify_problem
from bot.text import TextError

log = logging.getLogger("cogs.errors")
NONE = discord.AllowedMentions.none()
_BOTS: weakref.WeakKeyDictionary[discord.Client, int] = weakref.WeakKeyDictionary()
_SERIAL = itertools.count(1)


def per_member(interaction: discord.Interaction) -> tuple[int, int | None, int]:
    """The key of a per-member cooldown (``app_commands.checks.cooldown(..., key=per_member)``): one member in
    one server, of this bot. A cooldown's buckets live with the command object, which every bot built in the
    process shares (tests build many): the bot's serial keeps their members apart."""
    client = interaction.client
    if client not in _BOTS:
        _BOTS[client] = next(_SERIAL)
    return _BOTS[client], interaction.guild_id, interaction.user.id


def message_for(error: BaseException) -> tuple[str, bool]:
    """(text, expected): expected errors are refusals; unexpected ones are logged with an id."""
    if isinstance(error, app_commands.CommandInvokeError | app_commands.TransformerError) and error.__cause__:
        error = error.__cause__
    if isinstance(error, UserError | DurationError | TextError):
        return str(error), True
    if isinstance(error, ChastifyError):
        return chastify_problem(error), True
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command works only in a server.", True
    if isinstance(error, app_commands.MissingPermissions):
        perms = ", ".join(p.replace("_", " ").title() for p in error.missing_permissions)
        return f"You need the {perms} permission for this.", True
    if isinstance(error, app_commands.CommandOnCooldown):
        c = error.cooldown
        uses = "once" if c.rate == 1 else f"{c.rate} times"
        return (f"You are using this command too often: each member may use it {uses} every "
                f"{format_duration(max(1, math.ceil(c.per)))}. Try again in "
                f"{format_duration(max(1, math.ceil(error.retry_after)))}."), True
    if isinstance(error, app_commands.CheckFailure):
        return str(error) or "You may not use this command here.", True
    return "", False


async def report(interaction: discord.Interaction, error: BaseException) -> None:
    text, expected = message_for(error)
    if not expected:
        ref = uuid.uuid4().hex[:8]
        log.error("unexpected error %s in %s", ref, interaction.command.qualified_name if interaction.command
                  else "interaction", exc_info=error)
        text = f"Something went wrong on our side (error `{ref}`). Nothing else was changed; try again later."
    text = "⛔ " + text
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True, allowed_mentions=NONE)
        else:
            await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NONE)
    except discord.NotFound:
        # the interaction expired: say it in the channel instead, for a slash command only (a button's answer may
        # be about a ballot, which an anonymous vote never shows anyone else)
        channel = interaction.channel
        if interaction.type is discord.InteractionType.application_command \
                and isinstance(channel, discord.abc.Messageable):
            await channel.send(f"{interaction.user.mention} {text}",
                               allowed_mentions=discord.AllowedMentions(users=[interaction.user]))


def install_error_handler(tree: app_commands.CommandTree[discord.Client]) -> None:
    async def on_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        # discord.py calls this after any command- or cog-level handler; none of our cogs has one, so every
        # error is answered here, once.
        await report(interaction, error)

    tree.on_error = on_error  # type: ignore[method-assign]
